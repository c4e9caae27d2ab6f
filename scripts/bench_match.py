#!/usr/bin/env python3
"""Benchmark `anivault match` against the TMDB emulator (a real server, in its own process).

    python scripts/bench_match.py [--suite realistic|labelled] [--rate 35] [--latency-ms 0] [--rate-limit 0]
                                  [--shows 300] [--films 60] [--json] [--misses]

``--suite realistic`` (the default): a realistic catalog and library (scripts/realistic_library.py) built
from ``../shared/data/tmdb_catalog.json``; prints the right show or film, the right season and episode of
those, wrong at high confidence (matched automatically, yet the show, season or episode is wrong), per
naming convention, and the politeness figures: requests per series key, the most requests in any second and
in flight at the server, and the second run's requests.

``--suite labelled``: the 312 labelled names of ``../shared/data/match_cases.json`` as empty files (plus
``--synthetic N`` episodes of each series) against the shared catalog as it is: accuracy @1 and @3.

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
sys.path.insert(0, str(ROOT / "scripts"))


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
    ap.add_argument("--suite", choices=["realistic", "labelled"], default="realistic")
    ap.add_argument("--shows", type=int, default=300, help="realistic: shows in the library")
    ap.add_argument("--films", type=int, default=60, help="realistic: films in the library")
    ap.add_argument("--seed", type=int, default=11, help="realistic: the library's seed")
    ap.add_argument("--synthetic", type=int, default=2, help="labelled: extra episodes per series")
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
    with tempfile.TemporaryDirectory(prefix="anivault-bench-") as tmp:
        catalog = args.catalog
        if args.suite == "realistic":
            from realistic_library import realistic_catalog

            source = json.loads(args.catalog.read_text(encoding="utf-8"))
            catalog = Path(tmp) / "realistic_catalog.json"
            catalog.write_text(json.dumps(realistic_catalog(source), ensure_ascii=False), encoding="utf-8")
        proc, url = start_emulator(catalog, args.latency_ms, args.rate_limit, args.fail_rate)
        try:
            os.environ["ANIVAULT_HOME"] = str(Path(tmp) / "home")
            os.environ["ANIVAULT_TMDB_URL"] = url
            os.environ["ANIVAULT_TMDB_KEY"] = "test-key"
            if args.suite == "realistic":
                return run_realistic(args, source, catalog, Path(tmp), url)
            return run(args, cases, Path(tmp), url)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def index_and_match_twice(args: argparse.Namespace, lib: Path, tmp: Path, url: str) -> tuple[Any, ...]:
    """Index ``lib``, match it twice; (db, first report, second report, first wall, server stats after each)."""
    from anivault.config import load_settings
    from anivault.db.connect import open_db
    from anivault.pipeline.index import IndexOptions, run_index
    from anivault.pipeline.match import match_library

    db = open_db(tmp / "library.db")
    run_index(db, IndexOptions(roots=[lib]))
    settings = load_settings({"tmdb.rate": args.rate})
    t0 = time.monotonic()
    first = match_library(db, settings)
    wall = time.monotonic() - t0
    stats1 = emulator_stats(url)
    second = match_library(db, settings)
    return db, first, second, wall, stats1, emulator_stats(url)


def run(args: argparse.Namespace, cases: list[dict[str, Any]], tmp: Path, url: str) -> int:
    from sqlalchemy import select

    from anivault.db.models import File
    from anivault.db.models_match import Match

    lib = tmp / "library"
    by_path = make_library(lib, cases, args.synthetic)
    db, first, second, wall, stats1, stats2 = index_and_match_twice(args, lib, tmp, url)

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


def run_realistic(
    args: argparse.Namespace, source: dict[str, Any], catalog: Path, tmp: Path, url: str
) -> int:
    from realistic_library import realistic_library
    from sqlalchemy import select

    from anivault.db.models import File
    from anivault.db.models_match import Match

    lib = tmp / "library"
    cat = json.loads(catalog.read_text(encoding="utf-8"))
    truth = realistic_library(cat, source, lib, shows=args.shows, films=args.films, seed=args.seed)
    db, first, _second, wall, stats1, stats2 = index_and_match_twice(args, lib, tmp, url)
    with db.read() as s:
        cols = (Match.tmdb_id, Match.media_type, Match.season, Match.episode, Match.status, Match.reason)
        rows = {
            r[0]: r[1:] for r in s.execute(select(File.path, *cols).join(Match, Match.file_id == File.id))
        }
    kinds: dict[str, Counter[str]] = {}
    misses = []
    for path, t in truth.items():
        m = rows.get(path)
        c = kinds.setdefault(t.kind, Counter())
        c["files"] += 1
        show = m is not None and m[0] == t.tmdb_id and m[1] == t.media_type
        place = show and m is not None and (m[2], m[3]) in t.places
        applied = m is not None and m[4] == "matched"
        c["show"] += show
        c["place"] += place
        c["applied"] += applied
        c["wrong_high"] += applied and not place
        if os.environ.get("BENCH_SHOW_WAITING") and m is not None and m[4] != "matched" and place:
            print(f"WAITING {Path(path).relative_to(lib)}: {m[4]} ({m[5]})", file=sys.stderr)
        if not place:
            got = m[:5] if m is not None else None
            misses.append((Path(path).relative_to(lib), t, got, m[5] if m is not None else None))
    total: Counter[str] = sum(kinds.values(), Counter())
    n = total["files"]
    result = {
        "files": n,
        "series_keys": first.keys,
        "right_show_pct": round(100 * total["show"] / n, 1),
        "right_place_of_right_show_pct": round(100 * total["place"] / max(1, total["show"]), 1),
        "wrong_at_high_confidence_pct": round(100 * total["wrong_high"] / n, 2),
        "applied_automatically_pct": round(100 * total["applied"] / n, 1),
        "requests_first_run": stats1["total_requests"],
        "requests_per_key": round(stats1["total_requests"] / max(1, first.keys), 2),
        "max_per_second_server": stats1["max_per_second"],
        "max_in_flight_server": stats1["max_in_flight"],
        "status_429": stats1["by_status"].get("429", 0),
        "requests_second_run": stats2["total_requests"] - stats1["total_requests"],
        "wall_seconds": round(wall, 2),
        "by_kind": {
            k: {
                "files": c["files"],
                "right_show_pct": round(100 * c["show"] / c["files"], 1),
                "right_place_pct": round(100 * c["place"] / max(1, c["show"]), 1),
                "applied_pct": round(100 * c["applied"] / c["files"], 1),
                "wrong_high": c["wrong_high"],
            }
            for k, c in sorted(kinds.items())
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        width = max(len(k) for k in result)
        for k, v in result.items():
            if k != "by_kind":
                print(f"{k:<{width}}  {v}")
        print("\n| kind | files | right show | right season+episode | applied | wrong applied |")
        print("|---|---|---|---|---|---|")
        for k, c in result["by_kind"].items():  # type: ignore[attr-defined]
            print(
                f"| {k} | {c['files']} | {c['right_show_pct']} % | {c['right_place_pct']} % | {c['applied_pct']} % | {c['wrong_high']} |"
            )
    if args.misses:
        for rel, t, got, reason in misses:
            print(
                f"MISS {rel}: want {t.tmdb_id} {sorted(t.places, key=str)} got {got} ({reason})",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
