"""`anivault sql SQL`: run SQL against the library, read-only unless `--write`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

if TYPE_CHECKING:
    import sqlite3

    from anivault.db.sealed import Guard


class _SqlCommand(TyperCommand):
    """Typer cannot declare an option that takes two values and repeats (`-p NAME VALUE -p …`); click
    can, so the `--param` option is adjusted here once the command is built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.name == "param":
                param.nargs = 2
                param.multiple = True
                # Hand the (name, value) pairs through as they are; Typer would turn each into a str.
                param.process_value = _pairs  # type: ignore[method-assign,assignment]


def _pairs(_ctx: Any, value: Any) -> list[tuple[str, str]]:
    return [(str(name), str(val)) for name, val in (value or ())]


def register(app: typer.Typer) -> None:
    app.command("sql", cls=_SqlCommand)(sql)


def sql(
    statement: Annotated[
        str, typer.Argument(help="One SQL statement, or '-' to read it from stdin.", metavar="SQL|-")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="A named parameter: -p name value fills :name (repeatable).",
            metavar="NAME VALUE",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="A JSON array of objects.")] = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV with a header row.")] = False,
    table_out: Annotated[
        bool, typer.Option("--table", help="A table for people (the default on a terminal).")
    ] = False,
    write: Annotated[
        bool, typer.Option("--write", help="Allow changes; the library is backed up first.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", help="Stop the statement after this many seconds.", metavar="SECONDS", min=0.001
        ),
    ] = None,
) -> None:
    """Run one SQL statement on the library database and print the rows.

    Read-only unless you add --write (which first makes a backup and says where): a statement that would
    write anything, anywhere (INSERT, ATTACH, VACUUM INTO, a PRAGMA that sets something) is refused
    before it runs. Ctrl-C stops a long statement; --timeout bounds one. On a terminal the rows are a
    table (the first 1,000, long values cut); piped, they are plain tab-separated lines.
    Query the views v_library, v_unmatched and v_ledger (stable across versions) or the tables (see
    `anivault db schema` and docs/database.md).

    Examples:

    \b
        anivault sql "select title_norm, count(*) n from v_library group by 1 order by n desc limit 10"
        anivault sql "select path from v_library where episode = :ep" -p ep 12 --json
        echo "select * from v_unmatched" | anivault sql - --csv
        anivault sql "select count(*) from files" --timeout 5
        anivault sql --write "delete from overrides where title_norm = :t" -p t "made in abyss"
    """
    from anivault.cli.output import check_one_format, require_library

    check_one_format(json=json_out, csv=csv_out, table=table_out)
    text = sys.stdin.read() if statement == "-" else statement
    if not text.strip():
        from anivault.errors import UsageError

        raise UsageError("no SQL given", hint='anivault sql "select count(*) from v_library"')
    params: dict[str, Any] = {name.lstrip(":$@"): value for name, value in _as_pairs(param)}
    require_library()
    if write:
        _run_write(text, params, json_out=json_out, csv_out=csv_out, table_out=table_out, timeout=timeout)
        return
    from anivault.cli.output import read_connection
    from anivault.db.sealed import guard

    with read_connection() as conn:
        g = guard(conn, read_only=True, timeout=timeout)
        with _sql_errors(g), _ctrl_c_stops(g):
            g.start()
            _log_start(text, "read-only")
            _emit(conn.execute(text, params), g, json_out=json_out, csv_out=csv_out, table_out=table_out)


def _log_start(text: str, mode: str) -> None:
    import logging

    logging.getLogger("anivault.sql").info("sql (%s): running a statement of %d characters", mode, len(text))


def _as_pairs(param: Any) -> list[tuple[str, str]]:
    return list(param or [])


