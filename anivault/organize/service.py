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
from anivault.organize.execute import RunOptions, RunSummary, collector_paused, finish, run_operation
from anivault.organize.fileops import crashpoint, limit_malloc_arenas
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
from anivault.organize.template import resolve_templates

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
    """The writer lock, a ledger connection, and recovery of any interrupted run, in that order, with the
    cycle collector paused throughout.

    One pause for the whole run: paused only around each phase (expand, intent, run), the collector ran
    between them, a full collection of 0.2-0.4 s over the caller's plan (100,000 moves) after the intent
    and before the first rename (docs/organize-benchmark-log.md). Callers drop the run's steps before
    leaving, or the collection the pause's end sets off walks all of them (0.03-0.05 s)."""
    from anivault.db.engine import writer_lock

    limit_malloc_arenas()  # before the run's threads start (fileops: peak memory)
    with collector_paused(), writer_lock(db.path, purpose=purpose), Ledger(db) as ledger:
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
    inputs: list[PlanInput],
    dest: str,
    *,
    action: str = "move",
    conflict: str = "skip",
    template: str | None = None,
    series_template: str = "",
    movie_template: str = "",
    library_roots: Iterable[str] = (),
) -> OrganizePlan:
    """Plan moves for matched videos (pure apart from reading the disk). ``library_roots`` are the indexed
    folders: the destination may lie inside none of them, whether or not this plan has files from it."""
    from anivault.organize.template import DEFAULT_MOVIE_TEMPLATE, DEFAULT_SERIES_TEMPLATE, PRESETS

    validate_choice("action", action, ACTIONS)
    validate_choice("conflict", conflict, CONFLICTS)
    preset = PRESETS.get(template or "plex")
    series_src = series_template or (preset[0] if preset else DEFAULT_SERIES_TEMPLATE)
    movie_src = movie_template or (preset[1] if preset else DEFAULT_MOVIE_TEMPLATE)
    series, movie = resolve_templates(
        template if template and template not in PRESETS else None, series_src, movie_src
    )
    roots = {i.root for i in inputs if i.root} | set(library_roots)
    real_dest = check_dest(dest, roots)
    # 100,000 moves: 0.55-1.0 s of a 3-4 s plan was the collector's (docs/organize-benchmark-log.md)
    with collector_paused():
        moves = build_moves(inputs, real_dest, series, movie, action)
        check_moves(moves, conflict)
    return OrganizePlan(real_dest, action, conflict, template, moves)


def plan_from_db(db: Database, dest: str, **kwargs: Any) -> OrganizePlan:
    from anivault.organize.source import library_roots, plan_inputs

    with db.read() as session, collector_paused():
        inputs = list(plan_inputs(session))
        roots = library_roots(session)
    return plan_from_inputs(inputs, dest, library_roots=roots, **kwargs)


def recheck_plan(plan: OrganizePlan) -> OrganizePlan:
    """A plan loaded from a file: check every fingerprint and target against the disk now."""
    check_dest(plan.dest, [])
    check_moves(plan.moves, plan.conflict)
    return plan


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
    recheck: bool = True,
) -> RunSummary:
    """Write the plan to the ledger (one durable transaction), then carry it out.

    ``recheck=False`` skips re-checking a plan made moments ago in this process: the executor still checks
    every source fingerprint and never clobbers, so only the up-front report of stale items is skipped.
    """
    with writing(db, "organize") as ledger:
        if recheck:
            recheck_plan(plan)
        if preflight and plan.todo:
            _preflight(plan)
        steps = expand_steps(plan.moves, secrets.token_hex(4))
        if not steps:
            return RunSummary(0, "organize", "nothing to do", {})
        probe = plan.dest if os.path.isdir(plan.dest) else os.path.dirname(plan.dest)
        while not os.path.isdir(probe):
            probe = os.path.dirname(probe)
        args = {"action": plan.action, "conflict": plan.conflict, "template": plan.template, "verify": verify}
        op_id = ledger.create_operation("organize", plan.dest, args, steps, dest_dev=os.stat(probe).st_dev)
        crashpoint("after_intent_commit")
        summary = run_operation(ledger, op_id, RunOptions(verify, plan.conflict), progress, steps)
        del steps  # before the collector's pause ends (writing)
        return summary


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
        return run_operation(
            ledger,
            op.id,
            RunOptions(bool(op.args.get("verify")), str(op.args.get("conflict", "skip"))),
            progress,
        )


def rollback(
    db: Database, op_id: int, *, dry_run: bool = False, progress: Progress | None = None
) -> RunSummary | list[Step]:
    """Undo run ``op_id`` (a resumable run of its own). With dry_run, return the steps it would take."""
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
                    Step(it.seq, it.action, it.src, it.dst, it.fp)
                    for it in ledger.items(previous.id, ["aborted"])
                ]
            ledger.reopen(previous.id)
            return run_operation(ledger, previous.id, RunOptions(), progress)
        if dry_run:
            return ledger.inverse_steps(op_id)
        created = ledger.create_rollback(op_id)
        if created is None:
            if previous is not None:
                return finish(ledger, previous.id)
            raise UsageError(
                f"run {op_id} has nothing to undo", hint="see `anivault log show " + str(op_id) + "`"
            )
        new_id, steps = created
        del created
        crashpoint("after_intent_commit")
        summary = run_operation(ledger, new_id, RunOptions(), progress, steps)
        del steps  # before the collector's pause ends (writing)
        return summary
