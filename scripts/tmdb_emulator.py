#!/usr/bin/env python3
"""A local emulator of the part of the TMDB v3 API that AniVault uses.

Contract: ``../shared/tmdb-emulator.md`` (fixed; outside checks start this script exactly as written there)::

    python scripts/tmdb_emulator.py --catalog FILE [--host 127.0.0.1] [--port 0] [--api-key KEY]
            [--rate-limit N] [--fail-rate P] [--latency-ms MS] [--seed S]

The first stdout line is the base URL (``http://127.0.0.1:PORT/3``), flushed; then it serves until SIGTERM or
SIGINT. Tests can also run it in-process: ``start_emulator(catalog) -> RunningEmulator`` (base_url, stats(),
reset(), stop()).

``GET /__stats`` answers (counting every API request, 429s included, but not itself)::

    {"total_requests": 64, "by_path": {"/3/search/tv": 40, ...}, "by_status": {"200": 60, "429": 4},
     "max_per_second": 25, "max_in_flight": 4, "in_flight": 0, "rate_limit": 25}

``max_per_second`` is the most requests that arrived within any sliding 1-second window; ``max_in_flight`` the
most being handled at once (a request stops counting just before its last byte is written, so a client that
waits for each answer is never counted twice). ``POST /__reset`` zeroes them.

It behaves as the real service does where recorded answers show it (``../shared/data/tmdb_real/``):

- Search: a query matches an entry when every query word starts a word of one of its titles (name, original
  name, alternative titles, translations; NFKC, casefolded, punctuation folded to spaces), or, for scripts
  written without spaces, occurs anywhere in that title. Results are ordered by **relevance** (a title equal
  to the query, then a primary name that starts with it, then a primary name that holds it, then a match
  through an alternative title or translation only), popularity breaking ties; 20 per page; an empty result
  is ``{"page": 1, "results": [], "total_pages": 1, "total_results": 0}``. ``first_air_date_year`` filters
  on the first air year, ``year`` on any air date (a season's or an episode's); adult entries only with
  ``include_adult=true``.
- ``name`` (``title``) is in the requested ``language`` (en-US when absent): the catalog's ``name`` is the en-US
  one; another language gets its translation, else the **original** name, never a Latin alias.
- Seasons may carry absolute episode numbers (a season's ``episodes`` list, or ``first_episode``: the
  number its first episode has), as long-running shows do on TMDB (One Piece's season 20 lists 877..885);
  details carry ``last_episode_to_air``. ``/tv/{id}/episode_groups`` and ``/tv/episode_group/{id}`` serve a
  show's ``episode_groups``.
- Errors as TMDB sends them: 401 with ``success: false``, 404 ``{"status_message", "status_code": 34}``
  (no ``success``), 422 ``{"errors": [...]}``; a 429 carries ``Retry-After`` most of the time, not always.

Standard library only, so it runs anywhere the project's Python runs.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import math
import random
import re
import signal
import socket
import sys
import threading
import time
import unicodedata
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CATALOG_FORMAT = "anivault-tmdb-catalog/1"
PAGE_SIZE = 20

_PUNCT = re.compile(r"[^\w]+|_+", re.UNICODE)


def fold(text: str) -> str:
    """NFKC + casefold + every run of punctuation/space folded to one space (the contract's search rule)."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(_PUNCT.sub(" ", text).split())


def _year(date: str | None) -> int | None:
    if date and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None


# --------------------------------------------------------------------------------------------------- catalog


@dataclass
class Entry:
    """One show or movie of the catalog, with its folded titles precomputed for search."""

    kind: str  # "tv" | "movie"
    raw: dict[str, Any]
    titles: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.raw["id"])

    @property
    def popularity(self) -> float:
        try:
            return float(self.raw.get("popularity") or 0.0)
        except (TypeError, ValueError):
            return 0.0

    @property
    def year(self) -> int | None:
        return _year(self.raw.get("first_air_date" if self.kind == "tv" else "release_date"))

    @property
    def adult(self) -> bool:
        return self.raw.get("adult") is True

    def air_years(self) -> set[int]:
        """Every year the entry aired in: its first air (release) date, its seasons', its episodes'."""
        years = {self.year} if self.year is not None else set()
        for s in self.raw.get("seasons") or []:
            if isinstance(s, dict):
                years.add(_year(s.get("air_date")) or 0)
                for ep in s.get("episodes") or []:
                    if isinstance(ep, dict):
                        years.add(_year(ep.get("air_date")) or 0)
        years.discard(0)
        return years

    def relevance(self, query: str, tokens: list[str]) -> int:
        """0: a title equals the query; 1: the primary name starts with it; 2: the primary or original name
        holds every word; 3: only an alternative title or a translation matches."""
        if query in self.titles:
            return 0
        primary = self.titles[:2]  # name and original name, folded
        if any(t.startswith(query) for t in primary):
            return 1
        if any(title_matches(tokens, t) for t in primary):
            return 2
        return 3


