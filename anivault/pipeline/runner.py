"""`anivault run`: index → match → organize plan (→ apply), recorded in the `runs` table so it can resume.

The runner owns no pipeline logic. It calls the stage functions the stage commands call
(:func:`anivault.pipeline.index.run_index`, :func:`anivault.pipeline.match.match_library`,
:mod:`anivault.organize.service`) and records, between stages, which stage the run is in and what each stage
counted. Every stage is itself incremental and committed as it goes, which is what makes resuming cheap:

- index: unchanged files are not parsed again, so re-running it continues where the walk stopped;
- match: only series without a decision are looked up, so it continues with the next undecided series;
- plan: computed from the database, the same every time;
- apply: the organize ledger knows each item's state; `organize.service.resume` finishes the operation.

A Ctrl-C (or a crash) leaves the run row at the stage it was in; `run --resume` reads the newest resumable
row and starts again at that stage with the same paths, destination and profile.
Nothing here prints: progress goes to a callback, and the result is a :class:`RunResult`.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anivault.errors import AniVaultError, Interrupted, UsageError
from anivault.procs import process_alive
from anivault.redact import redact

if TYPE_CHECKING:
    from anivault.config import Settings
    from anivault.db.engine import Database

STAGES = ("index", "match", "plan", "apply")
RESUMABLE = ("interrupted", "failed", "planned", "running")

# (stage, done, total or None, note) — one callback drives one progress display across all stages.
ProgressFn = Callable[[str, int, int | None, str], None]


@dataclass(slots=True)
class RunRequest:
    paths: list[str] = field(default_factory=list)
    dest: str | None = None
    apply: bool = False
    resume: bool = False
    profile: str | None = None
    offline: bool = False


@dataclass(slots=True)
class RunResult:
    run_id: int
    state: str  # planned | done | interrupted | failed
    stage: str
    resumed_from_stage: str | None
    args: dict[str, Any]
    counts: dict[str, Any]
    plan_sample: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    deferred: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _RunRecord:
    """The run's row, written in short transactions of its own between (never inside) stage writes."""

    def __init__(self, db: Database, run_id: int) -> None:
        self.db = db
        self.id = run_id

    @classmethod
    def create(cls, db: Database, args: dict[str, Any]) -> _RunRecord:
        from anivault.db.models_run import Run

        with db.write() as s:
            row = Run(
                state="running",
                stage=STAGES[0],
                args=json.dumps(args, ensure_ascii=False),
                counts="{}",
                pid=os.getpid(),
                host=socket.gethostname(),
            )
            s.add(row)
            s.flush()
            return cls(db, int(row.id))

    def load(self) -> dict[str, Any]:
        from anivault.db.models_run import Run

        with self.db.read() as s:
            row = s.get(Run, self.id)
            assert row is not None
            return {
                "state": row.state,
                "stage": row.stage,
                "args": json.loads(row.args or "{}"),
                "counts": json.loads(row.counts or "{}"),
                "cursor": json.loads(row.cursor) if row.cursor else None,
                "operation_id": row.operation_id,
            }

    def update(self, **values: Any) -> None:
        from anivault.db.models_run import Run

        for key in ("counts", "cursor", "args"):
            if key in values and values[key] is not None and not isinstance(values[key], str):
                values[key] = json.dumps(values[key], ensure_ascii=False, default=str)
        if "error" in values and values["error"] is not None:
            values["error"] = redact(str(values["error"]))[:2000]
        values["updated_at"] = _now()
        with self.db.write() as s:
            row = s.get(Run, self.id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)


def find_resumable(db: Database) -> _RunRecord | None:
    """The newest run that did not finish: interrupted, failed, stopped before applying, or crashed."""
    from sqlalchemy import select

    from anivault.db.models_run import Run

    with db.read() as s:
        row = s.scalars(select(Run).order_by(Run.id.desc()).limit(1)).first()
        if row is None or row.state not in RESUMABLE:
            return None
        if row.state == "running" and row.pid != os.getpid() and process_alive(row.pid, row.host):
            where = f"pid {row.pid}" + (
                f" on {row.host}" if row.host and row.host != socket.gethostname() else ""
            )
            raise UsageError(
                f"run {row.id} is still running ({where})",
                hint="wait for it to finish, or stop it, then `anivault run --resume`",
            )
        return _RunRecord(db, int(row.id))