@contextmanager
def _ctrl_c_stops(g: Guard) -> Iterator[None]:
    """Ctrl-C asks the statement to stop (at its next step) instead of raising where SQLite cannot
    take it; only the main thread can take signals."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, lambda _sig, _frame: g.cancel())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextmanager
def _sql_errors(g: Guard) -> Iterator[None]:
    """SQLite's complaints about the user's SQL, as one-line errors (exit 2) that say what to do.

    Around the execution and the reading of rows both: SQLite reports some errors only while stepping.
    """
    import sqlite3

    from anivault.errors import Interrupted, UsageError

    try:
        yield
        if g.cancelled:
            raise sqlite3.OperationalError("interrupted")
    except sqlite3.ProgrammingError as exc:
        message = str(exc)
        if "one statement" in message:
            raise UsageError(
                "more than one SQL statement given", hint="run one statement per `anivault sql`"
            ) from None
        if "binding" in message or "supplied" in message:
            raise UsageError(
                f"SQL parameters do not fit: {message}", hint="give each :name once with -p name value"
            ) from None
        raise UsageError(f"SQL error: {message}") from None
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if g.cancelled:
            raise Interrupted("the statement was stopped (Ctrl-C); nothing was changed") from None
        if g.timed_out:
            raise UsageError(
                f"the statement ran longer than --timeout {g.timeout:g} s and was stopped",
                hint="narrow the query (a WHERE, a LIMIT) or give it a longer --timeout",
            ) from None
        if g.refused is not None:
            raise UsageError(
                f"`anivault sql` is read-only: refused {g.refused}",
                hint="add --write to change the library (AniVault backs it up first)",
            ) from None
        if "readonly" in message or "read-only" in message:
            raise UsageError(
                "this statement would change the library, and `anivault sql` is read-only by default",
                hint="add --write to run it (AniVault backs up the library first)",
            ) from None
        raise UsageError(
            f"SQL error: {message}",
            hint="tables and views: `anivault db schema`; the stable views are v_library, v_unmatched, v_ledger",
        ) from None
    except sqlite3.DatabaseError as exc:
        from anivault.errors import database_damage

        if database_damage(exc):
            raise  # the library itself is damaged: main() says so and what to do
        if g.refused is not None:
            raise UsageError(
                f"`anivault sql` is read-only: refused {g.refused}",
                hint="add --write to change the library (AniVault backs it up first)",
            ) from None
        raise UsageError(f"SQL error: {exc}") from None
    except sqlite3.Error as exc:
        raise UsageError(f"SQL error: {exc}") from None
    except (OverflowError, ValueError) as exc:  # a NUL in the text, a number SQLite cannot hold
        raise UsageError(f"SQL error: {exc}") from None


# A table for people holds what a person can read: the first rows, each value cut to a line or two.
TABLE_ROWS = 1000
TABLE_CELL = 200


def _cut(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= TABLE_CELL else text[: TABLE_CELL - 1] + "…"


def _emit(cursor: sqlite3.Cursor, g: Guard, *, json_out: bool, csv_out: bool, table_out: bool) -> None:
    from anivault.cli.common import emit_table, say
    from anivault.cli.output import stream_csv, stream_json, stream_plain
    from anivault.db.query import iter_rows, readable

    if cursor.description is None:
        say("(the statement returns no rows)")
        return
    columns = [d[0] for d in cursor.description]

    def rows() -> Iterator[tuple[Any, ...]]:
        for row in cursor:
            if g.cancelled:  # Ctrl-C while the rows are written out
                return
            yield row

    more = 0
    if json_out:
        n = stream_json(iter_rows(cursor, stop=lambda: g.cancelled))
    elif csv_out:
        n = stream_csv(columns, ([readable(v) for v in row] for row in rows()))
    elif not table_out and not sys.stdout.isatty():
        n = stream_plain([readable(v) for v in row] for row in rows())
    else:
        shown: list[list[str]] = []
        for row in rows():
            if len(shown) < TABLE_ROWS:
                shown.append([_cut(readable(v)) for v in row])
            else:
                more += 1
        n = len(shown) + more
        emit_table([_cut(c) for c in columns], shown)
    sys.stdout.flush()  # the data before the talk, also when both go to one terminal
    if more:
        say(f"{n} rows, the first {TABLE_ROWS} shown (--csv or --json give them all)")
    else:
        say(f"{n} row{'s' if n != 1 else ''}")


def _run_write(
    text: str,
    params: dict[str, Any],
    *,
    json_out: bool,
    csv_out: bool,
    table_out: bool,
    timeout: float | None,
) -> None:
    from anivault.cli.common import open_library, say
    from anivault.db.engine import writer_lock
    from anivault.db.sealed import guard
    from anivault.pathcodec import display
    from anivault.paths import app_paths

    with open_library() as db, writer_lock(db.path, purpose="sql --write"):
        backup = db.backup_before("sql", app_paths().backup_dir)
        say(f"backup: {display(str(backup))}")
        conn = db.raw_connect(readonly=False)
        # Autocommit: the one statement is its own transaction, and statements such as VACUUM that
        # refuse to run inside a transaction still work.
        conn.isolation_level = None
        g = guard(conn, read_only=False, timeout=timeout)
        try:
            before = conn.total_changes
            with _sql_errors(g), _ctrl_c_stops(g):
                g.start()
                _log_start(text, "write")
                cursor = conn.execute(text, params)
                if cursor.description is not None:
                    _emit(cursor, g, json_out=json_out, csv_out=csv_out, table_out=table_out)
                cursor.close()
            changed = conn.total_changes - before
        finally:
            conn.close()
    say(f"{changed} row{'s' if changed != 1 else ''} changed")
