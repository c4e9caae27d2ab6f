#!/usr/bin/env python3
"""Index benchmark: how much does AniVault cost over the work it cannot avoid?

    python scripts/bench_index.py [--files 100000] [--series 2000] [--workers N] [--keep DIR]

Builds a deterministic tree of anime-named empty files, then measures in one run, each phase in a fresh
process (so its peak RSS is its own):
  a  a plain os.scandir + stat walk of the tree
  b  anitopy alone over the same names, with the indexer's number of processes and chunk size
  c  a cold `anivault index`
  d  a re-index with nothing changed
  e  a re-index after 1% of the files changed
  f  a re-index after a parser version bump (every file re-parsed)
and, single-process over a sample of names, anitopy.parse vs AniVault's parse_name (the rules' overhead).
Prints wall time, files/s and peak RSS per phase and the ratios c/b, d/a, e/a, f/c. Targets: c/b <= 1.5,
d/a <= 4, peak RSS <= 200 MB at 100k files, parse overhead <= 1.30.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def rss_mb(who: int) -> float:
    kb = resource.getrusage(who).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def all_names(tree: Path) -> list[tuple[str, tuple[str, ...]]]:
    from anivault.media import kind_for

    out = []
    for dirpath, _dirs, files in os.walk(tree):
        folders = tuple(p for p in dirpath.split(os.sep) if p)[-3:]
        out.extend((f, folders) for f in files if kind_for(f))
    return out


# --- phases (each runs in its own process) ------------------------------------------------------------


def phase_walk(tree: Path, _db: Path, _workers: int) -> int:
    count = 0
    stack = [str(tree)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                else:
                    e.stat(follow_symlinks=False)
                    count += 1
    return count


def _anitopy_chunk(names: list[str]) -> int:
    import anitopy

    n = 0
    for name in names:
        try:
            anitopy.parse(name)
        except Exception:
            pass
        n += 1
    return n


def phase_anitopy(tree: Path, _db: Path, workers: int) -> int:
    import concurrent.futures as cf

    from anivault.pipeline.index.run import CHUNK, _pool_context, _worker_init

    names = [n for n, _ in all_names(tree)]
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=_worker_init) as pool:
        done = sum(pool.map(_anitopy_chunk, [names[i : i + CHUNK] for i in range(0, len(names), CHUNK)]))
    print(json.dumps({"inner_seconds": time.perf_counter() - t0}), file=sys.stderr)
    return done


def phase_index(tree: Path, db: Path, workers: int) -> int:
    from anivault.db.connect import open_db
    from anivault.pipeline.index import IndexOptions, run_index

    database = open_db(db)
    rep = run_index(database, IndexOptions(roots=[tree], workers=workers, ignore=[".*"]))
    database.close()
    print(json.dumps(rep.to_dict()), file=sys.stderr)
    return rep.seen


PHASES = {"walk": phase_walk, "anitopy": phase_anitopy, "index": phase_index}


def run_phase(name: str, tree: Path, db: Path, workers: int) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--tree",
        str(tree),
        "--db",
        str(db),
        "--workers",
        str(workers),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"phase {name} failed:\n{out.stderr}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def parse_overhead(tree: Path, sample: int) -> tuple[float, float]:
    import anitopy

    from anivault.parsing import parse_name

    names = all_names(tree)[:sample]
    for fn in (lambda n, f: anitopy.parse(n), parse_name):  # warm both
        for n, f in names[:200]:
            try:
                fn(n, f)
            except Exception:
                pass
    best_a = best_p = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for n, _f in names:
            try:
                anitopy.parse(n)
            except Exception:
                pass
        best_a = min(best_a, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for n, f in names:
            parse_name(n, f)
        best_p = min(best_p, time.perf_counter() - t0)
    return best_a / len(names) * 1e6, best_p / len(names) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", type=Path, help="build the tree here and keep it (reused if present)")
    ap.add_argument("--sample", type=int, default=20_000, help="names for the single-process parse overhead")
    ap.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    ap.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.phase:
        t0 = time.perf_counter()
        n = PHASES[args.phase](args.tree, args.db, args.workers)
        secs = time.perf_counter() - t0
        print(json.dumps({"seconds": secs, "files": n, "rss_mb": rss_mb(resource.RUSAGE_SELF)}))
        return 0

    from make_sample_library import synthetic_names, write_tree

    base = args.keep or Path(tempfile.mkdtemp(prefix="anivault-bench-"))
    tree = base / "tree"
    if not tree.exists():
        t0 = time.perf_counter()
        n = write_tree(tree, synthetic_names(args.files, args.series))
        print(f"built {n} files in {time.perf_counter() - t0:.1f}s under {tree}", file=sys.stderr)
    db = base / "library.db"
    for p in (db, db.with_name("library.db-wal"), db.with_name("library.db-shm")):
        p.unlink(missing_ok=True)
    env_home = base / "home"
    os.environ["ANIVAULT_HOME"] = str(env_home)

    res: dict[str, dict[str, float]] = {}
    res["a walk (os.scandir + stat)"] = run_phase("walk", tree, db, args.workers)
    res["b anitopy alone (pool)"] = run_phase("anitopy", tree, db, args.workers)
    res["c anivault index, cold"] = run_phase("index", tree, db, args.workers)
    res["d re-index, nothing changed"] = run_phase("index", tree, db, args.workers)
    files = [Path(d) / f for d, _s, fs in os.walk(tree) for f in fs]
    files.sort()
    step = 100
    for p in files[::step]:  # 1%: a new mtime (and for half of them a new size)
        if hash(p.name) % 2:
            p.write_bytes(b"changed")
        else:
            os.utime(p, ns=(time.time_ns(), time.time_ns()))
    res["e re-index, 1% changed"] = run_phase("index", tree, db, args.workers)
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("UPDATE parses SET parser_version = 0")
    conn.commit()
    conn.close()
    res["f re-index, parser version bump"] = run_phase("index", tree, db, args.workers)
    per_a, per_p = parse_overhead(tree, args.sample)

    nfiles = res["a walk (os.scandir + stat)"]["files"]
    print(
        f"\nAniVault index benchmark: {int(nfiles)} files, {args.series} series, {args.workers} parse processes"
    )
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}")
    # Peak RSS is each phase's main process; parse workers are forkserver children, not ours to measure.
    print(f"{'phase':34} {'wall s':>8} {'files/s':>10} {'peak RSS MB':>12}")
    for name, r in res.items():
        print(f"{name:34} {r['seconds']:8.2f} {r['files'] / r['seconds']:10.0f} {r['rss_mb']:12.1f}")
    a, b, c, d, e, f = (r["seconds"] for r in res.values())
    print(f"\nc/b (cold index / anitopy alone)      = {c / b:5.2f}   target <= 1.5")
    print(f"d/a (no-change re-index / plain walk)  = {d / a:5.2f}   target <= 4")
    print(f"e/a (1% changed re-index / plain walk) = {e / a:5.2f}")
    print(f"f/c (parser-bump re-parse / cold)      = {f / c:5.2f}   target <= ~1 (as fast as a cold parse)")
    print(
        f"parse per name, one process: anitopy {per_a:.1f} us, AniVault {per_p:.1f} us, ratio {per_p / per_a:.2f}   target <= 1.30"
    )
    print(
        f"peak RSS of the indexing process (cold) = {res['c anivault index, cold']['rss_mb']:.0f} MB   target <= 200 MB"
    )
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
