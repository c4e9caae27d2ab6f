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

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from anivault.db.base import utcnow
from anivault.db.engine import Database
from anivault.db.models import File, Parse
from anivault.db.models_match import Match, Override, TmdbCache
from anivault.errors import Interrupted, TmdbError
from anivault.parsing.normalize import normalize_title
from anivault.tmdb.port import (
    MediaType,
    SearchHit,
    SeasonInfo,
    TitleDetails,
    TmdbAuthError,
    TmdbBadResponse,
    TmdbPort,
    TmdbUnavailable,
)

log = logging.getLogger(__name__)

Status = Literal["matched", "review", "unmatched", "deferred"]

# Reasons shown by `anivault ls --unmatched` (the view v_unmatched reads matches.reason).
REASON_NO_RESULT = "no_result: TMDB found nothing for this title"
REASON_LOW = "low_confidence: best candidate too weak to apply"
REASON_REVIEW = "review: doubtful, waiting for `anivault review`"
REASON_DEFERRED = "deferred: TMDB unavailable (cache-only); the next `anivault match` retries"
REASON_NO_TITLE = "no_title: the parser found no title in the file name"


# --------------------------------------------------------------------------------------------------- data


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


# --------------------------------------------------------------------------------------------------- keys


def kind_group(kind: str | None) -> str:
    return "movie" if kind == "movie" else "tv"


def series_key(title_norm: str, year: int | None, kind: str | None) -> str:
    return f"{kind_group(kind)}:{title_norm}:{year if year is not None else ''}"


def _kind_expr() -> Any:
    from sqlalchemy import case

    return case((Parse.kind == "movie", "movie"), else_="tv")


def pending_groups(session: Session, opts: MatchOptions) -> list[SeriesGroup]:
    """Series keys with at least one present video whose decision is missing, stale or retryable."""
    kg = _kind_expr()
    q = (
        select(
            Parse.title_norm,
            Parse.year,
            kg.label("kg"),
            func.count().label("n"),
            func.max(func.coalesce(Parse.episode_end, Parse.episode)).label("max_ep"),
            func.group_concat(func.distinct(Parse.season)).label("seasons"),
            func.max(Parse.title).label("title"),
            func.max(func.iif(or_(Parse.kind.in_(("special", "ova")), Parse.season == 0), 1, 0)).label(
                "special"
            ),
        )
        .join(File, File.id == Parse.file_id)
        .outerjoin(Match, Match.file_id == File.id)
        .where(
            File.kind == "video",
            File.status == "present",
            Parse.title_norm.is_not(None),
            Parse.title_norm != "",
        )
        .group_by(Parse.title_norm, Parse.year, kg)
        .order_by(Parse.title_norm, Parse.year)
    )
    if opts.refresh:
        q = q.where(or_(Match.file_id.is_(None), Match.method != "manual"))
    else:
        q = q.where(or_(Match.file_id.is_(None), Match.status != "matched"))
    if opts.only_title_norm is not None:
        q = q.where(Parse.title_norm == opts.only_title_norm)
    out = []
    for row in session.execute(q):
        seasons = tuple(
            sorted({int(s) for s in str(row.seasons or "").split(",") if s.strip().lstrip("-").isdigit()})
        )
        out.append(
            SeriesGroup(
                key=series_key(row.title_norm, row.year, row.kg),
                title_norm=row.title_norm,
                title=row.title or row.title_norm,
                year=row.year,
                kind=row.kg,
                files=int(row.n),
                max_episode=int(row.max_ep) if row.max_ep is not None else None,
                seasons=seasons,
                has_special=bool(row.special),
            )
        )
    return out


# --------------------------------------------------------------------------------------------------- scoring

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
        adj = -0.03 if (group.kind == "tv" and group.max_episode is None) else -0.12
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
    # popularity: a tie-breaker only (TMDB orders results by it)
    if n_results > 1:
        adj = 0.03 * (1 - rank / n_results)
        score += adj
        reasons["popularity"] = round(adj, 3)
    return score, reasons


