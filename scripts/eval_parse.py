"""Measure filename-parsing accuracy on labelled cases.

    python scripts/eval_parse.py [--cases FILE] [--failures] [--baseline]

The cases file is a JSON list of ``{"filename", "expected": {...}, "source"}`` items (see
``../shared/data/README.md``). A case counts for a field only when its ``expected`` states that field.
The comparison rules are the ones the outside (held-out) measurement uses, so the numbers printed here
are comparable with it:

- title: NFKC, casefold, every run of non-alphanumerics -> one space, trimmed; then a trailing year
  tag (``(YYYY)`` / ``YYYY``) and a trailing season marker (``S2``, ``Season 2``, ``2nd Season``) are
  dropped from both sides;
- episode: equal integers; for a list or range, the same first and last number;
- season, year: equal integers; release_group: casefolded equality; resolution: ``1280x720`` == ``720p``.

``--baseline`` also measures plain ``anitopy.parse`` on the same cases.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUTSIDE_ANITOPY = "overall outside anitopy's suite"
FIELDS = ("title", "episode", "season", "year", "release_group", "resolution")
DEFAULT_CASES = Path(__file__).resolve().parents[1] / "../shared/data/parse_cases.json"

_NON_ALNUM = re.compile(r"[\W_]+")
_TRAILING_YEAR = re.compile(r"\s(?:19|20)\d{2}$")
_TRAILING_SEASON = re.compile(r"\s(?:s\d{1,2}|season \d{1,2}|\d{1,2}(?:st|nd|rd|th) season)$")
_RES_WXH = re.compile(r"^\d{3,4}x(\d{3,4})p?$")

# One parse, as the comparison sees it: field -> value (None when the parser did not say).
Parsed = dict[str, Any]


def norm_title(value: str) -> str:
    text = _NON_ALNUM.sub(" ", unicodedata.normalize("NFKC", value).casefold()).strip()
    text = _TRAILING_YEAR.sub("", text)
    return _TRAILING_SEASON.sub("", text).strip()


def _episode_bounds(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        numbers = [_to_int(v) for v in value]
        if not numbers or any(n is None for n in numbers):
            return None
        return (numbers[0], numbers[-1])  # type: ignore[return-value]
    number = _to_int(value)
    return None if number is None else (number, number)


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _norm_resolution(value: str) -> str:
    text = value.strip().casefold()
    match = _RES_WXH.match(text)
    return f"{match.group(1)}p" if match else text


def field_ok(field: str, expected: Any, got: Any) -> bool:
    if got is None:
        return False
    if field == "title":
        return norm_title(str(expected)) == norm_title(str(got))
    if field == "episode":
        want = _episode_bounds(expected)
        return want is not None and want == _episode_bounds(got)
    if field in ("season", "year"):
        return _to_int(expected) is not None and _to_int(expected) == _to_int(got)
    if field == "release_group":
        return str(expected).casefold() == str(got).casefold()
    if field == "resolution":
        return _norm_resolution(str(expected)) == _norm_resolution(str(got))
    raise ValueError(field)


def ours(filename: str) -> Parsed:
    from anivault.parsing import parse_name

    p = parse_name(filename)
    episode: Any = p.episode
    if p.episode is not None and p.episode_end is not None:
        episode = [p.episode, p.episode_end]
    return {
        "title": p.title,
        "episode": episode,
        "season": p.season,
        "year": p.year,
        "release_group": p.release_group,
        "resolution": p.resolution,
    }


def plain_anitopy(filename: str) -> Parsed:
    import anitopy

    try:
        raw = anitopy.parse(filename)
    except Exception:
        raw = None
    raw = raw or {}
    season = raw.get("anime_season")
    if isinstance(season, list):
        season = season[0]
    return {
        "title": raw.get("anime_title"),
        "episode": raw.get("episode_number"),
        "season": season,
        "year": raw.get("anime_year"),
        "release_group": raw.get("release_group"),
        "resolution": raw.get("video_resolution"),
    }


def short_source(source: str) -> str:
    """``owner/repo@commit:path/File.cs`` -> ``repo@commit:File`` (commit kept: two Sonarr revisions)."""
    repo, _, path = source.partition(":")
    name, _, commit = repo.split("/")[-1].partition("@")
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return f"{name}@{commit[:6]}:{stem}" if commit else f"{name}:{stem}"


def evaluate(
    cases: list[dict[str, Any]], parser: Callable[[str], Parsed]
) -> tuple[dict[str, dict[str, list[int]]], list[tuple[dict[str, Any], str, Any]]]:
    """Return ``{source: {field: [right, counted]}}`` (plus an ``overall`` row) and the failures."""
    table: dict[str, dict[str, list[int]]] = defaultdict(lambda: {f: [0, 0] for f in FIELDS})
    failures: list[tuple[dict[str, Any], str, Any]] = []
    for case in cases:
        got = parser(case["filename"])
        source = short_source(case.get("source", "?"))
        for field in FIELDS:
            if field not in case["expected"]:
                continue
            ok = field_ok(field, case["expected"][field], got[field])
            rows = [source, "overall"]
            if "anitopy" not in case.get("source", ""):
                # the README's baseline row: cases that anitopy's own test suite does not contain
                rows.append(OUTSIDE_ANITOPY)
            for row in rows:
                table[row][field][0] += ok
                table[row][field][1] += 1
            if not ok:
                failures.append((case, field, got[field]))
    return table, failures


def _cell(right: int, counted: int) -> str:
    return f"{100 * right / counted:5.1f}% ({right}/{counted})" if counted else "-"


def print_table(title: str, table: dict[str, dict[str, list[int]]]) -> None:
    print(f"\n## {title}\n")
    widths = [48] + [18] * len(FIELDS)
    header = ["source", *FIELDS]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    totals = ("overall", OUTSIDE_ANITOPY)
    rows = [*sorted(r for r in table if r not in totals), *[r for r in totals if r in table]]
    for row in rows:
        cells = [f"**{row}**" if row in totals else row]
        cells += [_cell(*table[row][f]) for f in FIELDS]
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES, help="labelled cases (JSON list)")
    ap.add_argument("--failures", action="store_true", help="list every failed field")
    ap.add_argument("--baseline", action="store_true", help="also measure plain anitopy")
    args = ap.parse_args(argv)

    path: Path = args.cases
    if not path.is_file():
        print(f"No parse cases at {path.resolve()}; nothing to measure (pass --cases FILE).")
        return 0
    cases = json.loads(path.read_text(encoding="utf-8"))
    print(f"{len(cases)} cases from {path.resolve()}")

    table, failures = evaluate(cases, ours)
    print_table("anivault.parsing.parse_name", table)
    if args.baseline:
        base_table, _ = evaluate(cases, plain_anitopy)
        print_table("plain anitopy.parse", base_table)
    if args.failures:
        print(f"\n## failures ({len(failures)})\n")
        for case, field, got in failures:
            print(f"{field:14} want {case['expected'][field]!r:40.40} got {got!r:40.40} | {case['filename']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
