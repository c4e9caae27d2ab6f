"""Logging: level-separated rotating UTF-8 files, a quiet console, and secrets redacted everywhere.

Files (in the log dir, `anivault logs path`):

- ``anivault.log``: INFO and up (DEBUG with ``--debug``), everything a run did;
- ``errors.log``: WARNING and up only, so a problem is easy to find after a long run.

Both rotate at ``logging.max_bytes`` and keep ``logging.backups`` old copies. The console shows WARNING and
up by default, INFO with ``-v``, DEBUG with ``-vv``/``--debug``, or what ``--log-level`` says; it shows
tracebacks only with ``--debug`` (files always keep them, redacted, for the bug report).

A record logged with ``extra=FILE_ONLY`` goes to the files but not to the console: the CLI logs every error
it prints, with its cause, without printing it twice.

Handlers sit on the root logger so that libraries' records (urllib3, tmdbv3api, alembic) pass through the
same redaction; a filter on a *handler* sees every record, where a filter on a logger would miss records
propagated from child loggers. Libraries are held at WARNING unless ``--debug``.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path
from types import TracebackType
from typing import Final

from anivault.redact import redact, register_env_secrets

MAIN_LOG: Final = "anivault.log"
ERRORS_LOG: Final = "errors.log"
FILE_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
# Chatty libraries: their INFO/DEBUG lines are noise unless the user asked for --debug.
_LIBRARY_LOGGERS: Final = (
    "urllib3",
    "requests",
    "tmdbv3api",
    "alembic",
    "sqlalchemy",
    "pyrate_limiter",
    "httpx",
)

_CONFIGURED: list[logging.Handler] = []
FILE_ONLY: Final = {"file_only": True}


class RedactSecrets(logging.Filter):
    """Replace known secrets and api_key/Bearer patterns in the message, args, traceback and stack.

    Runs before any handler formats the record, so no handler can write the secret; it rewrites the
    record in place (the message is merged with its args), which is idempotent for the next handler.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: logging would print them in its own error report
            message = f"{record.msg!s} (log arguments could not be formatted)"
        cleaned = redact(message)
        if cleaned != record.msg or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        # Formatters re-render exc_info when exc_text is empty; drop it so only the redacted text remains.
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingFormatter(logging.Formatter):
    """The last line of defence: redact the finished text, whatever the record held."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class ConsoleFormatter(RedactingFormatter):
    """``warning: message``; the traceback only when asked for (``--debug``)."""

    def __init__(self, show_tracebacks: bool) -> None:
        super().__init__("%(levelname_lower)s: %(message)s")
        self.show_tracebacks = show_tracebacks

    def format(self, record: logging.LogRecord) -> str:
        record.levelname_lower = record.levelname.lower()
        record.message = record.getMessage()
        text = self.formatMessage(record)
        if self.show_tracebacks:
            if record.exc_text:
                text += "\n" + record.exc_text
            if record.stack_info:
                text += "\n" + record.stack_info
        return redact(text)


def _level(name: str | int, default: int) -> int:
    if isinstance(name, int):
        return name
    value = logging.getLevelName(str(name).upper())
    return value if isinstance(value, int) else default


def setup_logging(
    log_dir: Path,
    *,
    console_level: str = "WARNING",
    file_level: str = "INFO",
    max_bytes: int = 5_000_000,
    backups: int = 5,
    debug: bool = False,
) -> list[Path]:
    """Configure logging once per process (a later call replaces the handlers). Returns the log files.

    ``debug`` shows tracebacks on the console and lets libraries log below WARNING.
    """
    register_env_secrets()
    root = logging.getLogger()
    for handler in _CONFIGURED:
        root.removeHandler(handler)
        handler.close()
    _CONFIGURED.clear()
    file_lvl = _level(file_level, logging.INFO)
    console_lvl = _level(console_level, logging.WARNING)
    handlers: list[logging.Handler] = []
    files: list[Path] = []
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        for name, level in ((MAIN_LOG, file_lvl), (ERRORS_LOG, max(logging.WARNING, file_lvl))):
            handler = logging.handlers.RotatingFileHandler(
                log_dir / name, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
            )
            handler.setLevel(level)
            handler.setFormatter(RedactingFormatter(FILE_FORMAT))
            handlers.append(handler)
            files.append(log_dir / name)
    except OSError:
        pass  # an unwritable log dir must not stop the command; the console still gets warnings
    console = logging.StreamHandler()  # stderr: talk, never data
    console.setLevel(console_lvl)
    # Records the CLI has already said in its own words (`error: …` with a hint) go to the files only.
    console.addFilter(lambda record: not getattr(record, "file_only", False))
    console.setFormatter(ConsoleFormatter(show_tracebacks=debug))
    handlers.append(console)
    for handler in handlers:
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
        _CONFIGURED.append(handler)
    root.setLevel(min(h.level for h in handlers))
    app_logger = logging.getLogger("anivault")
    app_logger.setLevel(logging.NOTSET)
    app_logger.propagate = True
    for handler in list(app_logger.handlers):  # an older setup attached handlers here
        app_logger.removeHandler(handler)
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if debug else logging.WARNING)
    logging.captureWarnings(True)
    install_redacting_excepthooks()
    return files


def install_redacting_excepthooks() -> None:
    """Uncaught exceptions (``--debug`` re-raises; a worker thread dies) print a redacted traceback.

    Python's default hook writes the raw traceback to stderr, and an exception message can quote a URL or
    a header that carries the key. Crash output is output too (RELIABILITY G11).
    """
    import sys
    import threading
    import traceback

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        try:
            sys.stderr.write(redact(text))
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        try:
            sys.stderr.write(redact(f"exception in thread {name}:\n{text}"))
        except (OSError, ValueError):
            pass

    sys.excepthook = hook
    threading.excepthook = thread_hook


def shutdown_logging() -> None:
    """Flush and close our handlers and give the library loggers their levels back (tests, and before
    the one-file executable exits)."""
    root = logging.getLogger()
    for handler in _CONFIGURED:
        root.removeHandler(handler)
        handler.close()
    _CONFIGURED.clear()
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