# --------------------------------------------------------------------------------------------------- resolving


_KIND_WORDS = re.compile(
    r"\b(?:ova|oad|ona|special|specials|sp|movie|the movie|gekijouban|tv|batch|complete"
    r"|ncop|nced|creditless|op|ed|pv|cm|preview|trailer|menu|extras?|bonus)\b"
)
_ALNUM_EDGE = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_SPACELESS = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\u3040-\u30ff]+")


def query_variants(raw_title: str, norm: str) -> list[str]:
    """Fallback spellings of a title that found nothing as written (all general rules):
    without kind words (OVA, Movie…), letters split from digits (x365 → x 365), CamelCase split
    (FullMetalAlchemist), and each script on its own for titles that mix, say, Chinese and romaji."""
    out: list[str] = []
    out.append(" ".join(_KIND_WORDS.sub(" ", norm).split()))
    out.append(" ".join(_ALNUM_EDGE.sub(" ", norm).split()))
    out.append(normalize_title(_CAMEL.sub(" ", raw_title)))
    cjk = " ".join(_SPACELESS.findall(norm))
    latin = " ".join(_SPACELESS.sub(" ", norm).split())
    if cjk and latin:
        out += [latin, cjk]
    # names often carry words after the title ("Baccano T1 Trailer"): the first words alone
    words = out[0].split() if out[0] else norm.split()
    for keep in (len(words) - 1, len(words) - 2):
        if keep >= 1:
            out.append(" ".join(words[:keep]))
    return [v for v in out if v and v != norm]


