"""The ledger: schema (model == migration, v_ledger), durability settings, intent before action, and the
recovery table of RELIABILITY §3 case by case (plus a second recovery being a no-op)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from crash_organize import episode_input, write

from anivault.db.engine import Database
from anivault.organize import fileops, service
from anivault.organize.fileops import Fingerprint
from anivault.organize.ledger import Ledger, part_path
from anivault.organize.plan import Step
from anivault.organize.recovery import ALERT, recover


def test_model_matches_migration_and_view_exists(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from anivault.db.base import Base
    from anivault.db.models import all_models

    all_models()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        cols = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(v_ledger)")]
    assert [d for d in diff if "operation" in str(d)] == []
    assert {"op_id", "op_kind", "op_status", "seq", "action", "src", "dst", "state", "note"} <= set(cols)


def test_intents_commit_with_synchronous_full(db: Database) -> None:
    with Ledger(db) as ledger:
        assert ledger.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL for batches
        with ledger.tx(durable=True) as c:
            assert c.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL for an intent
        assert ledger.conn.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_whole_plan_is_pending_before_the_first_file_moves(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srcs = [write(tmp_path / "src" / f"ep{n}.mkv") for n in range(1, 6)]
    plan = service.plan_from_inputs(
        [episode_input(p, n) for n, p in enumerate(srcs, 1)], str(tmp_path / "vault")
    )

    class Crash(Exception):
        pass

    def crash(name: str) -> None:
        if name == "after_intent_commit":
            raise Crash

    monkeypatch.setattr(service, "crashpoint", crash)
    with pytest.raises(Crash):
        service.apply_plan(db, plan)
    conn = sqlite3.connect(db.path)
    states = conn.execute("SELECT state, count(*) FROM operation_items GROUP BY state").fetchall()
    conn.close()
    assert states == [("pending", 8)]  # 3 folders + 5 files, all recorded
    assert all(p.exists() for p in srcs) and not (tmp_path / "vault").exists()
    # recovery: nothing happened, so everything is aborted; --resume then does it all
    with Ledger(db) as ledger:
        report = recover(ledger)
    assert report.resolved == {"aborted": 8}
    assert service.resume(db).status == "done"
    assert not any(p.exists() for p in srcs)


def one_move(db: Database, src: Path, dst: Path, action: str = "move") -> tuple[Ledger, int]:
    ledger = Ledger(db)
    fp = Fingerprint.of(os.lstat(src))
    op = ledger.create_operation("organize", str(dst.parent), {}, [Step(1, action, str(src), str(dst), fp)])
    return ledger, op


def resolve_one(ledger: Ledger, op: int) -> tuple[str, str | None]:
    recover(ledger)
    item = next(ledger.items(op))
    assert recover(ledger).runs == []  # a second recovery is a no-op
    return item.state, item.note


def test_recovery_intent_only(db: Database, tmp_path: Path) -> None:
    src = write(tmp_path / "a.mkv")
    ledger, op = one_move(db, src, tmp_path / "b.mkv")
    assert resolve_one(ledger, op) == ("aborted", "not started")
    assert ledger.operation(op).status == "interrupted"  # type: ignore[union-attr]
    ledger.close()


def test_recovery_deletes_a_partial_temp_file(db: Database, tmp_path: Path) -> None:
    src = write(tmp_path / "a.mkv", b"full content")
    dst = tmp_path / "v" / "b.mkv"
    dst.parent.mkdir()
    ledger, op = one_move(db, src, dst)
    part = Path(part_path(op, 1, str(dst)))
    part.write_bytes(b"full")
    assert resolve_one(ledger, op) == ("aborted", "not started")
    assert not part.exists() and src.read_bytes() == b"full content"
    ledger.close()


def test_recovery_rolls_forward_a_link_without_unlink(db: Database, tmp_path: Path) -> None:
    src = write(tmp_path / "a.mkv")
    dst = tmp_path / "b.mkv"
    ledger, op = one_move(db, src, dst)
    os.link(src, dst)
    assert resolve_one(ledger, op) == ("done", "recovered: rolled forward")
    assert dst.exists() and not src.exists()
    ledger.close()


def test_recovery_rolls_forward_a_published_copy(db: Database, tmp_path: Path) -> None:
    src = write(tmp_path / "a.mkv", b"content")
    dst = tmp_path / "b.mkv"
    ledger, op = one_move(db, src, dst)
    dst.write_bytes(b"content")  # published copy (another inode), source not yet removed
    assert resolve_one(ledger, op) == ("done", "recovered: rolled forward")
    assert not src.exists()
    ledger.close()


def test_recovery_target_there_source_gone_is_done(db: Database, tmp_path: Path) -> None:
    src = write(tmp_path / "a.mkv")
    dst = tmp_path / "b.mkv"
    ledger, op = one_move(db, src, dst)
    os.rename(src, dst)
    assert resolve_one(ledger, op) == ("done", "recovered")
    ledger.close()


def test_recovery_different_target_is_a_conflict_and_touches_nothing(db: Database, tmp_path: Path) -> None:
    src = write(tmp_path / "a.mkv", b"mine")
    dst = write(tmp_path / "b.mkv", b"someone else's")
    ledger, op = one_move(db, src, dst)
    state, note = resolve_one(ledger, op)
    assert state == "conflict" and "differs" in (note or "")
    assert src.read_bytes() == b"mine" and dst.read_bytes() == b"someone else's"
    ledger.close()


def test_recovery_alerts_when_both_are_gone(db: Database, tmp_path: Path) -> None:
    src = write(tmp_path / "a.mkv")
    ledger, op = one_move(db, src, tmp_path / "b.mkv")
    src.unlink()
    report = recover(ledger)
    assert report.alerts and next(ledger.items(op)).note == ALERT
    ledger.close()


def test_recovery_of_hardlink_symlink_and_copy_items(db: Database, tmp_path: Path) -> None:
    for action, make in (("hardlink", os.link), ("symlink", lambda s, d: os.symlink(os.path.abspath(s), d))):
        src = write(tmp_path / action / "a.mkv")
        dst = tmp_path / action / "b.mkv"
        ledger, op = one_move(db, src, dst, action)
        make(src, dst)
        assert resolve_one(ledger, op)[0] == "done"
        ledger.close()
    src = write(tmp_path / "copy" / "a.mkv", b"c")
    dst = write(tmp_path / "copy" / "b.mkv", b"c")
    ledger, op = one_move(db, src, dst, "copy")
    assert resolve_one(ledger, op)[0] == "done" and src.exists()
    ledger.close()


def test_recovery_runs_before_any_new_work(db: Database, tmp_path: Path) -> None:
    src = write(tmp_path / "a.mkv")
    ledger, op = one_move(db, src, tmp_path / "b.mkv")
    ledger.close()
    other = write(tmp_path / "src" / "ep1.mkv")
    service.apply_plan(db, service.plan_from_inputs([episode_input(other, 1)], str(tmp_path / "vault")))
    with Ledger(db) as ledger:
        assert ledger.operation(op).status == "interrupted"  # type: ignore[union-attr]


def test_crash_point_env_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIVAULT_CRASHPOINT", "after_publish:3")
    fileops.rearm_crashpoints()
    try:
        assert (fileops._crash.name, fileops._crash.count) == ("after_publish", 3)
        fileops.crashpoint("mid_copy")  # other names never fire
        assert fileops._crash.count == 3
    finally:
        monkeypatch.delenv("ANIVAULT_CRASHPOINT")
        fileops.rearm_crashpoints()
