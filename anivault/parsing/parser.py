"""parse_name: anitopy first, then general rules for the conventions it misses."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from anivault.parsing import anitopy_safe
from anivault.parsing import rules as R
from anivault.parsing.model import KINDS, ParsedName
from anivault.title_key import normalize_title

# Real file names are at most 255 bytes; anything longer is not a name, and anitopy's time grows
# with length, so the parse is capped to keep its time bounded on hostile input.
MAX_NAME_CHARS = 400

# The extension is split off (and recognised) before anitopy sees the name.
_ANITOPY_OPTIONS = {"parse_file_extension": False}
# anitopy keeps its tokens and elements in module-level globals, so two threads parsing at once would
# mix their results; the lock costs nothing uncontended (the indexer uses processes, not threads).
_ANITOPY_LOCK = threading.Lock()
_EPISODE_TOKEN = re.compile(r"^(\d{1,4})(?:\.(\d{1,2}))?$")
_PAREN_TOKEN = re.compile(r"\([^()]*\)")
_DELIMS = re.compile(r"[ _]+")
_DELIMS_DOTS = re.compile(r"[ _.]+")
_LEADING_NUMBER_TITLE = re.compile(r"^(\d{1,4})[ ]+-[ ]+(?=\S)")
_PADDED_INNER_NUMBER = re.compile(r"(?<=[A-Za-z!?]) (0[1-9]|0\d[1-9])[ .](?=[A-Za-z])")
_RESOLUTION = re.compile(r"(?<![\w.])(2160|1080|720|576|480|4K|2K|UHD)(?:[pi])?(?![\w]|\.\d)", re.I)
_ABSOLUTE_BESIDE = re.compile(
    # before the relative number only in the NxNN form: "Show 100 S01E03" is a title with a number
    r"(?:S\d{1,2}E\d{1,4}|(?<![\d.])\d{1,2}x\d{2,4}) (\d{2,4})(?:$| )|(?<=[^\W\d_] )(\d{2,4}) \d{1,2}x\d{2,4}(?![\w])",
    re.I,
)
_TITLE_RANGE = re.compile(r"[ ]\(?(\d{1,4})[ ]?[-~][ ]?(\d{1,4})\)?$")
_LETTERED_EPISODE = re.compile(r"(?<= - )(EX|SP|OVA|OAD|NCOP|NCED|OP|ED|PV|CM)(\d{1,3})$", re.I)
_HYPHEN_JOINED = re.compile(r"^([^\W\d_]+(?:-[^\W\d_]+)+)-(\d{1,4})(?=$|[ ._])")
# Release tags anitopy sometimes leaves at the end of a title ("Show HD REMASTER").
_TRAILING_TAGS = re.compile(
    r"(?:[ ._](?:HD|SD|Remaster(?:ed)?|Uncensored|Uncut|BD|DVD|BDRip|DVDRip|WEBRip|WEB-DL|HDTV|Remux))+$",
    re.I,
)
_TRAILING_NUMBER = re.compile(r"(?<=[^\d ]) (\d{1,4})(?:v(\d))?$")
_SEASON_NEXT = re.compile(r"S\d|Season ", re.I)
_BATCH = re.compile(r"\bbatch\b", re.I)
_PAREN_YEAR = re.compile(r"\(((?:19|20)\d{2})\)")
_KIND_INSIDE = re.compile(r"[^\W\d_] (?:OVA|OAV|OAD|ONA|Specials?|SP) [^\W\d_]", re.I)
_TAG_WORDS = frozenset(
    "hd sd remaster remastered uncensored uncut bd dvd bdrip dvdrip webrip web-dl hdtv remux web bluray".split()
)
_RANGE_TAIL = re.compile(r"[ ]?[-~][ ]?(?:E|EP)?(\d{1,4})(?![\d.])", re.I)
_BARE_EPISODE = re.compile(
    r"^(?:(?:EP?|Episode|#)[ .]?|第[ ]?)?(\d{1,4})([話话集화]|(?:v(\d)))?(?:[ ]?[-~][ ]?(\d{1,4}))?$", re.I
)
_DOT_DELIM = re.compile(r"(?<=[^\W\d_])\.(?=[^\W_])|(?<=\d)\.(?=[^\W\d_]{2})|(?<=[^\W\d_]{2})\.(?=\d)")
# "(Group, 720p)": the group named first inside the parentheses that carry the resolution.
_PAREN_GROUP = re.compile(r"\(([^(),]{2,40}),[ ]?(?:\d{3,4}p|\d{3,4}x\d{3,4})\)")
_OF_EPISODES = re.compile(r"^\d{1,4}[ _]of[ _]\d{1,4}$", re.I)
# Cheap pre-check before the language-tag test: tags are short runs of letters and separators.
_MAYBE_LANGUAGE = re.compile(r"^[A-Za-z_+&,/. -]{2,30}$")
# Whitespace of any kind (NBSP, ideographic space) and separators at either end of a title.
_TITLE_EDGES = re.compile(r"^[\s\-:._~]+|[\s\-:._~]+$")
_CHECKSUM = re.compile(r"^[0-9A-Fa-f]{8}$")
_EXPLICIT_EPISODE = re.compile(r"^(?:EP?|Episode|#|第)", re.I)
_NUMBER_ONLY = re.compile(r"^\d{1,4}(?:v\d)?$")
_BATCH_PREFIX_NUMBER = re.compile(r" (\d{1,4})$")
_FOLDER_SEASON = re.compile(
    r"^(?:Season|Saison|Staffel|S)[ ._]?(\d{1,2})$|^(\d{1,2})(?:st|nd|rd|th)[ ]Season$", re.I
)
_FOLDER_KINDS = {
    "specials": "special", "special": "special", "extras": "special", "sp": "special", "sps": "special",
    "ova": "ova", "ovas": "ova", "oad": "ova", "movie": "movie", "movies": "movie", "劇場版": "movie",
}  # fmt: skip


@dataclass(slots=True)
class _Draft:
    title: str | None = None
    season: int | None = None
    episode: int | None = None
    episode_end: int | None = None
    episode_decimal: str | None = None
    year: int | None = None
    kind: str | None = None
    release_group: str | None = None
    resolution: str | None = None
    source: str | None = None
    video_terms: tuple[str, ...] = ()
    audio_terms: tuple[str, ...] = ()
    checksum: str | None = None
    version: int | None = None
    languages: tuple[str, ...] = ()
    episode_title: str | None = None
    episode_raw: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    flat_text: str | None = None  # _delimited(text), computed once on first use

    def fire(self, rule: str) -> None:
        if rule not in self.fired:
            self.fired.append(rule)


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


def _raw_number(d: _Draft) -> str | None:
    """anitopy's episode token as written ("05"), when it is a plain number."""
    if d.episode_raw and d.episode_raw[0].isdigit() and d.episode_raw[0].isascii():
        return d.episode_raw[0]
    return None


def _episode_valid(d: _Draft) -> bool:
    return d.episode is not None or d.episode_decimal is not None


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
    candidates = [t for t in before if not R.is_noise_token(t) and R.bracket_episode(t) is None]
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


def _flat(d: _Draft, text: str) -> str:
    if d.flat_text is None:
        d.flat_text = _delimited(text)
    return d.flat_text


def _delimited(text: str) -> str:
    """Words separated by single spaces; '.' counts as a delimiter only between letters."""
    text = _DELIMS.sub(" ", text)
    text = _DOT_DELIM.sub(" ", text)
    return text.strip()


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
                if d.season is None or rule != "season_part":
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
        if season is not None and d.season is None:
            d.season = season[0]
    if d.season is None and title[-1:] in ("I", "V", "X"):
        roman = R.trailing_roman(title)
        if roman is not None:
            d.season = roman
            d.fire("roman_season")
    d.title = title.strip(" -:._~")


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
