"""`anivault verify`: check the installation, the library and TMDB, and say how to fix what is wrong."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)


_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


def verify(
    json_out: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Do not contact TMDB.")] = False,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Also check this profile's folders.")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for TMDB.")] = 5.0,
) -> None:
    """Check dependencies, settings, database integrity and schema, the TMDB key, TMDB itself and the
    library folders. Exits 1 when something fails; each failure says how to fix it.

    The stored key needs its PIN: from ANIVAULT_PIN, or a hidden prompt on a terminal.

    Example:  anivault verify --json
    """
    from anivault.cli.cmd_settings import prompt_pin
    from anivault.cli.common import db_path, emit_json, out_console
    from anivault.pipeline import verify as checks

    report = checks.verify(
        db_path(), pin_provider=prompt_pin, offline=offline, profile=profile, timeout=timeout
    )
    if json_out:
        emit_json(report.to_json())
    else:
        console = out_console()
        for check in report.checks:
            console.print(f"{_MARK[check.status]}  {check.name}: {check.detail}", markup=False)
            if check.hint and check.status in {"fail", "warn"}:
                console.print(f"      fix: {check.hint}", markup=False)
        failed = sum(c.status == "fail" for c in report.checks)
        console.print("all checks passed" if not failed else f"{failed} problem(s) found", markup=False)
    if not report.ok:
        raise typer.Exit(1)
