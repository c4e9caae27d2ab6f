"""Title passes of the parser: cleaning the title, the markers inside it (season, kind, year), and what
the folders around a file say."""

from __future__ import annotations

import re
from collections.abc import Sequence

from anivault.parsing import rules as R
from anivault.parsing.draft import (
    _DELIMS,
    _FOLDER_KINDS,
    _FOLDER_SEASON,
    _HYPHEN_JOINED,
    _KIND_INSIDE,
    _LEADING_NUMBER_TITLE,
    _LETTERED_EPISODE,
    _PADDED_INNER_NUMBER,
    _PAREN_YEAR,
    _SEASON_NEXT,
    _TAG_WORDS,
    _TITLE_EDGES,
    _TITLE_RANGE,
    _TRAILING_TAGS,
    _Draft,
    _episode_valid,
    _flat,
    _raw_number,
)
from anivault.title_key import normalize_title

_PART_ONLY = re.compile(r"(?:Part|Cour)[ ._]?(\d{1,2})", re.I)


def _clean_title(d: _Draft, text: str) -> None:
    title = d.title
    if title is None:
        return
    # An episode marker anitopy left inside the title ("Show S01E05 Name", "呪術廻戦 01話").
    found = R.find_title_episode(title)
    if found is not None:
        start, end, episode, episode_end, season, rule = found
        if not _episode_valid(d):
            d.episode, d.episode_end, d.episode_decimal = episode, episode_end, None
        if season is not None and d.season is None:
            d.season = season
        rest = title[end:].strip(" -._")
        if rest and not d.episode_title and R.has_letter(rest):
            d.episode_title = rest
        title = title[:start]
        d.fire(rule)
    # "Show - 05v2" / "Show - 04.1" left unsplit.
    if not _episode_valid(d):
        dash = R.find_dash_episode(title)
        if dash is not None and dash.start() > 0 and R.has_letter(title[: dash.start()]):
            _apply_dash(d, dash)
            rest = title[dash.end() :].strip(" -._")
            if rest and not d.episode_title and R.has_letter(rest):
                d.episode_title = rest
            title = title[: dash.start()]
            d.fire("dash_episode")
    # "01 - Show Name": the number first.
    lead = _LEADING_NUMBER_TITLE.match(title)
    if lead and not _episode_valid(d) and R.has_letter(title[lead.end() :]):
        d.episode = int(lead.group(1))
        title = title[lead.end() :]
        d.fire("leading_episode")
    # "The Show 08 A Story": a zero-padded number between words is an episode, then its title.
    if not _episode_valid(d):
        inner = _PADDED_INNER_NUMBER.search(title)
        if inner:
            d.episode = int(inner.group(1))
            rest = title[inner.end() :].strip(" -._")
            if rest and not d.episode_title:
                d.episode_title = rest
            title = title[: inner.start()]
            d.fire("padded_inner_episode")
    # "Show-01", "Show-ep1", "Show - 1009v2" glued at the end.
    if not _episode_valid(d):
        glued = R.glued_episode(title)
        if glued is not None:
            d.episode, version, start = glued
            if version is not None:
                d.version = version
            title = title[:start]
            d.fire("glued_episode")
    # "Show - 12 (S01E12)": anitopy took the episode from elsewhere and left " - 12" in the title.
    has_digit = R.DIGIT.search(title) is not None
    if d.episode is not None and has_digit:
        dash = R.find_dash_episode(title)
        if (
            dash is not None
            and dash.end() == len(title)
            and int(dash.group(1)) == d.episode
            and R.has_letter(title[: dash.start()])
        ):
            title = title[: dash.start()]
            d.fire("dash_episode")
    # "Show 1017-1088", "Show (01-24)": a trailing range is episodes, not title.
    if has_digit and (not _episode_valid(d) or d.episode_end is None):
        tail = _TITLE_RANGE.search(title)
        if tail and int(tail.group(1)) < int(tail.group(2)) and R.has_letter(title[: tail.start()]):
            first, last = int(tail.group(1)), int(tail.group(2))
            if not _episode_valid(d) or d.episode in (first, last):
                d.episode, d.episode_end, d.episode_decimal = first, last, None
                title = title[: tail.start()]
                d.fire("episode_range")
    # "Accel World - EX01", "Show - SP02": a lettered episode; the letters stay with the title
    # (anitomy's convention), the number is the episode.
    if not _episode_valid(d):
        lettered = _LETTERED_EPISODE.search(title)
        if lettered and R.has_letter(title[: lettered.start()]):
            d.episode = int(lettered.group(2))
            title = title[: lettered.end(1)]
            word = lettered.group(1).lower()
            if d.kind in (None, "tv") and word in R.KIND_WORDS:
                d.kind = R.KIND_WORDS[word]
            d.fire("lettered_episode")
    # "Detective-Conan-656 Episode Title": hyphen-joined words, then the number.
    if not _episode_valid(d):
        joined = _HYPHEN_JOINED.match(title)
        if joined:
            d.episode = int(joined.group(2))
            rest = title[joined.end() :].strip(" -._")
            if rest and not d.episode_title:
                d.episode_title = rest
            title = joined.group(1).replace("-", " ")
            d.fire("hyphen_joined_episode")
    # "Mobile Series 00 S1": a number right before a season marker belongs to the title.
    raw_number = _raw_number(d)
    if d.episode is not None and raw_number and d.episode_end is None:
        flat = _flat(d, text)
        probe = f"{title} {raw_number} "
        at = flat.find(probe)
        if at >= 0 and _SEASON_NEXT.match(flat, at + len(probe)):
            title = f"{title} {raw_number}"
            d.episode = None
            d.fire("number_before_season")
    d.title = title
    _title_markers(d)
    # "One Piece Movie 9", "劇場版 呪術廻戦 0": for films an unmarked number is part of the name.
    raw_number = _raw_number(d)
    if (
        d.kind == "movie"
        and d.episode is not None
        and raw_number
        and d.episode_end is None
        and d.title
        and f"{d.title} {raw_number}" in _flat(d, text)
    ):
        d.title = f"{d.title} {raw_number}"
        d.episode = None
        d.fire("movie_number")


