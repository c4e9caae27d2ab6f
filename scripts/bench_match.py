#!/usr/bin/env python3
"""Benchmark `anivault match` against the TMDB emulator with the shared, labelled data.

    python scripts/bench_match.py [--synthetic 2] [--rate 35] [--latency-ms 0] [--rate-limit 0] [--json]

Starts ``scripts/tmdb_emulator.py`` (a real server, in its own process) with ``../shared/data/tmdb_catalog.json``,
creates the names of ``../shared/data/match_cases.json`` as empty files (plus N synthetic episodes of each
series), indexes them, runs match twice and prints: requests per series key, achieved requests/s against
the configured rate, wall time, accuracy @1 and @3 over the labelled cases, and the second run's requests.
Skips politely (exit 0) when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))


def start_emulator(
    catalog: Path, latency_ms: float, rate_limit: int, fail_rate: float = 0.0
) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "tmdb_emulator.py"),
        "--catalog",
        str(catalog),
        "--port",
        "0",
    ]
    if fail_rate:
        cmd += ["--fail-rate", str(fail_rate), "--seed", "1"]
    if latency_ms:
        cmd += ["--latency-ms", str(latency_ms)]
    if rate_limit:
        cmd += ["--rate-limit", str(rate_limit)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit("the emulator did not start")
    return proc, url


def emulator_stats(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url[: -len("/3")] + "/__stats", timeout=5) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


VIDEO_EXTS = {".mkv", ".mp4", ".avi", ".rmvb", ".ogm", ".wmv", ".m2ts", ".ts", ".webm", ".mov", ".flv"}


def safe_name(name: str) -> str:
    """A file name the index will see as a video: no slashes, and a video extension (labels lack some)."""
    name = name.replace("/", "_").replace("\\", "_")[:240]
    if Path(name).suffix.lower() not in VIDEO_EXTS:
        name += ".mkv"
    return name


def make_library(lib: Path, cases: list[dict[str, Any]], synthetic: int) -> dict[str, list[dict[str, Any]]]:
    """Every labelled name as an empty file at the library's top (no folder to lend the parser a title),
    plus ``synthetic`` more episodes of each series. Returns path -> the cases named so."""
    from anivault.parsing import parse_name

    lib.mkdir(parents=True, exist_ok=True)
    by_path: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        name = safe_name(case["filename"])
        (lib / name).touch()
        by_path.setdefault(str(lib / name), []).append(case)
        parsed = parse_name(name)
        if synthetic and parsed.title and parsed.kind != "movie":
            ext = Path(name).suffix or ".mkv"
            yr = f" ({parsed.year})" if parsed.year else ""
            for ep in range(1, synthetic + 1):
                if parsed.season:
                    base = f"{parsed.title} S{parsed.season:02d}E{ep:02d}"
                else:
                    base = f"{parsed.title} - {ep:02d}"
                (lib / f"[Synthetic] {base}{yr} [1080p]{ext}").touch()
    return by_path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic", type=int, default=2, help="extra episodes per series (same series key)")
    ap.add_argument(
        "--rate", type=float, default=35.0, help="configured requests/s (--rate of anivault match)"
    )
    ap.add_argument("--latency-ms", type=float, default=0.0, help="emulator latency per response")
    ap.add_argument("--rate-limit", type=int, default=0, help="emulator 429 threshold (0 = off)")
    ap.add_argument("--fail-rate", type=float, default=0.0, help="emulator fault share (5xx, drops)")
    ap.add_argument("--cases", type=Path, default=DATA / "match_cases.json")
    ap.add_argument("--catalog", type=Path, default=DATA / "tmdb_catalog.json")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--misses", action="store_true", help="list the cases missed @1")
    args = ap.parse_args()
    if not args.cases.exists() or not args.catalog.exists():
        print(f"skipped: {args.cases.parent} is not here (the shared benchmark data is optional)")
        return 0
    cases = json.loads(args.cases.read_text(encoding="utf-8"))
    proc, url = start_emulator(args.catalog, args.latency_ms, args.rate_limit, args.fail_rate)
    try:
        with tempfile.TemporaryDirectory(prefix="anivault-bench-") as tmp:
            os.environ["ANIVAULT_HOME"] = str(Path(tmp) / "home")
            os.environ["ANIVAULT_TMDB_URL"] = url
            os.environ["ANIVAULT_TMDB_KEY"] = "test-key"
            return run(args, cases, Path(tmp), url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(args: argparse.Namespace, cases: list[dict[str, Any]], tmp: Path, url: str) -> int:
    from sqlalchemy import select

    from anivault.config import load_settings
    from anivault.db.connect import open_db
    from anivault.db.models import File
    from anivault.db.models_match import Match
    from anivault.pipeline.index import IndexOptions, run_index
    from anivault.pipeline.match import match_library

    lib = tmp / "library"
    by_path = make_library(lib, cases, args.synthetic)
    db = open_db(tmp / "library.db")
    run_index(db, IndexOptions(roots=[lib]))
    settings = load_settings({"tmdb.rate": args.rate})

    t0 = time.monotonic()
    first = match_library(db, settings)
    wall = time.monotonic() - t0
    stats1 = emulator_stats(url)
    second = match_library(db, settings)
    stats2 = emulator_stats(url)

    hit1 = hit3 = 0
    misses = []
    with db.read() as s:
        rows = {f.path: m for f, m in s.execute(select(File, Match).join(Match, Match.file_id == File.id))}
        for path, case in ((p, c) for p, cs in by_path.items() for c in cs):
            m = rows.get(path)
            want = (case["tmdb_id"], case["media_type"])
            got = (m.tmdb_id, m.media_type) if m is not None else (None, None)
            top3 = (
                [(c["tmdb_id"], c["media_type"]) for c in json.loads(m.candidates)] if m is not None else []
            )
            if got == want:
                hit1 += 1
            if got == want or want in top3:
                hit3 += 1
            if got != want:
                misses.append((case["filename"], want, got, m.status if m else None, top3[:3]))
        statuses = Counter(m.status for m in rows.values())
    n = sum(len(cs) for cs in by_path.values())
    requests = stats1["total_requests"]
    busy = first.seconds_http or wall
    result = {
        "cases": n,
        "files": sum(statuses.values()),
        "series_keys": first.keys,
        "requests_first_run": requests,
        "requests_per_key": round(requests / max(1, first.keys), 2),
        "configured_rate": args.rate,
        "achieved_rate": round(requests / busy, 1) if busy else 0.0,
        "rate_busy_pct": round(100 * requests / busy / args.rate, 1) if busy else 0.0,
        "max_per_second_server": stats1["max_per_second"],
        "max_in_flight_server": stats1["max_in_flight"],
        "status_429": stats1["by_status"].get("429", 0),
        "wall_seconds": round(wall, 2),
        "accuracy_at_1": round(100 * hit1 / n, 1),
        "accuracy_at_3": round(100 * hit3 / n, 1),
        "auto_applied_files": statuses.get("matched", 0),
        "review_files": statuses.get("review", 0),
        "unmatched_files": statuses.get("unmatched", 0),
        "deferred_files": statuses.get("deferred", 0),
        "requests_second_run": stats2["total_requests"] - requests,
        "second_run_keys": second.keys,
        "latency_ms": args.latency_ms,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        width = max(len(k) for k in result)
        for k, v in result.items():
            print(f"{k:<{width}}  {v}")
    if args.misses:
        for fn, want, got, status, top3 in misses:
            print(f"MISS {fn!r}: want {want} got {got} [{status}] top3={top3}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
