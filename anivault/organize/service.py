"""Organize, resume, rollback and recover as plain functions over the library database.

The CLI calls these; they return data and raise AniVaultError, never print. Every function that writes takes
the library's writer lock and runs recovery first, so no new work starts on top of an interrupted run.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from anivault.errors import AniVaultError, UsageError
from anivault.naming.template import resolve_templates
from anivault.organize.execute import RunOptions, RunSummary, finish, run_operation
from anivault.organize.fileops import crashpoint, lstat_or_none, not_a_file
from anivault.organize.ledger import Ledger
from anivault.organize.plan import (
    ACTIONS,
    CONFLICTS,
    Move,
    PlanInput,
    Step,
    build_moves,
    check_dest,
    check_moves,
    expand_steps,
)
from anivault.organize.recovery import RecoveryReport, recover
from anivault.organize.undo import Undo, inverse_steps, plan_undo

if TYPE_CHECKING:
    from anivault.db.engine import Database

Progress = Callable[[int], None]


@dataclass(slots=True)
class OrganizePlan:
    dest: str
    action: str
    conflict: str
    template: str | None
    moves: list[Move]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.moves:
            out[m.status] = out.get(m.status, 0) + 1
        return out

    @property
    def todo(self) -> list[Move]:
        return [m for m in self.moves if m.status == "todo"]


@contextmanager
def writing(db: Database, purpose: str) -> Iterator[Ledger]:
    """The writer lock, a ledger connection, and recovery of any interrupted run, in that order."""
    from anivault.db.engine import writer_lock

    with writer_lock(db.path, purpose=purpose), Ledger(db) as ledger:
        recover(ledger)
        yield ledger


def recover_interrupted(db: Database) -> RecoveryReport:
    """`anivault recover`: resolve interrupted organize/rollback runs against the disk."""
    from anivault.db.engine import writer_lock

    with writer_lock(db.path, purpose="recover"), Ledger(db) as ledger:
        return recover(ledger)


def validate_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UsageError(
            f"--{name} {value!r} is not one of {', '.join(choices)}", hint=f"use --{name} {choices[0]}"
        )
    return value


def plan_from_inputs(
    inputs: Iterable[PlanInput],
    dest: str,
    *,
    action: str = "move",
    conflict: str = "skip",
    template: str | None = None,
    series_template: str = "",
    movie_template: str = "",
    library_roots: Iterable[str] | None = None,
) -> OrganizePlan:
    """Plan moves for matched videos (pure apart from reading the disk). ``library_roots`` are the indexed
    folders: the destination may lie inside none of them (without them, the inputs' own folders count, and
    the inputs are read twice). Given the roots, ``inputs`` are read once, as they come."""
    from anivault.naming.template import DEFAULT_MOVIE_TEMPLATE, DEFAULT_SERIES_TEMPLATE, PRESETS

    validate_choice("action", action, ACTIONS)
    validate_choice("conflict", conflict, CONFLICTS)
    preset = PRESETS.get(template or "plex")
    series_src = series_template or (preset[0] if preset else DEFAULT_SERIES_TEMPLATE)
    movie_src = movie_template or (preset[1] if preset else DEFAULT_MOVIE_TEMPLATE)
    series, movie = resolve_templates(
        template if template and template not in PRESETS else None, series_src, movie_src
    )
    if library_roots is None:
        inputs = list(inputs)
        library_roots = {i.root for i in inputs if i.root}
    real_dest = check_dest(dest, library_roots)
    moves = build_moves(inputs, real_dest, series, movie, action)
    check_moves(moves, conflict)
    return OrganizePlan(real_dest, action, conflict, template, moves)


def plan_from_db(db: Database, dest: str, **kwargs: Any) -> OrganizePlan:
    from anivault.organize.source import library_roots, plan_inputs

    with db.read() as session:
        return plan_from_inputs(plan_inputs(session), dest, library_roots=library_roots(session), **kwargs)


def unnamed_matches(db: Database) -> int:
    """Matched files a plan leaves out because their match has no names yet (see source.unnamed_matches)."""
    from anivault.organize.source import unnamed_matches as count

    with db.read() as session:
        return count(session)


def recheck_plan(db: Database, plan: OrganizePlan) -> OrganizePlan:
    """A plan from a file is user input (RELIABILITY G6). Its destination gets every check a fresh plan
    gets, and every item must move the regular file its library row names, under an indexed folder: an
    item that does not (no library id, another file's path, a source outside the indexed folders, a folder
    or a FIFO) refuses the whole plan before anything moves. A source that merely changed or vanished since
    (the world moved, not the plan) is left alone with its reason, as in a fresh plan."""
    from anivault.organize.source import library_files, library_roots

    with db.read() as session:
        roots = library_roots(session)
        rows = library_files(session, [m.file_id for m in plan.moves if m.file_id is not None])
    plan.dest = check_dest(plan.dest, roots)
    real_roots = [os.path.realpath(r) for r in roots]
    refused: list[str] = []
    for n, m in enumerate(plan.moves, 1):
        if m.status != "todo":
            continue
        reason = _not_this_library_file(m, rows, real_roots)
        if reason is not None:
            refused.append(f"item {n} ({m.src}): {reason}")
            continue
        row = rows[m.file_id]  # type: ignore[index]
        st = lstat_or_none(m.src)
        if st is None:
            moved = f"; the library has this file at {row.path} now" if row.path != m.src else ""
            m.status, m.note = "stale", f"source missing{moved}"
        elif row.status != "present":
            m.status, m.note = "stale", f"the library has this file as {row.status} (run `anivault index`)"
        elif st is not None and (st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino) != (
            row.size,
            row.mtime_ns,
            row.dev,
            row.inode,
        ):
            m.status, m.note = (
                "stale",
                "source changed since it was indexed (run `anivault index`, then plan again)",
            )
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise UsageError(
            f"the plan was refused, nothing was moved: {refused[0]}{more}",
            hint="a plan item must move the indexed file its file_id names; write the plan again"
            " (anivault organize --plan FILE)",
        )
    check_moves(plan.moves, plan.conflict)
    return plan


def _not_this_library_file(m: Move, rows: dict[int, Any], roots: list[str]) -> str | None:
    """Why the plan item ``m`` does not move the library file it names, or None."""
    if m.file_id is None:
        return "it names no library file (file_id)"
    row = rows.get(m.file_id)
    if row is None:
        return f"library file {m.file_id} does not exist"
    if row.path != m.src and lstat_or_none(m.src) is not None:  # (a source gone since is only stale)
        return f"library file {m.file_id} is another file ({row.path})"
    real = os.path.realpath(m.src)
    if not any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
        return "the source is outside every indexed folder"
    st = lstat_or_none(m.src)
    what = not_a_file(st) if st is not None else None
    if what is not None:
        return f"the source is {what}, not a file"
    return None


def _preflight(plan: OrganizePlan) -> None:
    """Refuse before writing any ledger row: a read-only destination, or not enough free space."""
    probe = plan.dest
    while not os.path.isdir(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    try:
        ro = bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        ro = False
    if ro or not os.access(probe, os.W_OK):
        raise AniVaultError(
            f"the destination {plan.dest} is not writable ({'read-only filesystem' if ro else 'permission denied'})",
            hint="choose another --dest or make it writable; nothing was changed",
        )
    dest_dev = os.stat(probe).st_dev
    need = sum(
        m.fp.size for m in plan.todo if m.action == "copy" or (m.action == "move" and m.fp.dev != dest_dev)
    )
    if need:
        free = shutil.disk_usage(probe).free
        if need > free:
            raise AniVaultError(
                f"destination full (need {need:,} bytes, free {free:,})",
                hint="free space on the destination or organize fewer files; nothing was changed",
            )


def apply_plan(
    db: Database,
    plan: OrganizePlan,
    *,
    verify: bool = False,
    progress: Progress | None = None,
    preflight: bool = True,
    recheck: bool = False,
) -> RunSummary:
    """Write the plan to the ledger (one durable transaction), then carry it out. ``recheck``: the plan
    came from a file, so every item is checked against the library and the disk first (a plan made moments
    ago in this process was checked while it was made; the executor checks every source again anyway)."""
    with writing(db, "organize") as ledger:
        if recheck:
            recheck_plan(db, plan)
        if preflight and plan.todo:
            _preflight(plan)
        steps = expand_steps(plan.moves, secrets.token_hex(4))
        if not steps:
            return RunSummary(0, "organize", "nothing to do", {})
        args = {"action": plan.action, "conflict": plan.conflict, "template": plan.template, "verify": verify}
        op_id = ledger.create_operation("organize", plan.dest, args, steps)
        crashpoint("after_intent_commit")
        return run_operation(ledger, op_id, RunOptions(verify, plan.conflict), progress, steps)


def resume(db: Database, op_id: int | None = None, progress: Progress | None = None) -> RunSummary:
    """Finish the latest (or the given) interrupted or stopped organize run."""
    with writing(db, "organize --resume") as ledger:
        candidates = [
            o
            for o in ledger.operations(statuses=["interrupted", "failed", "partial"], kind="organize")
            if o.counts.get("aborted") or o.counts.get("failed")
        ]
        if op_id is not None:
            candidates = [o for o in candidates if o.id == op_id]
        if not candidates:
            raise UsageError("there is no interrupted organize run to resume", hint="see `anivault log`")
        op = candidates[-1]
        ledger.reopen(op.id)
        options = RunOptions(bool(op.args.get("verify")), str(op.args.get("conflict", "skip")))
        return run_operation(ledger, op.id, options, progress)


def rollback(
    db: Database, op_id: int, *, dry_run: bool = False, progress: Progress | None = None
) -> RunSummary | list[tuple[Step, Undo]]:
    """Undo run ``op_id`` (a resumable run of its own). With ``dry_run``, return each step with what it
    would do on the disk as it is now."""
    with writing(db, "rollback") as ledger:
        op = ledger.operation(op_id, counts=False)
        if op is None:
            raise UsageError(f"there is no run {op_id}", hint="see `anivault log`")
        if op.kind != "organize":
            raise UsageError(f"run {op_id} is itself a rollback", hint="organize again instead")
        previous = ledger.rollback_of(op_id)
        if previous is not None and (previous.counts.get("aborted") or previous.counts.get("failed")):
            if dry_run:
                return [
                    (s, plan_undo(s)) for s in _steps_of(ledger.items(previous.id, ["aborted", "failed"]))
                ]
            ledger.reopen(previous.id)
            return run_operation(ledger, previous.id, RunOptions(), progress)
        steps = inverse_steps(ledger, op_id)
        if dry_run:
            return [(s, plan_undo(s)) for s in steps]
        if not steps:
            if previous is not None:
                return finish(ledger, previous.id)
            raise UsageError(f"run {op_id} has nothing to undo", hint=f"see `anivault log show {op_id}`")
        new_id = ledger.create_operation("rollback", None, {"of": op_id}, steps, undo_of=op_id)
        crashpoint("after_intent_commit")
        return run_operation(ledger, new_id, RunOptions(), progress, steps)


def _steps_of(items: Iterable[Any]) -> list[Step]:
    return [Step(it.seq, it.action, it.src, it.dst, it.fp, it.file_id, "file", it.undo_of) for it in items]
