"""Where TMDB files each file of a matched show: the season and the episode as TMDB numbers them.

What a file name says is evidence; TMDB's seasons decide. The evidence, strongest first:

1. words the title adds to the show's own title ("… - Ultra Romantic", "… The Final Season") that name one
   of TMDB's seasons: a sequel TMDB files as a later season of one show;
2. the season the name or its folder gives (``S2``, ``2nd Season``, ``3기``, ``第2期``, ``Season 2/``), plus an
   override's offset;
3. "Part 2" / "2nd Cour": the second run of the season's episodes, split where TMDB's air dates pause;
4. an episode number past its season: an absolute number, placed through TMDB's absolute episode group when
   the show has one, through the season details of a show that numbers its seasons absolutely (One Piece's
   season 20 lists 877..885), or through the seasons' episode counts;
5. specials go to season 0, sure only when the name says season 0 or names the episode.

A placement TMDB's data does not confirm carries its doubt: the file waits for review with the reason,
because a wrong season or episode applied automatically is the one outcome we never accept.
"""

from __future__ import annotations

import re
from datetime import date

from anivault.pipeline.match.types import FileNumbers, Placement
from anivault.title_key import normalize_title
from anivault.tmdb.port import ABSOLUTE_ORDER, EpisodeInfo, SeasonInfo, TitleDetails, TmdbPort

# Season names that say nothing but the number ("Season 2", "Specials", "シーズン2", "시즌 2", "第2期").
_GENERIC_SEASON = re.compile(
    r"^(?:season|series|saison|staffel|temporada|stagione|part|specials?|extras?|シーズン|시즌)?\s*\d*$"
    r"|^第?\s*\d+\s*(?:期|季|シーズン)$|^\d+\s*기$"
)
# Words after a title that are no sequel's name (release and kind words).
_NOISE = frozenset(
    "tv ova oad ona special specials sp movie bd dvd web hd uncensored remastered batch complete"
    " anime animation the of no and".split()
)
_COUR_GAP_DAYS = 45  # a pause this long between two episodes of one season splits it into parts


def _days(a: str | None, b: str | None) -> int | None:
    try:
        return (date.fromisoformat(b[:10]) - date.fromisoformat(a[:10])).days if a and b else None
    except ValueError:
        return None


def sequel_words(title_norm: str, details: TitleDetails) -> tuple[str, ...]:
    """The words a file's title adds after one of the show's own titles ("kaguya sama wa kokurasetai ultra
    romantic" after "kaguya sama wa kokurasetai"), measured from the shortest title that starts it, so a
    TMDB alternative title that already holds the sequel's name does not hide it. Empty when some title of
    the show is the whole file title with no season name in it, or when no title starts it."""
    words = title_norm.split()
    best: tuple[str, ...] | None = None
    for t in details.all_titles:
        tw = normalize_title(t).split()
        if tw and len(tw) <= len(words) and words[: len(tw)] == tw:
            rest = tuple(words[len(tw) :])
            if best is None or len(rest) > len(best):
                best = rest
    if not best or all(w in _NOISE or w.isdigit() for w in best):
        return ()
    # "暗殺教室 Assassination Classroom": the rest is the show's own title in another script
    others = " ".join(best)
    if any(normalize_title(t) == others for t in details.all_titles):
        return ()
    return best


def _show_words(details: TitleDetails) -> set[str]:
    return {w for t in details.all_titles for w in normalize_title(t).split()}


def season_named(details: TitleDetails, words: tuple[str, ...]) -> SeasonInfo | None:
    """The one regular season whose own name (its words that are not the show's) is all in ``words``:
    "ultra romantic" names "Kaguya-sama: Love Is War -Ultra Romantic-", "the final season" names "The
    Final Season". Names that only number a season ("Season 2", "第2期") name nothing."""
    found = named_seasons(details, set(words))
    return found[0] if len(found) == 1 else None


def named_seasons(details: TitleDetails, words: set[str]) -> list[SeasonInfo]:
    show = _show_words(details)
    found = []
    for s in details.seasons:
        name = normalize_title(s.name)
        if s.number <= 0 or not name or _GENERIC_SEASON.match(name):
            continue
        own = {w for w in name.split() if w not in show and w not in _NOISE}
        # at least one real word of its own (not only a number), every one of them in the file's title
        if any(len(w) >= 3 and not w.isdigit() for w in own) and own <= words:
            found.append(s)
    return found


def sequel_season(title_norm: str, details: TitleDetails) -> tuple[SeasonInfo, str] | None:
    """The season a file's title names by adding that season's own name to the show's ("Kaguya-sama wa
    Kokurasetai - Ultra Romantic"), and the title without those words (to compare with the show's titles)."""
    words = title_norm.split()
    season = season_named(details, tuple(words))
    if season is None:
        return None
    show = _show_words(details)
    own = {w for w in normalize_title(season.name).split() if w not in show and w not in _NOISE}
    return season, " ".join(w for w in words if w not in own)