def _entry_titles(kind: str, raw: dict[str, Any]) -> list[str]:
    name_key, orig_key = ("name", "original_name") if kind == "tv" else ("title", "original_title")
    out: list[str] = []
    for t in (raw.get(name_key), raw.get(orig_key)):
        if isinstance(t, str):
            out.append(t)
    for alt in raw.get("alternative_titles") or []:
        if isinstance(alt, dict) and isinstance(alt.get("title"), str):
            out.append(alt["title"])
    for tr in (raw.get("translations") or {}).values():
        if isinstance(tr, dict):
            for key in ("name", "title"):
                if isinstance(tr.get(key), str):
                    out.append(tr[key])
    folded = []
    for t in out:
        f = fold(t)
        if f and f not in folded:
            folded.append(f)
    return folded


class Catalog:
    def __init__(self, data: dict[str, Any]) -> None:
        self.tv: dict[int, Entry] = {}
        self.movie: dict[int, Entry] = {}
        # word -> ids, and the sorted words, per kind: a prefix is a bisect range, so a search over the
        # full benchmark catalog stays at a millisecond or two and the emulator is never the bottleneck
        self._words: dict[str, dict[str, set[int]]] = {"tv": {}, "movie": {}}
        self._sorted: dict[str, list[str]] = {}
        for kind, table in (("tv", self.tv), ("movie", self.movie)):
            index = self._words[kind]
            for raw in data.get(kind) or []:
                if not isinstance(raw, dict) or not isinstance(raw.get("id"), int):
                    continue
                e = Entry(kind, raw, _entry_titles(kind, raw))
                table[e.id] = e
                for t in e.titles:
                    for w in t.split():
                        index.setdefault(w, set()).add(e.id)
            self._sorted[kind] = sorted(index)

    def _prefix_ids(self, kind: str, prefix: str) -> set[int]:
        words = self._sorted[kind]
        index = self._words[kind]
        out: set[int] = set()
        i = bisect.bisect_left(words, prefix)
        while i < len(words) and words[i].startswith(prefix):
            out |= index[words[i]]
            i += 1
        return out

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a catalog object")
        return cls(data)

    def search(
        self, kind: str, query: str, year: int | None, *, first_year: bool = True, adult: bool = False
    ) -> list[Entry]:
        tokens = fold(query).split()
        if not tokens:
            return []
        table = self.tv if kind == "tv" else self.movie
        ids: set[int] | None = None
        for tok in tokens:
            if not _spaceless(tok):
                found = self._prefix_ids(kind, tok)
                ids = found if ids is None else ids & found
        pool = table.values() if ids is None else (table[i] for i in ids)
        folded = " ".join(tokens)
        hits = []
        for e in pool:
            if not any(title_matches(tokens, t) for t in e.titles):
                continue
            if year is not None and not (e.year == year if first_year else year in e.air_years()):
                continue
            if e.adult and not adult:
                continue
            hits.append((e.relevance(folded, tokens), -e.popularity, e.id, e))
        hits.sort(key=lambda h: h[:3])
        return [h[3] for h in hits]


def _spaceless(token: str) -> bool:
    """Scripts written without spaces (CJK, kana, Thai…): a word can sit anywhere inside a title."""
    return any(ord(ch) >= 0x2E80 and unicodedata.category(ch).startswith("L") for ch in token)


