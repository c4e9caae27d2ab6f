"""``anivault parse``: show what the parser reads from file names, without touching the database."""

from __future__ import annotations

import json
import sys
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the parser compiles ~40 regexes on import: only `anivault parse` should pay for it
    from anivault.parsing import ParsedName

# The fields shown by the table, in order; --json shows everything ParsedName.to_dict() has.
_TABLE_FIELDS = (
    "title",
    "title_norm",
    "season",
    "episode",
    "episode_end",
    "episode_decimal",
    "year",
    "kind",
    "release_group",
    "resolution",
    "source",
    "video_terms",
    "audio_terms",
    "checksum",
    "version",
    "languages",
    "episode_title",
    "parser",
    "rules",
    "parser_version",
)


def _split_argument(argument: str) -> tuple[str, tuple[str, ...]]:
    """``Frieren/Season 2/03.mkv`` -> ``("03.mkv", ("Frieren", "Season 2"))``.

    Either separator counts, so Windows paths pasted on Linux work too. A bare name has no folders.
    """
    if "/" not in argument and "\\" not in argument:
        return argument, ()
    path: PurePath = PureWindowsPath(argument) if "\\" in argument else PurePosixPath(argument)
    folders = tuple(
        part for part in path.parts[:-1] if part not in ("/", "\\", ".", "..") and not part.endswith(":\\")
    )
    return path.name, folders


def _read_names(names: list[str]) -> list[str]:
    result: list[str] = []
    for name in names:
        if name == "-":
            result.extend(line.rstrip("\r\n") for line in sys.stdin if line.strip())
        else:
            result.append(name)
    return result


def parse(
    names: Annotated[
        list[str],
        typer.Argument(
            help="File names or paths; '-' reads one name per line from stdin.", show_default=False
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Emit a JSON array, one object per name.")] = False,
) -> None:
    """Show what AniVault reads from file names (title, season, episode, group, ...).

    Nothing is written to the library. A name containing a path separator uses its folder names as
    context (Show/Season 2/03.mkv).

    Examples:

    \b
        anivault parse "[SubsPlease] Sousou no Frieren S2 - 03 (1080p).mkv"
        anivault parse "Frieren/Season 2/03.mkv" --json
        find /anime -name '*.mkv' | anivault parse - --json
    """
    from anivault.parsing import parse_name

    rows: list[tuple[str, ParsedName]] = []
    for argument in _read_names(names):
        name, folders = _split_argument(argument)
        rows.append((argument, parse_name(name, folders)))

    if as_json:
        payload = [{"input": argument, **parsed.to_dict()} for argument, parsed in rows]
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # Text, not str: names are full of [brackets] rich would read as markup

    console = Console()
    for argument, parsed in rows:
        table = Table(title=Text(argument), show_header=False, title_justify="left", box=None, pad_edge=False)
        table.add_column("field", style="bold cyan", no_wrap=True)
        table.add_column("value", overflow="fold")
        data = parsed.to_dict()
        for key in _TABLE_FIELDS:
            value = data.get(key)
            if value is None or value == []:
                continue
            shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
            table.add_row(key, Text(shown))
        console.print(table)
        console.print()


def register(app: typer.Typer) -> None:
    """Add the ``parse`` command to the AniVault CLI."""
    app.command("parse")(parse)
