"""`anivault organize`: plan (dry run), write or apply a plan, resume an interrupted run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

if TYPE_CHECKING:
    from anivault.organize.execute import RunSummary
    from anivault.organize.service import OrganizePlan


def register(app: typer.Typer) -> None:
    app.command("organize")(organize)


def organize(
    dest: Annotated[str | None, typer.Option("--dest", help="Library folder to organize into.")] = None,
    plan_out: Annotated[Path | None, typer.Option("--plan", help="Write the plan as JSON to FILE.")] = None,
    from_plan: Annotated[
        Path | None, typer.Option("--from-plan", help="Use a plan written by --plan (checked first).")
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Carry the plan out (default: dry run).")] = False,
    action: Annotated[str | None, typer.Option("--action", help="move, copy, hardlink or symlink.")] = None,
    conflict: Annotated[str | None, typer.Option("--conflict", help="skip, rename or fail.")] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="plex, jellyfin, kodi, or a template string.")
    ] = None,
    verify: Annotated[bool, typer.Option("--verify", help="SHA-256-check every copy.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted run.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the plan or result as JSON.")] = False,
) -> None:
    """Move (or copy/link) matched files into a Plex/Jellyfin/Kodi library layout, with undo.

    Without --apply nothing changes: the plan is shown as a tree with counts. Every applied run is
    recorded in the ledger first (see `anivault log`) and can be undone with `anivault rollback N`.

    Example:  anivault organize --dest ~/Vault --apply --action hardlink --conflict rename
    """
    _organize(dest, plan_out, from_plan, apply, action, conflict, template, verify, resume, json_out)


def _organize(
    dest: str | None,
    plan_out: Path | None,
    from_plan: Path | None,
    apply: bool,
    action: str | None,
    conflict: str | None,
    template: str | None,
    verify: bool,
    resume: bool,
    json_out: bool,
) -> None:
    from anivault.cli.common import open_library, say, settings
    from anivault.errors import UsageError
    from anivault.organize import service

    everything = settings()
    cfg = everything.organize
    with open_library() as db:
        if resume:
            summary = _with_progress(lambda p: service.resume(db, progress=p), "resuming")
            _report(summary, json_out)
            return
        if from_plan is not None:
            from anivault.organize.planfile import read_plan

            data, moves = read_plan(str(from_plan))
            plan = service.OrganizePlan(
                data["dest"], str(data.get("action", "move")), conflict or str(data.get("conflict", "skip")),
                data.get("template"), moves,
            )  # fmt: skip
            service.recheck_plan(db, plan)
        else:
            dest = dest or cfg.dest
            if not dest:
                raise UsageError("organize needs --dest", hint="anivault organize --dest ~/Vault")
            plan = service.plan_from_db(
                db,
                dest,
                action=action or cfg.action,
                conflict=conflict or cfg.conflict,
                template=template or cfg.template,
                series_template="" if template else cfg.series_template,
                movie_template="" if template else cfg.movie_template,
            )
            from anivault.naming.template import names_episodes

            if names_episodes(template or cfg.series_template or cfg.template):
                _note_missing_episode_names(db)
            unnamed = service.unnamed_matches(db)
            if unnamed:
                say(
                    f"note: {unnamed} matched file(s) were matched by an older AniVault and have no names"
                    " yet, so this plan leaves them out; `anivault match` records the names"
                )
        if plan_out is not None:
            from anivault.organize.planfile import plan_to_json, write_plan

            write_plan(
                str(plan_out), plan_to_json(plan.moves, plan.dest, plan.action, plan.conflict, plan.template)
            )
        if not apply:
            _show_plan(plan, json_out, written=plan_out)
            return
        total = len(plan.todo)
        summary = _with_progress(
            lambda p: service.apply_plan(db, plan, verify=verify or cfg.verify, progress=p),
            "organizing",
            total,
        )
        _report(summary, json_out, plan)


def _note_missing_episode_names(db: Any) -> None:
    """The template names episodes but TMDB's names of some matched episodes were never looked up."""
    from anivault.cli.common import say
    from anivault.pipeline.match import unnamed_files

    missing = unnamed_files(db)
    if missing:
        say(
            f"note: TMDB's episode names were not looked up for {missing} matched file(s); those use the"
            " title in their file name, if any. Look them up: anivault match --episode-titles"
        )


