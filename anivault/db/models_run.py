"""The runs table behind `anivault run` and `anivault status`.

One row per `anivault run`. It says which stage the run reached, what each stage counted, and where to
pick up again: `run --resume` reads the newest row whose state is not terminal. Plain integers point at
the `scans` row and the `operations` row the run created (no foreign keys: a run outlives a pruned scan,
and the ledger has its own lifecycle).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from anivault.db.base import Base, utcnow


class Run(Base):
    """One `anivault run`: index → match → plan (→ apply)."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # running | planned (stopped before applying) | done | interrupted | failed
    state: Mapped[str] = mapped_column(String(16), default="running")
    # index | match | plan | apply | done: the stage running now, or where the run stopped
    stage: Mapped[str] = mapped_column(String(16), default="index")
    args: Mapped[str] = mapped_column(Text, default="{}")  # JSON: paths, dest, apply, profile (never secrets)
    counts: Mapped[str] = mapped_column(Text, default="{}")  # JSON: {"index": {...}, "match": {...}, ...}
    cursor: Mapped[str | None] = mapped_column(Text)  # JSON: the item a stage stopped at, for --resume
    scan_id: Mapped[int | None] = mapped_column(Integer)
    operation_id: Mapped[int | None] = mapped_column(Integer)
    resumed_from: Mapped[int | None] = mapped_column(Integer)  # the run this one continued
    error: Mapped[str | None] = mapped_column(Text)  # one-line cause, redacted
    pid: Mapped[int | None] = mapped_column(Integer)  # to tell a crashed run from a live one
    host: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index("ix_runs_state_started", "state", "started_at"),)
