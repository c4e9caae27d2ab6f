"""A realistic TMDB catalog and a realistic anime library for `scripts/bench_match.py`, both seeded.

The catalog starts from ``../shared/data/tmdb_catalog.json`` (real TMDB ids, titles and season splits) and is
made as unkind as the real TMDB, the way ``../shared/data/tmdb_real/`` shows it:

- alternative titles as sparse as TMDB's user-entered ones: at most one Japanese (romaji) title (missing for
  one show in seven) and one English one, where the source lists dozens;
- same-name live-action or western namesakes of popular shows and films, in English, from the US, several
  times as popular as the anime;
- long-runners (100+ episodes) numbered absolutely inside their seasons, some with two numbers listed in two
  seasons, some with an absolute episode group;
- split cours: long seasons whose air dates pause for months half-way;
- sequel seasons with names of their own ("… Crimson Arc").

The library is built from the catalog the way collectors keep files: fansub names in romaji, season folders
with English names, season markers (`S2`, `2nd Season`, `Season 2`, `2기`, `第2期`), Korean and Japanese
names, absolute numbers for long-runners, `Part 2` for a split cour's second half, sequel names (as TMDB names
them, and in romaji TMDB does not know), specials, and films. Each file comes with the truth: the TMDB id and
the season and episode(s) as TMDB numbers them.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

GROUPS = ["SubsPlease", "Erai-raws", "HorribleSubs", "Judas", "ASW", "LoliHouse", "Nekomoe kissaten", "DB"]
ARC_WORDS = ["Crimson", "Harbor", "Winter", "Lantern", "Iron Valley", "Starfall", "Red Castle", "Sunken City"]
# the same arcs as a Japanese release names them: words TMDB's English season names do not carry
ARC_ROMAJI = {"Crimson": "Guren", "Harbor": "Minato", "Winter": "Fuyu", "Lantern": "Chouchin",
              "Iron Valley": "Tetsu no Tani", "Starfall": "Ryuusei", "Red Castle": "Akai Shiro",
              "Sunken City": "Shizumu Miyako"}  # fmt: skip
ORDINAL = {2: "2nd", 3: "3rd", 4: "4th", 5: "5th", 6: "6th", 7: "7th"}
LIVE_GENRES = [[18, 10759], [10765, 18], [80, 18], [28, 12]]


@dataclass(frozen=True)
class Truth:
    tmdb_id: int
    media_type: str
    places: frozenset[tuple[int | None, int | None]]  # every (season, episode) TMDB files it as
    kind: str  # what convention the name exercises (for the per-kind table)


def _regular(e: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(
        (s for s in e.get("seasons") or [] if s.get("season_number", 0) > 0), key=lambda s: s["season_number"]
    )


_NOT_A_TITLE = (
    "season",
    "part",
    "movie",
    "gekijouban",
    "ova",
    "oad",
    "ona",
    "special",
    "2nd",
    "3rd",
    "4th",
    " ii",
)


def _romaji(e: dict[str, Any]) -> str | None:
    """The show's romaji title as fansubs write it: of its Japanese-country titles in Latin letters, the
    shortest of two words or more with no digit that names no sequel, season or film (the source lists
    abbreviations and sequels among them too)."""
    found = [str(a["title"]) for a in e.get("alternative_titles") or []
             if a.get("iso_3166_1") == "JP" and str(a.get("title", "")).isascii()]  # fmt: skip
    plain = [
        t for t in found if not any(w in t.lower() for w in _NOT_A_TITLE) and not any(c.isdigit() for c in t)
    ]
    words = [t for t in plain if len(t.split()) >= 2]
    return min(words, key=len) if words else (plain[0] if plain else None)


def realistic_catalog(source: dict[str, Any], seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    cat = copy.deepcopy(source)
    tv, movies = cat["tv"], cat["movie"]
    for e in tv + movies:
        alts = e.get("alternative_titles") or []
        romaji = _romaji(e)
        jp = [{"iso_3166_1": "JP", "title": romaji}] if romaji else []
        us = [a for a in alts if a.get("iso_3166_1") == "US"][:1]
        e["alternative_titles"] = (jp if rng.random() > 0.14 else []) + (us if rng.random() < 0.5 else [])
    next_id = 9_000_000
    for pool, key, kind in ((tv, "name", "tv"), (movies, "title", "movie")):
        popular = sorted(pool, key=lambda e: -e.get("popularity", 0))[:150]
        for e in popular:
            if rng.random() < 0.35:
                next_id += 1
                twin: dict[str, Any] = {
                    "id": next_id, key: e[key], f"original_{key}": e[key], "original_language": "en",
                    "popularity": round(e.get("popularity", 1) * rng.uniform(2, 10), 3),
                    "origin_country": ["US"], "genre_ids": rng.choice(LIVE_GENRES),
                    "alternative_titles": [], "translations": {},
                }  # fmt: skip
                year = int((e.get("first_air_date") or e.get("release_date") or "2000")[:4]) + rng.randint(
                    3, 20
                )
                if kind == "tv":
                    twin["first_air_date"] = f"{year}-06-01"
                    twin["seasons"] = [
                        {"season_number": 1, "episode_count": rng.randint(6, 10), "name": "Season 1"}
                    ]
                else:
                    twin["release_date"] = f"{year}-06-01"
                pool.append(twin)
    for e in tv:
        regular = _regular(e)
        if not regular or any(s.get("episode_count") is None for s in regular):
            continue
        total = sum(s["episode_count"] for s in regular)
        if total >= 100 and rng.random() < 0.5:
            first = 1
            for s in regular:
                s["first_episode"] = first
                first += s["episode_count"]
            if len(regular) > 2 and rng.random() < 0.3:
                regular[-1]["first_episode"] -= 2  # TMDB lists two numbers in two seasons
            if rng.random() < 0.4:
                pairs = [
                    [s["season_number"], s["first_episode"] + i]
                    for s in regular
                    for i in range(s["episode_count"])
                ]
                e["episode_groups"] = [{"id": f"abs{e['id']:08d}", "name": "Absolute Order", "type": 2,
                                        "groups": [{"name": "Episodes", "order": 1, "episodes": pairs}]}]  # fmt: skip
            continue
        for s in regular:
            count = s["episode_count"]
            if count >= 20 and rng.random() < 0.25:
                start = date(int((e.get("first_air_date") or "2010")[:4]), 4, 1) + timedelta(
                    days=365 * (s["season_number"] - 1)
                )
                half = count // 2
                s["episodes"] = [
                    {"episode_number": i + 1, "air_date": (start + timedelta(weeks=i + (14 if i >= half else 0))).isoformat()}
                    for i in range(count)
                ]  # fmt: skip
        if len(regular) > 1 and rng.random() < 0.4:
            for s in regular[1:]:
                s["name"] = f"{e['name']}: {rng.choice(ARC_WORDS)} Arc"
    return cat


def _ep_sample(rng: random.Random, count: int, k: int) -> list[int]:
    return sorted(rng.sample(range(1, count + 1), min(k, count)))


def _numbers(s: dict[str, Any]) -> list[int]:
    if isinstance(s.get("episodes"), list):
        return [int(x["episode_number"]) for x in s["episodes"]]
    first = s.get("first_episode", 1)
    return [first + i for i in range(s["episode_count"])]


def realistic_library(
    catalog: dict[str, Any],
    source: dict[str, Any],
    lib: Path,
    *,
    shows: int = 300,
    films: int = 60,
    seed: int = 11,
) -> dict[str, Truth]:
    """Write empty files under ``lib``; return {path: Truth}. ``source`` (the dense original) lends the
    romaji names fansubs use, whether or not the realistic catalog still knows them."""
    rng = random.Random(seed)
    dense = {e["id"]: e for e in source["tv"] + source["movie"]}
    truth: dict[str, Truth] = {}

    def add(rel: str, t: Truth) -> None:
        path = lib / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        truth[str(path)] = t

    anime_tv = [e for e in catalog["tv"] if e.get("original_language") == "ja" and _regular(e)]
    weights = [max(e.get("popularity", 0.1), 0.1) ** 0.5 for e in anime_tv]
    picked: dict[int, dict[str, Any]] = {}
    while len(picked) < min(shows, len(anime_tv)):
        e = rng.choices(anime_tv, weights)[0]
        picked[e["id"]] = e
    for e in picked.values():
        _show_files(rng, e, dense.get(e["id"], e), add)
    anime_movies = [m for m in catalog["movie"] if m.get("original_language") == "ja"]
    for m in rng.sample(anime_movies, min(films, len(anime_movies))):
        romaji = _romaji(dense.get(m["id"], m))
        year = (m.get("release_date") or "")[:4]
        style = rng.random()
        t = Truth(m["id"], "movie", frozenset({(None, None)}), "film")
        if style < 0.5 or not romaji:
            add(f"Movies/{m['title'].replace('/', ' ')} ({year}).mkv", t)
        elif style < 0.85:
            add(f"[{rng.choice(GROUPS)}] {romaji} (BD 1080p).mkv", t)
        else:
            ko = (m.get("translations") or {}).get("ko-KR", {}).get("title")
            add(f"{ko or romaji}.mkv", t)
    return truth


def _show_files(rng: random.Random, e: dict[str, Any], dense: dict[str, Any], add: Any) -> None:
    tid = e["id"]
    english = e["name"].replace("/", " ")
    romaji = _romaji(dense) or english
    year = (e.get("first_air_date") or "")[:4]
    ko = (e.get("translations") or {}).get("ko-KR", {}).get("name")
    group = rng.choice(GROUPS)
    regular = _regular(e)
    known = all(s.get("episode_count") for s in regular)

    def t(places: Iterable[tuple[int | None, int | None]], kind: str) -> Truth:
        return Truth(tid, "tv", frozenset(places), kind)

    # a long-runner kept with absolute numbers
    if known and sum(s["episode_count"] for s in regular) >= 100 and rng.random() < 0.7:
        listed: dict[int, set[int]] = {}
        order: list[tuple[int, int]] = []
        for s in regular:
            for n in _numbers(s):
                listed.setdefault(n, set()).add(s["season_number"])
            order += [(s["season_number"], n) for n in _numbers(s)]
        absolute = "first_episode" in regular[0]
        for k in _ep_sample(rng, len(order), 8):
            places = {(season, k) for season in listed.get(k, set())} if absolute else {order[k - 1]}
            add(f"[{group}] {romaji} - {k:03d} [720p].mkv", t(places, "absolute"))
        return
    style = rng.random()
    for s in regular:
        n, count = s["season_number"], s.get("episode_count")
        if not count:
            continue
        numbers = _numbers(s)
        named = s.get("name", "").startswith(e["name"] + ": ")
        episodes = _ep_sample(rng, count, 4)
        split = isinstance(s.get("episodes"), list) and "air_date" in s["episodes"][0]
        for i in episodes:
            place = {(n, numbers[i - 1])}
            if split and i > count // 2 and rng.random() < 0.6:
                k = i - count // 2
                add(
                    f"[{group}] {romaji}{_season_marker(rng, n)} Part 2 - {k:02d} [1080p].mkv",
                    t(place, "part"),
                )
                continue
            if named and rng.random() < 0.5:
                arc = s["name"][len(e["name"]) + 2 :]
                if rng.random() < 0.6:
                    add(f"[{group}] {romaji} - {arc} - {i:02d} [1080p].mkv", t(place, "sequel_name"))
                else:  # the romaji name of the arc, which TMDB does not know: a person should look
                    words = ARC_ROMAJI[arc.removesuffix(" Arc")]
                    add(f"[{group}] {romaji} - {words}-hen - {i:02d} [1080p].mkv", t(place, "sequel_romaji"))
                continue
            if style < 0.45:
                add(f"[{group}] {romaji}{_season_marker(rng, n)} - {i:02d} [1080p].mkv", t(place, "fansub"))
            elif style < 0.75:
                add(
                    f"{english} ({year})/Season {n:02d}/{english} - S{n:02d}E{i:02d}.mkv", t(place, "folders")
                )
            elif style < 0.87 and ko:
                marker = f" {n}기" if n > 1 else ""
                add(f"{ko}/{ko}{marker} {i}화.mp4", t(place, "korean"))
            else:
                orig = e.get("original_name") or romaji
                marker = f"[第{n}期]" if n > 1 else ""
                add(f"【{group}】[{orig}]{marker}[{i:02d}][1080p][简日双语].mp4", t(place, "japanese"))
    zero = next(
        (s for s in e.get("seasons") or [] if s.get("season_number") == 0 and s.get("episode_count")), None
    )
    if zero is not None and rng.random() < 0.3:
        k = rng.randint(1, zero["episode_count"])
        add(f"[{group}] {romaji} - OVA {k:02d} [1080p].mkv", t({(0, k)}, "special"))


def _season_marker(rng: random.Random, n: int) -> str:
    if n == 1:
        return ""
    return rng.choice([f" S{n}", f" {ORDINAL.get(n, f'{n}th')} Season", f" Season {n}"])
