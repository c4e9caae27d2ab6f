"""Writing decisions: one matches row per file of a series key."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from anivault.db.base import utcnow
from anivault.db.models import File, Parse
from anivault.db.models_match import Match
from anivault.pipeline.match.episodes import map_episode
from anivault.pipeline.match.keys import _kind_expr
from anivault.pipeline.match.types import REASON_NO_TITLE, GroupDecision, SeriesGroup


def _file_rows(session: Session, g: SeriesGroup, refresh: bool) -> list[Any]:
    kg = _kind_expr()
    q = (
        select(
            Parse.file_id,
            Parse.season,
            Parse.episode,
            Parse.episode_end,
            Parse.kind,
            Match.method,
            Match.status,
        )
        .join(File, File.id == Parse.file_id)
        .outerjoin(Match, Match.file_id == Parse.file_id)
        .where(
            File.kind == "video",
            File.status == "present",
            Parse.title_norm == g.title_norm,
            kg == g.kind,
            Parse.year.is_(None) if g.year is None else Parse.year == g.year,
        )
    )
    if refresh:
        q = q.where(or_(Match.file_id.is_(None), Match.method != "manual"))
    else:
        q = q.where(or_(Match.file_id.is_(None), Match.status != "matched"))
    return list(session.execute(q))


def write_decision(session: Session, d: GroupDecision, refresh: bool = False) -> int:
    """Write one matches row per file of the key. Returns the number of rows."""
    rows = _file_rows(session, d.group, refresh)
    if not rows:
        return 0
    cands = json.dumps([c.to_json() for c in d.candidates], ensure_ascii=False)
    now = utcnow()
    ids = [r.file_id for r in rows]
    session.execute(delete(Match).where(Match.file_id.in_(ids)))
    chosen = d.chosen
    objs = []
    for r in rows:
        season: int | None = None
        episode: int | None = None
        episode_end: int | None = None
        if chosen is not None and chosen.media_type == "tv":
            special = r.kind in ("special", "ova") or r.season == 0
            season, episode = map_episode(
                chosen.seasons, r.season, r.episode, special=special, offset=d.season_offset
            )
            if r.episode_end is not None and r.episode is not None and episode is not None:
                episode_end = episode + (r.episode_end - r.episode)
        objs.append(
            {
                "file_id": r.file_id,
                "series_key": d.group.key,
                "tmdb_id": chosen.tmdb_id if chosen is not None else None,
                "media_type": chosen.media_type if chosen is not None else None,
                "season": season,
                "episode": episode,
                "episode_end": episode_end,
                "confidence": d.confidence,
                "method": d.method,
                "status": d.status,
                "reason": d.reason,
                "candidates": cands,
                "decided_at": now,
            }
        )
    session.execute(insert(Match), objs)
    return len(objs)


def mark_untitled(session: Session) -> int:
    """Present videos the parser could not title: recorded as unmatched with the reason."""
    ids = list(
        session.scalars(
            select(File.id)
            .join(Parse, Parse.file_id == File.id)
            .outerjoin(Match, Match.file_id == File.id)
            .where(
                File.kind == "video",
                File.status == "present",
                or_(Parse.title_norm.is_(None), Parse.title_norm == ""),
                Match.file_id.is_(None),
            )
        )
    )
    if ids:
        now = utcnow()
        session.execute(
            insert(Match),
            [
                {
                    "file_id": i,
                    "series_key": "",
                    "confidence": 0.0,
                    "method": "none",
                    "status": "unmatched",
                    "reason": REASON_NO_TITLE,
                    "candidates": "[]",
                    "decided_at": now,
                }
                for i in ids
            ],
        )
    return len(ids)
