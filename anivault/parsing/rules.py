"""General fallback rules for what anitopy misses.

Every pattern here describes a naming *convention* (a marker, a bracket layout, a script mix), never a
particular show or file. Patterns are compiled once at import and written without nested quantifiers,
so a hostile name cannot make them backtrack for long.
"""

from __future__ import annotations

import re

from anivault.media import SUBTITLE_EXTENSIONS, VIDEO_EXTENSIONS

# --- character classes -------------------------------------------------------------------------

# Han, kana, Hangul (and their compatibility/half-width forms): the scripts of the CJK naming styles.
CJK_CLASS = (
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
)
_CJK = re.compile(f"[{CJK_CLASS}]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_HAS_LETTER = re.compile(r"[^\W\d_]")

# Control characters and lone surrogates: never part of a real name, and they upset anitopy.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# --- file name envelope -------------------------------------------------------------------------

# The indexer's lists (anivault.media): a name is parsed exactly when the index keeps its file.
OTHER_EXTENSIONS = frozenset("mka aac flac mp3 nfo jpg png torrent 7z rar zip".split())
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{2,7})$")

# Subtitle companions carry language tags before the extension: name.en.ass, name.zh-Hans.ass,
# name.jpn.forced.srt. Flags such as 'forced' are peeled off too but not reported as languages.
_LANGUAGE_TAG = re.compile(r"\.([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})?|[A-Za-z]{4,7})$")
SUBTITLE_LANGUAGES = frozenset(
    """
    ar cs da de el en es fi fr he hi hu id it ja jp ko ms nl no pl pt ro ru sv th tr uk vi zh
    ara chi cze dan deu dut ell eng esp fin fra fre ger gre heb hin hun ind ita jap jpn kor may
    nld nor pol por rum rus spa swe tha tur ukr vie zho
    chs cht sc tc gb big5 cn tw hk
    """.split()
)
_LANGUAGE_SPLIT = re.compile(r"[ _+&,/.-]+")
_LANGUAGE_WORDS = frozenset("english japanese vostfr vost multi sub subs dub sub.fr multisub".split())
_SUBTITLE_FLAGS = frozenset("forced default sdh cc hi full signs songs".split())

# --- markers ---------------------------------------------------------------------------------------

_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
}  # fmt: skip
_CJK_NUMERALS = {
    "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
    "壱": 1, "弐": 2, "参": 3,
}  # fmt: skip
_ROMAN = {"ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}

# Season markers, each with the group that holds the number. Order matters: the first match wins.
SEASON_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("season_s", re.compile(r"(?<![A-Za-z0-9])S(\d{1,2})(?![A-Za-z0-9])", re.I)),
    ("season_word", re.compile(r"(?<![A-Za-z])(?:Season|Saison|Temporada)[ ._]?(\d{1,2})(?!\d)", re.I)),
    ("season_ordinal", re.compile(r"(?<![A-Za-z0-9])(\d{1,2})(?:st|nd|rd|th)[ ._]Season(?![A-Za-z])", re.I)),
    (
        "season_ordinal_word",
        re.compile(
            r"(?<![A-Za-z])(First|Second|Third|Fourth|Fifth|Sixth|Seventh|Eighth|Ninth|Tenth)"
            r"[ ._]Season(?![A-Za-z])",
            re.I,
        ),
    ),
    ("season_part", re.compile(r"(?<![A-Za-z])(?:Part|Cour)[ ._]?(\d{1,2})(?![\d.])", re.I)),
    (
        "season_part",
        re.compile(r"(?<![A-Za-z0-9])(\d{1,2})(?:st|nd|rd|th)[ ._](?:Part|Cour)(?![A-Za-z])", re.I),
    ),
    ("season_part", re.compile(r"第?[ ]?([0-9一二三四五六七八九]{1,2})[ ]?クール")),
    ("season_cjk", re.compile(r"第?[ ]?([0-9一二三四五六七八九十]{1,3})[ ]?(?:[期季]|シリーズ)(?![0-9])")),
    ("season_korean", re.compile(r"(?<![0-9])(\d{1,2})[ ]?기(?![가-힣])")),
    ("season_korean_word", re.compile(r"시즌[ ]?(\d{1,2})")),
)
# A roman numeral closing a title ("Overlord II") says season too; the title keeps it, because the
# numeral is usually part of the official name.
_CJK_SEASON_RULES = frozenset({"season_cjk", "season_korean", "season_korean_word"})
DIGIT = re.compile(r"\d")
# Single letters (V, X) are left out: "Triage X", "Gundam X" are titles, not tenth seasons.
_TRAILING_ROMAN = re.compile(r"(?<=[A-Za-z0-9!?.]) (II|III|IV|VI|VII|VIII|IX)$")

