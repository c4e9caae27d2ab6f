"""Every command documents itself: `--help` works and shows an example, for each command and sub-command
registered on the app (including groups like `db`), whoever wrote it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from conftest import RunCli

from anivault.cli.app import build_app


def _commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(command path, help text from its docstring or help=) for every command and group."""
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
        assert isinstance(name, str), f"a command group under {prefix} has no name"
        doc = group.help or sub.info.help
        if not isinstance(doc, str):
            callback = group.callback or (sub.registered_callback and sub.registered_callback.callback)
            doc = (callback.__doc__ if callback else None) or ""
        yield (*prefix, name), doc
        yield from _commands(sub, (*prefix, name))


COMMANDS = sorted(_commands(build_app()))


def test_the_app_has_the_reading_commands() -> None:
    paths = {path for path, _ in COMMANDS}
    for expected in [("ls",), ("show",), ("stats",), ("sql",), ("db",), ("db", "path"), ("db", "backup")]:
        assert expected in paths


@pytest.mark.parametrize(("path", "doc"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_exits_0_and_shows_an_example(run_cli: RunCli, path: tuple[str, ...], doc: str) -> None:
    assert "Example" in doc, f"`anivault {' '.join(path)}` needs an 'Example:' line in its docstring"
    res = run_cli(*path, "--help")
    assert res.exit_code == 0, res.stderr
    assert "Example" in res.stdout
    assert "Usage:" in res.stdout


def test_top_level_help_lists_every_command(run_cli: RunCli) -> None:
    res = run_cli("--help")
    assert res.exit_code == 0
    for path, _ in COMMANDS:
        if len(path) == 1:
            assert path[0] in res.stdout