class GroupResolver:
    """Finds the TMDB title for one series key. Thread-safe as long as the port is."""

    def __init__(self, port: TmdbPort, opts: MatchOptions) -> None:
        self.port = port
        self.opts = opts

    def _search_plan(self, g: SeriesGroup) -> list[tuple[MediaType, str, int | None, float]]:
        """Queries in order of promise; later ones run only while no good candidate has been found."""
        primary: MediaType = "movie" if g.kind == "movie" else "tv"
        other: MediaType = "tv" if primary == "movie" else "movie"
        q = g.title_norm
        base = strip_season_words(q)
        plan: list[tuple[MediaType, str, int | None]] = []
        if g.year is not None:
            plan.append((primary, q, g.year))
        plan.append((primary, q, None))
        if base and base != q:
            plan.append((primary, base, None))  # the title without its season words
        wanted = [s for s in g.seasons if s > 1]
        if wanted:
            plan.append((primary, f"{base or q} {wanted[0]}", None))  # a sequel filed as its own entry
        plan.append((other, q, None))
        n_full = len(plan)
        for variant in query_variants(g.title, q):
            plan.append((primary, variant, None))
        seen: set[tuple[str, str, int | None]] = set()
        out = []
        for i, item in enumerate(plan):
            if item[1] and item not in seen:
                seen.add(item)
                # TMDB found every word of the title (as written, or without its season words) in one of
                # this show's titles: evidence beyond our fuzzy score, which hits of a shortened or
                # re-spelled query do not have
                out.append((*item, 0.05 if i < n_full else 0.0))
        return out

    def resolve(self, g: SeriesGroup) -> GroupDecision:
        best: dict[tuple[str, int], Candidate] = {}
        detailed: set[tuple[str, int]] = set()
        for media_type, query, year, evidence in self._search_plan(g):
            top = max(best.values(), key=lambda c: c.score, default=None)
            if top is not None and top.detailed and top.score >= self.opts.auto_threshold + 0.05:
                break  # a good answer: other queries are not worth their requests
            hits = self.port.search(media_type, query, year)
            if hits:
                self._consider(g, hits, best, detailed, evidence)
        ranked = sorted(best.values(), key=lambda c: (-c.score, not c.detailed, c.tmdb_id))
        return self._decide(g, ranked)

    def _consider(
        self,
        g: SeriesGroup,
        hits: list[SearchHit],
        best: dict[tuple[str, int], Candidate],
        detailed: set[tuple[str, int]],
        evidence: float = 0.0,
    ) -> None:
        """Score the hits; look up details (seasons, every alternative title) for the most promising few.

        Search results carry only the name and the original name, yet TMDB also matched the query against
        alternative titles, so a hit with an unrelated-looking name can be the right one. The order of
        detail lookups mixes name similarity with TMDB's popularity order; an exact title that fits the
        episode numbers ends the lookups early.
        """
        n = len(hits)
        pre: list[tuple[bool, float, int, SearchHit, float, dict[str, Any]]] = []
        for rank, h in enumerate(hits):
            titles = [t for t in (h.name, h.original_name) if t]
            s, reasons = score_candidate(g, h.media_type, titles, h.year, None, rank, n, evidence)
            name_sim = float(reasons.get("title", 0.0))
            promise = 0.6 * name_sim + 0.4 * (1 - rank / n)
            pre.append((name_sim >= 0.97, promise, rank, h, s, reasons))
        # exact names first, then the best-looking name, then TMDB's own (popularity) order
        pre.sort(key=lambda x: (not x[0], -x[1], x[2]))
        if len(pre) > 2 and not pre[0][0]:
            head, rest = pre[0], sorted(pre[1:], key=lambda x: x[2])
            pre = [head, *rest]
        fetched = 0
        found = False
        for exact_name, _promise, rank, h, s, reasons in pre:
            ident = (h.media_type, h.tmdb_id)
            if ident in detailed:
                continue
            # after a clear find, only another hit with the very same name (a remake) is still looked at,
            # so that two same-named shows end up side by side and the doubt is visible
            if fetched < self.opts.max_details and (not found or exact_name):
                d = self.port.details(h.media_type, h.tmdb_id)
                detailed.add(ident)
                fetched += 1
                if d is None:
                    best.pop(ident, None)
                    continue
                year = d.year if d.year is not None else h.year
                score, why = score_candidate(
                    g, d.media_type, d.all_titles, year, d.seasons, rank, n, evidence
                )
                name = d.name or h.name
                best[ident] = Candidate(d.tmdb_id, d.media_type, name, year, score, why, d.seasons, True)
                if why.get("title", 0) >= 0.97 and why.get("episodes_fit", True) and why.get("year", 0) >= 0:
                    found = True
            elif ident not in best:
                best[ident] = Candidate(h.tmdb_id, h.media_type, h.name, h.year, s - 0.05, reasons, (), False)

    def _decide(self, g: SeriesGroup, ranked: list[Candidate]) -> GroupDecision:
        top3 = tuple(ranked[:3])
        if not ranked:
            return GroupDecision(g, "unmatched", "auto", 0.0, REASON_NO_RESULT, None, ())
        top = ranked[0]
        margin = top.score - ranked[1].score if len(ranked) > 1 else 1.0
        confidence = max(0.0, min(1.0, top.score))
        if margin < self.opts.ambiguity_margin:
            # two candidates nearly tie (a remake, a sequel with the same name): however good the
            # title match, a person should choose; the closer the tie, the lower the confidence
            lo, hi = self.opts.review_threshold, self.opts.auto_threshold
            confidence = min(confidence, lo + (hi - lo) * 0.99 * margin / self.opts.ambiguity_margin)
        confidence = round(confidence, 3)
        if confidence >= self.opts.auto_threshold and top.detailed:
            return GroupDecision(g, "matched", "auto", confidence, None, top, top3)
        if confidence >= self.opts.review_threshold:
            return GroupDecision(g, "review", "auto", confidence, REASON_REVIEW, top, top3)
        return GroupDecision(g, "unmatched", "auto", confidence, REASON_LOW, top, top3)

    def apply_override(self, g: SeriesGroup, ov: OverrideRule) -> GroupDecision:
        seasons: tuple[SeasonInfo, ...] = ()
        name = ""
        year = None
        try:
            d = self.port.details(ov.media_type, ov.tmdb_id)
        except TmdbUnavailable:
            d = None  # the override still applies; season mapping falls back to the file's numbers
        if d is not None:
            seasons, name, year = d.seasons, d.name, d.year
        cand = Candidate(
            ov.tmdb_id, ov.media_type, name, year, 1.0, {"override": True}, seasons, d is not None
        )
        return GroupDecision(
            g, "matched", "override", 1.0, None, cand, (cand,), season_offset=ov.season_offset
        )


