"""Benchmark: what `anivault organize --apply` and `anivault rollback` cost per file, through the real CLI.

    python scripts/bench_organize.py                     # 40,000 and 100,000 files, 3 rounds each
    python scripts/bench_organize.py --sizes 10000 --rounds 1     # a quick look

The budget (issue 24): apply and rollback of 40,000-100,000 same-device moves each cost at most 60 µs per
file more than a bare `os.rename` loop over the same (src, dst) pairs, start-up and planning included; peak
memory of `anivault organize --apply` at 100,000 files at most 250 MB.

Set-up (not timed): a tree of N empty video files in 100 folders, indexed by the real `anivault index`, each
file matched to one of N/1000 shows (match rows and cached TMDB names, as `anivault match` leaves them). The
bare loop's pairs are the plan's own (`anivault organize --json`).

Timed, in rounds: the bare loop (`os.makedirs` once per folder + `os.rename`; back: `os.rename` + `os.rmdir`
of the folders it made), then `anivault organize --dest V --apply` and `anivault rollback 1`, each a process
of its own, its wall time from start to exit. Every phase starts on a settled filesystem (an untimed
`os.sync()` before it), so none pays for what the one before left unwritten. The figures are the median
round's; peak RSS is the organize process's high-water mark (wait4's rusage).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_US = 60.0
BUDGET_MB = 250.0


def cli_path() -> str:
    exe = Path(sys.executable).with_name("anivault")
    return str(exe) if exe.exists() else "anivault"


def run(env: dict[str, str], *args: str) -> str:
    """Run the CLI (set-up, not timed); returns its stdout."""
    proc = subprocess.run([cli_path(), *args], env=env, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(
            f"anivault {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout.decode()


def run_measured(env: dict[str, str], *args: str) -> tuple[float, float]:
    """Run the CLI; returns (wall seconds, its peak RSS in MB) from wait4."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [cli_path(), "--quiet", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.returncode != 0:
        raise SystemExit(
            f"anivault {' '.join(args)} failed ({proc.returncode}): {err.decode(errors='replace')}"
        )
    return wall, usage.ru_maxrss / 1024


def build(work: Path, n: int, env: dict[str, str]) -> list[tuple[str, str]]:
    """The tree, its index, its matches; returns the plan's (src, dst) pairs."""
    import sqlite3

    src = work / "src"
    folders = 100
    for d in range(folders):
        (src / f"d{d:02d}").mkdir(parents=True)
    for i in range(n):
        show, ep = divmod(i, 1000)
        (src / f"d{i % folders:02d}" / f"[Grp] Show {show} - {ep + 1:04d} [1080p].mkv").write_bytes(b"")
    run(env, "index", str(src))
    db = Path(env["ANIVAULT_HOME"]) / "data" / "library.db"
    conn = sqlite3.connect(db)
    with conn:
        rows = conn.execute("SELECT file_id, title_norm, episode FROM parses").fetchall()
        conn.executemany(
            "INSERT INTO matches (file_id, series_key, tmdb_id, media_type, season, episode, confidence, method,"
            " status, candidates, decided_at) VALUES (?, ?, ?, 'tv', 1, ?, 1.0, 'auto', 'matched', '[]',"
            " '2026-01-01')",
            ((fid, f"tv:{title}:", 100_000 + int(title.split()[-1]), ep) for fid, title, ep in rows),
        )
        shows = {int(t.split()[-1]) for _, t, _ in rows}
        conn.executemany(
            "INSERT INTO tmdb_cache (key, endpoint, status, payload, created_at, expires_at, schema_version, hits)"
            " VALUES (?, 'tv/details', 200, ?, '2026-01-01', '2099-01-01', 1, 0)",
            (
                (f"tv/{100_000 + s}?append=alt,tr,ext&language=en-US",
                 json.dumps({"id": 100_000 + s, "name": f"Show {s}", "first_air_date": "2020-01-01"}))
                for s in shows
            ),
        )  # fmt: skip
    conn.close()
    out = run(env, "organize", "--dest", str(work / "vault"), "--json")
    plan = json.loads(out)
    return [(i["src"], i["dst"]) for i in plan["items"] if i["status"] == "todo"]


