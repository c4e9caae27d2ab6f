"""Overrides: a person's rule that a title is a given TMDB id; they always win and survive re-runs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from anivault.db.base import utcnow
from anivault.db.models import Parse
from anivault.db.models_match import Match, Override
from anivault.pipeline.match.types import SeriesGroup
from anivault.title_key import normalize_title
from anivault.tmdb.port import (
    MediaType,
)


@dataclass(frozen=True, slots=True)
class OverrideRule:
    title_norm: str
    year: int | None
    tmdb_id: int
    media_type: MediaType
    season_offset: int


def load_overrides(session: Session) -> dict[tuple[str, int | None], OverrideRule]:
    out: dict[tuple[str, int | None], OverrideRule] = {}
    for o in session.scalars(select(Override)):
        mt: MediaType = "movie" if o.media_type == "movie" else "tv"
        out[(o.title_norm, o.year)] = OverrideRule(o.title_norm, o.year, o.tmdb_id, mt, o.season_offset)
    return out


def find_override(rules: dict[tuple[str, int | None], OverrideRule], g: SeriesGroup) -> OverrideRule | None:
    return rules.get((g.title_norm, g.year)) or rules.get((g.title_norm, None))


def set_override(
    session: Session,
    title: str,
    tmdb_id: int,
    media_type: MediaType,
    *,
    year: int | None = None,
    season_offset: int = 0,
) -> str:
    """Create or replace the override for a title (normalised like the parser does). Returns title_norm."""
    norm = normalize_title(title)
    if not norm:
        from anivault.errors import UsageError

        raise UsageError(f"'{title}' has no letters or digits to match on", hint="give the show's title")
    cond = Override.year.is_(None) if year is None else Override.year == year
    session.execute(delete(Override).where(Override.title_norm == norm, cond))
    session.add(
        Override(
            title_norm=norm,
            year=year,
            tmdb_id=int(tmdb_id),
            media_type=media_type,
            season_offset=int(season_offset),
            created_at=utcnow(),
        )
    )
    # files already decided for this title are decided again (the override wins over manual picks too)
    ids = select(Parse.file_id).where(Parse.title_norm == norm)
    if year is not None:
        ids = ids.where(Parse.year == year)
    session.execute(delete(Match).where(Match.file_id.in_(ids)))
    return norm