# --------------------------------------------------------------------------------------------------- episodes


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


# --------------------------------------------------------------------------------------------------- overrides


@dataclass(frozen=True, slots=True)
class OverrideRule:
    title_norm: str
    year: int | None
    tmdb_id: int
    media_type: MediaType
    season_offset: int


def load_overrides(session: Session) -> dict[tuple[str, int | None], OverrideRule]:
    out: dict[tuple[str, int | None], OverrideRule] = {}
    for o in session.scalars(select(Override)):
        mt: MediaType = "movie" if o.media_type == "movie" else "tv"
        out[(o.title_norm, o.year)] = OverrideRule(o.title_norm, o.year, o.tmdb_id, mt, o.season_offset)
    return out


def find_override(rules: dict[tuple[str, int | None], OverrideRule], g: SeriesGroup) -> OverrideRule | None:
    return rules.get((g.title_norm, g.year)) or rules.get((g.title_norm, None))


def set_override(
    session: Session,
    title: str,
    tmdb_id: int,
    media_type: MediaType,
    *,
    year: int | None = None,
    season_offset: int = 0,
) -> str:
    """Create or replace the override for a title (normalised like the parser does). Returns title_norm."""
    norm = normalize_title(title)
    if not norm:
        from anivault.errors import UsageError

        raise UsageError(f"'{title}' has no letters or digits to match on", hint="give the show's title")
    cond = Override.year.is_(None) if year is None else Override.year == year
    session.execute(delete(Override).where(Override.title_norm == norm, cond))
    session.add(
        Override(
            title_norm=norm,
            year=year,
            tmdb_id=int(tmdb_id),
            media_type=media_type,
            season_offset=int(season_offset),
            created_at=utcnow(),
        )
    )
    # files already decided for this title are decided again (the override wins over manual picks too)
    ids = select(Parse.file_id).where(Parse.title_norm == norm)
    if year is not None:
        ids = ids.where(Parse.year == year)
    session.execute(delete(Match).where(Match.file_id.in_(ids)))
    return norm


# --------------------------------------------------------------------------------------------------- writing


def _file_rows(session: Session, g: SeriesGroup, refresh: bool) -> list[Any]:
    kg = _kind_expr()
    q = (
        select(
            Parse.file_id,
            Parse.season,
            Parse.episode,
            Parse.episode_end,
            Parse.kind,
            Match.method,
            Match.status,
        )
        .join(File, File.id == Parse.file_id)
        .outerjoin(Match, Match.file_id == Parse.file_id)
        .where(
            File.kind == "video",
            File.status == "present",
            Parse.title_norm == g.title_norm,
            kg == g.kind,
            Parse.year.is_(None) if g.year is None else Parse.year == g.year,
        )
    )
    if refresh:
        q = q.where(or_(Match.file_id.is_(None), Match.method != "manual"))
    else:
        q = q.where(or_(Match.file_id.is_(None), Match.status != "matched"))
    return list(session.execute(q))


