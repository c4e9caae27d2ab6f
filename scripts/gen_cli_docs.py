#!/usr/bin/env python3
"""Regenerate docs/cli.md, the command reference, from every command's --help.

python scripts/gen_cli_docs.py          # rewrite docs/cli.md
python scripts/gen_cli_docs.py --check  # exit 1 when docs/cli.md is out of date (tests/test_cli_docs.py)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cli.md"
sys.path.insert(0, str(ROOT))


def render() -> str:
    os.environ["COLUMNS"] = "100"  # help text wraps to the terminal: fix it so the file is stable
    # The app callback sets up logging even for --help: keep that out of the user's home and the repo.
    os.environ["ANIVAULT_HOME"] = tempfile.mkdtemp(prefix="anivault-docs-")
    from anivault.cli.app import build_app, iter_commands, main

    parts = [
        "# Command reference",
        "",
        "Generated from each command's `--help` by `scripts/gen_cli_docs.py`; a test fails when it is out of",
        "date. Global options (`--db`, `-v`, `--log-level`, `--debug`, `-q`, `--version`) go before the command.",
        "",
    ]
    for path, _doc in [((), ""), *sorted(iter_commands(build_app()))]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            main([*path, "--help"])
        title = " ".join(("anivault", *path))
        parts += [f"## {title}", "", "```text", out.getvalue().rstrip(), "```", ""]
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = render()
    if args.check:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print("docs/cli.md is out of date: run python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