def title_matches(tokens: list[str], title: str) -> bool:
    """Every query token occurs in this one title: as the start of one of its words (so "on" finds
    "on" and "one" but not "attack"), or anywhere in it for scripts written without spaces."""
    words = title.split()
    for tok in tokens:
        if _spaceless(tok):
            if tok not in title:
                return False
        elif not any(w.startswith(tok) for w in words):
            return False
    return True


# --------------------------------------------------------------------------------------------------- shapes


def _translated(raw: dict[str, Any], language: str, key: str) -> str | None:
    """The entry's name in ``language`` from its translations (an exact code first, then the language)."""
    trs = raw.get("translations") or {}
    if not isinstance(trs, dict):
        return None
    exact = [tr for code, tr in trs.items() if code == language]
    same = [tr for code, tr in trs.items() if code.split("-")[0] == language.split("-")[0]]
    for tr in exact + same:
        if isinstance(tr, dict):
            val = tr.get(key) or tr.get("name") or tr.get("title")
            if isinstance(val, str) and val:
                return val
    return None


def display_name(raw: dict[str, Any], kind: str, language: str | None) -> str:
    """TMDB's ``name``/``title`` in ``language`` (en-US when absent): the catalog's own name is the en-US one;
    another language gets its translation, else the original name (never a Latin alias)."""
    key, orig_key = ("name", "original_name") if kind == "tv" else ("title", "original_title")
    language = language or "en-US"
    original = raw.get(orig_key) or raw.get(key) or ""
    if language.split("-")[0] == "en" and raw.get(key):
        return str(raw[key])
    found = _translated(raw, language, key)
    if found:
        return found
    return str(original)


def tv_summary(e: Entry, language: str | None, with_type: bool = False) -> dict[str, Any]:
    r = e.raw
    out: dict[str, Any] = {
        "id": e.id,
        "name": display_name(r, "tv", language),
        "original_name": r.get("original_name") or r.get("name") or "",
        "original_language": r.get("original_language") or "",
        "first_air_date": r.get("first_air_date") or "",
        "popularity": e.popularity,
        "origin_country": r.get("origin_country") or [],
        "genre_ids": r.get("genre_ids") or [],
        "overview": r.get("overview") or "",
        "vote_average": r.get("vote_average", 0.0),
        "vote_count": r.get("vote_count", 0),
        "poster_path": r.get("poster_path"),
        "backdrop_path": r.get("backdrop_path"),
        "adult": e.adult,
    }
    if with_type:
        out["media_type"] = "tv"
    return out


def movie_summary(e: Entry, language: str | None, with_type: bool = False) -> dict[str, Any]:
    r = e.raw
    out: dict[str, Any] = {
        "id": e.id,
        "title": display_name(r, "movie", language),
        "original_title": r.get("original_title") or r.get("title") or "",
        "original_language": r.get("original_language") or "",
        "release_date": r.get("release_date") or "",
        "popularity": e.popularity,
        "genre_ids": r.get("genre_ids") or [],
        "overview": r.get("overview") or "",
        "vote_average": r.get("vote_average", 0.0),
        "vote_count": r.get("vote_count", 0),
        "poster_path": r.get("poster_path"),
        "backdrop_path": r.get("backdrop_path"),
        "adult": e.adult,
        "video": False,
    }
    if with_type:
        out["media_type"] = "movie"
    return out


def _alt_titles(e: Entry) -> list[dict[str, Any]]:
    return [
        {"iso_3166_1": a.get("iso_3166_1", ""), "title": a.get("title", ""), "type": a.get("type", "")}
        for a in e.raw.get("alternative_titles") or []
        if isinstance(a, dict)
    ]


def _translations(e: Entry) -> list[dict[str, Any]]:
    out = []
    trs = e.raw.get("translations") or {}
    for code, tr in trs.items() if isinstance(trs, dict) else []:
        lang, _, country = code.partition("-")
        data = dict(tr) if isinstance(tr, dict) else {}
        data.setdefault("overview", "")
        if e.kind == "movie" and "title" not in data and "name" in data:
            data["title"] = data.pop("name")
        out.append(
            {"iso_3166_1": country, "iso_639_1": lang, "name": lang, "english_name": lang, "data": data}
        )
    return out


