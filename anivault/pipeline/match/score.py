"""How well one TMDB candidate fits a series: title similarity, year, kind, episode numbers (general
rules only: no title, show or group is ever named)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from anivault.pipeline.match.types import SeriesGroup
from anivault.title_key import normalize_title
from anivault.tmdb.port import (
    MediaType,
    Origin,
    SeasonInfo,
)

# Where anime comes from: the original language and the production country TMDB records.
_ANIME_LANGUAGES = frozenset({"ja", "zh", "cn", "ko"})
_ANIME_COUNTRIES = frozenset({"JP", "CN", "KR", "TW", "HK"})


def anime_signal(origin: Origin | None) -> tuple[float, str | None]:
    """A score adjustment from what a title is: animated (TMDB genre 16) from where anime is made, or a
    live-action or western namesake. The library holds anime, so among same-named titles the animated one
    is the likelier; TMDB's data says which that is, no list of titles does."""
    if origin is None or not (origin.genre_ids or origin.original_language or origin.origin_country):
        return 0.0, None  # TMDB said nothing about it
    asian = origin.original_language in _ANIME_LANGUAGES or bool(
        set(origin.origin_country) & _ANIME_COUNTRIES
    )
    if origin.animation:
        return (0.06, "animation") if asian else (0.03, "animation")
    if origin.genre_ids:
        return (-0.08, "live_action") if asian else (-0.14, "live_action")
    return (0.0, None) if asian else (-0.04, "not_anime")


_SEASON_WORDS = re.compile(
    r"\b(?:(?:season|saison|series|part|cour)\s*\d+|s\d{1,2}|\d+(?:st|nd|rd|th)\s+(?:season|part|cour)"
    r"|(?:first|second|third|fourth|fifth|final)\s+season|the\s+final\s+season)\b"
)
_YEAR_TAG = re.compile(r"\b(?:19|20)\d{2}\b")


def strip_season_words(norm: str) -> str:
    """'attack on titan season 2' → 'attack on titan' (norm = normalize_title output)."""
    return " ".join(_SEASON_WORDS.sub(" ", norm).split())


def title_similarity(query_norm: str, title: str) -> float:
    """0..1: how well one TMDB title matches the file's title (both normalised; rapidfuzz)."""
    from rapidfuzz import fuzz

    t = normalize_title(title)
    if not t or not query_norm:
        return 0.0
    if t == query_norm:
        return 1.0
    t_base = strip_season_words(_YEAR_TAG.sub(" ", t))
    q_base = strip_season_words(_YEAR_TAG.sub(" ", query_norm))
    if t_base and t_base == q_base:
        return 0.97  # same title once season words and year tags are set aside
    ratio = fuzz.ratio(query_norm, t) / 100
    sort = fuzz.token_sort_ratio(query_norm, t) / 100
    # token_set rewards "every word of one is in the other"; discounted so that a longer sequel or
    # spin-off title does not tie with the exact one
    tset = fuzz.token_set_ratio(query_norm, t) / 100 * 0.88
    # a near miss ("… Magikarte Z" for "… Magikarte") stays below an exact title, however close
    return min(0.95, max(ratio, sort, tset))


def _raw_exact(title: str, titles: Iterable[str]) -> bool:
    """Punctuation-sensitive equality ('K-ON!!' vs 'K-ON!'): a tie-breaker between same-normalised titles."""
    raw = " ".join(title.casefold().split())
    return any(" ".join(t.casefold().split()) == raw for t in titles)


def _total_episodes(seasons: Sequence[SeasonInfo]) -> tuple[int, bool]:
    """(sum of known regular-season episode counts, whether every count is known)."""
    regular = [s for s in seasons if s.number > 0]
    known = all(s.episode_count is not None for s in regular)
    return sum(s.episode_count or 0 for s in regular), known


def score_candidate(
    group: SeriesGroup,
    media_type: MediaType,
    titles: Sequence[str],
    year: int | None,
    seasons: Sequence[SeasonInfo] | None,
    rank: int,
    n_results: int,
    evidence: float = 0.0,
    origin: Origin | None = None,
) -> tuple[float, dict[str, Any]]:
    """Score one candidate; returns (score, reasons). Every rule is general (no title-specific cases)."""
    reasons: dict[str, Any] = {}
    best_sim, best_title = 0.0, ""
    for t in titles:
        s = title_similarity(group.title_norm, t)
        if s > best_sim:
            best_sim, best_title = s, t
    score = best_sim
    reasons["title"] = round(best_sim, 3)
    reasons["matched_title"] = best_title
    if _raw_exact(group.title, titles):
        score += 0.02
        reasons["exact_spelling"] = True
    # year: the file's year is usually the first air / release year (remakes differ)
    if group.year is not None and year is not None:
        diff = abs(group.year - year)
        adj = 0.10 if diff == 0 else 0.03 if diff == 1 else -0.15
        score += adj
        reasons["year"] = adj
    # TV vs movie from the parse
    if media_type != group.kind:
        if group.kind == "tv" and group.max_episode is None:
            adj = -0.03  # no episode number: a film is as likely
        elif media_type == "movie" and (group.max_episode or 0) > 1:
            adj = -0.30  # a film has no episode 2
        else:
            adj = -0.12
        score += adj
        reasons["media_type"] = adj
    # episode numbers must fit the show
    if media_type == "tv" and seasons is not None:
        total, known = _total_episodes(seasons)
        numbers = {s.number for s in seasons}
        if group.max_episode is not None and group.max_episode > 0 and total > 0:
            if group.max_episode <= total or not known:
                score += 0.04
                reasons["episodes_fit"] = True
            else:
                score -= 0.20
                reasons["episodes_fit"] = False
        wanted = [s for s in group.seasons if s > 0]
        if wanted and numbers:
            if all(s in numbers for s in wanted):
                score += 0.03
                reasons["season_exists"] = True
            elif group.max_episode is not None and group.max_episode > total and known:
                score -= 0.10
                reasons["season_exists"] = False
    if evidence:
        score += evidence
        reasons["all_words_found"] = evidence
    adj, kind = anime_signal(origin)
    if kind is not None:
        score += adj
        reasons[kind] = adj
    # TMDB's order (relevance): a tie-breaker only
    if n_results > 1:
        adj = 0.03 * (1 - rank / n_results)
        score += adj
        reasons["rank"] = round(adj, 3)
    return score, reasons
