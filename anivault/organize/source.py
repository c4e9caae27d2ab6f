"""Read what organize needs from the library database: matched videos with the names their match rows
carry, and their companions. The TMDB cache is never read here (only anivault.tmdb reads it): clearing or
pruning it cannot change a plan."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from anivault.organize.fileops import Fingerprint
from anivault.organize.plan import Companion, PlanInput
from anivault.pathcodec import decode_path

_VIDEOS = text(
    """
SELECT f.id, f.path, f.path_raw, f.size, f.mtime_ns, f.dev, f.inode, f.ext, r.path,
       m.tmdb_id, m.media_type, m.season, m.episode, m.episode_end,
       p.release_group, p.resolution, p.season, p.episode, p.episode_title,
       m.title, m.title_original, m.title_en, m.year, m.episode_title
FROM files f
JOIN matches m ON m.file_id = f.id
LEFT JOIN parses p ON p.file_id = f.id
LEFT JOIN roots r ON r.id = f.root_id
WHERE f.kind = 'video' AND f.status = 'present' AND m.status = 'matched' AND m.tmdb_id IS NOT NULL
  AND m.title IS NOT NULL
ORDER BY f.path
"""
)

# Every present companion of a matched, present video, read once for the whole plan.
_COMPANIONS = text(
    """
SELECT c.id, c.path, c.path_raw, c.size, c.mtime_ns, c.dev, c.inode, c.kind, c.video_id
FROM files c
JOIN files f ON f.id = c.video_id
JOIN matches m ON m.file_id = f.id
WHERE c.status = 'present' AND c.kind <> 'video' AND f.kind = 'video' AND f.status = 'present'
  AND m.status = 'matched' AND m.tmdb_id IS NOT NULL AND m.title IS NOT NULL
ORDER BY c.video_id, c.path
"""
)


def _fingerprint(path: str, row: Any, offset: int) -> Fingerprint:
    # The disk now, not the index: a plan describes the files it will move as they are at planning time.
    try:
        return Fingerprint.of(os.lstat(path))
    except OSError:
        return Fingerprint(row[offset], row[offset + 1], row[offset + 2], row[offset + 3])


def _placeholder(name: str, episode: int) -> bool:
    """TMDB names an episode nobody has titled `Episode N`."""
    return name.casefold() == f"episode {episode}"


@dataclass(frozen=True, slots=True)
class LibraryFile:
    """What the library knows of one file (to check a plan file's items against)."""

    path: str
    status: str
    size: int
    mtime_ns: int
    dev: int
    inode: int


def library_files(session: Session, ids: Iterable[int]) -> dict[int, LibraryFile]:
    """The `files` rows with these ids, by id (paths as the OS knows them)."""
    wanted = sorted(set(ids))
    out: dict[int, LibraryFile] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.execute(
            text(
                "SELECT id, path, path_raw, status, size, mtime_ns, dev, inode FROM files"
                " WHERE id IN (SELECT value FROM json_each(:ids))"
            ),
            {"ids": json.dumps(chunk)},
        )
        for r in rows:
            out[int(r[0])] = LibraryFile(decode_path(r[1], r[2]), r[3], r[4], r[5], r[6], r[7])
    return out


def library_roots(session: Session) -> list[str]:
    """Every folder ever given to `anivault index` (a destination inside any of them is refused)."""
    return [str(r[0]) for r in session.execute(text("SELECT path FROM roots"))]


def unnamed_matches(session: Session) -> int:
    """Matched present videos whose match has no names yet (decided by an older AniVault): organize leaves
    them out until `anivault match` records the names."""
    row = session.execute(
        text(
            "SELECT count(*) FROM matches m JOIN files f ON f.id = m.file_id WHERE m.status = 'matched'"
            " AND m.tmdb_id IS NOT NULL AND m.title IS NULL AND f.kind = 'video' AND f.status = 'present'"
        )
    ).first()
    return int(row[0]) if row is not None else 0


def plan_inputs(session: Session) -> Iterator[PlanInput]:
    """Every matched, present video with its companions, in path order."""
    companions_of: dict[int, list[Companion]] = {}
    # The plan reads every matched file: plain rows from the driver (SQLAlchemy's Row objects would cost
    # as much again as the rest of reading a file's plan input).
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    for c in raw.execute(str(_COMPANIONS)):
        path = decode_path(c[1], c[2])
        companions_of.setdefault(c[8], []).append(Companion(c[0], path, c[7], _fingerprint(path, c, 3)))
    for r in raw.execute(str(_VIDEOS)):
        path = decode_path(r[1], r[2])
        media = r[10] or "tv"
        absolute = r[17] if r[16] is None and r[17] is not None and r[17] != r[12] else None
        # TMDB's episode name when it has one (a multi-episode file takes its first episode's), else the
        # parse's; TMDB's placeholder for an unnamed episode ("Episode 5") only when the parse has none
        episode_title = r[18]
        tmdb_name = r[23]
        if tmdb_name and not (episode_title and r[12] is not None and _placeholder(tmdb_name, int(r[12]))):
            episode_title = tmdb_name
        yield PlanInput(
            file_id=r[0],
            path=path,
            fp=_fingerprint(path, r, 3),
            title=r[19],
            original_title=r[20],
            title_en=r[21],
            year=r[22],
            tmdb_id=int(r[9]),
            media_type=media,
            season=r[11] if media != "movie" else None,
            episode=r[12] if media != "movie" else None,
            episode_end=r[13],
            absolute=absolute,
            episode_title=episode_title,
            group=r[14],
            resolution=r[15],
            ext=r[7] or os.path.splitext(path)[1].lstrip("."),
            root=r[8],
            companions=companions_of.get(r[0], []),
        )
