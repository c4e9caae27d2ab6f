"""Domain errors. Each carries a one-line message and a hint that says what to do.

The CLI's single `main()` turns them into `error: …` on stderr and an exit code; nothing below the CLI
prints. Tracebacks are shown only with `--debug`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the command ran and something failed (partial work is reported)
    USAGE = 2  # bad input: a path that does not exist, an unknown option value
    CONFIG = 3  # settings or secrets are wrong
    DATABASE = 4  # the library database is locked, corrupt or foreign
    TMDB = 5  # TMDB (or the emulator) refused us: wrong key, unreachable
    INTERRUPTED = 130  # Ctrl-C: what finished is committed


class AniVaultError(Exception):
    """An error a user can act on."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(AniVaultError):
    exit_code = ExitCode.USAGE


class ConfigError(AniVaultError):
    exit_code = ExitCode.CONFIG


class DatabaseError(AniVaultError):
    exit_code = ExitCode.DATABASE


class DatabaseBusyError(DatabaseError):
    """Another AniVault process holds the library's write lock."""


class TmdbError(AniVaultError):
    exit_code = ExitCode.TMDB


class Interrupted(AniVaultError):
    exit_code = ExitCode.INTERRUPTED


def database_damage(exc: BaseException) -> str | None:
    """SQLite's words when it met a damaged page (in the middle of any command), else None."""
    import sqlite3

    orig = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's error
    if isinstance(orig, sqlite3.DatabaseError) and not isinstance(
        orig, sqlite3.OperationalError | sqlite3.IntegrityError | sqlite3.ProgrammingError
    ):
        text = str(orig)
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            return text
    return None
