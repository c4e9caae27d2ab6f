"""`anivault rollback N` and `anivault recover`: undo a run; resolve interrupted runs."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("rollback")(rollback)
    app.command("recover")(recover)


def rollback(
    run: Annotated[int, typer.Argument(help="Organize run to undo (from `anivault log`).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be undone; change nothing.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Undo an organize run: every file goes back to where it was, newest first.

    A file that was changed, replaced or removed since is skipped with the reason, never overwritten; folders
    the run created are removed when empty. A rollback is itself recorded and, if interrupted, finished by
    running the same command again.

    Example:  anivault rollback 12 --dry-run
    """
    from anivault.cli.cmd_organize import _report, _with_progress
    from anivault.cli.common import emit_json, open_library, out_console
    from anivault.organize import service

    with open_library() as db:
        if dry_run:
            steps = service.rollback(db, run, dry_run=True)
            assert isinstance(steps, list)
            if json_out:
                emit_json([{"action": s.action, "from": s.src, "to": s.dst} for s in steps])
                return
            from rich.markup import escape

            for s in steps:
                out_console().print(f"{s.action:6} {escape(s.src or '')} → {escape(s.dst)}")
            from anivault.cli.common import say

            say(f"rollback of run {run}: {len(steps)} steps — dry run, nothing changed")
            return
        summary = _with_progress(lambda p: service.rollback(db, run, progress=p), "rolling back")
    _report(summary, json_out)


def recover(
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Resolve organize/rollback runs a crash interrupted, against what is on disk (also automatic).

    Example:  anivault recover
    """
    from anivault.cli.common import emit_json, open_library, say
    from anivault.organize import service

    with open_library() as db:
        report = service.recover_interrupted(db)
    if json_out:
        emit_json({"runs": report.runs, "resolved": report.resolved, "alerts": report.alerts})
        return
    if not report.runs:
        say("nothing to recover")
        return
    say(
        f"recovered runs {', '.join(map(str, report.runs))}: "
        + ", ".join(f"{n} {s}" for s, n in report.resolved.items())
    )
    for a in report.alerts:
        say(f"  {a}")