def write_decision(session: Session, d: GroupDecision, refresh: bool = False) -> int:
    """Write one matches row per file of the key. Returns the number of rows."""
    rows = _file_rows(session, d.group, refresh)
    if not rows:
        return 0
    cands = json.dumps([c.to_json() for c in d.candidates], ensure_ascii=False)
    now = utcnow()
    ids = [r.file_id for r in rows]
    session.execute(delete(Match).where(Match.file_id.in_(ids)))
    chosen = d.chosen
    objs = []
    for r in rows:
        season: int | None = None
        episode: int | None = None
        episode_end: int | None = None
        if chosen is not None and chosen.media_type == "tv":
            special = r.kind in ("special", "ova") or r.season == 0
            season, episode = map_episode(
                chosen.seasons, r.season, r.episode, special=special, offset=d.season_offset
            )
            if r.episode_end is not None and r.episode is not None and episode is not None:
                episode_end = episode + (r.episode_end - r.episode)
        objs.append(
            {
                "file_id": r.file_id,
                "series_key": d.group.key,
                "tmdb_id": chosen.tmdb_id if chosen is not None else None,
                "media_type": chosen.media_type if chosen is not None else None,
                "season": season,
                "episode": episode,
                "episode_end": episode_end,
                "confidence": d.confidence,
                "method": d.method,
                "status": d.status,
                "reason": d.reason,
                "candidates": cands,
                "decided_at": now,
            }
        )
    session.execute(insert(Match), objs)
    return len(objs)


def mark_untitled(session: Session) -> int:
    """Present videos the parser could not title: recorded as unmatched with the reason."""
    ids = list(
        session.scalars(
            select(File.id)
            .join(Parse, Parse.file_id == File.id)
            .outerjoin(Match, Match.file_id == File.id)
            .where(
                File.kind == "video",
                File.status == "present",
                or_(Parse.title_norm.is_(None), Parse.title_norm == ""),
                Match.file_id.is_(None),
            )
        )
    )
    if ids:
        now = utcnow()
        session.execute(
            insert(Match),
            [
                {
                    "file_id": i,
                    "series_key": "",
                    "confidence": 0.0,
                    "method": "none",
                    "status": "unmatched",
                    "reason": REASON_NO_TITLE,
                    "candidates": "[]",
                    "decided_at": now,
                }
                for i in ids
            ],
        )
    return len(ids)


# --------------------------------------------------------------------------------------------------- the run


class DaemonPool:
    """The lookup workers: a thread pool whose threads do not keep the process alive.

    concurrent.futures joins its workers when the interpreter exits, so after Ctrl-C a lookup still
    waiting on TMDB held the process open until its request timed out (up to `tmdb.timeout`, 10 s by
    default), long after "interrupted" was decided and saved. Here the run thread writes what was decided
    and exits; a worker still on the wire is abandoned with the process. Workers only call TMDB and return
    a decision: the run's thread is the only one that writes the library.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[cf.Future[Any], Callable[[Any], Any], Any] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        self._queue.put((future, fn, arg))
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, arg = item
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                result = fn(arg)
            except BaseException as exc:  # handed to the run's thread, like concurrent.futures does
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, *, wait: bool) -> None:
        """Cancel what has not started; with ``wait``, let the running lookups finish first."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for t in self._threads:
                t.join()


