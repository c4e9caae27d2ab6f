"""Series waiting for a person (`anivault review`), and a person's pick."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anivault.db.models import File, Parse
from anivault.db.models_match import Match
from anivault.pipeline.match.overrides import set_override
from anivault.pipeline.match.store import write_decision
from anivault.pipeline.match.types import Candidate, GroupDecision, SeriesGroup
from anivault.tmdb.port import (
    MediaType,
    TitleDetails,
)


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
    session: Session,
    group: SeriesGroup,
    tmdb_id: int,
    media_type: MediaType,
    details: TitleDetails | None,
    *,
    remember: bool = True,
) -> int:
    """A person's pick for a series: its files are matched (method manual) and, with ``remember``, an
    override makes future files of the same title follow it. Returns the number of files decided."""
    if remember:
        set_override(session, group.title_norm, tmdb_id, media_type, year=group.year)
    name = details.name if details is not None else ""
    year = details.year if details is not None else None
    seasons = details.seasons if details is not None else ()
    cand = Candidate(tmdb_id, media_type, name, year, 1.0, {"manual": True}, seasons, details is not None)
    decision = GroupDecision(group, "matched", "manual", 1.0, None, cand, (cand,))
    return write_decision(session, decision)
