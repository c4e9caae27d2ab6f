"""UTF-8 console streams on every platform.

Anime titles are Japanese, Korean and Chinese. On a Windows console set to a legacy code page (cp1252,
cp932, cp949) printing ``進撃の巨人`` raises ``UnicodeEncodeError`` and kills the command; when stdout is a
pipe, Python picks the ANSI code page and does the same. Reconfiguring the text streams to UTF-8 with
``errors="replace"`` makes output never fail: a console that can show the characters shows them, one that
cannot shows ``?`` instead of a crash. The CLI entry calls :func:`ensure_utf8_streams` once, first thing.
"""

from __future__ import annotations

import io
import sys
from typing import TextIO


def ensure_utf8_streams() -> None:
    """Switch stdout and stderr to UTF-8 (errors="replace") when they are not UTF-8 already.

    Safe to call twice, and a no-op for streams that cannot be reconfigured (pytest's capture, a closed
    stream, ``None`` under ``pythonw``).
    """
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name, None)
        if stream is not None:
            _reconfigure(stream)
    stdin = sys.stdin
    # Typed input (a path, a TMDB key) should decode as UTF-8 too; bad bytes must not crash a prompt.
    if stdin is not None and _encoding(stdin) != "utf-8" and isinstance(stdin, io.TextIOWrapper):
        try:
            stdin.reconfigure(encoding="utf-8", errors="replace")
        except (ValueError, OSError):
            pass


def _encoding(stream: TextIO) -> str:
    import codecs

    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name
    except LookupError:
        return "unknown"


def _reconfigure(stream: TextIO) -> None:
    if _encoding(stream) == "utf-8" and getattr(stream, "errors", "strict") != "strict":
        return
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None:
        return
    try:
        if _encoding(stream) == "utf-8":
            # Already UTF-8: only make lone surrogates from undecodable file names printable.
            reconfigure(errors="replace")
        else:
            reconfigure(encoding="utf-8", errors="replace")
    except (ValueError, OSError):
        pass  # a detached or closed stream: nothing to fix
