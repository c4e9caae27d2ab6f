"""`anivault rollback N` and `anivault recover`: undo a run; resolve interrupted runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from anivault.organize.plan import Step
    from anivault.organize.undo import Undo


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

    A moved file goes back. A copy or hard link is removed only while the original is still there and the
    same file; when the original is gone, the library file moves back to its path instead (the last copy is
    never removed); when the original changed, both are kept. A symlink is removed, never its target. A file
    changed, replaced or removed since is skipped with the reason, never overwritten; folders the run
    created are removed when empty. A rollback is itself recorded and, if interrupted, finished by running
    the same command again. --dry-run says, for each item, which of these will happen.

    Example:  anivault rollback 12 --dry-run
    """
    from anivault.cli.cmd_organize import _report, _with_progress
    from anivault.cli.common import emit_json, open_library, out_console, say
    from anivault.organize import service

    with open_library() as db:
        if dry_run:
            planned = service.rollback(db, run, dry_run=True)
            assert isinstance(planned, list)
            if json_out:
                emit_json(
                    [
                        {"action": s.action, "from": s.src, "to": s.dst, "will": u.do, "why": u.why}
                        for s, u in planned
                    ]
                )
                return
            from rich.text import Text

            for step, undo in planned:
                out_console().print(Text(undo_line(step, undo)))
            kept = sum(1 for _, u in planned if u.do in ("keep", "skip"))
            say(f"rollback of run {run}: {len(planned)} steps ({kept} left alone) — dry run, nothing changed")
            return
        summary = _with_progress(lambda p: service.rollback(db, run, progress=p), "rolling back")
    _report(summary, json_out)


def undo_verb(step: Step, undo: Undo) -> str:
    """What undoing ``step`` will do, in two words."""
    if step.action == "rmdir":
        return "remove folder"
    if step.action == "unlink":
        return {"remove": "remove link", "gone": "nothing"}.get(undo.do, "leave link")
    return {"move-back": "move back", "remove": "remove copy", "keep": "keep both", "gone": "nothing"}.get(
        undo.do, "skip"
    )


def undo_line(step: Step, undo: Undo) -> str:
    """One line a person reads: what undoing ``step`` will do, on which paths, and why."""
    verb = undo_verb(step, undo)
    if step.action == "rmdir":
        return f"{verb}  {step.dst}  (if empty)"
    where = (
        f"{step.src} → {step.dst}"
        if undo.do == "move-back"
        else (step.src if step.action != "unlink" else step.dst)
    )
    return f"{verb}  {where}  ({undo.why})"


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