def _seasons(e: Entry) -> list[dict[str, Any]]:
    out = []
    for s in e.raw.get("seasons") or []:
        if not isinstance(s, dict):
            continue
        n = s.get("season_number")
        out.append(
            {
                "id": e.id * 1000 + (n if isinstance(n, int) else 0),
                "season_number": n,
                "episode_count": s.get("episode_count"),
                "air_date": s.get("air_date") or None,
                "name": s.get("name") or (f"Season {n}" if n else "Specials"),
                "overview": "",
                "poster_path": None,
            }
        )
    return out


def tv_details(e: Entry, language: str | None, append: Iterable[str]) -> dict[str, Any]:
    out = tv_summary(e, language)
    seasons = _seasons(e)
    regular = [s for s in seasons if isinstance(s["season_number"], int) and s["season_number"] > 0]
    out.update(
        {
            "seasons": seasons,
            "number_of_seasons": len(regular),
            "number_of_episodes": sum(s["episode_count"] or 0 for s in regular),
            "episode_run_time": [],
            "status": e.raw.get("status", "Ended"),
            "type": "Scripted",
            "in_production": False,
            "last_air_date": e.raw.get("last_air_date"),
            "last_episode_to_air": _last_episode(e),
            "genres": _genres(e),
        }
    )
    _append(out, e, append)
    return out


GENRES = {
    16: "Animation", 18: "Drama", 35: "Comedy", 80: "Crime", 99: "Documentary", 9648: "Mystery",
    10751: "Family", 10759: "Action & Adventure", 10762: "Kids", 10764: "Reality", 10765: "Sci-Fi & Fantasy",
    10766: "Soap", 10767: "Talk", 10768: "War & Politics", 28: "Action", 12: "Adventure", 14: "Fantasy",
    878: "Science Fiction", 10749: "Romance", 53: "Thriller", 27: "Horror",
}  # fmt: skip


def _genres(e: Entry) -> list[dict[str, Any]]:
    return [{"id": g, "name": GENRES.get(g, "")} for g in e.raw.get("genre_ids") or [] if isinstance(g, int)]


def _last_episode(e: Entry) -> dict[str, Any] | None:
    """The last regular episode, numbered as its season numbers it (TMDB's `last_episode_to_air`)."""
    for s in sorted(
        (s for s in e.raw.get("seasons") or [] if isinstance(s, dict) and (s.get("season_number") or 0) > 0),
        key=lambda s: s["season_number"],
        reverse=True,
    ):
        eps = season_episodes(e, s, None)
        if eps:
            last = eps[-1]
            return {
                "id": last["id"], "name": last["name"], "air_date": last["air_date"], "episode_number":
                last["episode_number"], "season_number": s["season_number"], "show_id": e.id,
            }  # fmt: skip
    return None


def movie_details(e: Entry, language: str | None, append: Iterable[str]) -> dict[str, Any]:
    out = movie_summary(e, language)
    out.update({"runtime": e.raw.get("runtime"), "status": "Released", "genres": _genres(e)})
    _append(out, e, append)
    return out


def _append(out: dict[str, Any], e: Entry, append: Iterable[str]) -> None:
    for part in append:
        if part == "alternative_titles":
            key = "results" if e.kind == "tv" else "titles"
            out["alternative_titles"] = {key: _alt_titles(e)}
        elif part == "translations":
            out["translations"] = {"translations": _translations(e)}
        elif part == "external_ids":
            ext = e.raw.get("external_ids") or {}
            out["external_ids"] = {"id": e.id, "imdb_id": ext.get("imdb_id"), "tvdb_id": ext.get("tvdb_id")}


