"""Logging: rotating UTF-8 files in the log dir, a quiet console, secrets redacted everywhere."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from anivault.redact import redact

_CONFIGURED: list[logging.Handler] = []


class _RedactSecrets(logging.Filter):
    """Belt and braces: whatever a library logs (urllib3 logs full URLs at DEBUG), known secrets and
    api_key/Bearer patterns are replaced before any handler writes the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _ConsoleFormatter(logging.Formatter):
    """One line per record on the console: tracebacks go to the log file (and to stderr with --debug)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def setup_logging(
    log_dir: Path,
    *,
    console_level: str = "WARNING",
    file_level: str = "INFO",
    max_bytes: int = 5_000_000,
    backups: int = 5,
) -> None:
    """Configure the `anivault` logger once per process (later calls replace the handlers)."""
    logger = logging.getLogger("anivault")
    for h in _CONFIGURED:
        logger.removeHandler(h)
        h.close()
    _CONFIGURED.clear()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")
    handlers: list[logging.Handler] = []
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        main = logging.handlers.RotatingFileHandler(
            log_dir / "anivault.log", maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        main.setLevel(getattr(logging, file_level.upper(), logging.INFO))
        main.setFormatter(fmt)
        handlers.append(main)
    except OSError:
        pass  # an unwritable log dir must not stop the command; the console still gets warnings
    console = logging.StreamHandler()
    console.setLevel(getattr(logging, console_level.upper(), logging.WARNING))
    console.setFormatter(_ConsoleFormatter())
    handlers.append(console)
    for h in handlers:
        h.addFilter(_RedactSecrets())
        logger.addHandler(h)
        _CONFIGURED.append(h)
