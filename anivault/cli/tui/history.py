"""History & rollback: the ledger's runs, one run's items, and undoing a run after showing every step."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from anivault.cli.tui.term import Back, MenuItem, Terminal, esc, one_of, short_path

if TYPE_CHECKING:
    from anivault.organize.execute import RunSummary
    from anivault.organize.ledger import OperationRow
    from anivault.organize.plan import Step
    from anivault.organize.undo import Undo

SHOWN_RUNS = 10  # the newest runs fit an 80×24 screen with the prompt; any run number is accepted
SHOWN_ITEMS = 12


def _operations() -> list[OperationRow]:
    from anivault.cli.common import open_library
    from anivault.organize.ledger import Ledger

    with open_library() as db, Ledger(db) as ledger:
        return ledger.operations()


def _states(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "-"


def screen(term: Terminal) -> None:
    while True:
        ops = _operations()
        term.title("History & rollback")
        if not ops:
            term.text("No organize runs yet: the Run wizard records every run here.")
            term.pause()
            return
        from rich.table import Table

        table = Table(header_style="bold", pad_edge=False, box=None)
        table.add_column("run", justify="right")
        table.add_column("UTC", no_wrap=True)
        table.add_column("kind", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("steps", justify="right")
        table.add_column("destination", overflow="ellipsis", no_wrap=True, max_width=24)
        for o in reversed(ops[-SHOWN_RUNS:]):
            kind = o.kind + (f" of {o.undo_of}" if o.undo_of else "")
            table.add_row(
                str(o.id), o.created_at[5:16], kind, o.status, str(o.total), esc(short_path(o.dest or "", 24))
            )
        term.print(table)
        if len(ops) > SHOWN_RUNS:
            term.text(f"({len(ops) - SHOWN_RUNS} older runs not shown; type any run number)")
        ids = {str(o.id): o for o in ops}
        answer = term.ask(
            "Run to open (b = back)",
            check=one_of(ids, "run"),
        )
        try:
            show_run(term, ids[answer].id)
        except Back:
            continue


def show_run(term: Terminal, op_id: int) -> None:
    """One run's items; an organize run can be rolled back from here."""
    from anivault.cli.common import open_library
    from anivault.organize.ledger import Ledger

    with open_library() as db, Ledger(db) as ledger:
        op = ledger.operation(op_id)
        items = list(ledger.items(op_id))
        undone = ledger.rollback_of(op_id) if op is not None and op.kind == "organize" else None
    if op is None:
        term.error(f"there is no run {op_id}")
        return
    files = [i for i in items if i.action != "mkdir"]
    term.title(f"Run {op.id}: {op.kind}, {op.status}")
    term.text(f"started {op.created_at[:19]} UTC, {len(files)} files ({_states(op.counts)})")
    if op.dest:
        term.text(f"destination: {op.dest}")
    if undone is not None:
        term.text(f"rolled back by run {undone.id} ({undone.status})")
    from rich.table import Table

    table = Table(header_style="bold", pad_edge=False, box=None)
    table.add_column("action", no_wrap=True)
    table.add_column("file", overflow="fold")
    table.add_column("state", no_wrap=True)
    for it in files[:SHOWN_ITEMS]:
        name = os.path.basename(it.dst)
        table.add_row(
            it.action, esc(name), it.state + (f" ({it.note})" if it.note and it.state != "done" else "")
        )
    term.print(table)
    if len(files) > SHOWN_ITEMS:
        term.text(f"… and {len(files) - SHOWN_ITEMS} more (all of them: anivault log show {op.id})")
    options = []
    unfinished = bool(op.counts.get("aborted")) and op.status in ("interrupted", "failed")
    if unfinished and op.kind == "organize":
        options.append(MenuItem("c", "Finish this run", f"{op.counts['aborted']} files not attempted yet"))
    if unfinished and op.kind == "rollback" and op.undo_of is not None:
        options.append(
            MenuItem("c", "Finish this rollback", f"{op.counts['aborted']} steps not attempted yet")
        )
    if op.kind == "organize" and op.counts.get("done"):
        options.append(MenuItem("r", "Roll this run back", "shows every step first"))
    if not options:
        term.pause()
        return
    choice = term.menu(f"Run {op.id}", options)
    if choice == "r" or (choice == "c" and op.kind == "rollback" and op.undo_of is not None):
        rollback_run(term, op.id if op.kind == "organize" else int(op.undo_of or 0))
    elif choice == "c":
        resume_run(term, op.id, int(op.counts["aborted"]))


def resume_run(term: Terminal, op_id: int, left: int) -> None:
    """Finish an interrupted organize run (`organize --resume`) after a yes."""
    from anivault.cli.common import open_library
    from anivault.organize import service

    if not term.confirm(f"Finish run {op_id}: {left} files not attempted yet?"):
        term.text("Nothing changed.")
        return
    with open_library() as db, term.progress("organizing", left) as update:
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            update(completed=done)

        summary = service.resume(db, op_id, progress=advance)
    report(term, summary)


def rollback_run(term: Terminal, op_id: int) -> RunSummary | None:
    """Show the steps a rollback would take, ask, then do it. Returns the rollback's summary."""
    from anivault.cli.common import open_library
    from anivault.organize import service

    with open_library() as db:
        planned = service.rollback(db, op_id, dry_run=True)
    assert isinstance(planned, list)
    show_steps(term, planned)
    moves = sum(1 for s, u in planned if s.action != "rmdir" and u.do in ("move-back", "remove"))
    if not term.confirm(f"Roll back run {op_id}: {moves} files go back, empty folders are removed?"):
        term.text("Nothing changed.")
        return None
    with open_library() as db, term.progress("rolling back", len(planned)) as update:
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            update(completed=done)

        summary = service.rollback(db, op_id, progress=advance)
    assert not isinstance(summary, list)
    report(term, summary)
    return summary


def show_steps(term: Terminal, planned: list[tuple[Step, Undo]]) -> None:
    """One line per file (cut to the screen width), saying what undoing it will do; folders summed up."""
    from rich.cells import cell_len, set_cell_size

    from anivault.cli.cmd_rollback import undo_verb

    term.title(f"What the rollback will do ({len(planned)} steps)")
    files = [(s, u) for s, u in planned if s.action != "rmdir"]
    width = max(40, term.console.width - 2)
    for s, u in files[:SHOWN_ITEMS]:
        verb = undo_verb(s, u)
        name = os.path.basename((s.dst if s.action == "unlink" else s.src) or "")
        line = f"{verb} {name}"
        if u.do == "move-back":
            line += f" → {short_path(s.dst, max(20, width - cell_len(line) - 3))}"
        elif u.do != "remove":
            line += f" ({u.why})"
        if cell_len(line) > width:
            line = set_cell_size(line, width - 1).rstrip() + "…"
        term.text(line)
    if len(files) > SHOWN_ITEMS:
        term.text(f"… and {len(files) - SHOWN_ITEMS} more files")
    folders = len(planned) - len(files)
    if folders:
        term.text(f"then remove the {folders} folders the run created, where empty")


def report(term: Terminal, summary: RunSummary) -> None:
    """A run's outcome in one line, then its problems."""
    if summary.op_id == 0:
        term.text("Nothing to do: every file is already in place.")
        return
    line = f"run {summary.op_id} ({summary.kind}): {summary.status}: {_states(summary.counts)}"
    if summary.status == "done":
        term.ok(line)
    else:
        term.error(line, f"see History → run {summary.op_id}; fix the cause and try again")
    for src, dst, note in summary.problems[:SHOWN_ITEMS]:
        term.text(f"  {note}: {src or dst}")