def run_match(
    db: Database,
    port: TmdbPort,
    opts: MatchOptions,
    *,
    flush: Callable[[Session], int] | None = None,
    requests_sent: Callable[[], int] | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressFn | None = None,
    on_decision: Callable[[GroupDecision], None] | None = None,
) -> MatchReport:
    """Match every pending series key. ``flush`` writes the cache's new rows inside the writer's transaction."""
    t0 = time.monotonic()
    report = MatchReport()
    with db.read() as s:
        groups = pending_groups(s, opts)
        rules = load_overrides(s)
    with db.write() as s:
        mark_untitled(s)
    report.keys = len(groups)
    resolver = GroupResolver(port, opts)
    stop = cancel or threading.Event()
    fatal: list[BaseException] = []

    def work(g: SeriesGroup) -> GroupDecision:
        if stop.is_set():
            raise TmdbUnavailable("stopped")
        before = requests_sent() if requests_sent else 0
        ov = find_override(rules, g)
        try:
            d = resolver.apply_override(g, ov) if ov is not None else resolver.resolve(g)
        except TmdbUnavailable as exc:
            d = GroupDecision(g, "deferred", "none", 0.0, f"{REASON_DEFERRED} ({exc.message})", None, ())
        except TmdbBadResponse as exc:
            d = GroupDecision(g, "deferred", "none", 0.0, f"deferred: {exc.message}", None, ())
        after = requests_sent() if requests_sent else 0
        # counts from a shared counter: with several workers this is approximate per key, exact in total
        return dataclasses.replace(d, requests=max(0, after - before))

    pending: list[GroupDecision] = []

    def write_batch() -> None:
        if not pending and flush is None:
            return
        with db.write() as s:
            for d in pending:
                n = write_decision(s, d, opts.refresh)
                report.files += n
                _count(report, d, n)
            if flush is not None:
                flush(s)
        pending.clear()

    done = 0
    last_write = time.monotonic()
    pool = DaemonPool(max(1, opts.workers), "match")
    try:
        futures = {pool.submit(work, g): g for g in groups}
        for fut in cf.as_completed(futures):
            if fut.cancelled():
                continue  # cancelled after a 401: nothing was decided for it
            try:
                d = fut.result()
            except TmdbAuthError as exc:
                stop.set()
                fatal.append(exc)
                for f in futures:
                    f.cancel()
                continue
            except TmdbError:
                if stop.is_set():
                    continue
                raise
            pending.append(d)
            if on_decision is not None:
                on_decision(d)
            done += 1
            if progress is not None:
                progress(done, len(groups))
            if len(pending) >= opts.batch_groups or time.monotonic() - last_write > 2.0:
                write_batch()
                last_write = time.monotonic()
    except KeyboardInterrupt:
        stop.set()
        report.interrupted = True
        pool.shutdown(wait=False)
        write_batch()
        raise Interrupted(
            f"interrupted: {done} of {len(groups)} series decided and saved",
            hint="run `anivault match` again to continue",
        ) from None
    finally:
        # after Ctrl-C or a 401, do not wait for requests still on the wire (DaemonPool)
        pool.shutdown(wait=not stop.is_set())
    write_batch()
    report.http_requests = requests_sent() if requests_sent else 0
    report.seconds = round(time.monotonic() - t0, 3)
    if fatal:
        report.stopped_by = str(fatal[0])
        raise fatal[0]
    return report


def _count(report: MatchReport, d: GroupDecision, n: int) -> None:
    if d.status == "matched":
        report.matched += n
        if d.method == "override":
            report.overridden += n
    elif d.status == "review":
        report.review += n
    elif d.status == "deferred":
        report.deferred += n
        if len(report.deferred_keys) < 50:
            report.deferred_keys.append(d.group.key)
    else:
        report.unmatched += n


def options_from_settings(settings: Any, **kw: Any) -> MatchOptions:
    m = settings.match
    opts = MatchOptions(
        auto_threshold=float(m.auto_threshold),
        review_threshold=float(m.review_threshold),
        workers=max(1, int(settings.tmdb.concurrency) * 2),
    )
    for name in ("ambiguity_margin", "max_details"):
        value = getattr(m, name, None)
        if value is not None:
            setattr(opts, name, type(getattr(opts, name))(value))
    for k, v in kw.items():
        setattr(opts, k, v)
    return opts


