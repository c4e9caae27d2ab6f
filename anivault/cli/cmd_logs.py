"""`anivault logs path`: where the log files are (anivault.log: INFO and up; errors.log: warnings and errors)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

logs_app = typer.Typer(
    name="logs",
    help="""Find the log files.

Example:  tail -f "$(anivault logs path)/anivault.log"
""",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(logs_app)


@logs_app.command("path")
def path(
    json_out: Annotated[bool, typer.Option("--json", help="Print the folder and each file as JSON.")] = False,
) -> None:
    """Print the log folder. Files rotate at logging.max_bytes and keep logging.backups old copies.

    Example:  anivault logs path
    """
    from anivault.cli.common import emit_json
    from anivault.logging_setup import ERRORS_LOG, MAIN_LOG
    from anivault.paths import app_paths

    folder = app_paths().log_dir
    if json_out:
        emit_json({"dir": str(folder), "main": str(folder / MAIN_LOG), "errors": str(folder / ERRORS_LOG)})
        return
    sys.stdout.write(f"{folder}\n")
