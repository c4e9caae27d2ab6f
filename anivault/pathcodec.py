"""Lossless, readable storage of file paths.

On Linux a file name is bytes and may not be valid UTF-8; Python hands it to us as a str with lone
surrogates (surrogateescape), which SQLite's UTF-8 text cannot hold. We store a readable form (bad bytes
shown as \\xNN) in `files.path` and the exact bytes in `files.path_raw`, only for such names.
"""

from __future__ import annotations

import os


def encode_path(path: str) -> tuple[str, bytes | None]:
    """(readable text, raw bytes or None) for a path as the OS gave it to us."""
    if path.isascii():  # most paths, and a flag test in CPython: no encoding needed to know
        return path, None
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(path)
        return raw.decode("utf-8", "backslashreplace"), raw
    return path, None


def decode_path(text: str, raw: bytes | None) -> str:
    """The path to hand back to the OS."""
    return os.fsdecode(raw) if raw is not None else text


def display(path: str) -> str:
    """A printable form of any path (for messages)."""
    return encode_path(path)[0]
