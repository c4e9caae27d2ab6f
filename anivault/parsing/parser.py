"""parse_name: anitopy first, then general rules for the conventions it misses."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from anivault.parsing import anitopy_safe
from anivault.parsing import rules as R
from anivault.parsing.draft import (
    _ABSOLUTE_BESIDE,
    _ANITOPY_LOCK,
    _ANITOPY_OPTIONS,
    _BARE_EPISODE,
    _BATCH,
    _BATCH_PREFIX_NUMBER,
    _CHECKSUM,
    _DELIMS,
    _DELIMS_DOTS,
    _DOT_DELIM,
    _EPISODE_TOKEN,
    _EXPLICIT_EPISODE,
    _MAYBE_LANGUAGE,
    _NUMBER_ONLY,
    _OF_EPISODES,
    _PAREN_GROUP,
    _PAREN_TOKEN,
    _RANGE_TAIL,
    _RESOLUTION,
    _TRAILING_NUMBER,
    MAX_NAME_CHARS,
    _delimited,
    _Draft,
    _episode_valid,
    _flat,
    _raw_number,
)
from anivault.parsing.model import KINDS, ParsedName
from anivault.parsing.titles import _apply_dash, _clean_title, _finish_title, _folder_context
from anivault.title_key import normalize_title


def parse_name(name: str, folders: Sequence[str] = ()) -> ParsedName:
    """Parse one file name (with extension); ``folders`` are parent folder names, nearest last.

    Pure and deterministic, and never raises: whatever anitopy or a rule does with a strange name,
    the worst result is an empty parse.
    """
    try:
        return _parse(name, folders)
    except Exception:  # the contract is "never raises"; an empty parse is the honest answer
        return ParsedName(parser="rules", rules=("internal_error",))


def _parse(name: str, folders: Sequence[str]) -> ParsedName:
    if not isinstance(name, str):
        return ParsedName(parser="rules", rules=("not_a_string",))
    clean = R.unprintable_to_space(name)
    # `name` is a file name, never a path: release names do contain '/' between alternative titles
    # ("中文名 / Romaji"), which a file system would not allow but a download list or a caller might.
    clean = clean.strip()[:MAX_NAME_CHARS]
    stem, ext, languages = R.split_extension(clean)
    text, pre_fired = R.preprocess(stem)

    d = _Draft(languages=languages)
    for rule in pre_fired:
        d.fire(rule)
    raw = _run_anitopy(text, ext)
    if raw is None:
        d.fire("anitopy_failed")
        raw = {}
    _from_anitopy(d, raw)
    used_anitopy = bool(raw)

    _fix_release_group(d, text)
    # Layouts first ([Group][Title][01]..., a bare "03.mkv"); otherwise correct anitopy's reading.
    if not _bracket_layout(d, text) and not _bare_episode_name(d, text):
        if d.title is None and not used_anitopy:
            _rules_only_title(d, text)
        _anitopy_misreads(d, text, raw)
        _clean_title(d, text)
    _episode_fixes(d, text)
    _resolution_fallback(d, text)
    _folder_context(d, folders)
    _finish_title(d)

    if d.episode_end is not None and (d.episode is None or d.episode_end <= d.episode):
        d.episode_end = None  # "S0E00000", "05-05": no range
    title = d.title or None
    kind = d.kind if d.kind in KINDS else "tv"
    if not used_anitopy:
        parser = "rules"
    elif d.fired:
        parser = "anitopy+rules"
    else:
        parser = "anitopy"
    return ParsedName(
        title=title,
        title_norm=(normalize_title(title) or None) if title else None,
        season=d.season,
        part=d.part,
        episode=d.episode,
        episode_end=d.episode_end,
        episode_decimal=d.episode_decimal,
        year=d.year,
        kind=kind,
        release_group=d.release_group or None,
        resolution=d.resolution,
        source=d.source,
        video_terms=d.video_terms,
        audio_terms=d.audio_terms,
        checksum=d.checksum,
        version=d.version,
        languages=d.languages,
        episode_title=d.episode_title or None,
        parser=parser,
        rules=tuple(d.fired),
    )


def _run_anitopy(text: str, ext: str | None) -> dict[str, Any] | None:
    if not text.strip():
        return None
    try:
        with _ANITOPY_LOCK:
            result = anitopy_safe.parse(text, _ANITOPY_OPTIONS)
    except Exception:  # anitopy raises on some real names (AttributeError, IndexError, ...)
        return None
    return result if isinstance(result, dict) else None


def _one(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) and value.strip() else None


def _many(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if isinstance(v, str))


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() and len(value) <= 6 else None


def _from_anitopy(d: _Draft, raw: dict[str, Any]) -> None:
    get = raw.get
    d.title = _one(get("anime_title"))
    if "anime_season" in raw:
        d.season = _int(_one(raw["anime_season"]))
    if "anime_year" in raw:
        year = _int(_one(raw["anime_year"]))
        d.year = year if year and 1900 <= year <= 2100 else None
    if "anime_type" in raw:
        anime_type = _one(raw["anime_type"])
        d.kind = R.KIND_WORDS.get(anime_type.lower()) if anime_type else None
    d.release_group = _one(get("release_group"))
    d.resolution = _one(get("video_resolution"))
    d.source = _one(get("source"))
    d.video_terms = _many(get("video_term"))
    d.audio_terms = _many(get("audio_term"))
    if "file_checksum" in raw:
        checksum = _one(raw["file_checksum"])
        d.checksum = checksum.upper() if checksum else None
    if "release_version" in raw:
        d.version = _int(_one(raw["release_version"]))
    d.episode_title = _one(get("episode_title"))
    d.episode_raw = list(_many(get("episode_number")))
    _set_episode_from_raw(d)


def _set_episode_from_raw(d: _Draft) -> None:
    d.episode = d.episode_end = None
    d.episode_decimal = None
    values = d.episode_raw
    if not values:
        return
    first = _EPISODE_TOKEN.match(values[0])
    if not first:
        return
    if first.group(2):
        d.episode_decimal = f"{int(first.group(1))}.{first.group(2)}"
    else:
        d.episode = int(first.group(1))
    if len(values) > 1:
        last = _EPISODE_TOKEN.match(values[-1])
        if last and not last.group(2) and d.episode is not None and int(last.group(1)) > d.episode:
            d.episode_end = int(last.group(1))


def _fix_release_group(d: _Draft, text: str) -> None:
    group = d.release_group
    if group and "_&_" not in group and not _MAYBE_LANGUAGE.match(group):
        return  # the common case: anitopy found a plausible group
    tokens = R.bracket_tokens(text)
    if group and R.is_language_tag(group):
        # "Show_[01_of_24]_[ru_jp]_[Group_&_Friends]": a language tag is not the group; the group
        # is then the last bracket that is neither a tag nor a number.
        later = [t for t, _, _ in tokens if t and not R.is_noise_token(t) and not R.is_language_tag(t)]
        later = [t for t in later if R.bracket_episode(t) is None and not _OF_EPISODES.match(t)]
        d.release_group = later[-1] if later else None
        d.fire("group_not_language")
    group = d.release_group
    if group and "_&_" in group:
        d.release_group = group.replace("_", " ")  # "A_&_B" is two words joined by '&'
        d.fire("group_underscores")
    if d.release_group:
        return
    if tokens and tokens[0][1] == 0:
        token = tokens[0][0]
        after = text[tokens[0][2] :].strip()
        if (
            token
            and not R.is_noise_token(token)
            and R.bracket_episode(token) is None
            and (len(tokens) > 1 or R.has_letter(after))
        ):
            d.release_group = token
            d.fire("leading_bracket_group")
            return
        if token and not R.has_letter(token) and not token.isdigit():
            # a group named only with symbols ("[&]") is still a group
            d.release_group = token
            d.fire("leading_bracket_group")
            return
    paren = _PAREN_GROUP.search(text)
    if paren is not None and not R.is_noise_token(paren.group(1)):
        d.release_group = paren.group(1).strip()
        d.fire("paren_group")
        return
    group = R.scene_group(text)
    if group:
        d.release_group = group
        d.fire("scene_group")


def _bracket_layout(d: _Draft, text: str) -> bool:
    """``[Group][Title][01][1080P][GB]``: titles, episodes and tags each in their own brackets.

    anitopy often picks a tag or the last bracket as the title there; read it by position instead.
    """
    if not text.startswith("[") or text.count("[") < 3:
        return False
    tokens = R.bracket_tokens(text)
    if len(tokens) < 3:
        return False
    # parentheses between the brackets hold alternative titles or tags: "[Title]-(Alt Title)-[Ep.24]"
    outside = R.BRACKET_TOKEN.sub(" ", text)
    if "(" in outside:
        outside = _PAREN_TOKEN.sub(" ", outside)
    outside = _DELIMS_DOTS.sub(" ", outside).strip(" -")
    outside_episode: tuple[int, int | None, int | None] | None = None
    if outside:
        if R.bracket_episode(outside) is not None:
            outside_episode = R.bracket_episode(outside)
        elif any(R.has_letter(w) and not R.is_noise_token(w) for w in _DELIMS.split(outside)):
            return False
    episode_at = None
    episode: tuple[int, int | None, int | None] | None = None
    for index, (token, _, _) in enumerate(tokens):
        if index == 0:
            continue
        parsed = R.bracket_episode(token)
        if parsed is not None and not (1900 <= parsed[0] <= 2100 and parsed[1] is None):
            episode_at, episode = index, parsed
            break
    if episode is None and outside_episode is not None:
        episode = outside_episode
        # the number outside the brackets follows the title: everything before it is candidates
        position = text.find(outside)
        episode_at = sum(1 for _, start, _ in tokens if start < position)
    if episode is None or episode_at is None:
        return False
    before = [t for t, _, _ in tokens[:episode_at]]
    if len(before) == 1 and not R.is_noise_token(before[0]):
        # "[Title][07][720p]...[Group]": one bracket before the episode is the title, not a group;
        # the group, if any, closes the name
        if d.release_group == before[0] or d.release_group is None:
            after = [t for t, _, _ in tokens[episode_at + 1 :]]
            groups = [t for t in after if not R.is_noise_token(t) and not R.is_language_tag(t)]
            groups = [t for t in groups if not _CHECKSUM.match(t)]
            d.release_group = groups[-1] if groups else None
            d.fire("trailing_bracket_group")
    elif d.release_group and before and before[0] == d.release_group:
        before = before[1:]
    elif len(before) > 1:
        if not d.release_group:
            d.release_group = before[0]
        before = before[1:]
    markers = {t for t, _, _ in tokens if _season_token(d, t)}
    candidates = [
        t for t in before if not R.is_noise_token(t) and R.bracket_episode(t) is None and t not in markers
    ]
    if not candidates:
        return False
    latin = [c for c in candidates if R.latin_count(c) >= 2 and not R.has_cjk(c)]
    mixed = [c for c in candidates if R.latin_count(c) >= 2]
    title = latin[0] if latin else mixed[0] if mixed else candidates[-1]
    if " " not in title:
        # "[Anime_Series_Title]", "[Juuni.Kokki]": without spaces, '_' and '.' between words delimit
        title = _DOT_DELIM.sub(" ", title.replace("_", " "))
    d.title = title
    d.episode, d.episode_end, version = episode
    d.episode_decimal = None
    if version is not None:
        d.version = version
    d.fire("bracket_layout")
    _clean_title(d, text)
    return True


def _season_token(d: _Draft, token: str) -> bool:
    """A bracket that holds only a season or part marker ("[第2期]", "[S2]", "[2nd Season]", "[Part 2]"):
    the season (or part) goes to the draft, and the bracket is not a title."""
    found = R.find_season(token)
    if found is None:
        return False
    value, start, end, rule = found
    if R.has_letter(token[:start] + token[end:]):
        return False
    if rule == "season_part":
        d.part = d.part or value
    elif d.season is None:
        d.season = value
    d.fire("bracket_season")
    return True


def _bare_episode_name(d: _Draft, text: str) -> bool:
    """``03.mkv``, ``第03話.mkv``, ``EP03.mkv``, ``[Group] 03 [1080p].mkv``: an episode, no title.

    The title then comes from the folders (``Show/Season 2/03.mkv``).
    """
    if d.title and R.has_letter(d.title) and not _BARE_EPISODE.match(d.title):
        return False  # anitopy found a real title: not a bare episode name
    body = _delimited(R.BRACKET_TOKEN.sub(" ", text)) if "[" in text else _delimited(text)
    match = _BARE_EPISODE.match(body)
    if match is None:
        return False
    # "[Group] 0 [640x360]" may be a show called "0": a bare number after a group stays a title
    # unless something marks it as an episode.
    if "[" in text and not (match.group(2) or _EXPLICIT_EPISODE.match(body)):
        return False
    first = int(match.group(1))
    if 1900 <= first <= 2100 and not match.group(2) and not match.group(3):
        return False
    d.title = None
    d.episode, d.episode_decimal = first, None
    d.episode_end = int(match.group(4)) if match.group(4) and int(match.group(4)) > first else None
    if match.group(3):
        d.version = int(match.group(3))
    d.fire("bare_episode")
    return True


def _anitopy_misreads(d: _Draft, text: str, raw: dict[str, Any]) -> None:
    """Known ways anitopy splits a name in the wrong place, recognised by their shape."""
    title = d.title
    if not title:
        return
    numeric_episode_title = d.episode_title is not None and _NUMBER_ONLY.match(d.episode_title) is not None
    invalid_episode = bool(d.episode_raw) and not _episode_valid(d)
    alt = _one(raw.get("episode_number_alt"))
    unpadded = (
        d.episode is not None
        and d.episode_end is None
        and d.episode_title is not None
        and bool(d.episode_raw)
        and not d.episode_raw[0].startswith("0")
    )
    if not (numeric_episode_title or invalid_episode or alt or unpadded):
        return  # the common case: nothing here applies, skip building the flat text
    flat = _flat(d, text)
    # "Show 3.5 - 04": anitopy takes the number in the title as the episode and the real one (after
    # the dash) as the episode title.
    if numeric_episode_title:
        dash = R.find_dash_episode(flat)
        if dash is not None:
            start = flat.find(title)
            if 0 <= start < dash.start():
                d.title = flat[start : dash.start()].strip()
                _apply_dash(d, dash)
                d.episode_title = None
                d.fire("dash_episode_preferred")
                return
    # anitopy reads "Ver1.1a - 03"/"10b" as episode "1a"/"10b": an invalid number, look for the dash.
    if invalid_episode:
        dash = R.find_dash_episode(flat)
        start = flat.find(title)
        if dash is not None and 0 <= start < dash.start():
            d.title = flat[start : dash.start()].strip()
            _apply_dash(d, dash)
            d.fire("dash_episode_preferred")
            return
    # "Series Title 2 [01]": the number before the bracketed episode belongs to the title.
    if alt and alt.isdigit() and d.episode is not None and f"{title} {alt} " in flat + " ":
        position = flat.find(f"{title} {alt} ")
        if position >= 0 and flat.find(str(d.episode_raw[0]) if d.episode_raw else "\0", position) > position:
            d.title = f"{title} {alt}"
            d.fire("title_number")
            return
    # "Byousoku 5 Centimeter": an unpadded number between words, with no marker, is part of the name.
    if unpadded and f"{title} {d.episode_raw[0]} {d.episode_title}" in flat:
        d.title = f"{title} {d.episode_raw[0]} {d.episode_title}"
        d.episode = None
        d.episode_title = None
        d.fire("number_in_title")


def _rules_only_title(d: _Draft, text: str) -> None:
    """anitopy gave nothing: the title is the text after the leading [Group], without brackets."""
    body = text
    tokens = R.bracket_tokens(text)
    if tokens and tokens[0][1] == 0:
        body = text[tokens[0][2] :]
    body = R.BRACKET_TOKEN.sub(" ", body)
    body = _DELIMS.sub(" ", body).strip()
    if not body:
        return
    d.title = body
    d.fire("rules_title")
    match = _TRAILING_NUMBER.search(body)
    if match and not _episode_valid(d):
        d.episode = int(match.group(1))
        if match.group(2):
            d.version = int(match.group(2))
        d.title = body[: match.start()]
        d.fire("trailing_number_episode")


def _episode_fixes(d: _Draft, text: str) -> None:
    body = _PAREN_TOKEN.sub(" ", text) if "(" in text else text
    # An explicit SxxEyy anywhere settles season and, if no plain number was read, the episode.
    if d.season is None or not _episode_valid(d):
        sxe = R.SXXEYY.search(text)
        if sxe is not None:
            if d.season is None:
                d.season = int(sxe.group(1))
                d.fire("sxxeyy")
            if d.episode is None:
                d.episode, d.episode_decimal = int(sxe.group(2)), None
                d.fire("sxxeyy")
    # "Show S10E14 214" / "Show 214 10x14": an absolute number beside a season-relative one wins,
    # the way absolute-numbered anime is catalogued.
    absolute = _ABSOLUTE_BESIDE.search(_flat(d, text)) if d.season is not None else None
    if absolute is not None:
        number = int(absolute.group(1) or absolute.group(2))
        if d.episode is not None and number > d.episode:
            d.episode, d.episode_end = number, None
            if d.title and d.title.endswith(f" {number}"):
                d.title = d.title[: -len(str(number)) - 1]
            d.fire("absolute_episode")
    # "Show 01 - 119 [Batch]": the title swallowed the first number of a batch range.
    if d.episode is not None and d.episode_end is None and d.title and _BATCH.search(text):
        tail = _BATCH_PREFIX_NUMBER.search(d.title)
        if tail and int(tail.group(1)) < d.episode and R.has_letter(d.title[: tail.start()]):
            d.episode, d.episode_end = int(tail.group(1)), d.episode
            d.title = d.title[: tail.start()]
            d.fire("batch_range")
    raw_number = _raw_number(d)
    if d.episode is not None and d.episode_end is None and raw_number:
        # "01 ~ 10" / "01-24": anitopy keeps the first number only.
        at = body.find(raw_number)
        while at >= 0:  # ends: each find starts past the previous hit, and raw_number is not empty
            end = at + len(raw_number)
            match = _RANGE_TAIL.match(body, end)
            if match and (at == 0 or not body[at - 1].isdigit()):
                if int(match.group(1)) > d.episode and not _looks_like_resolution(body, match):
                    d.episode_end = int(match.group(1))
                    d.fire("episode_range")
                break
            at = body.find(raw_number, end)
    if not _episode_valid(d):
        _search_episode(d, text)
    if not _episode_valid(d):
        found = R.find_range(body)
        if found is not None and d.title:
            first, last, _, _ = found
            if not (1900 <= first <= 2100 and 1900 <= last <= 2100):
                d.episode, d.episode_end = first, last
                d.fire("episode_range")
    if d.episode_decimal is not None and d.kind in (None, "tv"):
        d.kind = "special"


def _search_episode(d: _Draft, text: str) -> None:
    """No usable episode yet: look for an explicit marker anywhere after the title."""
    flat = _flat(d, text)
    start = flat.find(d.title) + len(d.title) if d.title and d.title in flat else 0
    rest = flat[start:]
    found = R.find_title_episode(" " + rest)
    if found is not None:
        _, _, episode, episode_end, season, rule = found
        d.episode, d.episode_end, d.episode_decimal = episode, episode_end, None
        if season is not None and d.season is None:
            d.season = season
        d.fire(rule)


def _resolution_fallback(d: _Draft, text: str) -> None:
    """ "[BD-1080]", "_1080.BD", "[4K]": resolutions anitopy only knows with a 'p' or as WxH."""
    if d.resolution is not None:
        return
    for match in _RESOLUTION.finditer(text):
        value = match.group(1)
        if value.isdigit() and (int(value) == d.episode or int(value) == d.episode_end):
            continue
        d.resolution = value
        d.fire("resolution")
        return


def _looks_like_resolution(body: str, match: re.Match[str]) -> bool:
    return body[match.end() : match.end() + 1] in ("p", "P", "x")