def _apply_dash(d: _Draft, dash: re.Match[str]) -> None:
    number, decimal, version, last = dash.group(1), dash.group(2), dash.group(3), dash.group(4)
    if decimal:
        d.episode, d.episode_decimal = None, f"{int(number)}.{decimal}"
    else:
        d.episode, d.episode_decimal = int(number), None
    d.episode_end = int(last) if last and d.episode is not None and int(last) > d.episode else None
    if version:
        d.version = int(version)


def _title_markers(d: _Draft) -> None:
    """Season, kind and year markers inside the title come out of it into their fields."""
    title = d.title
    if not title:
        return
    if d.kind in ("special", "ova", "ona") and R.kind_marker(title) is None and _KIND_INSIDE.search(title):
        # anitopy reads "Special" in "Show With Special Guests" as a type; mid-title it is a word
        d.kind = "tv"
        d.fire("kind_word_in_title")
    for _ in range(3):  # "Show 2nd Season OVA (2019)": a few markers may stack at the end
        changed = False
        marker = R.kind_marker(title)
        if marker is not None:
            kind, start, end, cut = marker
            if d.kind in (None, "tv"):
                d.kind = kind
                d.fire("kind_marker")
            if cut:
                rest = title[end:]
                title = title[:start]
                dash = R.DASH_AFTER.search(rest)
                if dash is not None and not d.episode_title:
                    d.episode_title = rest[dash.end() :].strip(" -._") or None
                changed = True
        if R.movie_marker(title) is not None and d.kind in (None, "tv"):
            d.kind = "movie"
            d.fire("movie_marker")
        cjk = None if title.isascii() else R.cjk_kind(title)
        if cjk is not None:
            word = cjk.group(1)
            kind = (
                "movie"
                if word in ("劇場版", "剧场版", "극장판")
                else "ova"
                if word in ("OVA", "OAD")
                else "special"
            )
            if d.kind in (None, "tv"):
                d.kind = kind
                d.fire("kind_marker")
            rest = (title[: cjk.start()] + " " + title[cjk.end() :]).strip(" -:._")
            if R.has_letter(rest):
                title = rest
                changed = True
        season = R.find_season(title)
        # "Movie Part 1" is the first film of two, not a season
        if season is not None and not (season[3] == "season_part" and d.kind == "movie"):
            value, start, end, rule = season
            rest = (title[:start] + " " + title[end:]).strip(" -:._")
            if R.has_letter(rest):
                if rule == "season_part":
                    d.part = d.part or value  # a split season's half, not a season of its own
                else:
                    d.season = value
                title = rest  # the marker goes, the words around it stay
                d.fire(rule)
                changed = True
        year = R.title_year(title) if title[-1:].isdigit() or title.endswith(")") else None
        if year is not None:
            value, start = year
            if R.has_letter(title[:start]):
                d.year = d.year or value
                title = title[:start]
                d.fire("title_year")
                changed = True
        last_word = title.rsplit(" ", 1)[-1].lower()
        tags = _TRAILING_TAGS.search(title) if last_word in _TAG_WORDS else None
        if tags is not None and R.has_letter(title[: tags.start()]):
            title = title[: tags.start()]
            d.fire("trailing_tags")
            changed = True
        stripped = R.strip_tv_tag(title) if title.endswith(")") else title
        if stripped != title and R.has_letter(stripped):
            title = stripped
            d.fire("tv_tag")
            changed = True
        title = title.strip(" -:._~")
        if not changed:
            break
    alt = R.split_alt_titles(title)
    if alt != title:
        title = alt
        d.fire("alt_title")
        # markers may sit on the kept side only now that the other script is gone
        season = R.find_season(title)
        if season is not None and season[3] == "season_part":
            d.part = d.part or season[0]
        elif season is not None and d.season is None:
            d.season = season[0]
    if d.season is None and title[-1:] in ("I", "V", "X"):
        roman = R.trailing_roman(title)
        if roman is not None:
            d.season = roman
            d.fire("roman_season")
    d.title = title.strip(" -:._~")


