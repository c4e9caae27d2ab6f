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
class SearchHit:
    tmdb_id: int
    media_type: MediaType
    name: str
    original_name: str
    year: int | None
    popularity: float


@dataclass(frozen=True, slots=True)
class SeasonInfo:
    number: int
    episode_count: int | None  # unknown for some shows: matching copes


@dataclass(frozen=True, slots=True)
class TitleDetails:
    tmdb_id: int
    media_type: MediaType
    name: str
    original_name: str
    year: int | None
    popularity: float
    alt_titles: tuple[str, ...] = ()  # alternative titles and translated names
    seasons: tuple[SeasonInfo, ...] = field(default_factory=tuple)

    @property
    def all_titles(self) -> tuple[str, ...]:
        return (self.name, self.original_name, *self.alt_titles)


class TmdbPort(Protocol):
    def search(self, media_type: MediaType, query: str, year: int | None = None) -> list[SearchHit]:
        """First page of results, TMDB's order. Raises TmdbUnavailable / TmdbAuthError."""
        ...

    def details(self, media_type: MediaType, tmdb_id: int) -> TitleDetails | None:
        """Details with seasons and every title, or None when TMDB has no such id."""
        ...
