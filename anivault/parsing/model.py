"""The parser's result type and version."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Bump whenever parse_name's output can change for some name: the index re-parses every file whose
# stored parser_version is older, so an unbumped change would leave stale parses behind.
PARSER_VERSION = 3

KINDS = ("tv", "movie", "ova", "ona", "special")


@dataclass(frozen=True, slots=True)
class ParsedName:
    """What a file name says about the video in it. Every field is optional except ``kind``."""

    title: str | None = None
    title_norm: str | None = None
    season: int | None = None
    episode: int | None = None
    episode_end: int | None = None  # for ranges 01-03: episode=1, episode_end=3
    episode_decimal: str | None = None  # "5.5"-style recap/special numbers
    part: int | None = None  # "Part 2", "2nd Cour": the half of a split season (TMDB may number it on)
    year: int | None = None
    kind: str = "tv"  # one of KINDS
    release_group: str | None = None
    resolution: str | None = None
    source: str | None = None
    video_terms: tuple[str, ...] = ()
    audio_terms: tuple[str, ...] = ()
    checksum: str | None = None
    version: int | None = None
    languages: tuple[str, ...] = ()  # subtitle language tags, e.g. ('en',) from name.en.ass
    episode_title: str | None = None
    parser: str = "anitopy"  # 'anitopy', 'anitopy+rules' or 'rules'
    rules: tuple[str, ...] = ()  # names of the fallback rules that fired

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples become lists, and the parser version is included."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        data["parser_version"] = PARSER_VERSION
        return data
