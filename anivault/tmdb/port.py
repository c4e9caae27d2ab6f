"""What the matching pipeline may ask of TMDB. No HTTP, no JSON, no sessions: plain frozen dataclasses.

Implementations: :class:`anivault.tmdb.cached.CachedTmdb` (database cache in front of the polite HTTP client)
and test fakes. Errors are the ones below; :class:`TmdbUnavailable` means "try again later" (the group is
deferred, not "no match"), :class:`TmdbAuthError` stops the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from anivault.errors import TmdbError

MediaType = Literal["tv", "movie"]


class TmdbAuthError(TmdbError):
    """401: the key is wrong or expired. Stops the run; never retried."""


class TmdbUnavailable(TmdbError):
    """TMDB could not answer now (cache-only, storms, timeouts, unreachable, offline): retry later."""


class TmdbNotFound(TmdbError):
    """404: the id does not exist (cached as a negative entry)."""


class TmdbBadResponse(TmdbError):
    """The answer was not usable JSON, was too large, or was refused (4xx). Never cached."""


@dataclass(frozen=True, slots=True)
class Origin:
    """What a title is, for telling an anime from a live-action or western namesake."""

    original_language: str = ""
    origin_country: tuple[str, ...] = ()
    genre_ids: tuple[int, ...] = ()
    adult: bool = False

    @property
    def animation(self) -> bool:
        return ANIMATION in self.genre_ids


ANIMATION = 16  # TMDB's genre id for Animation (movies and TV alike)


@dataclass(frozen=True, slots=True)
class SearchHit:
    tmdb_id: int
    media_type: MediaType
    name: str
    original_name: str
    year: int | None
    popularity: float
    origin: Origin = field(default_factory=Origin)


@dataclass(frozen=True, slots=True)
class SeasonInfo:
    number: int
    episode_count: int | None  # unknown for some shows: matching copes
    name: str = ""
    air_date: str | None = None


@dataclass(frozen=True, slots=True)
class EpisodeInfo:
    """One episode as its season lists it: TMDB numbers a long-runner's episodes absolutely in some
    seasons (One Piece's season 20 lists 877..885)."""

    season: int
    number: int
    name: str = ""
    air_date: str | None = None


@dataclass(frozen=True, slots=True)
class SeasonDetails:
    number: int
    episodes: tuple[EpisodeInfo, ...]


@dataclass(frozen=True, slots=True)
class EpisodeGroupInfo:
    """One of a show's episode groups (`/tv/{id}/episode_groups`): type 2 is the absolute order."""

    group_id: str
    name: str
    type: int
    episode_count: int


ABSOLUTE_ORDER = 2


@dataclass(frozen=True, slots=True)
class EpisodeGroup:
    """An episode group's episodes in its order, each with the season and number TMDB files it under."""

    group_id: str
    type: int
    episodes: tuple[EpisodeInfo, ...]


@dataclass(frozen=True, slots=True)
class TitleDetails:
    tmdb_id: int
    media_type: MediaType
    name: str  # in the configured language, TMDB's fallback to the original name included
    original_name: str
    year: int | None
    popularity: float
    alt_titles: tuple[str, ...] = ()  # alternative titles and translated names
    seasons: tuple[SeasonInfo, ...] = field(default_factory=tuple)
    name_en: str = ""  # the English name (TMDB's default language), or the original name
    origin: Origin = field(default_factory=Origin)
    last_episode: EpisodeInfo | None = None  # TMDB's last_episode_to_air, numbered as its season numbers it

    @property
    def all_titles(self) -> tuple[str, ...]:
        return (self.name, self.original_name, *self.alt_titles)

    def season(self, number: int) -> SeasonInfo | None:
        return next((s for s in self.seasons if s.number == number), None)

    @property
    def numbers_absolutely(self) -> bool:
        """The show numbers episodes absolutely inside its seasons (its last episode's number is past its
        season's episode count, as One Piece's S20E885 in a season of 9)."""
        last = self.last_episode
        if last is None:
            return False
        info = self.season(last.season)
        return info is not None and info.episode_count is not None and last.number > info.episode_count


class TmdbPort(Protocol):
    def search(
        self, media_type: MediaType, query: str, year: int | None = None, *, any_air_date: bool = False
    ) -> list[SearchHit]:
        """First page of results, TMDB's order. Raises TmdbUnavailable / TmdbAuthError."""
        ...

    def details(self, media_type: MediaType, tmdb_id: int) -> TitleDetails | None:
        """Details with seasons and every title, or None when TMDB has no such id."""
        ...

    def season_details(self, tmdb_id: int, number: int) -> SeasonDetails | None:
        """One season's episodes as TMDB numbers them (names in the configured language), or None."""
        ...

    def episode_groups(self, tmdb_id: int) -> list[EpisodeGroupInfo]:
        """The show's episode groups (alternative orders)."""
        ...

    def episode_group(self, group_id: str) -> EpisodeGroup | None:
        """One episode group's episodes in its order."""
        ...
