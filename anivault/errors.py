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
