"""What the reading commands (ls, show, stats, sql, db) share: a read-only connection to the library and
row writers that stream, so a listing of 200k files is written as it is read, never held in memory."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from anivault.errors import UsageError


def require_library() -> None:
    """Reading commands do not create a library: a missing file is a clear error, not an empty answer."""
    from anivault.cli.common import db_path
    from anivault.pathcodec import display

    path = db_path()
    if not path.exists():
        raise UsageError(
            f"no library database at {display(str(path))} yet",
            hint="index a folder first: anivault index ~/Anime (or point --db at your library.db)",
        )


@contextmanager
def read_connection() -> Iterator[sqlite3.Connection]:
    """A `mode=ro` sqlite3 connection to the library, upgraded to the current schema first.

    Read-only at the SQLite level, not by convention: whatever SQL runs on it cannot change the library.
    """
    from anivault.cli.common import open_library

    require_library()
    with open_library() as db:
        conn = db.raw_connect(readonly=True)
        try:
            yield conn
        finally:
            conn.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


def stream_json(rows: Iterable[dict[str, Any]]) -> int:
    """A JSON array written one object per line as rows arrive. Returns the row count."""
    out = sys.stdout
    out.write("[")
    n = 0
    for row in rows:
        out.write(",\n" if n else "\n")
        out.write(json.dumps(row, ensure_ascii=False, default=_json_default))
        n += 1
    out.write("\n]\n" if n else "]\n")
    out.flush()
    return n


def stream_csv(columns: Sequence[str], rows: Iterable[Iterable[Any]]) -> int:
    """CSV with a header row, written as rows arrive (None is an empty cell). Returns the row count.

    Values must already be text or numbers: bytes go through `anivault.db.query.readable` first.
    """
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
    sys.stdout.flush()
    return n


def stream_plain(rows: Iterable[Iterable[Any]]) -> int:
    """Rows as plain tab-separated lines (tabs and newlines inside a value shown as \\t and \\n), written
    as they arrive: what a pipe gets. Returns the row count."""
    out = sys.stdout
    n = 0
    for row in rows:
        out.write(
            "\t".join(
                "" if v is None else str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                for v in row
            )
            + "\n"
        )
        n += 1
    out.flush()
    return n


def check_one_format(**flags: bool) -> None:
    chosen = [name for name, on in flags.items() if on]
    if len(chosen) > 1:
        raise UsageError(
            "choose one output format: " + " or ".join(f"--{c}" for c in chosen),
            hint="--json and --csv are for scripts; the default is for people",
        )


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns
