"""The TMDB cache in the library database (`tmdb_cache`), in front of the polite HTTP client.

- Key = endpoint + normalised, sorted parameters (query NFKC-casefolded and space-collapsed, year; the
  language for episode names only), so "Frieren", "frieren " and "FRIEREN" share one entry and one request.
- TTL per kind: searches expire sooner than details (TMDB adds shows; a show's seasons rarely change), and
  negative answers (404, empty search) sooner still. A row written by an older ``SCHEMA_VERSION`` is a miss.
- Worker threads only *read* the database; new entries wait in memory until the run's single writer calls
  :meth:`CachedTmdb.flush` inside its own transaction (one writer, plain data across threads).
- Modes: ``normal`` (cache, then HTTP), ``refresh`` (HTTP, then cache), ``offline`` (cache only: a miss is
  "deferred", never "no match").
"""

from __future__ import annotations

import json
import threading
import unicodedata
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from anivault.db.base import utcnow
from anivault.db.engine import Database
from anivault.db.models_match import TmdbCache
from anivault.tmdb import read
from anivault.tmdb.client import TmdbHttpClient
from anivault.tmdb.port import (
    EpisodeGroup,
    EpisodeGroupInfo,
    MediaType,
    SearchHit,
    SeasonDetails,
    TitleDetails,
    TmdbBadResponse,
    TmdbNotFound,
    TmdbUnavailable,
)
from anivault.tmdb.schema import (
    check_details,
    check_episode_group,
    check_episode_groups,
    check_search,
    check_season,
)

SCHEMA_VERSION = 2
CacheMode = Literal["normal", "refresh", "offline"]