# Episode markers that are unambiguous wherever they appear.
SXXEYY = re.compile(
    r"(?<![A-Za-z0-9])S(\d{1,2})[ ._]?E(\d{1,4})(?:v(\d))?(?:[-~]?E?(\d{1,4}))?(?![A-Za-z0-9])", re.I
)
_NXNN = re.compile(r"(?<![A-Za-z0-9.])(\d{1,2})x(\d{2,4})(?![A-Za-z0-9])")
_CJK_EPISODE = re.compile(r"第?[ ]?(\d{1,4}(?:\.\d)?)[ ]?(?:[話话集回]|화)(?:[ ]?END|完)?")
_CJK_EPISODE_PREFIXED = re.compile(f"第[ ]?(\\d{{1,4}})(?![\\d{CJK_CLASS}])")
_EP_WORD = re.compile(
    # a bare "E" only glued to its number ("E05"), never after a dot: "C.E.73" is no episode
    r"(?:(?<![A-Za-z])(?:Episodes?|Episodio|Episódio|Épisode|Capitulo|Capítulo|Folge|Eps?)[ ._#]{0,2}"
    r"|(?<![A-Za-z.])E)(\d{1,4})(?:v(\d))?(?:[ ]?[-~][ ]?(?:E|EP)?(\d{1,4}))?(?![A-Za-z0-9])",
    re.I,
)
_EP_WORD_AFTER = re.compile(r"(?<![0-9.])(\d{1,4})\.?[ ](?:Bölüm|Bolum|Serie|Серия)(?![A-Za-z])", re.I)
_HASH_EPISODE = re.compile(r"#[ ]?(\d{1,4})(?![0-9])")
# "Title - 05", "Title - 05v2", "Title - 05.5", "Title - 01 ~ 10": the dash separator of fansub names.
_DASH_EPISODE = re.compile(
    r"(?:^|[ _.])[-–~][ _.]?(\d{1,4})(?:\.(\d))?(?:v(\d))?(?:[ ]?[-~][ ]?(\d{1,4}))?"
    r"(?:[ _.]?(?:END|Fin|Final|完))?(?=$|[ _.\[(【-])",
    re.I,
)
# A bare episode range "1017-1088" or "(01-24)".
_RANGE = re.compile(r"(?<![\w.])\(?(\d{1,4})[ ]?[-~][ ]?(\d{1,4})\)?(?![\w.])")
_GLUED_EPISODE = re.compile(r"(?:(?<=[^\W\d_])-|[ _-]ep?[ ]?)(\d{1,4})(?:v(\d))?$", re.I)

_YEAR_IN_TITLE = re.compile(r"(?:^|[ ._])\(?((?:19|20)\d{2})\)?$")
_TV_TAG = re.compile(r"[ ._]?\((?:TV|Tv|tv)\)$")

