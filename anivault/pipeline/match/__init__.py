"""`anivault match`: parsed files → TMDB show/movie, season and episode, with a confidence.

Shape of a run (ARCHITECTURE §3, §5):

    pending series keys (one SQL GROUP BY)  →  worker threads: resolve one key (cache, then HTTP)
                                            →  this thread, the only writer: matches rows + cache rows

- A *series key* is ``kind:title_norm:year``. TMDB is asked once per key, never per file; the files of a key
  share its decision and differ only in season/episode.
- Workers get and return plain dataclasses (:class:`SeriesGroup` → :class:`GroupDecision`), never ORM objects.
- Each file of a matched key is placed where TMDB files it (placement.py); a doubtful placement waits for
  review with its reason.
- Overrides (``overrides`` table) always win. A person's pick from ``review`` is never replaced; it is only
  placed again (for names, after an upgrade) like an override.
- A key that could not be looked up (TMDB unavailable, cache-only, offline miss) is written as ``deferred``
  with the reason, and the next run picks it up; a 401 stops the run after writing what was decided.
"""

from anivault.pipeline.match.keys import file_numbers, kind_group, pending_groups, series_key
from anivault.pipeline.match.lookup import lookup_title
from anivault.pipeline.match.overrides import OverrideRule, find_override, load_overrides, set_override
from anivault.pipeline.match.placement import Placer
from anivault.pipeline.match.resolve import GroupResolver, query_variants
from anivault.pipeline.match.review import (
    PickOutcome,
    ReviewGroup,
    apply_pick,
    decide_manually,
    parse_series_key,
    review_groups,
)
from anivault.pipeline.match.run import match_library, options_from_settings, run_match
from anivault.pipeline.match.score import score_candidate, strip_season_words, title_similarity
from anivault.pipeline.match.store import mark_untitled, write_decision
from anivault.pipeline.match.titles import fetch_episode_titles, missing_seasons, unnamed_files
from anivault.pipeline.match.types import (
    REASON_DEFERRED,
    REASON_LOW,
    REASON_NO_RESULT,
    REASON_NO_TITLE,
    REASON_REVIEW,
    Candidate,
    FileNumbers,
    GroupDecision,
    MatchOptions,
    MatchReport,
    Placement,
    SeriesGroup,
    Status,
)

__all__ = [
    "REASON_DEFERRED",
    "REASON_LOW",
    "REASON_NO_RESULT",
    "REASON_NO_TITLE",
    "REASON_REVIEW",
    "Candidate",
    "FileNumbers",
    "GroupDecision",
    "GroupResolver",
    "MatchOptions",
    "MatchReport",
    "OverrideRule",
    "PickOutcome",
    "Placement",
    "Placer",
    "ReviewGroup",
    "SeriesGroup",
    "Status",
    "apply_pick",
    "decide_manually",
    "fetch_episode_titles",
    "file_numbers",
    "find_override",
    "kind_group",
    "load_overrides",
    "lookup_title",
    "mark_untitled",
    "match_library",
    "missing_seasons",
    "options_from_settings",
    "parse_series_key",
    "pending_groups",
    "query_variants",
    "review_groups",
    "run_match",
    "score_candidate",
    "series_key",
    "set_override",
    "strip_season_words",
    "title_similarity",
    "unnamed_files",
    "write_decision",
]  # fmt: skip
