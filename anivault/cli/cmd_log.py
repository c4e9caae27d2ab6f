"""`anivault log`: the ledger of organize and rollback runs."""

from __future__ import annotations

from typing import Annotated

import typer

log_app = typer.Typer(help=None, no_args_is_help=False, invoke_without_command=True)


def register(app: typer.Typer) -> None:
    app.add_typer(log_app, name="log", help=log.__doc__)


@log_app.callback(invoke_without_command=True)
def log(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """Past organize and rollback runs: when, what, how many, and their state.

    Example:  anivault log        (then: anivault log show 12)
    """
    if ctx.invoked_subcommand is not None:
        return
    from anivault.cli.common import emit_json, emit_table, open_library
    from anivault.organize.ledger import Ledger

    with open_library() as db, Ledger(db) as ledger:
        ops = ledger.operations()
    if json_out:
        emit_json(
            [
                {
                    "id": o.id, "kind": o.kind, "status": o.status, "dest": o.dest, "undo_of": o.undo_of,
                    "created_at": o.created_at, "finished_at": o.finished_at, "total": o.total,
                    "counts": o.counts, "args": o.args, "error": o.error,
                }
                for o in ops
            ]
        )  # fmt: skip
        return
    rows = [
        (
            o.id, o.created_at[:19], o.kind + (f" of {o.undo_of}" if o.undo_of else ""), o.status, o.total,
            ", ".join(f"{n} {s}" for s, n in sorted(o.counts.items())), o.dest or "",
        )
        for o in ops
    ]  # fmt: skip
    emit_table(["run", "when (UTC)", "kind", "status", "items", "states", "dest"], rows)


@log_app.command("show")
def show(
    run: Annotated[int, typer.Argument(help="Run number (from `anivault log`).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the items as JSON.")] = False,
) -> None:
    """Every item of one run: action, source, target, state and why.

    Example:  anivault log show 12 --json
    """
    from anivault.cli.common import emit_json, emit_table, open_library
    from anivault.errors import UsageError
    from anivault.organize.ledger import Ledger

    with open_library() as db, Ledger(db) as ledger:
        op = ledger.operation(run)
        if op is None:
            raise UsageError(f"there is no run {run}", hint="see `anivault log`")
        items = list(ledger.items(run))
    if json_out:
        emit_json(
            {
                "id": op.id, "kind": op.kind, "status": op.status, "dest": op.dest, "undo_of": op.undo_of,
                "counts": op.counts, "args": op.args, "error": op.error,
                "items": [
                    {"seq": i.seq, "action": i.action, "src": i.src, "dst": i.dst, "state": i.state,
                     "note": i.note, "file_id": i.file_id}
                    for i in items
                ],
            }
        )  # fmt: skip
        return
    emit_table(
        ["#", "action", "source", "target", "state", "note"],
        [(i.seq, i.action, i.src or "", i.dst, i.state, i.note or "") for i in items],
        title=f"run {op.id} ({op.kind}, {op.status})",
    )
