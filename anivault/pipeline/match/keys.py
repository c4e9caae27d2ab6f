"""Series keys: the unit TMDB is asked about (``kind:title_norm:year``), never a single file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, or_, select
from sqlalchemy.orm import Session

from anivault.db.models import File, Parse
from anivault.db.models_match import Match
from anivault.pipeline.match.types import FileNumbers, MatchOptions, SeriesGroup
from anivault.tmdb.port import MediaType


def kind_group(kind: str | None) -> str:
    return "movie" if kind == "movie" else "tv"


def series_key(title_norm: str, year: int | None, kind: str | None) -> str:
    return f"{kind_group(kind)}:{title_norm}:{year if year is not None else ''}"


def _kind_expr() -> Any:
    return case((Parse.kind == "movie", "movie"), else_="tv")


# What a file's parse says about where it sits: read by the workers (pending_groups) and the writer alike.
NUMBER_COLUMNS = (Parse.season, Parse.episode, Parse.episode_end, Parse.kind, Parse.part, Parse.episode_title)


def numbers_of(row: Any) -> FileNumbers:
    return file_numbers(row.season, row.episode, row.episode_end, row.kind, row.part, row.episode_title)


def file_numbers(
    season: int | None,
    episode: int | None,
    episode_end: int | None,
    kind: str | None,
    part: int | None,
    episode_title: str | None,
) -> FileNumbers:
    """One file's numbers as placement reads them (the same for the workers and the writer)."""
    # an OVA or special by its name, unless the name also places it in a regular season ("S02E03")
    special = season == 0 or (kind in ("special", "ova") and not (season and episode is not None))
    return FileNumbers(
        season=season,
        episode=episode,
        episode_end=episode_end if episode_end is not None and episode is not None else None,
        special=special,
        part=part,
        movie=kind == "movie",
        episode_title=episode_title or None,
    )


def undecided(refresh: bool) -> Any:
    """Files whose decision is missing, retryable, or from before matches carried names; with ``refresh``
    every decision but a person's pick."""
    if refresh:
        return or_(Match.file_id.is_(None), Match.method != "manual", Match.title.is_(None))
    return or_(
        Match.file_id.is_(None),
        Match.status != "matched",
        and_(Match.title.is_(None), Match.tmdb_id.is_not(None)),
    )


def pending_groups(session: Session, opts: MatchOptions) -> list[SeriesGroup]:
    """Series keys with at least one present video whose decision is missing, stale or retryable."""
    kg = _kind_expr()
    q = (
        select(
            Parse.title_norm,
            Parse.year,
            kg.label("kg"),
            Parse.title,
            *NUMBER_COLUMNS,
            Match.method,
            Match.tmdb_id,
            Match.media_type,
        )
        .join(File, File.id == Parse.file_id)
        .outerjoin(Match, Match.file_id == File.id)
        .where(
            File.kind == "video",
            File.status == "present",
            Parse.title_norm.is_not(None),
            Parse.title_norm != "",
            undecided(opts.refresh),
        )
    )
    if opts.only_title_norm is not None:
        q = q.where(Parse.title_norm == opts.only_title_norm)
    acc: dict[tuple[str, int | None, str], dict[str, Any]] = {}
    for r in session.execute(q):
        key = (r.title_norm, r.year, r.kg)
        a = acc.get(key)
        if a is None:
            a = acc[key] = {"n": 0, "titles": set(), "numbers": set(), "manual": None}
        a["n"] += 1
        if r.title:
            a["titles"].add(r.title)
        a["numbers"].add(numbers_of(r))
        if r.method == "manual" and r.tmdb_id is not None:
            media: MediaType = "movie" if r.media_type == "movie" else "tv"
            a["manual"] = (int(r.tmdb_id), media)
    out = []
    for (title_norm, year, kg), a in sorted(acc.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2])):
        numbers: set[FileNumbers] = a["numbers"]
        ends = [n.episode_end or n.episode for n in numbers if n.episode is not None]
        titles = sorted(a["titles"])
        out.append(
            SeriesGroup(
                key=series_key(title_norm, year, kg),
                title_norm=title_norm,
                title=titles[-1] if titles else title_norm,
                year=year,
                kind=kg,
                files=a["n"],
                max_episode=max((e for e in ends if e is not None), default=None),
                seasons=tuple(sorted({n.season for n in numbers if n.season is not None})),
                has_special=any(n.special for n in numbers),
                numbers=tuple(sorted(numbers, key=_order)),
                manual=a["manual"],
            )
        )
    return out


def _order(n: FileNumbers) -> tuple[int, int, int, int]:
    return (n.season if n.season is not None else -1, n.episode or -1, n.part or 0, int(n.special))
