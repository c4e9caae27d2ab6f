"""What matching works on and decides, as plain data (workers never see ORM objects)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from anivault.tmdb.port import (
    MediaType,
    SeasonInfo,
    TitleDetails,
)

Status = Literal["matched", "review", "unmatched", "deferred"]

# Reasons shown by `anivault ls --unmatched` (the view v_unmatched reads matches.reason).
REASON_NO_RESULT = "no_result: TMDB found nothing for this title"
REASON_LOW = "low_confidence: best candidate too weak to apply"
REASON_REVIEW = "review: doubtful, waiting for `anivault review`"
REASON_DEFERRED = "deferred: TMDB unavailable (cache-only); the next `anivault match` retries"
REASON_NO_TITLE = "no_title: the parser found no title in the file name"
REASON_PLACE = "review: where TMDB files it is uncertain"  # + ": " + the doubt


@dataclass(frozen=True, slots=True)
class FileNumbers:
    """What one file's name says about where it sits in a show (files that say the same share one)."""

    season: int | None
    episode: int | None
    episode_end: int | None = None
    special: bool = False  # an OVA, an SP or a file in a Specials folder
    part: int | None = None  # "Part 2", "2nd Cour": a split season's second half
    movie: bool = False
    episode_title: str | None = None  # the parse's: it can name a special, or a season ("Show - Arc - 05")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where TMDB files one file: its season and episode as TMDB numbers them, or the doubt that makes a
    person look first."""

    season: int | None
    episode: int | None
    episode_end: int | None = None
    doubt: str | None = None  # None: sure
    episode_title: str | None = None  # TMDB's name of the episode in the configured language


@dataclass(frozen=True, slots=True)
class SeriesGroup:
    """What the files of one series key say, aggregated (plain data for the workers)."""

    key: str
    title_norm: str
    title: str  # a raw title as written in one file name, for display and punctuation tie-breaks
    year: int | None
    kind: str  # "tv" | "movie" (ova/ona/special count as tv: TMDB files them under a show)
    files: int
    max_episode: int | None
    seasons: tuple[int, ...]
    has_special: bool
    numbers: tuple[FileNumbers, ...] = ()  # every distinct FileNumbers of the key's files
    title_alts: tuple[str, ...] = ()  # other titles the names carry (a bilingual release has two)
    manual: tuple[int, MediaType] | None = None  # a person's earlier pick for this key (kept on re-match)


@dataclass(frozen=True, slots=True)
class Candidate:
    tmdb_id: int
    media_type: MediaType
    name: str
    year: int | None
    score: float
    reasons: dict[str, Any]
    seasons: tuple[SeasonInfo, ...] = ()
    detailed: bool = False
    details: TitleDetails | None = None  # TMDB's details, when they were looked up

    def to_json(self) -> dict[str, Any]:
        return {
            "tmdb_id": self.tmdb_id,
            "media_type": self.media_type,
            "name": self.name,
            "year": self.year,
            "score": round(self.score, 3),
            "reasons": self.reasons,
        }


@dataclass(frozen=True, slots=True)
class GroupDecision:
    group: SeriesGroup
    status: Status
    method: str  # auto | override | manual | none
    confidence: float
    reason: str | None
    chosen: Candidate | None
    candidates: tuple[Candidate, ...]
    season_offset: int = 0
    requests: int = 0  # HTTP requests spent on this key (for the benchmark)
    placements: dict[FileNumbers, Placement] = field(default_factory=dict)


@dataclass(slots=True)
class MatchOptions:
    refresh: bool = False  # recompute every key (not manual picks), asking TMDB again
    workers: int = 8  # threads resolving keys; HTTP concurrency is capped separately (semaphore)
    auto_threshold: float = 0.80
    review_threshold: float = 0.50
    ambiguity_margin: float = 0.06  # top two closer than this: ask a person
    max_details: int = 3  # detail lookups per search (search results lack alternative titles)
    batch_groups: int = 50  # decisions per writer transaction
    only_title_norm: str | None = None  # restrict to one title (after `match --set`)
    episode_names: bool = False  # look up TMDB's episode names (a template uses {episode_title})


@dataclass(slots=True)
class MatchReport:
    keys: int = 0
    files: int = 0
    matched: int = 0
    review: int = 0
    unmatched: int = 0
    deferred: int = 0
    overridden: int = 0
    http_requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    seconds: float = 0.0
    seconds_http: float = 0.0  # first request out to last answer in
    interrupted: bool = False
    stopped_by: str | None = None
    deferred_keys: list[str] = field(default_factory=list)
    # show seasons whose episode names were looked up (a template uses {episode_title}), and those TMDB
    # could not answer now (the next match asks again)
    title_seasons: int = 0
    title_seasons_deferred: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressFn = Callable[[int, int], None]
