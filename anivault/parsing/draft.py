"""The parse in progress (_Draft) and the patterns the parser's passes share."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

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
    part: int | None = None
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


def _raw_number(d: _Draft) -> str | None:
    """anitopy's episode token as written ("05"), when it is a plain number."""
    if d.episode_raw and d.episode_raw[0].isdigit() and d.episode_raw[0].isascii():
        return d.episode_raw[0]
    return None


def _episode_valid(d: _Draft) -> bool:
    return d.episode is not None or d.episode_decimal is not None


def _flat(d: _Draft, text: str) -> str:
    if d.flat_text is None:
        d.flat_text = _delimited(text)
    return d.flat_text


def _delimited(text: str) -> str:
    """Words separated by single spaces; '.' counts as a delimiter only between letters."""
    text = _DELIMS.sub(" ", text)
    text = _DOT_DELIM.sub(" ", text)
    return text.strip()