# Kind markers. OVA/OAD/ONA/specials cut the title (what follows is an episode title); movie markers
# are removed as words and the rest of the title stays (it names the film).
KIND_WORDS = {
    "ova": "ova", "oav": "ova", "oad": "ova", "ona": "ona",
    "sp": "special", "special": "special", "specials": "special", "sps": "special",
    "ncop": "special", "nced": "special", "op": "special", "ed": "special", "pv": "special",
    "preview": "special", "trailer": "special", "cm": "special", "menu": "special",
    "opening": "special", "ending": "special", "recap": "special",
    "movie": "movie", "gekijouban": "movie", "the movie": "movie", "film": "movie",
    "tv": "tv",
}  # fmt: skip
# A kind word counts only where it closes the title, is numbered ("OVA2") or is followed by " - "
# and an episode title: "Another Anime With Special Naming" is not a special.
_KIND_MARKER = re.compile(
    r"(?<![A-Za-z0-9])(OVA|OAV|OAD|ONA|Specials?|SP|NCOP|NCED)(\d{1,3}(?:\.\d)?)?"
    r"(?=$|[ ._]*-[ ._]*\S|[ ._]?v\d$)",
    re.I,
)
DASH_AFTER = re.compile(r"^[ ._]*-[ ._]*(?=\S)")
_KIND_MOVIE = re.compile(r"(?<![A-Za-z])(?:Movie|Gekijouban)(?![A-Za-z])", re.I)
_KIND_CJK = re.compile(r"(劇場版|剧场版|극장판|총집편|特別編|特别篇|特典)")

# Bracket layout used by Chinese and many Japanese groups: [Group][Title][01][1080P]...
BRACKET_TOKEN = re.compile(r"\[([^\[\]]*)\]")
_FULLWIDTH = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        # every other kind of space is a plain space to anitopy's tokenizer
        **{
            c: " "
            for c in "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f"
        },
        "（": "(",
        "）": ")",
        "［": "[",
        "］": "]",
        "\u3000": " ",
    }
)
_CJK_BRACKETS = str.maketrans({"【": "[", "】": "]", "〖": "[", "〗": "]", "〔": "[", "〕": "]"})
# "★10月新番★" (new this season), "[国漫]" (category) and similar announcement tags are noise.
# Stars between words are part of a title ("Madoka☆Magica"); at an edge they decorate a tag.
_ANNOUNCEMENT = re.compile(r"★?[ ]?\d{1,2}月(?:新番|番组)[ ]?★?|新番|(?<![^\W_])[★☆]|[★☆](?![^\W_])")
_BRACKET_EPISODE = re.compile(
    r"^(?:第[ ]?|EP?[ .]?|Episode[ .]?)?(\d{1,4})(?:v(\d))?(?:[ ]?[-~][ ]?(\d{1,4}))?[ ]?(?:TV)?(?:[話话集화]|END|Fin|Final|完|全集)?"
    r"(?:[ ]?\(?(?:END|Fin|完)\)?)?$",
    re.I,
)
_NOISE_WORDS = frozenset(
    """
    gb big5 chs cht cn jp jap eng sc tc mp4 mkv avi webrip web-rip web-dl webdl web hdtv bdrip bd
    bluray blu-ray dvd dvdrip x264 x265 h264 h265 hevc avc aac flac ac3 10bit 8bit hi10p raw
    batch end fin final complete v2 v3 tv tvrip baha viutv bilibili b-global cr nf amzn
    """.split()
)
_NOISE_PATTERN = re.compile(
    r"\d{3,4}[pPiI]|\d{3,4}x\d{3,4}|x26[45]|[hH]\.?26[45]|HEVC|AVC|AAC|FLAC|MP4|MKV|WEB|"
    r"字幕|简|繁|簡|體|体|外挂|内封|內封|内嵌|招募|双语|雙語|中文|国漫|國漫|日语|日語|招|合集|"
    r"^(?:19|20)\d{2}$|^\d{1,2}月$",
    re.I,
)