def bare(pairs: list[tuple[str, str]], dest: Path) -> tuple[float, float]:
    """The same moves with a bare os.rename loop, then back; (apply, back) seconds."""
    made: set[str] = set()
    t = time.perf_counter()
    for s, d in pairs:
        folder = os.path.dirname(d)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        os.rename(s, d)
    apply = time.perf_counter() - t
    os.sync()
    t = time.perf_counter()
    for s, d in reversed(pairs):
        os.rename(d, s)
    for folder in sorted(made | {str(dest)}, key=len, reverse=True):  # rollback removes its folders too
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    for folder in sorted({os.path.dirname(f) for f in made}, key=len, reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    back = time.perf_counter() - t
    shutil.rmtree(dest, ignore_errors=True)
    os.sync()
    return apply, back


def measure(n: int, rounds: int, base_dir: str | None) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="anivault-bench-", dir=base_dir))
    env = dict(os.environ, ANIVAULT_HOME=str(work / "home"))
    env.pop("ANIVAULT_DB", None)
    try:
        t = time.perf_counter()
        pairs = build(work, n, env)
        assert len(pairs) == n, (len(pairs), n)
        print(
            f"  {n:,} files indexed, matched and planned in {time.perf_counter() - t:.0f}s (not timed)",
            flush=True,
        )
        dest = work / "vault"
        results = []
        os.sync()
        for r in range(rounds):
            b_apply, b_back = bare(pairs, dest)
            a_apply, rss = run_measured(env, "organize", "--dest", str(dest), "--apply")
            os.sync()
            a_back, _ = run_measured(env, "rollback", str(2 * r + 1))
            os.sync()
            assert not any(dest.rglob("*.mkv")), "the rollback left files in the library"
            results.append((b_apply, a_apply, b_back, a_back, rss))
            print(
                f"  round {r + 1}: bare {b_apply:.2f}/{b_back:.2f}s, anivault {a_apply:.2f}/{a_back:.2f}s,"
                f" peak {rss:.0f} MB",
                flush=True,
            )
        per_apply = statistics.median((a - b) / n * 1e6 for b, a, _, _, _ in results)
        per_back = statistics.median((a - b) / n * 1e6 for _, _, b, a, _ in results)
        return {"apply_us": per_apply, "back_us": per_back, "rss_mb": max(r[4] for r in results)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="40000,100000", help="numbers of files, comma-separated")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per size (the median is the figure)")
    ap.add_argument("--dir", default=None, help="work folder (default: a temp folder)")
    opts = ap.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    table = []
    for n in sizes:
        print(f"{n:,} files:", flush=True)
        table.append((n, measure(n, opts.rounds, opts.dir)))
    print()
    print(
        f"{'files':>8}  {'apply: µs/file over bare':>25}  {'rollback: µs/file over bare':>28}  {'organize peak RSS':>18}"
    )
    for n, r in table:
        print(f"{n:>8,}  {r['apply_us']:>25.1f}  {r['back_us']:>28.1f}  {r['rss_mb']:>15.0f} MB")
    worst = max(max(r["apply_us"], r["back_us"]) for _, r in table)
    peak = max((r["rss_mb"] for n, r in table if n >= 100_000), default=None)
    print(f"\nbudget: at most {BUDGET_US:.0f} µs per file over the bare loop: worst {worst:.1f} µs"
          f" ({'met' if worst <= BUDGET_US else 'NOT met'})")  # fmt: skip
    if peak is not None:
        print(f"budget: organize --apply at 100,000 files at most {BUDGET_MB:.0f} MB: {peak:.0f} MB"
              f" ({'met' if peak <= BUDGET_MB else 'NOT met'})")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