def match_library(
    db: Database,
    settings: Any,
    *,
    refresh: bool = False,
    offline: bool = False,
    rate: float | None = None,
    only_title_norm: str | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    episode_titles: bool = False,
) -> MatchReport:
    """What `anivault match` runs: the cached, polite TMDB port and :func:`run_match`, then (with
    ``episode_titles``, or when the settings' series template uses `{episode_title}`) the episode names of
    every matched season not cached yet.

    Holds the library's writer lock, so a match never interleaves with an index or organize run."""
    from anivault.db.engine import writer_lock
    from anivault.tmdb.cached import open_tmdb

    mode: Literal["normal", "refresh", "offline"] = (
        "offline" if offline else "refresh" if refresh else "normal"
    )
    opts = options_from_settings(settings, refresh=refresh, only_title_norm=only_title_norm)
    wait = float(getattr(settings.db, "lock_wait_seconds", 10.0))
    from anivault.organize.template import names_episodes

    titles = episode_titles or names_episodes(settings.organize.template, settings.organize.series_template)
    todo: list[tuple[int, int]] = []
    with writer_lock(db.path, wait_seconds=wait, purpose="match"):
        with db.read() as s:
            nothing = not pending_groups(s, opts)
        if nothing:
            # nothing to look up: no key needed, no client built (unless episode names are missing)
            report = run_match(db, _NoTmdb(), opts)
            todo = missing_seasons(db, settings.tmdb.language) if titles else []
            if not todo:
                return report
        port = open_tmdb(db, settings, mode=mode, rate=rate)
        http = port.http
        # one event stops the run and the HTTP session's waits (rate, gate, backoff): Ctrl-C is prompt
        ev = http.session.cancel if http is not None else threading.Event()
        if cancel is not None and cancel.is_set():
            ev.set()
        try:
            if not nothing:
                report = run_match(
                    db,
                    port,
                    opts,
                    flush=port.flush,
                    requests_sent=(lambda: http.requests_sent) if http is not None else None,
                    cancel=ev,
                    progress=progress,
                )
            if titles:
                if not nothing:  # the seasons this run matched too
                    todo = missing_seasons(db, port.language, port.now())
                fetch_episode_titles(db, port, todo, opts.workers, ev, report, progress)
                if http is not None:
                    report.http_requests = http.requests_sent
        finally:
            if http is not None:
                http.close()
    report.cache_hits = port.counters.hits
    report.cache_misses = port.counters.misses
    report.seconds_http = round(http.busy_seconds, 3) if http is not None else 0.0
    return report


def _matched_seasons(db: Database) -> list[tuple[int, int]]:
    with db.read() as s:
        rows = s.execute(
            select(Match.tmdb_id, Match.season)
            .join(File, File.id == Match.file_id)
            .where(
                Match.status == "matched",
                Match.media_type == "tv",
                Match.tmdb_id.is_not(None),
                Match.season.is_not(None),
                File.status == "present",
            )
            .distinct()
            .order_by(Match.tmdb_id, Match.season)
        ).all()
    return [(int(t), int(n)) for t, n in rows if t is not None and n is not None]


def missing_seasons(db: Database, language: str, now: datetime | None = None) -> list[tuple[int, int]]:
    """Matched show seasons whose episode names are not in the cache (or have expired there)."""
    from anivault.tmdb.cached import SCHEMA_VERSION, season_key

    with db.read() as s:
        cached = set(
            s.scalars(
                select(TmdbCache.key).where(
                    TmdbCache.endpoint == "tv/season",
                    TmdbCache.expires_at > (now or utcnow()),
                    TmdbCache.schema_version == SCHEMA_VERSION,
                )
            )
        )
    return [p for p in _matched_seasons(db) if season_key(*p, language) not in cached]