class Placer:
    """Places the files of one matched show. Asks the port for season details and episode groups only
    when the evidence needs them (or names are wanted), each at most once."""

    def __init__(
        self,
        port: TmdbPort,
        details: TitleDetails,
        title_norm: str,
        *,
        offset: int = 0,
        want_names: bool = False,
        siblings: tuple[FileNumbers, ...] = (),
    ) -> None:
        self.port = port
        self.siblings = siblings  # every file of the series: how its other parts are numbered
        self.d = details
        self.offset = offset
        self.want_names = want_names
        self.regular = [s for s in details.seasons if s.number > 0]
        sequel = sequel_season(title_norm, details)
        self.named = sequel[0] if sequel is not None else None
        # words after the show's title that name no season: a sequel TMDB may not know by that name
        self.words = sequel_words(title_norm, details) if sequel is None else ()
        self._episodes: dict[int, tuple[EpisodeInfo, ...] | None] = {}
        self._absolute: tuple[EpisodeInfo, ...] | None = None
        self._absolute_looked = False

    # ------------------------------------------------------------------ TMDB, looked up once each
    def episodes(self, season: int) -> tuple[EpisodeInfo, ...] | None:
        if season not in self._episodes:
            got = self.port.season_details(self.d.tmdb_id, season)
            self._episodes[season] = got.episodes if got is not None else None
        return self._episodes[season]

    def absolute_order(self) -> tuple[EpisodeInfo, ...] | None:
        """TMDB's absolute episode group of the show, regular episodes in order (None when it has none)."""
        if not self._absolute_looked:
            self._absolute_looked = True
            groups = [g for g in self.port.episode_groups(self.d.tmdb_id) if g.type == ABSOLUTE_ORDER]
            if groups:
                group = self.port.episode_group(max(groups, key=lambda g: g.episode_count).group_id)
                if group is not None:
                    self._absolute = tuple(e for e in group.episodes if e.season > 0)
        return self._absolute

    # ------------------------------------------------------------------ the rules
    def place(self, n: FileNumbers) -> Placement:
        p = self._place(n)
        season, episode = p.season, p.episode
        if p.doubt is not None or season is None or episode is None:
            return p
        end = p.episode_end
        if end is None and n.episode_end is not None and n.episode is not None:
            end = episode + (n.episode_end - n.episode)
        name = None
        if self.want_names:
            name = next((e.name for e in self.episodes(season) or () if e.number == episode), "")
        return Placement(season, episode, end, None, name)

    def _place(self, n: FileNumbers) -> Placement:
        show = self.d.name or self.d.name_en or f"TMDB {self.d.tmdb_id}"
        if self.d.media_type == "movie":
            return Placement(None, None)
        if n.movie:
            return Placement(None, None, doubt=f"a film by its name, matched to the show {show}")
        if n.special:
            return self._special(n, show)
        season = self.named.number if self.named is not None else None
        if season is None and n.season is not None:
            season = n.season + self.offset
        if season is None and n.episode_title:  # "Show (2008) - Arc Name - 09": the arc read as its title
            arc = season_named(self.d, tuple(normalize_title(n.episode_title).split()))
            season = arc.number if arc is not None else None
        if self.words and self.named is None and n.season is None and len(self.regular) > 1:
            return Placement(
                None,
                n.episode,
                doubt=f"'{' '.join(self.words)}' after the title names no season TMDB lists for {show}",
            )
        if n.episode is None:
            if season is not None and self.d.season(season) is not None:
                return Placement(season, None)
            if season is None and len(self.regular) == 1:
                return Placement(self.regular[0].number, None)
            return Placement(season, None, doubt="no episode number, and the show has several seasons")
        if n.episode == 0:  # a prologue: TMDB lists it in a season, or files it as a special
            where = season if season is not None else (self.regular[0].number if self.regular else None)
            if where is not None and any(e.number == 0 for e in self.episodes(where) or ()):
                return Placement(where, 0)
            return Placement(where, 0, doubt=f"episode 0: no season of {show} lists it; it may be a special")
        if n.part is not None and n.part > 1:
            return self._part(season, n.part, n.episode, show)
        if season is not None:
            return self._in_season(season, n.episode, show)
        return self._absolute_number(n.episode, show)

    def _special(self, n: FileNumbers, show: str) -> Placement:
        zero = self.d.season(0)
        count = zero.episode_count if zero is not None else None
        if (
            zero is not None
            and n.season == 0
            and n.episode is not None
            and (count is None or n.episode <= count)
        ):
            return Placement(0, n.episode)  # the name says season 0 (S00E03, a Specials folder)
        if n.episode_title and zero is not None:
            want = normalize_title(n.episode_title)
            for e in self.episodes(0) or ():
                if want and normalize_title(e.name) == want:
                    return Placement(0, e.number)
        return Placement(
            0, n.episode, doubt=f"a special: TMDB's season 0 of {show} may order its specials differently"
        )

    def _in_season(self, season: int, episode: int, show: str) -> Placement:
        info = self.d.season(season)
        if info is None:
            listed = ", ".join(str(s.number) for s in self.regular) or "none"
            return Placement(
                season, episode, doubt=f"TMDB has no season {season} of {show} (its seasons: {listed})"
            )
        if self.d.numbers_absolutely:
            eps = self.episodes(season)
            if eps:
                numbers = [e.number for e in eps]
                if episode in numbers:
                    return Placement(season, episode)
                if 1 <= episode <= len(eps):
                    return Placement(season, numbers[episode - 1])  # the season's k-th episode
            return Placement(
                season, episode, doubt=f"TMDB numbers {show} absolutely and lists no episode {episode} here"
            )
        if info.episode_count is None or episode <= info.episode_count:
            return Placement(season, episode)
        # a number past the season's end: a count that continues from the seasons before it
        before = sum(s.episode_count or 0 for s in self.regular if s.number < season)
        counted = all(s.episode_count is not None for s in self.regular if s.number < season)
        if counted and 1 <= episode - before <= info.episode_count:
            return Placement(season, episode - before)
        eps = self.episodes(season) or ()
        if any(e.number == episode for e in eps):
            return Placement(season, episode)
        return Placement(
            season,
            episode,
            doubt=f"episode {episode} is past the {info.episode_count} of season {season} of {show}",
        )

    def _part(self, season: int | None, part: int, episode: int, show: str) -> Placement:
        if season is None:
            found = [
                s
                for s in named_seasons(self.d, {"part", str(part)})
                if f"part {part}" in normalize_title(s.name)
            ]
            if len(found) == 1:
                return self._in_season(found[0].number, episode, show)
            if not self.regular:
                return Placement(None, episode, doubt=f"part {part}, but TMDB lists no seasons for {show}")
            season = self.regular[0].number  # no season marker: the first, if its air dates split so
        eps = self.episodes(season)
        runs: list[list[EpisodeInfo]] = []
        for e in sorted(eps or (), key=lambda e: e.number):
            gap = _days(runs[-1][-1].air_date, e.air_date) if runs else None
            if not runs or (gap is not None and gap > _COUR_GAP_DAYS):
                runs.append([e])
            else:
                runs[-1].append(e)
        if len(runs) >= part and eps and all(e.air_date for e in eps):
            run = runs[part - 1]
            numbers = [e.number for e in run]
            on = episode in numbers  # numbered on from the first part ("Part 2 - 13")
            anew = 1 <= episode <= len(run)  # numbered anew ("Part 2 - 01")
            if on and anew:
                # both readings fit this number: the series' other files of this part say which it is
                mine = [m.episode for m in self.siblings if m.part == part and m.episode is not None]
                on, anew = any(e > len(run) for e in mine), any(e < numbers[0] for e in mine)
            if on and not anew:
                return Placement(season, episode)
            if anew and not on:
                return Placement(season, numbers[episode - 1])
        return Placement(
            season,
            episode,
            doubt=f"part {part}: TMDB's air dates do not split season {season} of {show} into parts",
        )

    def _absolute_number(self, episode: int, show: str) -> Placement:
        if not self.regular:
            return Placement(1, episode, doubt=f"TMDB lists no seasons for {show}")
        first = self.regular[0]
        if not self.d.numbers_absolutely and (first.episode_count is None or episode <= first.episode_count):
            return Placement(first.number, episode)
        order = self.absolute_order()
        if order:
            if episode <= len(order):
                e = order[episode - 1]
                return Placement(e.season, e.number)
            return Placement(None, episode, doubt=f"episode {episode} is past {show}'s absolute order")
        # walk the seasons' counts to the season the number falls in
        left, guess = episode, None
        for s in self.regular:
            if s.episode_count is None:
                break
            if left <= s.episode_count:
                guess = (s.number, left)
                break
            left -= s.episode_count
        if self.d.numbers_absolutely:
            # the seasons list absolute numbers: find the one that lists this one
            start = guess[0] if guess else self.regular[-1].number
            numbers = [s.number for s in self.regular]
            i = numbers.index(start) if start in numbers else len(numbers) - 1
            for k in (i, i + 1, i - 1, i + 2, i - 2):
                if 0 <= k < len(numbers) and any(
                    e.number == episode for e in self.episodes(numbers[k]) or ()
                ):
                    return Placement(numbers[k], episode)
            return Placement(None, episode, doubt=f"no season of {show} lists episode {episode}")
        if guess is not None:
            return Placement(*guess)
        known = sum(s.episode_count or 0 for s in self.regular)
        return Placement(
            None, episode, doubt=f"episode {episode} is past the {known} episodes TMDB counts for {show}"
        )
