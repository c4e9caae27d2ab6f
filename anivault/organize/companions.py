"""Where a companion (subtitle, external audio, font) goes when its video moves.

A companion keeps everything its name adds after the video's stem, so language and flag tags survive:
`Show - 01 [1080p].en.forced.ass` beside `Show - 01 [1080p].mkv` becomes `Show - S01E01.en.forced.ass`.
A companion whose name does not start with the video's stem keeps the tags it has (`.ko`, `[sc]`, `forced`).
Fonts go to a `Fonts/` folder beside the video (shared by every episode of the season).
"""

from __future__ import annotations

import os
import re
import unicodedata

from anivault.media import FONT_EXTENSIONS, stem

FONT_FOLDER = "Fonts"

_TAG_RE = re.compile(
    r"\[[A-Za-z]{2,4}(?:[-_][A-Za-z]{2,4})?\]"
    r"|(?<=[._ \-])(?:[a-z]{2,3}(?:-[A-Za-z]{2,4})?|forced|sdh|cc|hi|default|signs|songs|full)(?=[._ \]]|$)",
    re.IGNORECASE,
)


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot + 1 :] if dot > 0 else ""


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def is_font(path: str) -> bool:
    return _ext(os.path.basename(path)).lower() in FONT_EXTENSIONS


def companion_name(video_src: str, companion_src: str, video_target_stem: str) -> str:
    """The companion's new file name (or `Fonts/<name>` for a font) given its video's new stem."""
    cname = os.path.basename(companion_src)
    if is_font(cname):
        return f"{FONT_FOLDER}/{cname}"
    vstem = _norm(stem(os.path.basename(video_src)))
    ncname = _norm(cname)
    if ncname.startswith(vstem) and len(ncname) > len(vstem) and ncname[len(vstem)] in "._ -[":
        tail = ncname[len(vstem) :]
        # Keep tags but drop separators the video stem had before them ("X_en.srt" -> "New.en.srt").
        tail = "." + tail.lstrip("._ -") if not tail.startswith(("[", ".")) else tail
        if tail.startswith("["):
            tail = "." + tail
        return video_target_stem + tail
    cstem, cext = stem(ncname), _ext(ncname)
    tags = [m.group(0) for m in _TAG_RE.finditer(cstem)]
    middle = "".join("." + t for t in tags)
    return f"{video_target_stem}{middle}.{cext}" if cext else video_target_stem + middle
