"""Writing decisions: one matches row per file of a series key."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from anivault.db.base import utcnow
from anivault.db.models import File, Parse
from anivault.db.models_match import Match
from anivault.pipeline.match.keys import NUMBER_COLUMNS, _kind_expr, numbers_of, undecided
from anivault.pipeline.match.types import (
    REASON_NO_TITLE,
    REASON_PLACE,
    GroupDecision,
    Placement,
    SeriesGroup,
)

# The confidence of a file whose placement is in doubt: under any auto threshold a setting allows.
REVIEW_CONFIDENCE = 0.5


def _file_rows(session: Session, g: SeriesGroup, refresh: bool) -> list[Any]:
    kg = _kind_expr()
    q = (
        select(Parse.file_id, *NUMBER_COLUMNS)
        .join(File, File.id == Parse.file_id)
        .outerjoin(Match, Match.file_id == Parse.file_id)
        .where(
            File.kind == "video",
            File.status == "present",
            Parse.title_norm == g.title_norm,
            kg == g.kind,
            Parse.year.is_(None) if g.year is None else Parse.year == g.year,
            undecided(refresh),
        )
    )
    return list(session.execute(q))


_UNPLACED = Placement(None, None, doubt="a file indexed while this series was being matched")


def write_decision(session: Session, d: GroupDecision, refresh: bool = False) -> Counter[str]:
    """Write one matches row per file of the key, each placed where TMDB files it. A file whose placement
    is in doubt waits for review with the reason, below the auto threshold. Returns the rows by status."""
    rows = _file_rows(session, d.group, refresh)
    if not rows:
        return Counter()
    cands = json.dumps([c.to_json() for c in d.candidates], ensure_ascii=False)
    now = utcnow()
    ids = [r.file_id for r in rows]
    session.execute(delete(Match).where(Match.file_id.in_(ids)))
    chosen = d.chosen
    names = chosen.details if chosen is not None else None
    objs = []
    for r in rows:
        status, reason, confidence = d.status, d.reason, d.confidence
        place = Placement(None, None)
        if d.placements and chosen is not None and chosen.media_type == "tv":
            place = d.placements.get(numbers_of(r), _UNPLACED)
            if place.doubt is not None and status == "matched":
                status, reason = "review", f"{REASON_PLACE}: {place.doubt}"
                confidence = min(confidence, REVIEW_CONFIDENCE)
        objs.append(
            {
                "file_id": r.file_id,
                "series_key": d.group.key,
                "tmdb_id": chosen.tmdb_id if chosen is not None else None,
                "media_type": chosen.media_type if chosen is not None else None,
                "season": place.season,
                "episode": place.episode,
                "episode_end": place.episode_end,
                "confidence": confidence,
                "method": d.method,
                "status": status,
                "reason": reason,
                "candidates": cands,
                "decided_at": now,
                "title": names.name if names is not None else None,
                "title_original": names.original_name if names is not None else None,
                "title_en": names.name_en if names is not None else None,
                "year": names.year if names is not None else None,
                "episode_title": place.episode_title,
            }
        )
    session.execute(insert(Match), objs)
    return Counter(o["status"] for o in objs)


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
