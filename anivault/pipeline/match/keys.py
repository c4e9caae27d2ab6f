"""Series keys: the unit TMDB is asked about (``kind:title_norm:year``), never a single file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from anivault.db.models import File, Parse
from anivault.db.models_match import Match
from anivault.pipeline.match.types import MatchOptions, SeriesGroup


def kind_group(kind: str | None) -> str:
    return "movie" if kind == "movie" else "tv"


def series_key(title_norm: str, year: int | None, kind: str | None) -> str:
    return f"{kind_group(kind)}:{title_norm}:{year if year is not None else ''}"


def _kind_expr() -> Any:
    from sqlalchemy import case

    return case((Parse.kind == "movie", "movie"), else_="tv")


def pending_groups(session: Session, opts: MatchOptions) -> list[SeriesGroup]:
    """Series keys with at least one present video whose decision is missing, stale or retryable."""
    kg = _kind_expr()
    q = (
        select(
            Parse.title_norm,
            Parse.year,
            kg.label("kg"),
            func.count().label("n"),
            func.max(func.coalesce(Parse.episode_end, Parse.episode)).label("max_ep"),
            func.group_concat(func.distinct(Parse.season)).label("seasons"),
            func.max(Parse.title).label("title"),
            func.max(func.iif(or_(Parse.kind.in_(("special", "ova")), Parse.season == 0), 1, 0)).label(
                "special"
            ),
        )
        .join(File, File.id == Parse.file_id)
        .outerjoin(Match, Match.file_id == File.id)
        .where(
            File.kind == "video",
            File.status == "present",
            Parse.title_norm.is_not(None),
            Parse.title_norm != "",
        )
        .group_by(Parse.title_norm, Parse.year, kg)
        .order_by(Parse.title_norm, Parse.year)
    )
    if opts.refresh:
        q = q.where(or_(Match.file_id.is_(None), Match.method != "manual"))
    else:
        q = q.where(or_(Match.file_id.is_(None), Match.status != "matched"))
    if opts.only_title_norm is not None:
        q = q.where(Parse.title_norm == opts.only_title_norm)
    out = []
    for row in session.execute(q):
        seasons = tuple(
            sorted({int(s) for s in str(row.seasons or "").split(",") if s.strip().lstrip("-").isdigit()})
        )
        out.append(
            SeriesGroup(
                key=series_key(row.title_norm, row.year, row.kg),
                title_norm=row.title_norm,
                title=row.title or row.title_norm,
                year=row.year,
                kind=row.kg,
                files=int(row.n),
                max_episode=int(row.max_ep) if row.max_ep is not None else None,
                seasons=seasons,
                has_special=bool(row.special),
            )
        )
    return out
