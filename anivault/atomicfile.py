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
        if os.name == "nt" and not mode & 0o077:
            _owner_only_acl(tmp)  # before the first byte is written
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


def _owner_only_acl(path: Path) -> None:  # pragma: no cover - Windows
    """Windows ignores POSIX mode bits: drop inherited entries and grant only the current user.

    Best effort: the file already sits in the user's AppData, which only the user (and SYSTEM and
    administrators) can read; this removes even those inherited entries. icacls ships with Windows.
    """
    import getpass
    import subprocess

    try:
        subprocess.run(
            ["icacls", str(path), "/inheritance:r", "/grant:r", f"{getpass.getuser()}:F"],
            check=True,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        pass


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