def fetch_episode_titles(
    db: Database,
    port: Any,
    todo: list[tuple[int, int]],
    workers: int,
    cancel: threading.Event,
    report: MatchReport,
    progress: ProgressFn | None = None,
) -> None:
    """Look up the episode names of the show seasons ``todo`` (missing_seasons: for `{episode_title}`),
    with the same workers and politeness as matching, and write them to the cache. A season TMDB cannot
    answer now is counted and asked for again next time; a wrong key stops the run like matching does."""
    if not todo:
        return
    pool = DaemonPool(max(1, workers), "titles")
    deferred = 0
    try:
        futures = [pool.submit(lambda p: port.season(*p), p) for p in todo]
        for done, fut in enumerate(cf.as_completed(futures), 1):
            try:
                fut.result()
            except (TmdbUnavailable, TmdbBadResponse):
                deferred += 1
            except TmdbAuthError:
                cancel.set()
                raise
            if progress is not None:
                progress(done, len(todo))
    except KeyboardInterrupt:
        cancel.set()  # the pool is left at once (finally), what was answered is kept
        with db.write() as s:
            port.flush(s)
        raise Interrupted(
            "interrupted while looking up episode names; the matches are saved",
            hint="run `anivault match` again to finish the episode names",
        ) from None
    finally:
        pool.shutdown(wait=not cancel.is_set())
    with db.write() as s:
        port.flush(s)
    report.title_seasons = len(todo) - deferred
    report.title_seasons_deferred = deferred


class _NoTmdb:
    """A port for runs with nothing to look up."""

    def search(self, media_type: MediaType, query: str, year: int | None = None) -> list[SearchHit]:
        raise TmdbUnavailable("no TMDB client in this run")

    def details(self, media_type: MediaType, tmdb_id: int) -> TitleDetails | None:
        raise TmdbUnavailable("no TMDB client in this run")


# --------------------------------------------------------------------------------------------------- review


@dataclass(frozen=True, slots=True)
class ReviewGroup:
    """A doubtful series waiting for a person: its files and the best candidates with their reasons."""

    group: SeriesGroup
    confidence: float
    candidates: tuple[dict[str, Any], ...]


def parse_series_key(key: str) -> tuple[str, str, int | None]:
    kind, _, rest = key.partition(":")
    title_norm, _, year = rest.rpartition(":")
    return kind, title_norm, int(year) if year.isdigit() else None


def review_groups(session: Session, limit: int | None = None) -> list[ReviewGroup]:
    q = (
        select(
            Match.series_key,
            func.count().label("n"),
            func.max(Match.confidence).label("conf"),
            func.max(Match.candidates).label("cands"),
            func.max(Parse.title).label("title"),
            func.max(func.coalesce(Parse.episode_end, Parse.episode)).label("max_ep"),
        )
        .join(Parse, Parse.file_id == Match.file_id)
        .join(File, File.id == Match.file_id)
        .where(Match.status == "review", File.status == "present")
        .group_by(Match.series_key)
        .order_by(func.count().desc(), Match.series_key)
    )
    if limit:
        q = q.limit(limit)
    out = []
    for row in session.execute(q):
        kind, title_norm, year = parse_series_key(row.series_key)
        try:
            cands = tuple(c for c in json.loads(row.cands or "[]") if isinstance(c, dict))
        except ValueError:
            cands = ()
        g = SeriesGroup(
            key=row.series_key,
            title_norm=title_norm,
            title=row.title or title_norm,
            year=year,
            kind=kind,
            files=int(row.n),
            max_episode=row.max_ep,
            seasons=(),
            has_special=False,
        )
        out.append(ReviewGroup(g, float(row.conf or 0.0), cands))
    return out


def decide_manually(
    session: Session,
    group: SeriesGroup,
    tmdb_id: int,
    media_type: MediaType,
    details: TitleDetails | None,
    *,
    remember: bool = True,
) -> int:
    """A person's pick for a series: its files are matched (method manual) and, with ``remember``, an
    override makes future files of the same title follow it. Returns the number of files decided."""
    if remember:
        set_override(session, group.title_norm, tmdb_id, media_type, year=group.year)
    name = details.name if details is not None else ""
    year = details.year if details is not None else None
    seasons = details.seasons if details is not None else ()
    cand = Candidate(tmdb_id, media_type, name, year, 1.0, {"manual": True}, seasons, details is not None)
    decision = GroupDecision(group, "matched", "manual", 1.0, None, cand, (cand,))
    return write_decision(session, decision)
