"""TMDB's episode names, kept in the matches rows for `{episode_title}` in a naming template.

A match decided while a template asked for names has them already (placement.py). This fills in the rest:
matched episodes with no name looked up yet (`matches.episode_title` NULL), one season-details request per
show season, in the configured language; '' records "TMDB has no name for it" so nobody asks twice.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from typing import Any

from sqlalchemy import func, select, update

from anivault.db.engine import Database
from anivault.db.models import File
from anivault.db.models_match import Match
from anivault.errors import Interrupted
from anivault.pipeline.match.types import MatchReport, ProgressFn
from anivault.pipeline.match.workers import DaemonPool
from anivault.tmdb.port import (
    SeasonDetails,
    TmdbAuthError,
    TmdbBadResponse,
    TmdbUnavailable,
)


def _unnamed() -> Any:
    return (
        Match.status == "matched",
        Match.media_type == "tv",
        Match.tmdb_id.is_not(None),
        Match.season.is_not(None),
        Match.episode.is_not(None),
        Match.episode_title.is_(None),
        File.status == "present",
    )


def missing_seasons(db: Database) -> list[tuple[int, int]]:
    """(show, season) pairs with matched episodes whose TMDB name was never looked up."""
    with db.read() as s:
        rows = s.execute(
            select(Match.tmdb_id, Match.season)
            .join(File, File.id == Match.file_id)
            .where(*_unnamed())
            .distinct()
            .order_by(Match.tmdb_id, Match.season)
        ).all()
    return [(int(t), int(n)) for t, n in rows if t is not None and n is not None]


def unnamed_files(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Match).join(File, File.id == Match.file_id)
                            .where(*_unnamed())) or 0)  # fmt: skip


def _write_names(db: Database, port: Any, answers: dict[tuple[int, int], SeasonDetails | None]) -> None:
    with db.write() as s:
        for (tmdb_id, season), details in answers.items():
            names = {e.number: e.name for e in details.episodes} if details is not None else {}
            rows = s.execute(
                select(Match.file_id, Match.episode)
                .join(File, File.id == Match.file_id)
                .where(*_unnamed(), Match.tmdb_id == tmdb_id, Match.season == season)
            ).all()
            for file_id, episode in rows:
                s.execute(
                    update(Match)
                    .where(Match.file_id == file_id)
                    .values(episode_title=names.get(int(episode or 0), ""))
                )
        port.flush(s)


def fetch_episode_titles(
    db: Database,
    port: Any,
    todo: list[tuple[int, int]],
    workers: int,
    cancel: threading.Event,
    report: MatchReport,
    progress: ProgressFn | None = None,
) -> None:
    """Look up the episode names of the show seasons ``todo`` (missing_seasons) with the same workers and
    politeness as matching, and write them to the matches rows. A season TMDB cannot answer now is counted
    and asked for again next time; a wrong key stops the run like matching does."""
    if not todo:
        return
    pool = DaemonPool(max(1, workers), "titles")
    answers: dict[tuple[int, int], SeasonDetails | None] = {}
    deferred = 0
    try:
        futures = {pool.submit(lambda p: port.season_details(*p), p): p for p in todo}
        for done, fut in enumerate(cf.as_completed(futures), 1):
            try:
                answers[futures[fut]] = fut.result()
            except (TmdbUnavailable, TmdbBadResponse):
                deferred += 1
            except TmdbAuthError:
                cancel.set()
                raise
            if progress is not None:
                progress(done, len(todo))
    except KeyboardInterrupt:
        cancel.set()  # the pool is left at once (finally), what was answered is kept
        _write_names(db, port, answers)
        raise Interrupted(
            "interrupted while looking up episode names; the matches are saved",
            hint="run `anivault match` again to finish the episode names",
        ) from None
    finally:
        pool.shutdown(wait=not cancel.is_set())
    _write_names(db, port, answers)
    report.title_seasons = len(todo) - deferred
    report.title_seasons_deferred = deferred
