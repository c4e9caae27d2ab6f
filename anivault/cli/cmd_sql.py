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
    table_out: Annotated[bool, typer.Option("--table", help="A table for people (the default).")] = False,
    write: Annotated[
        bool, typer.Option("--write", help="Allow changes; the library is backed up first.")
    ] = False,
) -> None:
    """Run one SQL statement on the library database and print the rows.

    The database is opened read-only (SQLite mode=ro), so nothing can change it unless you add --write,
    which first makes a backup and says where. Query the views v_library, v_unmatched and v_ledger
    (stable across versions) or the tables (see `anivault db schema` and docs/database.md).

    Examples:

    \b
        anivault sql "select title_norm, count(*) n from v_library group by 1 order by n desc limit 10"
        anivault sql "select path from v_library where episode = :ep" -p ep 12 --json
        echo "select * from v_unmatched" | anivault sql - --csv
        anivault sql --write "delete from overrides where title_norm = :t" -p t "made in abyss"
    """
    from anivault.cli.readout import check_one_format, require_library

    check_one_format(json=json_out, csv=csv_out, table=table_out)
    text = sys.stdin.read() if statement == "-" else statement
    if not text.strip():
        from anivault.errors import UsageError

        raise UsageError("no SQL given", hint='anivault sql "select count(*) from v_library"')
    params: dict[str, Any] = {name.lstrip(":$@"): value for name, value in _as_pairs(param)}
    require_library()
    if write:
        _run_write(text, params, json_out=json_out, csv_out=csv_out)
        return
    from anivault.cli.readout import read_connection

    with read_connection() as conn, _sql_errors(readonly=True):
        _emit(conn.execute(text, params), json_out=json_out, csv_out=csv_out)


def _as_pairs(param: Any) -> list[tuple[str, str]]:
    return list(param or [])


@contextmanager
def _sql_errors(*, readonly: bool) -> Iterator[None]:
    """SQLite's complaints about the user's SQL, as one-line errors (exit 2) that say what to do.

    Around the execution and the reading of rows both: SQLite reports some errors only while stepping.
    """
    import sqlite3

    from anivault.errors import UsageError

    try:
        yield
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
        if readonly and ("readonly" in message or "read-only" in message):
            raise UsageError(
                "this statement would change the library, and `anivault sql` is read-only by default",
                hint="add --write to run it (AniVault backs up the library first)",
            ) from None
        raise UsageError(
            f"SQL error: {message}",
            hint="tables and views: `anivault db schema`; the stable views are v_library, v_unmatched, v_ledger",
        ) from None
    except sqlite3.Error as exc:
        raise UsageError(f"SQL error: {exc}") from None


def _emit(cursor: sqlite3.Cursor, *, json_out: bool, csv_out: bool) -> None:
    from anivault.cli.common import emit_table, say
    from anivault.cli.readout import stream_csv, stream_json
    from anivault.library import iter_rows, readable

    if cursor.description is None:
        say("(the statement returns no rows)")
        return
    columns = [d[0] for d in cursor.description]
    if json_out:
        n = stream_json(iter_rows(cursor))
    elif csv_out:
        n = stream_csv(columns, ([readable(v) for v in row] for row in cursor))
    else:
        rows = [[readable(v) for v in row] for row in cursor]
        n = len(rows)
        emit_table(columns, rows)
    sys.stdout.flush()  # the data before the talk, also when both go to one terminal
    say(f"{n} row{'s' if n != 1 else ''}")


def _run_write(text: str, params: dict[str, Any], *, json_out: bool, csv_out: bool) -> None:
    from anivault.cli.common import open_library, say
    from anivault.db.engine import writer_lock
    from anivault.pathcodec import display
    from anivault.paths import app_paths

    with open_library() as db, writer_lock(db.path, purpose="sql --write"):
        backup = db.backup_before("sql", app_paths().backup_dir)
        say(f"backup: {display(str(backup))}")
        conn = db.raw_connect(readonly=False)
        # Autocommit: the one statement is its own transaction, and statements such as VACUUM that
        # refuse to run inside a transaction still work.
        conn.isolation_level = None
        try:
            before = conn.total_changes
            with _sql_errors(readonly=False):
                cursor = conn.execute(text, params)
                if cursor.description is not None:
                    _emit(cursor, json_out=json_out, csv_out=csv_out)
                cursor.close()
            changed = conn.total_changes - before
        finally:
            conn.close()
    say(f"{changed} row{'s' if changed != 1 else ''} changed")