def season_episodes(e: Entry, s: dict[str, Any], language: str | None) -> list[dict[str, Any]]:
    """A season's episodes as TMDB lists them: the catalog's own list, or ``episode_count`` episodes numbered
    from ``first_episode`` (absolute numbering inside a season) or 1, named `Episode N` when unnamed."""
    n = s.get("season_number")
    listed = s.get("episodes")
    if isinstance(listed, list):
        eps = [dict(x) for x in listed if isinstance(x, dict)]
    else:
        first = s.get("first_episode") if isinstance(s.get("first_episode"), int) else 1
        count = s.get("episode_count") or 0
        eps = [{"episode_number": first + i} for i in range(int(count))]
    for ep in eps:
        number = int(ep.get("episode_number") or 0)
        names = ep.pop("names", None)
        name = names.get(language) if isinstance(names, dict) and language else None
        ep["name"] = name or ep.get("name") or f"Episode {number}"
        ep.setdefault("air_date", None)
        ep["season_number"] = n
        ep.setdefault("id", e.id * 100000 + (n or 0) * 1000 + number)
    return eps


def season_details(e: Entry, n: int, language: str | None = None) -> dict[str, Any] | None:
    for s in e.raw.get("seasons") or []:
        if isinstance(s, dict) and s.get("season_number") == n:
            return {
                "_id": f"{e.id}-{n}",
                "id": e.id * 1000 + n,
                "air_date": s.get("air_date"),
                "name": s.get("name") or (f"Season {n}" if n else "Specials"),
                "season_number": n,
                "overview": "",
                "episodes": season_episodes(e, s, language),
            }
    return None


def episode_group_list(e: Entry) -> dict[str, Any]:
    return {
        "id": e.id,
        "results": [
            {
                "description": g.get("description", ""), "episode_count": sum(len(x.get("episodes") or [])
                for x in g.get("groups") or []), "group_count": len(g.get("groups") or []), "id": g["id"],
                "name": g.get("name", ""), "network": None, "type": g.get("type", 1),
            }
            for g in e.raw.get("episode_groups") or []
            if isinstance(g, dict) and isinstance(g.get("id"), str)
        ],
    }  # fmt: skip


def episode_group(cat: Catalog, gid: str, language: str | None) -> dict[str, Any] | None:
    """One episode group in TMDB's shape: its groups, each listing the episodes (as their seasons number
    them) in the group's order. The catalog lists each group's episodes as [season, episode] pairs."""
    for e in cat.tv.values():
        for g in e.raw.get("episode_groups") or []:
            if not (isinstance(g, dict) and g.get("id") == gid):
                continue
            seasons = {s.get("season_number"): s for s in e.raw.get("seasons") or [] if isinstance(s, dict)}
            groups = []
            for order, grp in enumerate(g.get("groups") or []):
                episodes = []
                for k, (sn, en) in enumerate(grp.get("episodes") or []):
                    season = seasons.get(sn)
                    listed = (
                        {x["episode_number"]: x for x in season_episodes(e, season, language)}
                        if season
                        else {}
                    )
                    ep = dict(
                        listed.get(en) or {"episode_number": en, "season_number": sn, "name": f"Episode {en}"}
                    )
                    ep.update(order=k, show_id=e.id)
                    ep.setdefault("id", e.id * 100000 + sn * 1000 + en)
                    episodes.append(ep)
                groups.append({"id": f"{gid}-{order}", "name": grp.get("name", ""), "order": grp.get("order", order),
                               "episodes": episodes, "locked": True})  # fmt: skip
            return {
                "id": gid, "name": g.get("name", ""), "type": g.get("type", 1), "description": "",
                "episode_count": sum(len(x["episodes"]) for x in groups), "group_count": len(groups),
                "groups": groups, "network": None,
            }  # fmt: skip
    return None


CONFIGURATION = {
    "images": {
        "base_url": "http://image.tmdb.org/t/p/",
        "secure_base_url": "https://image.tmdb.org/t/p/",
        "backdrop_sizes": ["w300", "w780", "w1280", "original"],
        "logo_sizes": ["w45", "w92", "w154", "w185", "w300", "w500", "original"],
        "poster_sizes": ["w92", "w154", "w185", "w342", "w500", "w780", "original"],
        "profile_sizes": ["w45", "w185", "h632", "original"],
        "still_sizes": ["w92", "w185", "w300", "original"],
    },
    "change_keys": [],
}


# --------------------------------------------------------------------------------------------------- state


