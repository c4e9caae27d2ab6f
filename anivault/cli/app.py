"""The `anivault` command: global options, command registration, and the one place errors become
messages and exit codes."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from anivault import __version__
from anivault.cli.common import STATE, CliState

# Each module defines register(app). Keep this list in the order commands should appear in --help.
COMMAND_MODULES = [
    "anivault.cli.cmd_index",
    "anivault.cli.cmd_parse",
    "anivault.cli.cmd_match",
    "anivault.cli.cmd_review",
    "anivault.cli.cmd_run",
    "anivault.cli.cmd_cache",
    "anivault.cli.cmd_ls",
    "anivault.cli.cmd_show",
    "anivault.cli.cmd_stats",
    "anivault.cli.cmd_sql",
    "anivault.cli.cmd_db",
    "anivault.cli.cmd_status",
    "anivault.cli.cmd_verify",
    "anivault.cli.cmd_settings",
    "anivault.cli.cmd_logs",
    "anivault.cli.cmd_organize",
    "anivault.cli.cmd_log",
    "anivault.cli.cmd_rollback",
    "anivault.cli.cmd_ui",
]

HELP = """AniVault: make a pile of anime video files into a clean, queryable, TMDB-matched library.

Example:  anivault index ~/Anime && anivault ls title:frieren
"""


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"anivault {__version__}\n")
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="anivault",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        # Rich tracebacks print local variables, and a local may hold the TMDB key: never show them.
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _global(
        db: Annotated[
            str | None,
            typer.Option(
                "--db", help="Library database file (default: the data dir's library.db; env ANIVAULT_DB)."
            ),
        ] = None,
        verbose: Annotated[
            int, typer.Option("--verbose", "-v", count=True, help="More talk on stderr (-vv for debug).")
        ] = 0,
        log_level: Annotated[
            str | None, typer.Option("--log-level", help="Console log level: DEBUG, INFO, WARNING, ERROR.")
        ] = None,
        debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and log at DEBUG.")] = False,
        quiet: Annotated[
            bool, typer.Option("--quiet", "-q", help="No progress or notices, only data and errors.")
        ] = False,
        version: Annotated[
            bool,
            typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
        ] = False,
    ) -> None:
        STATE.db, STATE.verbose, STATE.log_level, STATE.debug, STATE.quiet = (
            db,
            verbose,
            log_level,
            debug,
            quiet,
        )
        from anivault.cli.common import settings, setup_logging_for
        from anivault.config import Settings
        from anivault.errors import ConfigError

        try:
            cfg = settings()
        except ConfigError:
            # A broken anivault.toml must not stop `settings path`, `settings set` or `verify`, the
            # commands that help fix it; commands that need settings raise the error themselves.
            cfg = Settings()
        setup_logging_for(cfg)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def iter_commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(command path, help text) for every visible command and group, sub-apps included (for the --help
    test and the generated CLI reference)."""
    for info in app.registered_commands:
        if info.hidden:
            continue
        callback: Any = info.callback
        name = info.name or callback.__name__.replace("_", "-")
        yield (*prefix, name), (info.help or callback.__doc__ or "")
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is None or group.hidden:
            continue
        name = group.name or sub.info.name
        if not isinstance(name, str):
            raise TypeError(f"a command group under {prefix} has no name")
        doc = group.help or sub.info.help
        if not isinstance(doc, str):
            cb = group.callback or (sub.registered_callback and sub.registered_callback.callback)
            doc = (cb.__doc__ if cb else None) or ""
        yield (*prefix, name), doc
        yield from iter_commands(sub, (*prefix, name))


def _print_error(message: str, hint: str | None) -> None:
    from anivault.redact import redact

    sys.stderr.write(f"error: {redact(message)}\n")
    if hint:
        sys.stderr.write(f"hint: {redact(hint)}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    import multiprocessing

    multiprocessing.freeze_support()  # the one-file executable re-enters here in parse workers
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # A script's background job (`anivault match &`) starts with SIGINT ignored, and Python then never
        # raises KeyboardInterrupt: `kill -INT` would be lost and the run would go on to its end. Every
        # long command stops cleanly on SIGINT, so take it whatever the parent set.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    from anivault.cli.console_setup import ensure_utf8_streams

    ensure_utf8_streams()
    from anivault.errors import AniVaultError, ExitCode
    from anivault.logging_setup import FILE_ONLY

    args = sys.argv[1:] if argv is None else list(argv)
    if not args and sys.stdin.isatty() and sys.stdout.isatty():
        args = ["ui"]  # `anivault` alone on a terminal opens the guided wizard (issue 7)
    STATE.__dict__.update(CliState().__dict__)
    debug = "--debug" in args
    log = logging.getLogger("anivault")
    try:
        result = build_app()(args=args, prog_name="anivault", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except AniVaultError as exc:
        log.debug("command failed", exc_info=True)
        _print_error(exc.message, exc.hint)
        if debug:
            import traceback

            from anivault.redact import redact

            sys.stderr.write(redact(traceback.format_exc()))
        return int(exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _print_error(exc.format_message(), "see --help")
        return 0 if type(exc).__name__ == "NoArgsIsHelpError" else int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        _print_error("interrupted", "what finished is saved; run the same command again to continue")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return 0  # `anivault ls | head` closed the pipe: not an error
    except Exception as exc:
        from anivault.errors import database_damage

        damage = database_damage(exc)
        if damage is not None:
            from anivault.cli.common import db_path
            from anivault.paths import damaged_database_hint

            log.error("the library database is damaged: %s", damage, exc_info=True, extra=FILE_ONLY)
            _print_error(
                f"the library database {db_path()} is damaged ({damage})", damaged_database_hint(db_path())
            )
            return int(ExitCode.DATABASE)
        log.exception("unexpected error", extra=FILE_ONLY)
        if debug:
            raise
        _print_error(
            f"unexpected {type(exc).__name__}: {exc}",
            "run again with --debug for the traceback; the log file has details (`anivault logs path`)",
        )
        return int(ExitCode.FAILURE)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
