"""Series waiting for a person (`anivault review`), and a person's pick."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anivault.db.engine import Database
from anivault.db.models import File, Parse
from anivault.db.models_match import Match
from anivault.errors import TmdbError
from anivault.pipeline.match.keys import pending_groups
from anivault.pipeline.match.overrides import set_override
from anivault.pipeline.match.resolve import GroupResolver
from anivault.pipeline.match.store import write_decision
from anivault.pipeline.match.types import MatchOptions, SeriesGroup
from anivault.tmdb.port import MediaType, TitleDetails, TmdbPort


@dataclass(frozen=True, slots=True)
class ReviewGroup:
    """A doubtful series waiting for a person: its files and the best candidates with their reasons."""

    group: SeriesGroup
    confidence: float
    candidates: tuple[dict[str, Any], ...]


def parse_series_key(key: str) -> tuple[str, str, int | None]:
    kind, _, rest = key.partition(":")
    title_norm, _, year = rest.rpartition(":")
    return kind, title_norm, int(year) if year.isdigit() else None


def review_groups(session: Session, limit: int | None = None) -> list[ReviewGroup]:
    q = (
        select(
            Match.series_key,
            func.count().label("n"),
            func.max(Match.confidence).label("conf"),
            func.max(Match.candidates).label("cands"),
            func.max(Parse.title).label("title"),
            func.max(func.coalesce(Parse.episode_end, Parse.episode)).label("max_ep"),
        )
        .join(Parse, Parse.file_id == Match.file_id)
        .join(File, File.id == Match.file_id)
        .where(Match.status == "review", File.status == "present")
        .group_by(Match.series_key)
        .order_by(func.count().desc(), Match.series_key)
    )
    if limit:
        q = q.limit(limit)
    out = []
    for row in session.execute(q):
        kind, title_norm, year = parse_series_key(row.series_key)
        try:
            cands = tuple(c for c in json.loads(row.cands or "[]") if isinstance(c, dict))
        except ValueError:
            cands = ()
        g = SeriesGroup(
            key=row.series_key,
            title_norm=title_norm,
            title=row.title or title_norm,
            year=year,
            kind=kind,
            files=int(row.n),
            max_episode=row.max_ep,
            seasons=(),
            has_special=False,
        )
        out.append(ReviewGroup(g, float(row.conf or 0.0), cands))
    return out


def decide_manually(
    db: Database,
    port: TmdbPort,
    group: SeriesGroup,
    tmdb_id: int,
    media_type: MediaType,
    opts: MatchOptions,
    *,
    remember: bool = True,
) -> int:
    """A person's pick for a series: its files are matched (method manual), each placed where TMDB files
    it (a doubtful placement still waits, with its reason), and, with ``remember``, an override makes future
    files of the same title follow it. Returns the number of files decided.

    Raises TmdbUnavailable when TMDB cannot give the show's details now: the override (if remembered) is
    saved, and the next `anivault match` applies it."""
    if remember:
        with db.write() as s:
            set_override(s, group.title_norm, tmdb_id, media_type, year=group.year)
    with db.read() as s:
        only = MatchOptions(only_title_norm=group.title_norm)
        full = next((g for g in pending_groups(s, only) if g.key == group.key), None)
    if full is None:
        return 0
    decision = GroupResolver(port, opts).pick(full, tmdb_id, media_type, "manual")
    with db.write() as s:
        n = sum(write_decision(s, decision).values())
        flush = getattr(port, "flush", None)
        if flush is not None:
            flush(s)
    return n


@dataclass(frozen=True, slots=True)
class PickOutcome:
    """What a person's pick did: files decided, the show's details, or why it waits for the next match."""

    files: int
    details: TitleDetails | None
    no_such_id: bool = False
    deferred: str | None = None  # TMDB could not answer: the override is saved, `anivault match` applies it


def apply_pick(
    db: Database, port: TmdbPort, group: SeriesGroup, tmdb_id: int, media_type: MediaType, opts: MatchOptions
) -> PickOutcome:
    """`review`'s pick, for the command and the wizard alike: an id TMDB does not have is refused; when
    TMDB cannot answer, the pick is kept as an override for the next `anivault match`."""
    try:
        details = port.details(media_type, tmdb_id)
    except TmdbError as exc:
        with db.write() as s:
            set_override(s, group.title_norm, tmdb_id, media_type, year=group.year)
        return PickOutcome(0, None, deferred=str(exc))
    if details is None:
        return PickOutcome(0, None, no_such_id=True)
    try:
        n = decide_manually(db, port, group, tmdb_id, media_type, opts)
    except TmdbError as exc:
        return PickOutcome(0, details, deferred=str(exc))
    return PickOutcome(n, details)