def run_pipeline(
    db: Database,
    settings: Settings,
    request: RunRequest,
    progress: ProgressFn | None = None,
) -> RunResult:
    """Run (or resume) the whole flow. Raises Interrupted on Ctrl-C, after recording where it stopped."""
    notify: ProgressFn = progress or (lambda stage, done, total, note: None)
    resumed_from: str | None = None
    if request.resume:
        record = find_resumable(db)
        if record is None:
            raise UsageError(
                "there is no unfinished run to resume", hint="start one: anivault run FOLDER --dest LIBRARY"
            )
        saved = record.load()
        args = saved["args"]
        counts: dict[str, Any] = saved["counts"]
        stage = saved["stage"]
        if saved["state"] == "planned":
            if not request.apply:
                raise UsageError(
                    f"run {record.id} stopped before applying its plan",
                    hint="apply it with `anivault run --resume --apply`, or start a new run",
                )
            stage = "plan"  # re-plan from the database (cheap, deterministic), then apply
        args["apply"] = bool(args.get("apply")) or request.apply
        resumed_from = stage
        counts["resumed"] = int(counts.get("resumed", 0)) + 1
        record.update(state="running", pid=os.getpid(), host=socket.gethostname(), error=None, counts=counts)
    else:
        args = _args_from_request(settings, request)
        counts = {}
        stage = STAGES[0]
        record = _RunRecord.create(db, args)
    dest = args.get("dest") or ""
    if not dest:
        raise UsageError("run needs a destination library", hint="add --dest DIR, or set organize.dest")
    result = RunResult(record.id, "running", stage, resumed_from, args, counts)
    current = stage
    try:
        if STAGES.index(current) <= STAGES.index("index"):
            current = "index"
            record.update(stage=current)
            counts["index"] = _index(db, settings, args["paths"], notify)
            record.update(counts=counts, scan_id=counts["index"].get("scan_id"))
        if STAGES.index(current) <= STAGES.index("match"):
            current = "match"
            record.update(stage=current)
            counts["match"] = _match(db, settings, notify, offline=bool(args.get("offline")))
            result.deferred = int(counts["match"].get("deferred", 0))
            record.update(counts=counts)
        current = "plan"
        record.update(stage=current)
        notify("plan", 0, None, "planning")
        plan = _plan(db, settings, dest)
        counts["plan"] = plan.counts()
        result.plan_sample = [
            {"src": m.src, "dst": m.dst, "status": m.status, "note": m.note or ""} for m in plan.moves[:20]
        ]
        record.update(counts=counts)
        if not args.get("apply"):
            record.update(state="planned", finished_at=_now())
            result.state, result.stage = "planned", "plan"
            return result
        current = "apply"
        record.update(stage=current)
        summary = None
        op_id = saved_operation(record) if resumed_from == "apply" else None
        if op_id is not None:
            try:
                summary = _resume_apply(db, op_id, notify)
            except UsageError:
                summary = None  # that operation has nothing left to finish: apply a fresh plan
        if summary is None:
            summary = _apply(db, settings, _plan(db, settings, dest) if op_id else plan, notify)
        counts["apply"] = dict(summary.counts)
        result.problems = [{"src": s or "", "dst": d or "", "note": n or ""} for s, d, n in summary.problems]
        record.update(counts=counts, operation_id=summary.op_id or None)
        state = "done" if summary.status in ("done", "nothing to do") else "failed"
        record.update(
            state=state,
            stage="done" if state == "done" else "apply",
            finished_at=_now(),
            error=None if state == "done" else f"organize finished with status {summary.status}",
        )
        result.state, result.stage = state, "done" if state == "done" else "apply"
        return result
    except (KeyboardInterrupt, Interrupted) as exc:
        _remember_operation(db, record, current)
        record.update(state="interrupted", stage=current, counts=counts, cursor={"stage": current})
        detail = exc.message if isinstance(exc, Interrupted) else "interrupted"
        raise Interrupted(
            f"run {record.id} interrupted during {current} ({detail}); what finished is saved",
            hint="continue it with `anivault run --resume" + (" --apply`" if args.get("apply") else "`"),
        ) from None
    except AniVaultError as exc:
        _remember_operation(db, record, current)
        record.update(state="failed", stage=current, counts=counts, error=exc.message)
        raise
    except Exception as exc:
        _remember_operation(db, record, current)
        record.update(state="failed", stage=current, counts=counts, error=f"{type(exc).__name__}: {exc}")
        raise