# Leading junk before the first [Group] tag: a bare number, or a single dotted tag ("site.").
_LEADING_JUNK = re.compile(r"^(?:\d{1,4}[ _]+|[A-Za-z0-9]{2,15}\.)(?=\[)")
# "Show - 01 (1).mkv": the copy counter a browser or file manager appends to a duplicate download.
# Only after another number ("Show 10 (1)"): "Show (9)" alone may well be episode 9.
_COPY_SUFFIX = re.compile(r"(?<=\d) \(\d\)$")
_LEADING_QUOTE = re.compile(r"^[「『]([^「」『』]{1,120})[」』][ ]*(?=\S)")
_TRAILING_DASH_RUN = re.compile(r"[ _.&+,|\u2010-\u2015-]+$")
_DASHES = re.compile(r"[\u2010-\u2015-]")
_DOUBLE_BRACKET = re.compile(r"^\[\[+")
_SCENE_GROUP = re.compile(
    r"(?:x26[45]|[hH]\.?26[45]|HEVC|AVC|XviD|\d{3,4}p|WEB-?DL|BluRay|HDTV)-([A-Za-z0-9]{2,20})$", re.I
)

# Separators between alternative titles in two scripts: "中文名 / Romaji Name", "中文_Romaji".
_ALT_TITLE_SEP = re.compile(
    r"\s*[/|｜·]\s*|\s+_\s*|\s*_\s+|(?<=[^\x00-\x7f])_(?=[A-Za-z])|(?<=[A-Za-z!?])_(?=[^\x00-\x7f])"
)


def unprintable_to_space(text: str) -> str:
    return _UNPRINTABLE.sub(" ", text)


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def latin_count(text: str) -> int:
    return len(_LATIN_LETTER.findall(text))


def has_letter(text: str) -> bool:
    return _HAS_LETTER.search(text) is not None


def split_extension(name: str) -> tuple[str, str | None, tuple[str, ...]]:
    """``"Show - 01.en.ass"`` -> ``("Show - 01", "ass", ("en",))``. Unknown extensions stay in the stem."""
    match = _EXTENSION.search(name)
    if not match:
        return name, None, ()
    ext = match.group(1).lower()
    if ext not in VIDEO_EXTENSIONS and ext not in SUBTITLE_EXTENSIONS and ext not in OTHER_EXTENSIONS:
        return name, None, ()
    stem = name[: match.start()]
    languages: list[str] = []
    if ext in SUBTITLE_EXTENSIONS:
        for _ in range(3):  # at most lang.flag.flag
            tag = _LANGUAGE_TAG.search(stem)
            if not tag:
                break
            value = tag.group(1).lower()
            base = value.replace("_", "-").split("-")[0]
            if value in _SUBTITLE_FLAGS:
                stem = stem[: tag.start()]
            elif base in SUBTITLE_LANGUAGES:
                # the language in lower case, script/region subtags as written ("zh-Hans", "pt-BR")
                tag_text = tag.group(1).replace("_", "-")
                languages.insert(0, base + tag_text[len(base) :])
                stem = stem[: tag.start()]
            else:
                break
    return stem, ext, tuple(languages)


def preprocess(stem: str) -> tuple[str, list[str]]:
    """Rewrite conventions anitopy does not know into ones it does. Returns the text and rules fired."""
    fired: list[str] = []
    # Only full-width digits, brackets and spaces are folded: NFKC on everything would also rewrite
    # release groups ("字幕社＆组"), which are compared verbatim.
    text = stem
    ascii_only = text.isascii()
    if not ascii_only:
        text = stem.translate(_FULLWIDTH)
        if text != stem:
            fired.append("fullwidth")
        text = text.strip()
        bracketed = text.translate(_CJK_BRACKETS)
        if bracketed != text:
            fired.append("cjk_brackets")
            text = bracketed
    if not ascii_only and ("★" in text or "☆" in text or "新番" in text):
        cleaned = _ANNOUNCEMENT.sub(" ", text).strip()
        if cleaned != text:
            fired.append("announcement_tag")
            text = cleaned
    quoted = None if ascii_only else _LEADING_QUOTE.match(text)
    if quoted:
        # 「Title」 at the start quotes the title (elsewhere 「」 quote an episode title)
        text = quoted.group(1) + " " + text[quoted.end() :]
        fired.append("quoted_title")
    copy = _COPY_SUFFIX.search(text) if text.endswith(")") else None
    if copy and copy.start() > 0:
        text = text[: copy.start()]
        fired.append("copy_suffix")
    if text.startswith("[["):
        text = _DOUBLE_BRACKET.sub("[", text)
        fired.append("double_bracket")
    junk = _LEADING_JUNK.match(text)
    if junk:
        text = text[junk.end() :]
        fired.append("leading_junk")
    # anitopy loops forever on a name that ends in a dash after the episode ("Show 01 -", "Show 01 -_"):
    # a trailing run of dashes and delimiters carries nothing, so it goes.
    tail = _TRAILING_DASH_RUN.search(text)
    if tail is not None and _DASHES.search(tail.group()):
        text = text[: tail.start()]
        fired.append("trailing_dash")
    # Names delimited only by hyphens ("show-name-episode-25-1080p"): anitopy does not treat '-' as a
    # word delimiter, so give it spaces.
    if not any(c in text for c in " _.[]()"):
        for delimiter in "-+":
            if text.count(delimiter) >= 2:
                text = text.replace(delimiter, " ")
                fired.append("word_delimiter")
                break
    return text, fired