def norm_query(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def cache_key(endpoint: str, params: dict[str, Any]) -> str:
    clean = sorted((k, str(v)) for k, v in params.items() if v is not None and v != "")
    return f"{endpoint}?{urllib.parse.urlencode(clean)}"


def _or_404(call: Callable[[], Any]) -> tuple[int, Any]:
    """(200, TMDB's answer), or (404, {}) for an id TMDB does not have: a negative entry to cache."""
    try:
        return 200, call()
    except TmdbNotFound:
        return 404, {}


def season_key(tmdb_id: int, number: int, language: str) -> str:
    """The cache key of a season's details (`tv/ID/season/N?…`, apart from the show's `tv/ID?…`)."""
    return cache_key(f"tv/{int(tmdb_id)}/season/{int(number)}", {"language": language})


@dataclass(slots=True)
class CacheEntry:
    """A response waiting for the writer (plain data, safe to hand across threads)."""

    key: str
    endpoint: str
    q_norm: str | None
    lang: str | None
    year_hint: int | None
    status: int
    payload: str
    created_at: datetime
    expires_at: datetime


@dataclass(slots=True)
class CacheCounters:
    hits: int = 0
    misses: int = 0
    stored: int = 0
    http_errors: int = 0
    hit_keys: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class CacheTtl:
    search: timedelta = timedelta(hours=72)
    details: timedelta = timedelta(hours=720)
    negative: timedelta = timedelta(hours=24)


class CachedTmdb:
    """The :class:`~anivault.tmdb.port.TmdbPort` the pipeline uses."""

    def __init__(
        self,
        db: Database | None,
        http: TmdbHttpClient | None,
        *,
        language: str = "en-US",
        ttl: CacheTtl | None = None,
        mode: CacheMode = "normal",
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.http = http
        self.language = language
        self.ttl = ttl or CacheTtl()
        self.mode: CacheMode = mode if http is not None else "offline"
        self.now = now
        self.counters = CacheCounters()
        self._lock = threading.Lock()
        self._memory: dict[str, tuple[int, Any]] = {}  # this run's answers, by key
        self._pending: list[CacheEntry] = []

    # ------------------------------------------------------------------ the port
    def search(
        self, media_type: MediaType, query: str, year: int | None = None, *, any_air_date: bool = False
    ) -> list[SearchHit]:
        q = norm_query(query)
        wide = bool(any_air_date and year is not None and media_type == "tv")
        params: dict[str, Any] = {"query": q, "year": year, "any_air_date": 1 if wide else None}
        key = cache_key(f"search/{media_type}", params)

        def fetch() -> tuple[int, Any]:
            assert self.http is not None
            return 200, self.http.search(media_type, q, year, any_air_date=wide)

        status, payload = self._get(
            key, f"search/{media_type}", q, year, fetch, lambda p: check_search(media_type, p)
        )
        if status != 200 or not isinstance(payload, dict):
            return []
        return read.hits(media_type, payload)

    def details(self, media_type: MediaType, tmdb_id: int) -> TitleDetails | None:
        # one cached answer serves every language: the display name is read from its translations
        key = cache_key(f"{media_type}/{int(tmdb_id)}", {"append": "alt,tr,ext"})

        def fetch() -> tuple[int, Any]:
            http = self.http
            assert http is not None
            return _or_404(lambda: http.details(media_type, tmdb_id))

        status, payload = self._get(
            key, f"{media_type}/details", None, None, fetch, lambda p: check_details(media_type, p)
        )
        if status != 200 or not isinstance(payload, dict):
            return None
        return read.details(media_type, payload, self.language)

    def season_details(self, tmdb_id: int, number: int) -> SeasonDetails | None:
        """One season's episodes as TMDB numbers them, named in the configured language."""
        key = season_key(tmdb_id, number, self.language)

        def fetch() -> tuple[int, Any]:
            http = self.http
            assert http is not None
            return _or_404(lambda: http.season(tmdb_id, number))

        status, payload = self._get(key, "tv/season", None, None, fetch, check_season)
        return read.season(payload) if status == 200 and isinstance(payload, dict) else None

    def episode_groups(self, tmdb_id: int) -> list[EpisodeGroupInfo]:
        key = cache_key(f"tv/{int(tmdb_id)}/episode_groups", {})

        def fetch() -> tuple[int, Any]:
            http = self.http
            assert http is not None
            return _or_404(lambda: http.episode_groups(tmdb_id))

        status, payload = self._get(key, "tv/episode_groups", None, None, fetch, check_episode_groups)
        return read.episode_groups(payload) if status == 200 and isinstance(payload, dict) else []

    def episode_group(self, group_id: str) -> EpisodeGroup | None:
        key = cache_key(f"tv/episode_group/{group_id}", {"language": self.language})

        def fetch() -> tuple[int, Any]:
            http = self.http
            assert http is not None
            return _or_404(lambda: http.episode_group(group_id))

        status, payload = self._get(key, "tv/episode_group", None, None, fetch, check_episode_group)
        return read.episode_group(payload) if status == 200 and isinstance(payload, dict) else None

    # ------------------------------------------------------------------ machinery
    def _get(
        self,
        key: str,
        endpoint: str,
        q_norm: str | None,
        year: int | None,
        fetch: Callable[[], tuple[int, Any]],
        check: Callable[[Any], None],
    ) -> tuple[int, Any]:
        """(status, payload) from this run's memory, the cache, or TMDB. A 200 answer that does not pass
        ``check`` (schema.py) raises TmdbBadResponse and is neither cached nor remembered; a cached row that
        does not pass it is a miss."""
        with self._lock:
            mem = self._memory.get(key)
        if mem is not None:
            self._hit(key, stored=False)
            return mem
        if self.mode != "refresh":
            row = self._read_row(key, check)
            if row is not None:
                self._hit(key, stored=True)
                with self._lock:
                    self._memory[key] = row
                return row
        with self._lock:
            self.counters.misses += 1
        if self.mode == "offline" or self.http is None:
            raise TmdbUnavailable("not in the cache (offline)", hint="run `anivault match` without --offline")
        status, payload = fetch()
        if status == 200:
            check(payload)
        negative = status != 200 or (isinstance(payload, dict) and payload.get("results") == [])
        kind_ttl = self.ttl.search if endpoint.startswith("search/") else self.ttl.details
        created = self.now()
        entry = CacheEntry(
            key=key,
            endpoint=endpoint,
            q_norm=q_norm,
            lang=self.language,
            year_hint=year,
            status=status,
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            created_at=created,
            expires_at=created + (self.ttl.negative if negative else kind_ttl),
        )
        with self._lock:
            self._memory[key] = (status, payload)
            self._pending.append(entry)
        return status, payload

    def _hit(self, key: str, *, stored: bool) -> None:
        with self._lock:
            self.counters.hits += 1
            if stored:
                self.counters.hit_keys[key] = self.counters.hit_keys.get(key, 0) + 1

    def _read_row(self, key: str, check: Callable[[Any], None]) -> tuple[int, Any] | None:
        if self.db is None:  # a lookup outside any library (`match --query`): TMDB only
            return None
        with self.db.read() as session:
            row = session.execute(
                select(
                    TmdbCache.status, TmdbCache.payload, TmdbCache.expires_at, TmdbCache.schema_version
                ).where(TmdbCache.key == key)
            ).first()
        if row is None or row.schema_version != SCHEMA_VERSION or row.expires_at <= self.now():
            return None
        try:
            status, payload = int(row.status), json.loads(row.payload)
            if status == 200:
                check(payload)
        except (ValueError, RecursionError, TmdbBadResponse):
            return None  # a damaged row is a miss; the fresh answer replaces it
        return status, payload

    def take_pending(self) -> tuple[list[CacheEntry], dict[str, int]]:
        with self._lock:
            pending, self._pending = self._pending, []
            hits, self.counters.hit_keys = self.counters.hit_keys, {}
        return pending, hits

    def flush(self, session: Session) -> int:
        """Write the new entries and hit counts (the writer's job, inside its transaction)."""
        pending, hits = self.take_pending()
        for e in pending:
            session.merge(
                TmdbCache(
                    key=e.key,
                    endpoint=e.endpoint,
                    q_norm=e.q_norm,
                    lang=e.lang,
                    year_hint=e.year_hint,
                    status=e.status,
                    payload=e.payload,
                    created_at=e.created_at,
                    expires_at=e.expires_at,
                    schema_version=SCHEMA_VERSION,
                    hits=0,
                )
            )
        for key, n in hits.items():
            session.execute(update(TmdbCache).where(TmdbCache.key == key).values(hits=TmdbCache.hits + n))
        with self._lock:
            self.counters.stored += len(pending)
        return len(pending)


# --------------------------------------------------------------------------------------------------- commands


@dataclass(slots=True)
class CacheStats:
    entries: int
    expired: int
    negative: int
    bytes: int
    hits: int
    by_endpoint: dict[str, int]


def cache_stats(session: Session, now: datetime | None = None) -> CacheStats:
    now = now or utcnow()
    total = session.scalar(select(func.count()).select_from(TmdbCache)) or 0
    expired = session.scalar(select(func.count()).where(TmdbCache.expires_at <= now)) or 0
    negative = session.scalar(select(func.count()).where(TmdbCache.status != 200)) or 0
    size = session.scalar(select(func.coalesce(func.sum(func.length(TmdbCache.payload)), 0))) or 0
    hits = session.scalar(select(func.coalesce(func.sum(TmdbCache.hits), 0))) or 0
    by = {
        str(ep): int(n)
        for ep, n in session.execute(select(TmdbCache.endpoint, func.count()).group_by(TmdbCache.endpoint))
    }
    return CacheStats(int(total), int(expired), int(negative), int(size), int(hits), by)


def prune_cache(session: Session, now: datetime | None = None) -> int:
    """Delete expired entries and entries of an older schema version."""
    now = now or utcnow()
    result = session.execute(
        delete(TmdbCache).where((TmdbCache.expires_at <= now) | (TmdbCache.schema_version != SCHEMA_VERSION))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def clear_cache(session: Session) -> int:
    result = session.execute(delete(TmdbCache))
    return int(getattr(result, "rowcount", 0) or 0)


def ttl_from_settings(settings: Any) -> CacheTtl:
    t = settings.tmdb
    return CacheTtl(
        search=timedelta(hours=float(t.search_ttl_hours)),
        details=timedelta(hours=float(t.details_ttl_hours)),
        negative=timedelta(hours=float(t.negative_ttl_hours)),
    )


def open_tmdb(
    db: Database,
    settings: Any,
    *,
    mode: CacheMode = "normal",
    rate: float | None = None,
    now: Callable[[], datetime] = utcnow,
) -> CachedTmdb:
    """The port for a run: the database cache in front of a polite client (no client, no key, offline)."""
    from anivault.tmdb.client import client_from_settings

    http = None if mode == "offline" else client_from_settings(settings, rate)
    return CachedTmdb(
        db, http, language=settings.tmdb.language, ttl=ttl_from_settings(settings), mode=mode, now=now
    )
