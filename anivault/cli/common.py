"""What every command shares: global options, settings, opening the library, output helpers.

Only `anivault/cli/` talks to the terminal. Data goes to stdout, talk (progress, notices) to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from anivault.config import Settings
    from anivault.db.engine import Database


@dataclass
class CliState:
    """Global options from the app callback."""

    db: str | None = None
    debug: bool = False
    verbose: int = 0
    log_level: str | None = None
    quiet: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None


STATE = CliState()


def settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Settings with the global and this command's flags applied (flags > env > toml > defaults)."""
    from anivault.config import load_settings

    merged = dict(STATE.overrides)
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if STATE._settings is None or merged != STATE.overrides:
        STATE._settings = load_settings(merged)
    return STATE._settings


def setup_logging_for(cfg: Settings) -> None:
    from anivault.logging_setup import setup_logging
    from anivault.paths import app_paths

    if STATE.log_level:
        console = STATE.log_level
    elif STATE.debug or STATE.verbose >= 2:
        console = "DEBUG"
    elif STATE.verbose == 1:
        console = "INFO"
    else:
        console = "WARNING"
    setup_logging(
        app_paths().log_dir,
        console_level=console,
        file_level="DEBUG" if STATE.debug else cfg.logging.level,
        max_bytes=cfg.logging.max_bytes,
        backups=cfg.logging.backups,
        debug=STATE.debug,
    )


def db_path() -> Path:
    from anivault.paths import resolve_db_path

    return resolve_db_path(STATE.db)


@contextmanager
def open_library(*, migrate: bool = True) -> Iterator[Database]:
    """Open (and upgrade) the library database for a command, closing it afterwards."""
    from anivault.db.connect import open_db
    from anivault.paths import app_paths

    cfg = settings()
    db = open_db(
        db_path(), migrate=migrate, busy_timeout_ms=cfg.db.busy_timeout_ms, backup_dir=app_paths().backup_dir
    )
    try:
        yield db
    finally:
        db.close()


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def out_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def say(message: str) -> None:
    """A line of talk on stderr (not data)."""
    if not STATE.quiet:
        err_console().print(message)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def emit_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    # Values are data: Text, never markup, so `[tmdbid-30991]` prints as it is.
    table = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        table.add_column(Text(str(c)), overflow="fold")
    for r in rows:
        table.add_row(*[Text("" if v is None else str(v)) for v in r])
    out_console().print(table)


def interactive() -> bool:
    return sys.stderr.isatty() and not STATE.quiet


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Progress | None]:
    """A Rich progress bar on a terminal; None (and silence) when stderr is piped."""
    if not interactive():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        transient=False,
    ) as prog:
        prog.add_task(description, total=total)
        yield prog
