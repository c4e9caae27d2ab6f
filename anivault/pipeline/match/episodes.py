"""Mapping a file's season and episode numbers onto the show's seasons as TMDB numbers them."""

from __future__ import annotations

from collections.abc import Sequence

from anivault.tmdb.port import (
    SeasonInfo,
)


def map_episode(
    seasons: Sequence[SeasonInfo],
    season: int | None,
    episode: int | None,
    *,
    special: bool = False,
    offset: int = 0,
) -> tuple[int | None, int | None]:
    """(TMDB season, episode) for a file's numbers.

    Specials go to season 0. A season number from the file is kept (plus an override's offset) when the show
    has it and the episode fits; otherwise, and when the file has no season, the episode is taken as an
    absolute number and walked through the seasons' episode counts. Unknown counts (null) absorb the rest.
    """
    if special or season == 0:
        return 0, episode
    if season is not None:
        season += offset
    regular = [s for s in sorted(seasons, key=lambda s: s.number) if s.number > 0]
    if episode is None:
        return (season if season is not None else (regular[0].number if regular else 1)), None
    by_number = {s.number: s for s in regular}
    if season is not None:
        info = by_number.get(season)
        if info is not None and (info.episode_count is None or episode <= info.episode_count):
            return season, episode
        if info is None and not regular:
            return season, episode
        if info is None or info.episode_count is None:
            return season, episode
        # an episode past the season's end: a continuing (absolute) number
    if not regular:
        return (season if season is not None else 1), episode
    first = regular[0]
    if season is None and (first.episode_count is None or episode <= first.episode_count):
        return first.number, episode
    left = episode
    for s in regular:
        if s.episode_count is None:
            return s.number, left
        if left <= s.episode_count:
            return s.number, left
        left -= s.episode_count
    # past the last known episode: TMDB does not know every episode yet; keep counting in the last season
    if season is not None:
        return season, episode
    last = regular[-1]
    return last.number, left + (last.episode_count or 0)
