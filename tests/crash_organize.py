"""Crash test for organize (RELIABILITY §5 A1–A4, C27/C29), usable as a script and from pytest.

Each run builds a library of a few hundred files (a library DB with files, matches and cached TMDB names),
runs the real CLI `anivault organize --apply` (or `rollback`) in a subprocess and SIGKILLs it, either at a
named crash point (`ANIVAULT_CRASHPOINT=name:N`) or after a random delay. Then it recovers, checks the
invariants, finishes the run (`--resume`), rolls it back, and checks that the original tree is back byte for
byte. Invariants after every crash:

- every original file's content exists exactly once under src ∪ dest (multiset of SHA-256s is unchanged);
- no `.anivault-*.part` file is left; no ledger item is `pending`; no ALERT;
- `PRAGMA integrity_check` is ok.

    python tests/crash_organize.py --runs 30 --files 300          # same-device and cross-device (/dev/shm)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from anivault.organize.fileops import CRASH_POINTS, Fingerprint
from anivault.organize.plan import Companion, PlanInput

ROOT = Path(__file__).resolve().parents[1]
# Every organize crash point (in_recovery: test_organize_crash.py kills recovery itself).
POINTS = tuple(p for p in CRASH_POINTS if p != "in_recovery")


@dataclass
class Library:
    base: Path
    db: Path
    src: Path
    dest: Path
    original: dict[str, str]  # relative path under src -> sha256


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            p = Path(dirpath) / name
            out[str(p.relative_to(folder))] = sha(p)
    return out


def make_library(base: Path, n_videos: int, *, dest: Path | None = None, seed: int = 0) -> Library:
    """`n_videos` episodes of a few shows (with a subtitle for every third), matched, with TMDB names."""
    from anivault.db.base import utcnow
    from anivault.db.connect import open_db
    from anivault.db.models import File, roots
    from anivault.db.models_match import Match

    rng = random.Random(seed)
    src = base / "src"
    src.mkdir(parents=True)
    db_path = base / "library.db"
    db = open_db(db_path)
    shows = [
        (1001, "Frieren"),
        (1002, "Re:ゼロから始める異世界生活"),
        (1003, "나 혼자만 레벨업"),
        (1004, "K-On!!"),
    ]
    now = utcnow()
    try:
        with db.write() as s:
            root_id = s.execute(roots.insert().values(path=str(src), added_at=now)).inserted_primary_key[0]
            for i in range(n_videos):
                tmdb_id, name = shows[i % len(shows)]
                ep = i // len(shows) + 1
                folder = src / f"show{tmdb_id}"
                folder.mkdir(exist_ok=True)
                video = folder / f"[Grp] {name.replace(':', ' ')} - {ep:03d} [1080p].mkv"
                video.write_bytes(rng.randbytes(rng.choice((1, 10, 100, 3000)) * 100 + i))
                st = video.stat()
                f = File(
                    root_id=root_id, path=str(video), dir=str(folder), name=video.name, ext="mkv", size=st.st_size,
                    mtime_ns=st.st_mtime_ns, dev=st.st_dev, inode=st.st_ino, kind="video",
                )  # fmt: skip
                s.add(f)
                s.flush()
                s.add(
                    Match(
                        file_id=f.id, series_key=name, tmdb_id=tmdb_id, media_type="tv", season=1, episode=ep,
                        confidence=1.0, method="auto", status="matched", title=name, title_en=name, year=2020,
                    )
                )  # fmt: skip
                if i % 3 == 0:
                    sub = video.with_name(video.name[:-4] + ".en.ass")
                    sub.write_text(f"subtitle {i}")
                    sst = sub.stat()
                    s.add(
                        File(
                            root_id=root_id, path=str(sub), dir=str(folder), name=sub.name, ext="ass", size=sst.st_size,
                            mtime_ns=sst.st_mtime_ns, dev=sst.st_dev, inode=sst.st_ino, kind="subtitle",
                            video_id=f.id,
                        )
                    )  # fmt: skip
    finally:
        db.close()
    dest = dest if dest is not None else base / "vault"
    return Library(base, db_path, src, dest, tree(src))


def cli(lib: Library, *args: str, crash: str | None = None, kill_after: float | None = None) -> int:
    """Run the real CLI in a subprocess; returns its exit code (-9 when killed)."""
    env = dict(os.environ)
    env.pop("ANIVAULT_CRASHPOINT", None)
    env["ANIVAULT_HOME"] = str(lib.base / "home")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if crash:
        env["ANIVAULT_CRASHPOINT"] = crash
    cmd = [sys.executable, "-m", "anivault.cli.app", "--db", str(lib.db), "--quiet", *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is not None:
        try:
            proc.wait(kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    _out, err = proc.communicate(timeout=300)
    if proc.returncode not in (0, -9):
        print(
            f"  {' '.join(args)} exited {proc.returncode}: {err.decode(errors='replace').strip()}", flush=True
        )
    return proc.returncode


def check_invariants(lib: Library, *, copies: bool = False) -> None:
    """G1/G4 after a crash and recovery (see the module docstring). With ``copies`` (a copy or hardlink
    run, whose files legitimately exist twice), every original content exists at least once."""
    from anivault.db.connect import open_db
    from anivault.organize.service import recover_interrupted

    db = open_db(lib.db)
    try:
        report = recover_interrupted(db)
        assert not report.alerts, report.alerts
        assert recover_interrupted(db).runs == [], "a second recovery must be a no-op"
        assert db.integrity_check(quick=False) == []
    finally:
        db.close()
    conn = sqlite3.connect(lib.db)
    try:
        pending = conn.execute("SELECT count(*) FROM operation_items WHERE state='pending'").fetchone()[0]
        alerts = conn.execute("SELECT count(*) FROM operation_items WHERE note LIKE 'ALERT%'").fetchone()[0]
    finally:
        conn.close()
    assert pending == 0 and alerts == 0, (pending, alerts)
    now = Counter(tree(lib.src).values()) + Counter(tree(lib.dest).values() if lib.dest.exists() else [])
    if copies:
        assert set(now) >= set(lib.original.values()), "a file was lost"
    else:
        assert now == Counter(lib.original.values()), "a file was lost or duplicated"
    for folder in (lib.src, lib.dest):
        for _d, _s, files in os.walk(folder):
            assert not [f for f in files if f.startswith(".anivault-")], f"temp file left in {_d}"


def finish_and_roll_back(lib: Library) -> None:
    """Resume to completion, check every file is in the library once, roll back, compare the tree."""
    from anivault.db.connect import open_db
    from anivault.organize import service

    db = open_db(lib.db)
    try:
        with db.read() as s:
            from sqlalchemy import text

            organize_ids = [r[0] for r in s.execute(text("SELECT id FROM operations WHERE kind='organize'"))]
        try:
            service.resume(db)
        except Exception as exc:  # no interrupted run: fine
            if "no interrupted" not in str(exc):
                raise
        if not organize_ids:  # killed before the plan was committed: organize now
            service.apply_plan(db, service.plan_from_db(db, str(lib.dest)))
            with db.read() as s:
                organize_ids = [
                    r[0] for r in s.execute(text("SELECT id FROM operations WHERE kind='organize'"))
                ]
        check_invariants(lib)
        assert tree(lib.src) == {}, "after --resume every file is in the library"
        for op_id in organize_ids:
            service.rollback(db, op_id)
    finally:
        db.close()
    check_invariants(lib)
    assert tree(lib.src) == lib.original, "rollback must restore the original tree byte for byte"
    assert not lib.dest.exists() or tree(lib.dest) == {}


def crash_run(base: Path, n: int, *, crash: str | None, kill_after: float | None, dest: Path | None,
              during_rollback: bool = False, seed: int = 0) -> None:  # fmt: skip
    """One scenario: build, crash, recover + check, finish, roll back + check."""
    lib = make_library(base, n, dest=dest, seed=seed)
    args = ("organize", "--dest", str(lib.dest), "--apply")
    if during_rollback:
        assert cli(lib, *args) == 0
        code = cli(lib, "rollback", "1", crash=crash, kill_after=kill_after)
        if crash is not None:
            assert code == -9, f"the crash point {crash} was never reached in rollback (exit {code})"
        check_invariants(lib)
        from anivault.db.connect import open_db
        from anivault.organize import service

        db = open_db(lib.db)
        try:
            service.rollback(db, 1)  # resumes the interrupted rollback
        finally:
            db.close()
        check_invariants(lib)
        assert tree(lib.src) == lib.original
        return
    code = cli(lib, *args, crash=crash, kill_after=kill_after)
    if crash is not None:
        assert code == -9, f"the crash point {crash} was never reached (exit {code})"
    check_invariants(lib)
    finish_and_roll_back(lib)


def crash_undo_copies(base: Path, n: int, *, action: str, crash: str | None, kill_after: float | None,
                      dest: Path | None, seed: int = 0) -> None:  # fmt: skip
    """A copy or hardlink run whose originals the user then deleted (every other one), rolled back with a
    crash: recovery keeps every file, and the finished rollback brings every original back, from the
    library where the original was gone (RELIABILITY G1, G5)."""
    lib = make_library(base, n, dest=dest, seed=seed)
    assert cli(lib, "organize", "--dest", str(lib.dest), "--apply", "--action", action) == 0
    for k, rel in enumerate(sorted(lib.original)):
        if k % 2 == 0:
            (lib.src / rel).unlink()
    code = cli(lib, "rollback", "1", crash=crash, kill_after=kill_after)
    if crash is not None:
        assert code == -9, f"the crash point {crash} was never reached in rollback (exit {code})"
    check_invariants(lib, copies=True)
    from anivault.db.connect import open_db
    from anivault.organize import service

    db = open_db(lib.db)
    try:
        service.rollback(db, 1)  # finishes the interrupted rollback
    finally:
        db.close()
    check_invariants(lib, copies=True)
    assert tree(lib.src) == lib.original, "every original is back, byte for byte"
    assert not lib.dest.exists() or tree(lib.dest) == {}


def cross_device_dir() -> Path | None:
    shm = Path("/dev/shm")
    if (
        shm.is_dir()
        and os.access(shm, os.W_OK)
        and shm.stat().st_dev != Path(tempfile.gettempdir()).stat().st_dev
    ):
        return shm
    return None


def scenarios(runs: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(runs):
        cross = i % 2 == 1
        if i % 3 == 2:
            out.append(
                {"crash": None, "kill_after": rng.uniform(0.9, 2.5), "cross": cross, "rollback": i % 6 == 5}
            )
        else:
            point = POINTS[i % len(POINTS)]
            if not cross and point in ("mid_copy", "after_tmp_fsync", "after_verify", "after_src_unlink"):
                point = "after_publish"  # same-device moves are one atomic rename: no copy steps
            # Once per run / per batch / per file:
            n = 1 if point in ("after_intent_commit", "before_done_commit") else rng.randint(1, 60)
            if point == "before_dir_fsync" and not cross:
                n = 1
            out.append({"crash": f"{point}:{n}", "kill_after": None, "cross": cross, "rollback": i % 5 == 4})
    return out


# --- helpers the organize tests share ------------------------------------------------------------------
def episode_input(path: Path, episode: int, *, title: str = "Frieren", season: int = 1, tmdb_id: int = 209867,
                  companions: list[Path] | None = None, media_type: str = "tv") -> PlanInput:  # fmt: skip
    comps = [Companion(None, str(c), "subtitle", Fingerprint.of(os.lstat(c))) for c in companions or []]
    return PlanInput(
        None, str(path), Fingerprint.of(os.lstat(path)), title, tmdb_id, media_type, path.suffix.lstrip("."),
        year=2023, season=season, episode=episode, root=str(path.parent), companions=comps,
    )  # fmt: skip


def write(path: Path, data: bytes | str = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def ledger_rows(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def files_under(folder: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _d, names in os.walk(folder):
        for n in names:
            p = Path(dirpath) / n
            out[str(p.relative_to(folder))] = p.read_bytes()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    opts = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    shm = cross_device_dir()
    t0 = time.monotonic()
    for i, sc in enumerate(scenarios(opts.runs, opts.seed)):
        base = Path(tempfile.mkdtemp(prefix="anivault-crash-"))
        dest = None
        if sc["cross"] and shm is not None:
            dest = Path(tempfile.mkdtemp(prefix="anivault-crash-", dir=shm)) / "vault"
        try:
            crash_run(base, opts.files, crash=sc["crash"], kill_after=sc["kill_after"], dest=dest,  # type: ignore[arg-type]
                      during_rollback=bool(sc["rollback"]), seed=opts.seed + i)  # fmt: skip
            print(f"run {i + 1:3}: ok   {sc}", flush=True)
        except Exception:
            print(f"run {i + 1:3}: FAIL {sc} (kept {base})", flush=True)
            raise
        shutil.rmtree(base, ignore_errors=True)
        if dest is not None:
            shutil.rmtree(dest.parent, ignore_errors=True)
    print(f"{opts.runs} runs over {opts.files} videos: all invariants held ({time.monotonic() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
