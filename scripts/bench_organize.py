"""Benchmark: apply and roll back N same-device moves through the ledger, against a bare os.rename loop.

    python scripts/bench_organize.py            # N = 100,000
    python scripts/bench_organize.py -n 10000   # a quick run
    python scripts/bench_organize.py --ids plan # library ids in the plan's order (the best case)
    python scripts/bench_organize.py --db-dir /var/tmp   # the library database in a folder of its own

The baseline is the cheapest thing that could do the same job: `os.makedirs` (cached) plus `os.rename`
over exactly the same (src, dst) pairs, no checks, no database; back: `os.rename` plus `os.rmdir` of the
folders it made (rollback removes the empty folders its run created). "apply" times everything after planning:
the durable intent transaction with every item, the fingerprint check and no-clobber rename per file, the
batched done-commits with `files.path` updates and folder fsyncs. "rollback" times building the inverse
run, its intent transaction and carrying it out. Peak RSS is the process's high-water mark.

Each file has its library row, with ids given in the order `anivault index` walks the tree (--ids walk,
the default). The tree holds 100 folders whose files belong to every show, so that order is unrelated to the
plan's (by show, season, episode) and each batch's `files` updates land all over the table: the worst case
for them, and the case of a flat downloads folder. --ids plan numbers the files in the plan's order instead,
the best case (a library already grouped one show per folder lies between).

The machine is shared and noisy, so the two are timed in rounds, back to back on the same tree; each
round's ratio is printed and the median round is the figure (--repeat, default 5).

Every timed phase starts on a settled filesystem: `os.sync()` runs, untimed, after each phase (and once
before the first), so no phase pays for what the one before it left unwritten. Without it the comparison
leans against AniVault: the bare loop never syncs, so its renames sit in ext4's running journal
transaction, and AniVault's first fsync (the intent's commit) had to commit them (the settle after a bare
phase took 0.03-0.14 s here, after an AniVault phase 0.00 s: a run leaves nothing, it syncs what it did);
and the 1,100 `mkdir`s, which take 0.2-1.1 s a round on this VM's disk and grow across rounds, cost each
side what the other's frees just left. A user's organize starts on a quiet disk, as each phase now does.
The time each settle takes is printed. --no-settle times the phases back to back as before 2026-12-07.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if TYPE_CHECKING:
    from anivault.db.engine import Database
    from anivault.organize.service import OrganizePlan


def make_files(src: Path, n: int) -> list[Path]:
    paths = []
    for d in range(max(1, n // 1000)):
        (src / f"d{d}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        p = src / f"d{i % max(1, n // 1000)}" / f"[Grp] Show {i // 1000} - {i % 1000:04d} [1080p].mkv"
        p.write_bytes(b"")
        paths.append(p)
    return paths


def walk_order(src: Path) -> list[Path]:
    """The files in the order `anivault index` meets them (its walker: folder by folder, as the OS lists
    them), which is the order their `files` ids are given in."""
    from anivault.pipeline.scan import IgnoreRules, walk

    ignore = IgnoreRules([], include_hidden=True)
    return [Path(f.path) for folder in walk([str(src)], ignore) for f in folder.files]


def add_library_rows(db: Database, root: Path, paths: list[Path]) -> None:
    """The index's rows for the files, ids 1..n in the order given: a real run updates `files.path` for
    every move it makes, so the benchmark must too."""
    now = "2026-01-01 00:00:00"
    with db.engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("INSERT INTO roots (id, path, added_at) VALUES (1, ?, ?)", (str(root), now))
        raw.executemany(
            "INSERT INTO files (id, root_id, path, dir, name, ext, size, mtime_ns, dev, inode, kind, status,"
            " first_seen, last_seen) VALUES (?, 1, ?, ?, ?, 'mkv', ?, ?, ?, ?, 'video', 'present', ?, ?)",
            (
                (
                    i + 1,
                    str(p),
                    str(p.parent),
                    p.name,
                    st.st_size,
                    st.st_mtime_ns,
                    st.st_dev,
                    st.st_ino,
                    now,
                    now,
                )
                for i, p in enumerate(paths)
                for st in (os.lstat(p),)
            ),
        )


def moved_rows(db: Database, dest: Path) -> int:
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        prefix = str(dest) + os.sep
        return int(
            raw.execute(
                "SELECT count(*) FROM files WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
            ).fetchone()[0]
        )


def _time_intent() -> list[float]:
    """Record how long each run's intent transaction (all items, synchronous=FULL) takes."""
    from anivault.organize.ledger import Ledger

    spent: list[float] = []
    for name in ("create_operation", "create_rollback"):
        original = getattr(Ledger, name)

        def timed(self: Ledger, *args: object, _original: Any = original, **kwargs: object) -> Any:
            t = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                spent.append(time.perf_counter() - t)

        setattr(Ledger, name, timed)
    return spent


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settle(enabled: bool) -> float:
    """Write out what the last phase left in the page cache and ext4's journal (untimed; see the module
    docstring). Returns how long that took: the work the phase left for whatever comes next."""
    if not enabled:
        return 0.0
    t = time.perf_counter()
    os.sync()
    return time.perf_counter() - t


