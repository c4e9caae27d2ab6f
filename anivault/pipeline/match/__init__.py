"""`anivault match`: parsed files → TMDB show/movie, season and episode, with a confidence.

Shape of a run (ARCHITECTURE §3, §5):

    pending series keys (one SQL GROUP BY)  →  worker threads: resolve one key (cache, then HTTP)
                                            →  this thread, the only writer: matches rows + cache rows

- A *series key* is ``kind:title_norm:year``. TMDB is asked once per key, never per file; the files of a key
  share its decision and differ only in season/episode.
- Workers get and return plain dataclasses (:class:`SeriesGroup` → :class:`GroupDecision`), never ORM objects.
- Overrides (``overrides`` table) always win. Manual picks from ``review`` are never recomputed.
- A key that could not be looked up (TMDB unavailable, cache-only, offline miss) is written as ``deferred``
  with the reason, and the next run picks it up; a 401 stops the run after writing what was decided.
"""

from anivault.pipeline.match.episodes import map_episode
from anivault.pipeline.match.keys import kind_group, pending_groups, series_key
from anivault.pipeline.match.overrides import OverrideRule, find_override, load_overrides, set_override
from anivault.pipeline.match.resolve import GroupResolver, query_variants
from anivault.pipeline.match.review import ReviewGroup, decide_manually, parse_series_key, review_groups
from anivault.pipeline.match.run import match_library, options_from_settings, run_match
from anivault.pipeline.match.score import score_candidate, strip_season_words, title_similarity
from anivault.pipeline.match.store import mark_untitled, write_decision
from anivault.pipeline.match.titles import fetch_episode_titles, missing_seasons
from anivault.pipeline.match.types import (
    REASON_DEFERRED,
    REASON_LOW,
    REASON_NO_RESULT,
    REASON_NO_TITLE,
    REASON_REVIEW,
    Candidate,
    GroupDecision,
    MatchOptions,
    MatchReport,
    SeriesGroup,
    Status,
)

__all__ = [
    "REASON_DEFERRED", "REASON_LOW", "REASON_NO_RESULT", "REASON_NO_TITLE", "REASON_REVIEW", "Candidate",
    "GroupDecision", "GroupResolver", "MatchOptions", "MatchReport", "OverrideRule", "ReviewGroup", "SeriesGroup",
    "Status", "decide_manually", "fetch_episode_titles", "find_override", "kind_group", "load_overrides",
    "map_episode", "mark_untitled", "match_library", "missing_seasons", "options_from_settings",
    "parse_series_key", "pending_groups", "query_variants", "review_groups", "run_match", "score_candidate",
    "series_key", "set_override", "strip_season_words", "title_similarity", "write_decision",
]  # fmt: skip