def _with_progress(fn: Any, label: str, total: int | None = None) -> RunSummary:
    from anivault.cli.common import progress_bar

    with progress_bar(label, total) as bar:
        if bar is None:
            return cast("RunSummary", fn(None))
        task = bar.task_ids[0]
        return cast("RunSummary", fn(lambda n: bar.advance(task, n)))


def _plan_json(plan: OrganizePlan) -> dict[str, Any]:
    return {
        "dest": plan.dest,
        "action": plan.action,
        "conflict": plan.conflict,
        "counts": plan.counts(),
        "items": [
            {"src": m.src, "dst": m.dst, "kind": m.kind, "status": m.status, "note": m.note}
            for m in plan.moves
        ],
    }


def _show_plan(plan: OrganizePlan, json_out: bool, written: Path | None) -> None:
    from anivault.cli.common import emit_json, say

    if json_out:
        emit_json(_plan_json(plan))
        return
    from rich.markup import escape
    from rich.tree import Tree

    tree = Tree(escape(plan.dest))
    nodes: dict[str, Tree] = {}
    for m in plan.moves:
        if m.status != "todo":
            continue
        rel = os.path.relpath(m.dst, plan.dest).split(os.sep)
        parent, key = tree, ""
        for part in rel[:-1]:
            key = os.path.join(key, part)
            if key not in nodes:
                nodes[key] = parent.add(escape(part))
            parent = nodes[key]
        parent.add(f"{escape(rel[-1])}  [dim]← {escape(os.path.basename(m.src))}[/dim]")
    import sys

    from rich.console import Console

    # Piped output is data: never crop long names to a terminal width.
    Console(highlight=False, width=None if sys.stdout.isatty() else 10_000).print(tree)
    for m in plan.moves:
        if m.status not in ("todo", "noop"):
            say(f"  {m.status}: {m.src} ({m.note})")
    counts = plan.counts()
    say(
        f"plan: {counts.get('todo', 0)} to {plan.action}, {counts.get('noop', 0)} already in place, "
        f"{counts.get('identical', 0)} identical, {counts.get('skip', 0)} skipped, {counts.get('stale', 0)} stale"
        + (f"; written to {written}" if written else "")
        + " — dry run, nothing changed (add --apply)"
    )


def _report(summary: RunSummary, json_out: bool, plan: OrganizePlan | None = None) -> None:
    from anivault.cli.common import emit_json, say
    from anivault.errors import AniVaultError

    # Plan items that never reached the run (stale, skipped, identical...): the reason each was left alone.
    refused = [m for m in plan.moves if m.status not in ("todo", "noop")] if plan is not None else []
    if json_out:
        emit_json(
            {
                "op_id": summary.op_id or None,
                "kind": summary.kind,
                "status": summary.status,
                "counts": summary.counts,
                "problems": [{"src": s, "dst": d, "note": n} for s, d, n in summary.problems],
                "refused": [{"src": m.src, "status": m.status, "note": m.note} for m in refused],
                "stopped": summary.stopped,
            }
        )
    else:
        for m in refused:
            say(f"  {m.status}: {m.src} ({m.note})")
        if summary.op_id == 0:
            say(
                f"nothing to do: {len(refused)} item(s) left alone, listed above"
                if refused
                else "nothing to do: every file is already in place"
            )
            return
        parts = ", ".join(f"{n} {state}" for state, n in sorted(summary.counts.items()))
        say(f"run {summary.op_id} ({summary.kind}): {summary.status}: {parts}")
        for src, dst, note in summary.problems:
            say(f"  {note}: {src or dst}")
    if summary.status in ("failed", "partial", "interrupted"):
        what = "organize --resume" if summary.kind == "organize" else "rollback again"
        raise AniVaultError(
            f"run {summary.op_id} {summary.status}" + (f": {summary.stopped}" if summary.stopped else ""),
            hint=f"see `anivault log show {summary.op_id}`; fix the cause, then `anivault {what}`",
        )
