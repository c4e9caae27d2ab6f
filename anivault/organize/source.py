"""Read what organize needs from the library database: matched videos, their companions, TMDB names."""

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
       p.release_group, p.resolution, p.season, p.episode, p.episode_title
FROM files f
JOIN matches m ON m.file_id = f.id
LEFT JOIN parses p ON p.file_id = f.id
LEFT JOIN roots r ON r.id = f.root_id
WHERE f.kind = 'video' AND f.status = 'present' AND m.status = 'matched' AND m.tmdb_id IS NOT NULL
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
  AND m.status = 'matched' AND m.tmdb_id IS NOT NULL
ORDER BY c.video_id, c.path
"""
)


def _fingerprint(path: str, row: Any, offset: int) -> Fingerprint:
    # The disk now, not the index: a plan describes the files it will move as they are at planning time.
    try:
        return Fingerprint.of(os.lstat(path))
    except OSError:
        return Fingerprint(row[offset], row[offset + 1], row[offset + 2], row[offset + 3])


def _cached_payload(session: Session, key_prefix: str) -> Any:
    """The newest cached TMDB answer (status 200) whose key starts with ``key_prefix`` + `?`, or None."""
    row = session.execute(
        text(
            "SELECT payload FROM tmdb_cache WHERE key LIKE :k AND status = 200 ORDER BY created_at DESC LIMIT 1"
        ),
        {"k": f"{key_prefix}?%"},
    ).first()
    if row is None:
        return None
    try:
        return json.loads(row[0])
    except ValueError:
        return None


def title_info(session: Session, media_type: str, tmdb_id: int) -> tuple[str, str | None, int | None]:
    """(title, original title, year) from the cached TMDB details; a placeholder when none is cached."""
    d = _cached_payload(session, f"{media_type}/{int(tmdb_id)}")
    if not isinstance(d, dict):
        return f"tmdb-{tmdb_id}", None, None
    tv = media_type == "tv"
    name = d.get("name" if tv else "title") or f"tmdb-{tmdb_id}"
    orig = d.get("original_name" if tv else "original_title")
    date = d.get("first_air_date" if tv else "release_date") or ""
    year = int(date[:4]) if isinstance(date, str) and date[:4].isdigit() else None
    return str(name), orig if isinstance(orig, str) else None, year


def episode_names(session: Session, tmdb_id: int, season: int) -> dict[int, str]:
    """TMDB's episode names of a show's season, from the cache (`anivault match` looks them up when the
    series template uses `{episode_title}`); empty when none are cached."""
    from anivault.tmdb.cached import episode_names as names_in

    return names_in(_cached_payload(session, f"tv/{int(tmdb_id)}/season/{int(season)}"))


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


def plan_inputs(session: Session) -> Iterator[PlanInput]:
    """Every matched, present video with its companions, in path order."""
    titles: dict[tuple[str, int], tuple[str, str | None, int | None]] = {}
    names: dict[tuple[int, int], dict[int, str]] = {}
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
        key = (media, int(r[9]))
        if key not in titles:
            titles[key] = title_info(session, media, int(r[9]))
        title, original, year = titles[key]
        absolute = r[17] if r[16] is None and r[17] is not None and r[17] != r[12] else None
        episode_title = r[18]
        if media != "movie" and r[11] is not None and r[12] is not None:
            season_key = (int(r[9]), int(r[11]))
            if season_key not in names:
                names[season_key] = episode_names(session, *season_key)
            # TMDB's name when it is cached (a multi-episode file takes its first episode's), else the
            # parse's; TMDB's placeholder for an unnamed episode ("Episode 5") only when the parse has none
            tmdb_name = names[season_key].get(int(r[12]))
            if tmdb_name is not None and not (episode_title and _placeholder(tmdb_name, int(r[12]))):
                episode_title = tmdb_name
        yield PlanInput(
            file_id=r[0],
            path=path,
            fp=_fingerprint(path, r, 3),
            title=title,
            original_title=original,
            year=year,
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
