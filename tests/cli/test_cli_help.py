"""Every command documents itself: `--help` works and shows an example, for each command and sub-command
registered on the app (including groups like `db`), whoever wrote it."""

from __future__ import annotations

import pytest
from conftest import RunCli

from anivault.cli.app import build_app, iter_commands

COMMANDS = sorted(iter_commands(build_app()))


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


def test_building_the_cli_imports_no_heavy_library() -> None:
    """`anivault --help` stays fast: heavy modules are imported inside the commands that use them."""
    import subprocess
    import sys

    code = (
        "import sys, anivault.cli.app as a; a.build_app(); "
        "print(sorted({m.split('.')[0] + ('.' + m.split('.')[1] if m.startswith('anivault.') else '')"
        " for m in sys.modules}))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for heavy in (
        "sqlalchemy",
        "alembic",
        "requests",
        "rapidfuzz",
        "tmdbv3api",
        "anitopy",
        "anivault.parsing",
    ):
        assert f"'{heavy}'" not in loaded, f"{heavy} is imported when the CLI is built"
