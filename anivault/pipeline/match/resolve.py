"""Finding the TMDB title for one series key: the queries, the candidates, the decision."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from anivault.pipeline.match.placement import Placer, sequel_season
from anivault.pipeline.match.score import score_candidate, strip_season_words, title_similarity
from anivault.pipeline.match.types import (
    REASON_LOW,
    REASON_NO_RESULT,
    REASON_REVIEW,
    Candidate,
    GroupDecision,
    MatchOptions,
    SeriesGroup,
)
from anivault.title_key import normalize_title
from anivault.tmdb.cached import norm_query
from anivault.tmdb.port import (
    MediaType,
    SearchHit,
    TitleDetails,
    TmdbPort,
)

# One search: (media type, query, year, whether the year may be any air date, evidence bonus).
Query = tuple[MediaType, str, int | None, bool, float]
_SEPARATOR = re.compile(r"\s+[-–—~:|]\s*|:\s+|\s*[~〜]\s*")

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
    # "Main Title - Sequel Name": the main title alone finds a show that files the sequel as a season
    parts = [p for p in _SEPARATOR.split(raw_title) if p.strip()]
    if len(parts) > 1:
        out.append(normalize_title(parts[0]))
    out.append(" ".join(_KIND_WORDS.sub(" ", norm).split()))
    out.append(" ".join(_ALNUM_EDGE.sub(" ", norm).split()))
    out.append(normalize_title(_CAMEL.sub(" ", raw_title)))
    cjk = " ".join(_SPACELESS.findall(norm))
    latin = " ".join(_SPACELESS.sub(" ", norm).split())
    if cjk and latin:
        out += [latin, cjk]
    # names often carry words after the title ("Baccano T1 Trailer"): the first words alone
    stripped = " ".join(_KIND_WORDS.sub(" ", norm).split())
    words = stripped.split() if stripped else norm.split()
    for keep in (len(words) - 1, len(words) - 2):
        if keep >= 1:
            out.append(" ".join(words[:keep]))
    return [v for v in out if v and v != norm]


class GroupResolver:
    """Finds the TMDB title for one series key. Thread-safe as long as the port is."""

    def __init__(self, port: TmdbPort, opts: MatchOptions) -> None:
        self.port = port
        self.opts = opts

    def _search_plan(self, g: SeriesGroup) -> list[Query]:
        """Queries in order of promise; later ones run only while no good candidate has been found.

        TMDB reads a query as written ("Steins;Gate", "Re:Zero"), so the title as the file names it goes
        first, then its normalised form. A year asks for the first air year (`first_air_date_year`), then
        for any air date (`year`: the year of a later season), then goes."""
        primary: MediaType = "movie" if g.kind == "movie" else "tv"
        other: MediaType = "tv" if primary == "movie" else "movie"
        q = g.title_norm
        written = " ".join(g.title.split())
        base = strip_season_words(q)
        plan: list[tuple[MediaType, str, int | None, bool]] = [(primary, written, g.year, False)]
        if primary == "tv" and g.max_episode is None:
            # no episode number anywhere: as likely a film as a show
            plan.append((other, written, g.year, False))
        for title in (written, q):
            if g.year is not None and primary == "tv":
                plan.append((primary, title, g.year, True))
            plan.append((primary, title, None, False))
        if base and base != q:
            plan.append((primary, base, None, False))  # the title without its season words
        wanted = [s for s in g.seasons if s > 1]
        if wanted:
            plan.append((primary, f"{base or q} {wanted[0]}", None, False))  # a sequel filed as its own entry
        for alt in g.title_alts:  # the other title of a bilingual name
            plan.append((primary, " ".join(alt.split()), None, False))
        plan.append((other, q, None, False))
        n_full = len(plan)
        for variant in query_variants(g.title, q):
            plan.append((primary, variant, None, False))
        seen: set[tuple[str, str, int | None, bool]] = set()
        out: list[Query] = []
        for i, item in enumerate(plan):
            same = (item[0], norm_query(item[1]), item[2], item[3])  # what TMDB (and the cache) tell apart
            if same[1] and normalize_title(item[1]) and same not in seen:
                seen.add(same)
                # TMDB found every word of the title (as written, or without its season words) in one of
                # this show's titles: evidence beyond our fuzzy score, which hits of a shortened or
                # re-spelled query do not have
                out.append((*item, 0.05 if i < n_full else 0.0))
        return out

    def resolve(self, g: SeriesGroup) -> GroupDecision:
        best: dict[tuple[str, int], Candidate] = {}
        detailed: set[tuple[str, int]] = set()
        for media_type, query, year, any_date, evidence in self._search_plan(g):
            top = max(best.values(), key=lambda c: c.score, default=None)
            if (
                top is not None
                and top.detailed
                and top.score >= self.opts.auto_threshold + 0.05
                # an exact title ends the search; a near one still lets the title's own spellings be
                # tried (a film of the same name may be the better answer), not the shortened variants
                and (top.reasons.get("title", 0.0) >= 0.97 or not evidence)
            ):
                break  # a good answer: other queries are not worth their requests
            hits = self.port.search(media_type, query, year, any_air_date=any_date)
            if hits:
                self._consider(g, hits, best, detailed, evidence)
        ranked = sorted(best.values(), key=lambda c: (-c.score, not c.detailed, c.tmdb_id))
        return self.place(self._decide(g, ranked))

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
        detail lookups mixes name similarity with TMDB's (relevance) order; an exact title that fits the
        episode numbers ends the lookups early.
        """
        n = len(hits)
        pre: list[tuple[bool, float, int, SearchHit, float, dict[str, Any]]] = []
        for rank, h in enumerate(hits):
            titles = [t for t in (h.name, h.original_name) if t]
            s, reasons = score_candidate(g, h.media_type, titles, h.year, None, rank, n, evidence, h.origin)
            name_sim = float(reasons.get("title", 0.0))
            promise = 0.6 * name_sim + 0.4 * (1 - rank / n) + 0.5 * min(0.0, reasons.get("live_action", 0.0))
            pre.append((name_sim >= 0.97, promise, rank, h, s, reasons))
        # exact names first, then the best-looking name, then TMDB's own order
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
            # after a clear find, only another hit with the very same name (a remake, a live-action
            # namesake) is still looked at, so that same-named titles end up side by side
            if fetched < self.opts.max_details and (not found or exact_name):
                d = self.port.details(h.media_type, h.tmdb_id)
                detailed.add(ident)
                fetched += 1
                if d is None:
                    best.pop(ident, None)
                    continue
                best[ident] = self._scored(g, d, h, rank, n, evidence)
                why = best[ident].reasons
                if why.get("title", 0) >= 0.97 and why.get("episodes_fit", True) and why.get("year", 0) >= 0:
                    found = True
            elif ident not in best:
                best[ident] = Candidate(h.tmdb_id, h.media_type, h.name, h.year, s - 0.05, reasons, (), False)

    def _scored(
        self, g: SeriesGroup, d: TitleDetails, h: SearchHit, rank: int, n: int, evidence: float
    ) -> Candidate:
        year = d.year if d.year is not None else h.year
        origin = d.origin if (d.origin.genre_ids or d.origin.original_language) else h.origin
        score, why = score_candidate(
            g, d.media_type, d.all_titles, year, d.seasons, rank, n, evidence, origin
        )
        sequel = sequel_season(g.title_norm, d)
        if sequel is not None:
            # the title is the show's plus one season's own name: compare the rest with the show's titles
            rest = max((title_similarity(sequel[1], t) for t in d.all_titles), default=0.0)
            if rest > why.get("title", 0.0):
                score += rest - why.get("title", 0.0)
                why["title"] = round(rest, 3)
            score += 0.05
            why["season_named"] = sequel[0].number
        return Candidate(d.tmdb_id, d.media_type, d.name or h.name, year, score, why, d.seasons, True, d)

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
        if top.reasons.get("episodes_fit") is False or (
            top.media_type == "movie" and (g.max_episode or 0) > 1
        ):
            # the show has fewer episodes than the files number, or a film would hold episode 2 and on:
            # however good the title, a person looks
            confidence = min(confidence, self.opts.auto_threshold - 0.01)
        confidence = round(confidence, 3)
        if confidence >= self.opts.auto_threshold and top.detailed:
            return GroupDecision(g, "matched", "auto", confidence, None, top, top3)
        if confidence >= self.opts.review_threshold:
            return GroupDecision(g, "review", "auto", confidence, REASON_REVIEW, top, top3)
        return GroupDecision(g, "unmatched", "auto", confidence, REASON_LOW, top, top3)

    def pick(
        self, g: SeriesGroup, tmdb_id: int, media_type: MediaType, method: str, offset: int = 0
    ) -> GroupDecision:
        """A decision already made (an override, a person's pick): the title is certain; the files are
        placed as any match's are. TMDB's details are needed for the names: unavailable, it raises
        TmdbUnavailable and the key waits for the next run."""
        d = self.port.details(media_type, tmdb_id)
        if d is None:
            from anivault.pipeline.match.types import REASON_NO_RESULT as gone

            return GroupDecision(g, "unmatched", method, 0.0, f"{gone} (TMDB has no {media_type} {tmdb_id})",
                                 None, ())  # fmt: skip
        cand = Candidate(tmdb_id, media_type, d.name, d.year, 1.0, {method: True}, d.seasons, True, d)
        decision = GroupDecision(g, "matched", method, 1.0, None, cand, (cand,), season_offset=offset)
        return self.place(decision)

    def place(self, decision: GroupDecision) -> GroupDecision:
        """Where TMDB files each file of a matched key (placement.py)."""
        chosen = decision.chosen
        # a series waiting for a person is placed too: the rows then show what accepting it would do
        if decision.status not in ("matched", "review") or chosen is None or chosen.details is None:
            return decision
        placer = Placer(
            self.port,
            chosen.details,
            decision.group.title_norm,
            offset=decision.season_offset,
            want_names=self.opts.episode_names,
            siblings=decision.group.numbers,
        )
        placements = {n: placer.place(n) for n in decision.group.numbers}
        return dataclasses.replace(decision, placements=placements)