def _folder_context(d: _Draft, folders: Sequence[str]) -> None:
    """``Show/Season 2/03.mkv``, ``Show (2019)/S01/...``: folders fill what the name lacks."""
    if not folders:
        return
    names = [R.unprintable_to_space(f).strip() for f in folders if isinstance(f, str) and f.strip()]
    for folder in reversed(names[-3:]):
        season = _folder_season(folder)
        if season is not None:
            if d.season is None:
                d.season = season
                d.fire("folder_season")
            continue
        low = folder.lower()
        if low in _FOLDER_KINDS:
            if d.kind in (None, "tv"):
                d.kind = _FOLDER_KINDS[low]
                d.fire("folder_kind")
            if d.season is None and low in ("specials", "special"):
                d.season = 0  # media-server convention: Show/Specials is season 0
            continue
        if d.title is None or not R.has_letter(d.title):
            if d.title and d.title.isdigit() and not _episode_valid(d):
                # "[Group] 05 [1080p].mkv" inside the show's folder: the number is the episode
                d.episode = int(d.title)
                d.fire("number_is_episode")
            folder_draft = _Draft(title=_DELIMS.sub(" ", R.preprocess(folder)[0]))
            _fix_folder_title(folder_draft)
            if folder_draft.title:
                d.title = folder_draft.title
                if d.season is None and folder_draft.season is not None:
                    d.season = folder_draft.season
                if d.year is None and folder_draft.year is not None:
                    d.year = folder_draft.year
                d.fire("folder_title")
        elif d.season is None or d.part is None or d.year is None:
            # "Made in Abyss S2/Made in Abyss - 03.mkv": the show's folder says what the name leaves out
            folder_draft = _Draft(title=_DELIMS.sub(" ", R.preprocess(folder)[0]))
            _fix_folder_title(folder_draft)
            if folder_draft.title and normalize_title(folder_draft.title) == normalize_title(d.title):
                if d.season is None and folder_draft.season is not None:
                    d.season = folder_draft.season
                    d.fire("folder_season")
                if d.part is None and folder_draft.part is not None:
                    d.part = folder_draft.part
                    d.fire("folder_season")
                if d.year is None and folder_draft.year is not None:
                    d.year = folder_draft.year  # "Berserk (1997)/Season 01/Berserk - S01E02.mkv"
                    d.fire("folder_year")
        break


def _folder_season(folder: str) -> int | None:
    """ "Season 2", "S01", "2nd Season", "第2期", "2기", "시즌 2": a folder that is only a season."""
    match = _FOLDER_SEASON.match(folder)
    if match is not None:
        return int(match.group(1) or match.group(2))
    found = R.find_season(folder)
    if found is None:
        return None
    value, start, end, _ = found
    rest = folder[:start] + folder[end:]
    return None if R.has_letter(rest) else value


def _fix_folder_title(d: _Draft) -> None:
    title = d.title or ""
    # A folder is usually "[Group] Show (2019) [1080p]": drop bracketed tags, keep the words.
    tokens = R.bracket_tokens(title)
    if tokens:
        body = R.BRACKET_TOKEN.sub(" ", title).strip()
        if R.has_letter(body):
            title = body
        else:
            keep = [t for t, _, _ in tokens if not R.is_noise_token(t)]
            title = keep[-1] if keep else title
    title = _PAREN_YEAR.sub(r" \1", title)
    d.title = _DELIMS.sub(" ", title).strip()
    _title_markers(d)


def _finish_title(d: _Draft) -> None:
    part = _PART_ONLY.fullmatch(d.episode_title.strip()) if d.episode_title else None
    if part is not None and d.kind != "movie":
        # "Show S2 Part 2 - 03": the part marker, read as an episode title
        d.part = d.part or int(part.group(1))
        d.episode_title = None
        d.fire("part_marker")
    if d.episode_title and all(
        w in _TAG_WORDS or R.is_noise_token(w) for w in d.episode_title.lower().split()
    ):
        d.episode_title = None  # "Show.E05.1080p.WEB": a release tag, not an episode title
    if d.title is None:
        return
    title = _TITLE_EDGES.sub("", _DELIMS.sub(" ", d.title))
    d.title = title or None
    if d.episode_title is not None:
        d.episode_title = _TITLE_EDGES.sub("", d.episode_title) or None
