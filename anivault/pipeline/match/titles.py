"""TMDB's episode names of matched seasons, for `{episode_title}` in a naming template."""

from __future__ import annotations

import concurrent.futures as cf
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import select

from anivault.db.base import utcnow
from anivault.db.engine import Database
from anivault.db.models import File
from anivault.db.models_match import Match, TmdbCache
from anivault.errors import Interrupted
from anivault.pipeline.match.types import MatchReport, ProgressFn
from anivault.pipeline.match.workers import DaemonPool
from anivault.tmdb.port import (
    TmdbAuthError,
    TmdbBadResponse,
    TmdbUnavailable,
)


def _matched_seasons(db: Database) -> list[tuple[int, int]]:
    with db.read() as s:
        rows = s.execute(
            select(Match.tmdb_id, Match.season)
            .join(File, File.id == Match.file_id)
            .where(
                Match.status == "matched",
                Match.media_type == "tv",
                Match.tmdb_id.is_not(None),
                Match.season.is_not(None),
                File.status == "present",
            )
            .distinct()
            .order_by(Match.tmdb_id, Match.season)
        ).all()
    return [(int(t), int(n)) for t, n in rows if t is not None and n is not None]


def missing_seasons(db: Database, language: str, now: datetime | None = None) -> list[tuple[int, int]]:
    """Matched show seasons whose episode names are not in the cache (or have expired there)."""
    from anivault.tmdb.cached import SCHEMA_VERSION, season_key

    with db.read() as s:
        cached = set(
            s.scalars(
                select(TmdbCache.key).where(
                    TmdbCache.endpoint == "tv/season",
                    TmdbCache.expires_at > (now or utcnow()),
                    TmdbCache.schema_version == SCHEMA_VERSION,
                )
            )
        )
    return [p for p in _matched_seasons(db) if season_key(*p, language) not in cached]


def fetch_episode_titles(
    db: Database,
    port: Any,
    todo: list[tuple[int, int]],
    workers: int,
    cancel: threading.Event,
    report: MatchReport,
    progress: ProgressFn | None = None,
) -> None:
    """Look up the episode names of the show seasons ``todo`` (missing_seasons: for `{episode_title}`),
    with the same workers and politeness as matching, and write them to the cache. A season TMDB cannot
    answer now is counted and asked for again next time; a wrong key stops the run like matching does."""
    if not todo:
        return
    pool = DaemonPool(max(1, workers), "titles")
    deferred = 0
    try:
        futures = [pool.submit(lambda p: port.season(*p), p) for p in todo]
        for done, fut in enumerate(cf.as_completed(futures), 1):
            try:
                fut.result()
            except (TmdbUnavailable, TmdbBadResponse):
                deferred += 1
            except TmdbAuthError:
                cancel.set()
                raise
            if progress is not None:
                progress(done, len(todo))
    except KeyboardInterrupt:
        cancel.set()  # the pool is left at once (finally), what was answered is kept
        with db.write() as s:
            port.flush(s)
        raise Interrupted(
            "interrupted while looking up episode names; the matches are saved",
            hint="run `anivault match` again to finish the episode names",
        ) from None
    finally:
        pool.shutdown(wait=not cancel.is_set())
    with db.write() as s:
        port.flush(s)
    report.title_seasons = len(todo) - deferred
    report.title_seasons_deferred = deferred