def strip_tv_tag(title: str) -> str:
    return _TV_TAG.sub("", title)


def find_season(text: str) -> tuple[int, int, int, str] | None:
    """First season marker in ``text``: (season, start, end, rule)."""
    # Every marker has a digit, a CJK numeral or the word "season": most titles have none of them.
    if DIGIT.search(text) is None and not (not text.isascii() or "eason" in text or "EASON" in text):
        return None
    ascii_only = text.isascii()
    for rule, pattern in SEASON_PATTERNS:
        if ascii_only and rule in _CJK_SEASON_RULES:
            continue
        match = pattern.search(text)
        if match:
            raw = match.group(1)
            value = _season_value(raw)
            if value is not None:
                return value, match.start(), match.end(), rule
    return None


def _season_value(raw: str) -> int | None:
    if raw.isdigit():
        return int(raw)
    low = raw.lower()
    if low in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[low]
    if raw in _CJK_NUMERALS:
        return _CJK_NUMERALS[raw]
    if len(raw) == 2 and raw[0] == "十" and raw[1] in _CJK_NUMERALS:
        return 10 + _CJK_NUMERALS[raw[1]]
    return None


def trailing_roman(title: str) -> int | None:
    match = _TRAILING_ROMAN.search(title)
    return _ROMAN[match.group(1).lower()] if match else None


def split_alt_titles(title: str) -> str:
    """Of alternative titles in two scripts, keep the Latin one: it is what release names share."""
    if title.isascii() or not has_cjk(title) or latin_count(title) < 2:
        return title
    parts = [p.strip(" -~_") for p in _ALT_TITLE_SEP.split(title)]
    parts = [p for p in parts if p]
    if len(parts) > 1:
        latin = [p for p in parts if latin_count(p) >= 2 and not has_cjk(p)]
        if latin:
            return latin[-1]
        mixed = [p for p in parts if latin_count(p) >= 2]
        if mixed:
            return mixed[-1]
        return title
    # Without a separator the two scripts are one name ("DARK MOON: 달의 제단", "Wake Up, 宮城!"), or a
    # romaji name followed by the native one; either way the whole is kept.
    return title


def bracket_tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(1).strip(), m.start(), m.end()) for m in BRACKET_TOKEN.finditer(text)]


def is_language_tag(token: str) -> bool:
    """``ru_jp``, ``ENG``, ``jpn+eng``: subtitle/audio language lists."""
    parts = [p for p in _LANGUAGE_SPLIT.split(token.lower()) if p]
    return bool(parts) and all(p in SUBTITLE_LANGUAGES or p in _LANGUAGE_WORDS for p in parts)


def is_noise_token(token: str) -> bool:
    if not token:
        return True
    low = token.lower()
    if low in _NOISE_WORDS:
        return True
    if _NOISE_PATTERN.search(token):
        return True
    return not has_letter(token) and not token.isdigit()