def _bare_round(pairs: list[tuple[str, str]], dest: Path, settled: bool) -> dict[str, float]:
    """The baseline: the same moves with a bare os.rename loop, then back."""
    made: set[str] = set()
    c = time.process_time()
    t = time.perf_counter()
    for s, d in pairs:
        folder = os.path.dirname(d)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        os.rename(s, d)
    out = {"apply": time.perf_counter() - t, "c_apply": time.process_time() - c}
    out["s_apply"] = settle(settled)
    c = time.process_time()
    t = time.perf_counter()
    for s, d in reversed(pairs):
        os.rename(d, s)
    # rollback also removes the folders the run created (deepest first): so does the baseline
    for folder in sorted(made | {str(dest)}, key=len, reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    for folder in sorted({os.path.dirname(f) for f in made}, key=len, reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    out.update(back=time.perf_counter() - t, c_back=time.process_time() - c)
    shutil.rmtree(dest, ignore_errors=True)
    out["s_back"] = settle(settled)
    return out


def _anivault_round(
    db: Database, plan: OrganizePlan, dest: Path, n: int, intent: list[float], settled: bool
) -> dict[str, float]:
    """Apply the plan through the ledger and roll it back, checking the library rows follow."""
    from anivault.organize import service

    c = time.process_time()
    t = time.perf_counter()
    summary = service.apply_plan(db, plan, recheck=False)
    out = {"apply": time.perf_counter() - t, "c_apply": time.process_time() - c}  # CPU includes the writer
    out["i_apply"] = intent.pop()
    out["s_apply"] = settle(settled)
    assert summary.status == "done", summary
    assert moved_rows(db, dest) == n, "files.path must follow every move"
    c = time.process_time()
    t = time.perf_counter()
    back = service.rollback(db, summary.op_id)
    out.update(back=time.perf_counter() - t, c_back=time.process_time() - c, i_back=intent.pop())
    out["s_back"] = settle(settled)
    assert not isinstance(back, list) and back.status == "done", back
    assert moved_rows(db, dest) == 0, "files.path must follow every move back"
    return out


def _median_round(runs: list[tuple[dict[str, float], dict[str, float]]]) -> int:
    """The round whose apply ratio is the median one (its absolute times are printed)."""
    order = sorted(range(len(runs)), key=lambda i: runs[i][1]["apply"] / runs[i][0]["apply"])
    return order[len(order) // 2]


def _listing(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100_000, help="number of files (default 100000)")
    ap.add_argument("--dir", default=None, help="work folder (default: a temp folder)")
    ap.add_argument(
        "--db-dir",
        default=None,
        help="folder for the library database (default: the work folder, beside the tree); a user's library"
        " lives in its own folder, such as ~/.local/share/anivault",
    )
    ap.add_argument(
        "--repeat", type=int, default=5, help="rounds of (bare loop, AniVault); the median ratio is printed"
    )
    ap.add_argument(
        "--ids",
        choices=("walk", "plan"),
        default="walk",
        help="order of the files' library ids: walk = as `anivault index` gives them (default); plan = in the"
        " plan's order, the best case for the `files` updates (what sessions 2-5 measured)",
    )
    ap.add_argument(
        "--no-settle",
        dest="settle",
        action="store_false",
        help="time the phases back to back, without os.sync() between them (how it ran before 2026-12-07)",
    )
    opts = ap.parse_args()
    if opts.repeat < 1:
        ap.error("--repeat must be at least 1")
    n = opts.n

    from anivault.db.connect import open_db
    from anivault.organize import service
    from anivault.organize.fileops import Fingerprint
    from anivault.organize.plan import PlanInput

    work = Path(tempfile.mkdtemp(prefix="anivault-bench-", dir=opts.dir))
    db_work = Path(tempfile.mkdtemp(prefix="anivault-bench-db-", dir=opts.db_dir)) if opts.db_dir else work
    try:
        src, dest = work / "src", work / "vault"
        made = make_files(src, n)  # file k is episode k % 1000 + 1 of show k // 1000
        # Library ids: the index gives them in its walk's order. The plan lists the files show by show,
        # episode by episode either way (the order of its targets), so only the ids differ.
        order = walk_order(src) if opts.ids == "walk" else made
        file_id = {p: i + 1 for i, p in enumerate(order)}
        inputs = [
            PlanInput(
                file_id[p], str(p), Fingerprint.of(os.lstat(p)), f"Show {k // 1000}", 1000 + k // 1000, "tv",
                "mkv", year=2020, season=1 + (k % 1000) // 100, episode=k % 1000 + 1,
            )
            for k, p in enumerate(made)
        ]  # fmt: skip
        t = time.perf_counter()
        plan = service.plan_from_inputs(inputs, str(dest))
        t_plan = time.perf_counter() - t
        pairs = [(m.src, m.dst) for m in plan.todo]
        assert len(pairs) == n

        db = open_db(db_work / "library.db")
        try:
            add_library_rows(db, src, order)  # ids 1..n in that order, as file_id says
            intent = _time_intent()
            runs = []
            settle(opts.settle)  # the tree and the library rows just written
            for _ in range(opts.repeat):
                # Each round times the bare loop and AniVault back to back on the same tree, so both see
                # the same machine; the ratios are per round and the median is the figure.
                base = _bare_round(pairs, dest, opts.settle)
                ours = _anivault_round(db, plan, dest, n, intent, opts.settle)
                runs.append((base, ours))
        finally:
            db.close()
        assert not dest.exists()
        apply_ratios = [o["apply"] / b["apply"] for b, o in runs]  # in the order the rounds ran
        back_ratios = [o["back"] / b["back"] for b, o in runs]
        base_runs, ours_runs = [b for b, _ in runs], [o for _, o in runs]
        mid = _median_round(runs)
        base, ours = runs[mid]
        print(f"files                 {n:,} (library ids in {opts.ids} order)")
        print(f"plan (not timed)      {t_plan:.2f}s")
        print(
            f"rounds                {opts.repeat} (each: bare loop, then AniVault; figures from the median round)"
        )
        print(f"os.rename apply       {base['apply']:.2f}s")
        print(
            f"organize --apply      {ours['apply']:.2f}s   (CPU {ours['c_apply']:.2f}s vs {base['c_apply']:.2f}s;"
            f" intent transaction {ours['i_apply']:.2f}s)"
        )
        print(f"os.rename back        {base['back']:.2f}s")
        print(
            f"rollback              {ours['back']:.2f}s   (CPU {ours['c_back']:.2f}s vs {base['c_back']:.2f}s;"
            f" intent transaction {ours['i_back']:.2f}s)"
        )
        print(
            f"apply ratio           {statistics.median(apply_ratios):.2f}x   (rounds in order: {_listing(apply_ratios)})"
        )
        print(
            f"rollback ratio        {statistics.median(back_ratios):.2f}x   (rounds in order: {_listing(back_ratios)})"
        )
        if opts.settle:
            left = [max(r[k] for r in side) for side in (base_runs, ours_runs) for k in ("s_apply", "s_back")]
            print(
                f"settle (os.sync)      after the bare loop's apply/back up to {left[0]:.2f}/{left[1]:.2f}s,"
                f" after AniVault's up to {left[2]:.2f}/{left[3]:.2f}s (untimed)"
            )
        else:
            print("settle                off (--no-settle): each phase starts right after the one before")
        print(f"load average          {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"peak RSS              {rss_mb():.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(db_work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