class EmulatorState:
    """Counters, the rate-limit window and the seeded fault generator, shared by all handler threads."""

    def __init__(
        self,
        catalog: Catalog,
        api_key: str = "test-key",
        rate_limit: int = 0,
        fail_rate: float = 0.0,
        latency_ms: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.catalog = catalog
        self.api_key = api_key
        self.rate_limit = rate_limit
        self.fail_rate = fail_rate
        self.latency_ms = latency_ms
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.requested = threading.Event()  # set when a request arrives (tests wait on it, never poll)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.total = 0
            self.by_path: collections.Counter[str] = collections.Counter()
            self.by_status: collections.Counter[str] = collections.Counter()
            self.arrivals: collections.deque[float] = collections.deque()  # all requests, last 1 s
            self.accepted: collections.deque[float] = collections.deque()  # non-429 requests, last 1 s
            self.max_per_second = 0
            self.in_flight = 0
            self.max_in_flight = 0
            # (arrival monotonic time, path, status) of recent requests, for in-process tests
            self.log: collections.deque[tuple[float, str, str]] = collections.deque(maxlen=20000)

    def begin(self, path: str) -> tuple[bool, int]:
        """Count one arriving request. Returns (allowed by the rate limit, Retry-After seconds)."""
        now = time.monotonic()
        self.requested.set()
        with self.lock:
            self.total += 1
            self.by_path[path] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            while self.arrivals and now - self.arrivals[0] >= 1.0:
                self.arrivals.popleft()
            self.arrivals.append(now)
            self.max_per_second = max(self.max_per_second, len(self.arrivals))
            if self.rate_limit <= 0:
                return True, 0
            while self.accepted and now - self.accepted[0] >= 1.0:
                self.accepted.popleft()
            if len(self.accepted) >= self.rate_limit:
                wait = 1.0 - (now - self.accepted[0])
                return False, max(1, math.ceil(wait))
            self.accepted.append(now)
            return True, 0

    def end(self, status: int | str, arrival: float = 0.0, path: str = "") -> None:
        with self.lock:
            self.in_flight -= 1
            self.by_status[str(status)] += 1
            self.log.append((arrival, path, str(status)))

    def coin(self, p: float) -> bool:
        with self.lock:
            return self.rng.random() < p

    def fault(self) -> int | str | None:
        """A seeded injected fault: 500/502/503 or "drop", or None."""
        if self.fail_rate <= 0:
            return None
        with self.lock:
            if self.rng.random() >= self.fail_rate:
                return None
            return self.rng.choice([500, 502, 503, "drop"])

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "total_requests": self.total,
                "by_path": dict(self.by_path),
                "by_status": dict(self.by_status),
                "max_per_second": self.max_per_second,
                "max_in_flight": self.max_in_flight,
                "in_flight": self.in_flight,
                "rate_limit": self.rate_limit,
            }


def _err(status_code: int, message: str) -> dict[str, Any]:
    return {"success": False, "status_code": status_code, "status_message": message}