def bracket_episode(token: str) -> tuple[int, int | None, int | None] | None:
    """``"12END"``/``"第05话"``/``"01-24完"`` -> (first, last, version)."""
    match = _BRACKET_EPISODE.match(token)
    if not match:
        return None
    first = int(match.group(1))
    last = int(match.group(3)) if match.group(3) else None
    if last is not None and last <= first:
        return None  # "86 - 01" is a title and an episode, not a range
    version = int(match.group(2)) if match.group(2) else None
    return first, last, version


def find_title_episode(title: str) -> tuple[int, int, int | None, int | None, int | None, str] | None:
    """An episode marker inside an over-long title.

    Returns (start, end, episode, episode_end, season, rule); ``title[:start]`` is the real title.
    """
    if DIGIT.search(title) is None:
        return None  # every episode marker has a number
    match = SXXEYY.search(title)
    if match:
        last = int(match.group(4)) if match.group(4) else None
        return match.start(), match.end(), int(match.group(2)), last, int(match.group(1)), "sxxeyy"
    match = _NXNN.search(title)
    if match and match.start() > 0:
        return match.start(), match.end(), int(match.group(2)), None, int(match.group(1)), "nxnn"
    match = _CJK_EPISODE.search(title)
    if match and match.start() > 0:
        number = match.group(1)
        if "." in number:
            return None
        return match.start(), match.end(), int(number), None, None, "cjk_episode"
    match = _CJK_EPISODE_PREFIXED.search(title)
    if match and match.start() > 0:
        return match.start(), match.end(), int(match.group(1)), None, None, "cjk_episode"
    match = _EP_WORD.search(title)
    if match and match.start() > 0:
        last = int(match.group(3)) if match.group(3) else None
        return match.start(), match.end(), int(match.group(1)), last, None, "episode_word"
    match = _EP_WORD_AFTER.search(title)
    if match and match.start() > 0:
        return match.start(), match.end(), int(match.group(1)), None, None, "episode_word"
    match = _HASH_EPISODE.search(title)
    if match and match.start() > 0:
        return match.start(), match.end(), int(match.group(1)), None, None, "hash_episode"
    return None


def find_dash_episode(text: str) -> re.Match[str] | None:
    """The last `` - 05`` style separator-number in ``text``."""
    last = None
    for match in _DASH_EPISODE.finditer(text):
        last = match
    return last


def find_range(text: str) -> tuple[int, int, int, int] | None:
    for match in _RANGE.finditer(text):
        first, last = int(match.group(1)), int(match.group(2))
        if first < last:
            return first, last, match.start(), match.end()
    return None


def glued_episode(title: str) -> tuple[int, int | None, int] | None:
    """``"Show-01"``/``"Show-ep1"``/``"Show - 1009v2"`` at the end of a title: (episode, version, start)."""
    match = _GLUED_EPISODE.search(title)
    if not match or match.start() == 0:
        return None
    if not has_letter(title[: match.start()]):
        return None
    version = int(match.group(2)) if match.group(2) else None
    return int(match.group(1)), version, match.start()


def title_year(title: str) -> tuple[int, int] | None:
    match = _YEAR_IN_TITLE.search(title)
    if not match or match.start() == 0:
        return None
    return int(match.group(1)), match.start()


def kind_marker(title: str) -> tuple[str, int, int, bool] | None:
    """(kind, start, end, cut): ``cut`` when an episode title follows (" - The Other"), which then goes."""
    match = _KIND_MARKER.search(title)
    if not match or not has_letter(title[: match.start()]):
        return None
    word = match.group(1).lower()
    kind = KIND_WORDS.get(word) or KIND_WORDS.get(word.rstrip("s"), "special")
    cut = DASH_AFTER.match(title[match.end() :]) is not None
    return kind, match.start(), match.end(), cut


def movie_marker(title: str) -> re.Match[str] | None:
    return _KIND_MOVIE.search(title)


def cjk_kind(title: str) -> re.Match[str] | None:
    return _KIND_CJK.search(title)


def scene_group(text: str) -> str | None:
    match = _SCENE_GROUP.search(text)
    return match.group(1) if match else None