def saved_operation(record: _RunRecord) -> int | None:
    op = record.load().get("operation_id")
    return int(op) if op else None


def _remember_operation(db: Database, record: _RunRecord, stage: str) -> None:
    """After apply stopped, record which organize operation it was (the ledger has its own id)."""
    if stage != "apply":
        return
    try:
        with db.engine.connect() as conn:
            op = conn.exec_driver_sql("SELECT max(id) FROM operations WHERE kind='organize'").scalar()
        if op:
            record.update(operation_id=int(op))
    except Exception:  # the database itself may be the problem; the run row is best effort here
        return


def _args_from_request(settings: Settings, request: RunRequest) -> dict[str, Any]:
    """What the run was asked to do, from flags and the profile. Never holds a secret."""
    paths = list(request.paths)
    if not paths and request.profile:
        paths = list(settings.profile(request.profile).sources)
    if not paths:
        raise UsageError(
            "run needs at least one folder to index",
            hint="anivault run ~/Anime --dest ~/Vault, or a profile with sources (--profile NAME)",
        )
    dest = request.dest or settings.organize.dest
    if not dest:
        raise UsageError("run needs a destination library", hint="add --dest DIR, or set organize.dest")
    return {
        # Absolute, so `run --resume` from another folder means the same folders.
        "paths": [str(Path(p).expanduser().absolute()) for p in paths],
        "dest": str(Path(dest).expanduser().absolute()) if dest else "",
        "apply": request.apply,
        "profile": request.profile,
        "offline": request.offline,
        "action": settings.organize.action,
        "conflict": settings.organize.conflict,
    }


# ---------------------------------------------------------------------------------------------------------
# The stages: thin calls into the functions the stage commands use.


def _index(db: Database, settings: Settings, paths: list[str], notify: ProgressFn) -> dict[str, Any]:
    from anivault.pipeline.index import IndexOptions, normalise_roots, run_index

    roots = [Path(p) for p in paths]
    normalise_roots(roots)  # a missing folder is an error before anything is written
    opts = IndexOptions.from_settings(settings, roots)
    notify("index", 0, None, "indexing")
    report = run_index(
        db, opts, lambda seen, parsed: notify("index", seen, None, f"indexing ({parsed} parsed)")
    )
    out = report.to_dict()
    out.pop("error_samples", None)
    out.pop("roots", None)
    return out


def _match(db: Database, settings: Settings, notify: ProgressFn, *, offline: bool) -> dict[str, Any]:
    from anivault.pipeline.match import match_library

    notify("match", 0, None, "matching")
    report = match_library(
        db, settings, offline=offline, progress=lambda done, total: notify("match", done, total, "matching")
    )
    out = report.to_dict()
    out.pop("deferred_keys", None)
    return out


def _plan(db: Database, settings: Settings, dest: str) -> Any:
    from anivault.organize import service

    o = settings.organize
    return service.plan_from_db(
        db,
        dest,
        action=o.action,
        conflict=o.conflict,
        template=o.template,
        series_template=o.series_template,
        movie_template=o.movie_template,
    )


def _apply(db: Database, settings: Settings, plan: Any, notify: ProgressFn) -> Any:
    from anivault.organize import service

    files = len(plan.todo)
    done = [0]

    # The ledger's steps include the folders it creates, so the count of steps is not known here: the
    # display counts steps done and names the number of files.
    def step(n: int) -> None:
        done[0] += n
        notify("apply", done[0], None, f"organizing {files} files ({plan.action})")

    notify("apply", 0, None, f"organizing {files} files ({plan.action})")
    return service.apply_plan(db, plan, verify=settings.organize.verify, progress=step, recheck=False)


def _resume_apply(db: Database, op_id: int | None, notify: ProgressFn) -> Any:
    from anivault.organize import service

    done = [0]

    def step(n: int) -> None:
        done[0] += n
        notify("apply", done[0], None, "organizing (resumed)")

    return service.resume(db, op_id, progress=step)
