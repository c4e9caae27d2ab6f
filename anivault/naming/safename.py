"""Path components that are legal on every OS and can never leave the destination root.

`safe_component` is pure, deterministic and idempotent: the same metadata gives the same name on Linux,
macOS and Windows, and re-running organize over an organized library is a no-op (G7). Its output is NFC,
non-empty, not `.`/`..`, free of `<>:"/\\|?*`, control and invisible format characters, has no trailing dot or
space, no leading dot (a hidden folder is invisible to Plex and file browsers), is not a Windows reserved name,
and fits 255 UTF-8 bytes and 255 UTF-16 units with its extension kept.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata

MAX_COMPONENT_BYTES = 255
# Windows counts path components in UTF-16 code units; Linux/macOS in bytes. Both limits are 255.
MAX_COMPONENT_UTF16 = 255

_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"{dev}{n}" for dev in ("COM", "LPT") for n in (*"0123456789", "¹", "²", "³")}
)
# A trailing run of short dotted suffixes (".mkv", ".en.forced.ass") survives truncation.
_EXT_RE = re.compile(r"(?:\.[A-Za-z0-9_-]{1,12}){1,4}$")
_SPACES_RE = re.compile(r" {2,}")


def _char_ok(ch: str) -> bool:
    cat = unicodedata.category(ch)
    # Cc: C0/C1 controls, Cf: bidi overrides and zero-width chars, Cs: lone surrogates (not encodable).
    return cat not in ("Cc", "Cf", "Cs")


def _replace_illegal(text: str) -> str:
    # Sonarr-style "smart" colon: "Re: Zero" -> "Re - Zero", "Re:Zero" -> "Re-Zero".
    text = text.replace(": ", " - ").replace(":", "-")
    text = text.replace("/", "-").replace("\\", "-").replace("|", "-")
    text = text.replace('"', "'")
    for ch in "<>?*":
        text = text.replace(ch, "")
    if text.isprintable():  # C-speed: no Cc/Cf/Cs character and no whitespace other than " "
        return text
    out = []
    for ch in text:
        if ch.isspace():
            out.append(" ")
        elif _char_ok(ch):
            out.append(ch)
    return "".join(out)


def _fits(text: str, max_bytes: int) -> bool:
    if text.isascii():  # one byte and one UTF-16 unit a character
        return len(text) <= min(max_bytes, MAX_COMPONENT_UTF16)
    return (
        len(text.encode("utf-8")) <= max_bytes and len(text.encode("utf-16-le")) // 2 <= MAX_COMPONENT_UTF16
    )


def _truncate(text: str, max_bytes: int) -> str:
    if _fits(text, max_bytes):
        return text
    m = _EXT_RE.search(text)
    ext = m.group(0) if m and m.start() > 0 and len(m.group(0).encode()) <= 40 else ""
    head = text[: len(text) - len(ext)]
    # Cut whole code points, so the result is always valid UTF-8.
    while head and not _fits(head + ext, max_bytes):
        head = head[:-1]
    return head.rstrip(" .") + ext


def _once(text: str, max_bytes: int) -> str:
    if not text.isascii():  # ASCII is NFC already
        text = unicodedata.normalize("NFC", text)
    text = _replace_illegal(text)
    text = _SPACES_RE.sub(" ", text).strip(" ")
    text = text.lstrip(".").rstrip(". ")
    stem = text.split(".", 1)[0].rstrip(" ")
    if stem.upper() in _RESERVED:
        text = stem + "_" + text[len(stem) :]
    text = _truncate(text, max_bytes)
    return text or "_"


@functools.lru_cache(maxsize=4096)  # pure: titles and "Season 01" repeat across a whole library
def _fixed_point(text: str, max_bytes: int) -> str:
    result = _once(text, max_bytes)
    # Each pass can only remove or replace characters, so this converges in a pass or two.
    for _ in range(8):
        again = _once(result, max_bytes)
        if again == result:
            break
        result = again
    return result


def safe_component(text: str, *, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """Return a single path component built from ``text`` that is safe on every OS."""
    return _fixed_point(text, max_bytes)


@functools.lru_cache(maxsize=4096)  # pure, and the folders of a plan repeat for every file in them
def is_safe_component(name: str, *, max_bytes: int = MAX_COMPONENT_BYTES) -> bool:
    """True when ``name`` is already a fixed point of `safe_component` (one pass shows it: a fixed point
    is what a pass leaves unchanged)."""
    return bool(name) and _once(name, max_bytes) == name


def confined_join(root: str, components: list[str], existing: set[str] | frozenset[str] = frozenset()) -> str:
    """Join components under ``root`` and prove the result stays inside it (G6).

    ``root`` must be an absolute, already resolved path. Every component must be safe on every OS (a fixed
    point of `safe_component`), except folders found on disk (``existing``: used as they are spelled there,
    say in NFD), which still may never be empty, `.`, `..` or hold a separator or NUL: that is what keeps
    the join inside the root. Raises ValueError otherwise.
    """
    for comp in components:
        if comp in ("", ".", "..") or "/" in comp or "\\" in comp or "\0" in comp:
            raise ValueError(f"unsafe path component {comp!r}")
        if comp not in existing and not is_safe_component(comp):
            raise ValueError(f"unsafe path component {comp!r}")
    # No component is empty, `.`, `..` or holds a separator, so the join cannot climb out of the root.
    return os.path.join(root, *components)