# TMDB's 404 body has no `success` field (tmdb_real/error_404_resource_not_found.json).
NOT_FOUND = {"status_message": "The resource you requested could not be found.", "status_code": 34}
BAD_KEY = _err(7, "Invalid API key: You must be granted a valid key.")


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TMDBEmulator/1"
    state: EmulatorState  # set on a subclass per server

    def log_message(self, format: str, *args: Any) -> None:  # stdout carries only the URL
        pass

    # ------------------------------------------------------------------ plumbing
    _ended = False
    _arrival = 0.0
    _path = ""

    def _finish(self, status: int | str) -> None:
        # Counted before the last byte goes out: a client that waits for the response before sending the
        # next request must never look "in flight" twice, so max_in_flight is exact.
        if not self._ended:
            self._ended = True
            self.state.end(status, self._arrival, self._path)

    def _send(
        self, status: int, body: Any, headers: dict[str, str] | None = None, track: bool = True
    ) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if track:
            self._finish(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if path == "/__reset":
            self.state.reset()
            self._send(200, {"success": True}, track=False)
        else:
            self._send(404, NOT_FOUND, track=False)

    def do_GET(self) -> None:
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        if path == "/__stats":
            self._send(200, self.state.stats(), track=False)
            return
        st = self.state
        self._ended = False
        self._arrival = time.monotonic()
        self._path = path
        allowed, retry_after = st.begin(path)
        status: int | str = 0
        try:
            if st.latency_ms > 0:
                time.sleep(st.latency_ms / 1000.0)
            if not allowed:
                status = 429
                # TMDB's CDN sends some 429s without Retry-After (tmdb_real/error_429_cloudfront…): one in
                # four here, chosen by the seeded generator.
                headers = {} if st.coin(0.25) else {"Retry-After": str(retry_after)}
                self._send(
                    429,
                    _err(25, f"Your request count (#) is over the allowed limit of ({st.rate_limit})."),
                    headers,
                )
                return
            fault = st.fault()
            if fault == "drop":
                status = "drop"
                self._finish(status)
                self._drop()
                return
            if isinstance(fault, int):
                status = fault
                self._send(fault, _err(11, "Internal error: Something went wrong, contact TMDb."))
                return
            params = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
            if not self._authorised(params):
                status = 401
                self._send(401, BAD_KEY)
                return
            status, body = self._route(path, params)
            self._send(status, body)
        except (BrokenPipeError, ConnectionResetError):
            status = status or "client_gone"
        finally:
            self._finish(status or 500)

    def _authorised(self, params: dict[str, str]) -> bool:
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer ") and auth[7:].strip() == self.state.api_key:
            return True
        return params.get("api_key") == self.state.api_key

    # ------------------------------------------------------------------ routes
    def _route(self, path: str, p: dict[str, str]) -> tuple[int, Any]:
        cat = self.state.catalog
        parts = [x for x in path.split("/") if x]
        if not parts or parts[0] != "3":
            return 404, NOT_FOUND
        parts = parts[1:]
        lang = p.get("language") or None
        if parts == ["configuration"]:
            return 200, CONFIGURATION
        if len(parts) == 2 and parts[0] == "search" and parts[1] in ("tv", "movie", "multi"):
            return self._search(parts[1], p, lang)
        if len(parts) == 3 and parts[:2] == ["tv", "episode_group"]:
            group = episode_group(cat, parts[2], lang)
            return (200, group) if group is not None else (404, NOT_FOUND)
        if len(parts) >= 2 and parts[0] in ("tv", "movie"):
            table = cat.tv if parts[0] == "tv" else cat.movie
            try:
                entry = table.get(int(parts[1]))
            except ValueError:
                entry = None
            if entry is None:
                return 404, NOT_FOUND
            append = [a.strip() for a in (p.get("append_to_response") or "").split(",") if a.strip()]
            if len(parts) == 2:
                if parts[0] == "tv":
                    return 200, tv_details(entry, lang, append)
                return 200, movie_details(entry, lang, append)
            if len(parts) == 3 and parts[2] == "alternative_titles":
                key = "results" if entry.kind == "tv" else "titles"
                return 200, {"id": entry.id, key: _alt_titles(entry)}
            if len(parts) == 3 and parts[2] == "translations":
                return 200, {"id": entry.id, "translations": _translations(entry)}
            if len(parts) == 3 and parts[0] == "tv" and parts[2] == "episode_groups":
                return 200, episode_group_list(entry)
            if len(parts) == 3 and parts[2] == "external_ids":
                ext = entry.raw.get("external_ids") or {}
                return 200, {"id": entry.id, "imdb_id": ext.get("imdb_id"), "tvdb_id": ext.get("tvdb_id")}
            if len(parts) == 4 and parts[0] == "tv" and parts[2] == "season":
                try:
                    season = season_details(entry, int(parts[3]), lang)
                except ValueError:
                    season = None
                return (200, season) if season is not None else (404, NOT_FOUND)
        return 404, NOT_FOUND

    def _search(self, kind: str, p: dict[str, str], lang: str | None) -> tuple[int, Any]:
        query = (p.get("query") or "").strip()
        if not query:
            return 422, {"errors": ["query must be provided"]}
        try:
            page = int(p.get("page") or 1)
        except ValueError:
            page = 0
        if page < 1 or page > 500:
            return 422, {"errors": ["page must be between 1 and 500"]}
        year = None
        first_year = True
        keys = {
            "tv": ("first_air_date_year", "year"),
            "movie": ("primary_release_year", "year"),
            "multi": (),
        }[kind]
        for key in keys:
            raw = (p.get(key) or "").strip()
            if raw:
                try:
                    year = int(raw)
                except ValueError:
                    return 422, {"errors": [f"{key} must be an integer"]}
                first_year = key != "year"  # `year` matches any air date of a show
                break
        adult = (p.get("include_adult") or "").lower() == "true"
        cat = self.state.catalog
        if kind == "multi":
            hits = cat.search("tv", query, None, adult=adult) + cat.search("movie", query, None, adult=adult)
            folded = fold(query)
            hits.sort(key=lambda e: (e.relevance(folded, folded.split()), -e.popularity, e.id))
        else:
            hits = cat.search(kind, query, year, first_year=first_year, adult=adult)
        total = len(hits)
        chunk = hits[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        results = [
            tv_summary(e, lang, kind == "multi")
            if e.kind == "tv"
            else movie_summary(e, lang, kind == "multi")
            for e in chunk
        ]
        return 200, {
            "page": page,
            "results": results,
            "total_results": total,
            "total_pages": max(1, math.ceil(total / PAGE_SIZE)),
        }


# --------------------------------------------------------------------------------------------------- running


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop keep-alive connections too, so a stopped emulator really is gone."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass
class RunningEmulator:
    """An emulator serving on a background thread (for tests and benchmarks)."""

    base_url: str
    state: EmulatorState
    server: ThreadingHTTPServer
    thread: threading.Thread

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def reset(self) -> None:
        self.state.reset()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if isinstance(self.server, _Server):
            self.server.close_connections()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_server(state: EmulatorState, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    handler = type("BoundEmulatorHandler", (EmulatorHandler,), {"state": state})
    return _Server((host, port), handler)


def start_emulator(
    catalog: str | Path | dict[str, Any] | Catalog,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str = "test-key",
    rate_limit: int = 0,
    fail_rate: float = 0.0,
    latency_ms: float = 0.0,
    seed: int | None = None,
) -> RunningEmulator:
    """Start an emulator on a daemon thread; returns its base URL (with /3) and a stop handle."""
    if isinstance(catalog, Catalog):
        cat = catalog
    elif isinstance(catalog, dict):
        cat = Catalog(catalog)
    else:
        cat = Catalog.load(catalog)
    state = EmulatorState(cat, api_key, rate_limit, fail_rate, latency_ms, seed)
    server = make_server(state, host, port)
    h, p = server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, name="tmdb-emulator", daemon=True)
    thread.start()
    return RunningEmulator(f"http://{h}:{p}/3", state, server, thread)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Local TMDB v3 emulator for AniVault tests and benchmarks.")
    ap.add_argument("--catalog", required=True, help="catalog JSON (anivault-tmdb-catalog/1)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api-key", default="test-key", help="the only key accepted (query or Bearer)")
    ap.add_argument("--rate-limit", type=int, default=0, help="max requests per 1-second window (0 = none)")
    ap.add_argument("--fail-rate", type=float, default=0.0, help="fraction of requests that fail (5xx/drop)")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="delay before each response")
    ap.add_argument("--seed", type=int, default=None, help="seed for --fail-rate")
    args = ap.parse_args(argv)
    try:
        cat = Catalog.load(args.catalog)
    except (OSError, ValueError) as exc:
        print(f"error: cannot load catalog {args.catalog}: {exc}", file=sys.stderr)
        return 2
    state = EmulatorState(cat, args.api_key, args.rate_limit, args.fail_rate, args.latency_ms, args.seed)
    server = make_server(state, args.host, args.port)
    host, port = server.server_address[:2]
    shown_host = f"[{host}]" if ":" in str(host) else host
    print(f"http://{shown_host}:{port}/3", flush=True)

    def _stop(signum: int, frame: object) -> None:
        # shutdown() blocks until serve_forever returns, so it must run on another thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
