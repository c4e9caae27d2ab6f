"""Atomic file replacement: a reader (or a crash) sees the old file or the new one, never half of either.

Write a temp file in the same directory (same filesystem, so the rename is atomic), fsync it, ``os.replace``
it over the target, then fsync the directory so the rename survives a power cut (PostgreSQL's durable
rename). The temp file is created with ``O_CREAT | O_EXCL`` and its final mode, so a secret is never
readable by others, not even for the instant a chmod-after-write would leave open.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o666, crashpoint: str | None = None) -> None:
    """Replace ``path`` with ``data``. ``mode`` is given to ``os.open`` (umask applies, and can only remove bits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if crashpoint:
            _crashpoint(crashpoint)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a directory for fsync; NTFS journals the rename itself.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _crashpoint(name: str) -> None:
    """Test hook (RELIABILITY §3): ``ANIVAULT_CRASHPOINT=<name>`` kills the process here."""
    if os.environ.get("ANIVAULT_CRASHPOINT") == name:
        import signal

        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
