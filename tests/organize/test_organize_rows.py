"""The executor's bookkeeping: the library's `files` rows follow every move there and back (a swap and a
stale row included), a rollback writes exactly what its dry run listed, and Ctrl-C leaves a ledger that
agrees with the disk."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
from pathlib import Path

import pytest
from crash_organize import episode_input, files_under, ledger_rows, write

from anivault.db.engine import Database
from anivault.errors import Interrupted
from anivault.organize import execute, service
from anivault.organize.execute import RunSummary
from anivault.organize.plan import PlanInput


def index_rows(db: Database, root: Path, paths: list[Path], *, status: str = "present") -> list[int]:
    """The `files` rows `anivault index` would have written for these files (ids returned in order)."""
    conn = sqlite3.connect(db.path)
    try:
        conn.execute("INSERT OR IGNORE INTO roots (path, added_at) VALUES (?, '2026-01-01')", (str(root),))
        root_id = conn.execute("SELECT id FROM roots WHERE path=?", (str(root),)).fetchone()[0]
        ids = []
        for p in paths:
            st = os.lstat(p) if p.exists() else None
            cur = conn.execute(
                "INSERT INTO files (root_id, path, dir, name, ext, size, mtime_ns, dev, inode, kind, status,"
                " first_seen, last_seen) VALUES (?, ?, ?, ?, 'mkv', ?, ?, ?, ?, 'video', ?, '2026-01-01',"
                " '2026-01-01')",
                (root_id, str(p), str(p.parent), p.name, st.st_size if st else 0, st.st_mtime_ns if st else 0,
                 st.st_dev if st else 0, st.st_ino if st else 0, status),
            )  # fmt: skip
            ids.append(int(cur.lastrowid or 0))
        conn.commit()
        return ids
    finally:
        conn.close()


def file_rows(db: Database) -> dict[int, tuple[object, ...]]:
    rows = ledger_rows(db.path, "SELECT id, path, dir, name, root_id, status FROM files")
    return {int(str(r[0])): r[1:] for r in rows}


def indexed(path: Path, episode: int, file_id: int) -> PlanInput:
    return dataclasses.replace(episode_input(path, episode), file_id=file_id)


def test_library_rows_follow_every_move_there_and_back(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "src"
    paths = [write(src / f"d{n % 3}" / f"[Grp] Frieren - {n:02d}.mkv", f"ep {n}") for n in range(1, 13)]
    ids = index_rows(db, src, paths)
    before_rows, before_tree = file_rows(db), files_under(src)
    plan = service.plan_from_inputs(
        [indexed(p, n, i) for n, (p, i) in enumerate(zip(paths, ids, strict=True), 1)],
        str(tmp_path / "vault"),
    )
    res = service.apply_plan(db, plan)
    assert res.status == "done" and not any(p.exists() for p in paths)
    rows = file_rows(db)
    for m in plan.todo:
        path, folder, name, root_id, status = rows[m.file_id or 0]
        assert (path, folder, name) == (m.dst, os.path.dirname(m.dst), os.path.basename(m.dst))
        assert root_id is None and status == "present"  # the vault is not an indexed folder
    back = service.rollback(db, res.op_id)
    assert isinstance(back, RunSummary) and back.status == "done"
    assert file_rows(db) == before_rows and files_under(src) == before_tree
    assert ledger_rows(db.path, "SELECT DISTINCT state FROM operation_items WHERE op_id=?", res.op_id) == [
        ("undone",)
    ]


def test_swapped_indexed_files_and_a_stale_row_land_on_the_right_rows(db: Database, tmp_path: Path) -> None:
    season = tmp_path / "vault" / "Frieren (2023) [tmdbid-209867]" / "Season 01"
    e1, e2 = (write(season / f"Frieren - S01E0{n}.mkv", f"episode {n}") for n in (1, 2))
    gone = season / "Frieren - S01E03.mkv"  # indexed once, deleted since: its row still holds the name
    id1, id2 = index_rows(db, season, [e1, e2])
    (id_gone,) = index_rows(db, season, [gone], status="missing")
    e4 = write(season / "Frieren - S01E04.mkv", "episode 3")  # misnumbered: it is episode 3
    (id4,) = index_rows(db, season, [e4])
    inputs = [indexed(e1, 2, id1), indexed(e2, 1, id2), indexed(e4, 3, id4)]
    res = service.apply_plan(db, service.plan_from_inputs(inputs, str(tmp_path / "vault")))
    assert res.status == "done", res
    rows = file_rows(db)
    assert rows[id1][0] == str(e2) and rows[id2][0] == str(e1) and rows[id4][0] == str(gone)
    assert rows[id_gone][0] == f"{gone} (gone #{id_gone})"  # keeps its history, gives up the name
    assert (rows[id1][1], rows[id1][2]) == (str(season), e2.name)
    assert e1.read_text() == "episode 2" and gone.read_text() == "episode 3"


@pytest.mark.parametrize("action", ["move", "copy", "hardlink", "symlink"])
def test_a_rollback_writes_exactly_what_its_dry_run_listed(db: Database, tmp_path: Path, action: str) -> None:
    srcs = [write(tmp_path / "src" / f"ep{n}.mkv", f"{n}") for n in range(1, 4)]
    plan = service.plan_from_inputs(
        [episode_input(p, n) for n, p in enumerate(srcs, 1)], str(tmp_path / "vault"), action=action
    )
    res = service.apply_plan(db, plan)
    planned = service.rollback(db, res.op_id, dry_run=True)
    assert isinstance(planned, list)
    back = service.rollback(db, res.op_id)
    assert isinstance(back, RunSummary) and back.status == "done"
    written = ledger_rows(
        db.path,
        "SELECT seq, action, src, dst, undo_of FROM operation_items WHERE op_id=? ORDER BY seq",
        back.op_id,
    )
    assert written == [(s.seq, s.action, s.src, s.dst, s.undo_of) for s, _ in planned]
    assert all(p.read_text() == f"{n}" for n, p in enumerate(srcs, 1)) and not (tmp_path / "vault").exists()


def test_rolling_back_twice_writes_no_second_rollback_run(db: Database, tmp_path: Path) -> None:
    a = write(tmp_path / "src" / "ep1.mkv")
    res = service.apply_plan(db, service.plan_from_inputs([episode_input(a, 1)], str(tmp_path / "vault")))
    first = service.rollback(db, res.op_id)
    runs = ledger_rows(db.path, "SELECT id, kind, total FROM operations")
    again = service.rollback(db, res.op_id)
    assert isinstance(again, RunSummary) and isinstance(first, RunSummary) and again.op_id == first.op_id
    assert ledger_rows(db.path, "SELECT id, kind, total FROM operations") == runs
    assert runs[-1][1:] == ("rollback", 4)  # the file and its three folders


def test_a_symlinked_target_folder_planted_after_planning_is_never_written_through(
    db: Database, tmp_path: Path
) -> None:
    src = write(tmp_path / "src" / "ep1.mkv")
    plan = service.plan_from_inputs([episode_input(src, 1)], str(tmp_path / "vault"))
    season = Path(plan.todo[0].dst).parent
    outside = tmp_path / "outside"
    outside.mkdir()
    season.parent.mkdir(parents=True)
    season.symlink_to(outside, target_is_directory=True)
    res = service.apply_plan(db, plan)
    assert res.status != "done" and src.exists() and list(outside.iterdir()) == []


def ctrl_c_after_rename(monkeypatch: pytest.MonkeyPatch, at: int, presses: int) -> None:
    """Press Ctrl-C ``presses`` times right after the ``at``-th rename, before the executor records it: the
    moment a KeyboardInterrupt would leave a moved file marked "not attempted"."""
    real = execute.move_no_replace
    done = [0]

    def rename_then_press(src: str, dst: str) -> str:
        method = real(src, dst)
        done[0] += 1
        if done[0] == at:
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)
        return method

    monkeypatch.setattr(execute, "move_no_replace", rename_then_press)


def disk_agrees_with_ledger(db: Database, op_id: int) -> dict[str, int]:
    """Every done move's file is at its target, every other one still at its source."""
    states: dict[str, int] = {}
    for src, dst, state in ledger_rows(
        db.path, "SELECT src, dst, state FROM operation_items WHERE op_id=? AND action='move'", op_id
    ):
        states[str(state)] = states.get(str(state), 0) + 1
        here, there = Path(str(src)).exists(), Path(str(dst)).exists()
        assert (here, there) == ((False, True) if state == "done" else (True, False)), (src, state)
    return states


def apply_with_ctrl_c(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, presses: int
) -> tuple[Interrupted, int]:
    srcs = [write(tmp_path / "src" / f"ep{n}.mkv", f"episode {n}") for n in range(1, 9)]
    plan = service.plan_from_inputs([episode_input(p, n) for n, p in enumerate(srcs, 1)], str(tmp_path / "v"))
    ctrl_c_after_rename(monkeypatch, at=3, presses=presses)
    with pytest.raises(Interrupted) as exc:
        service.apply_plan(db, plan)
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back after the run
    return exc.value, int(str(ledger_rows(db.path, "SELECT max(id) FROM operations")[0][0]))


def test_ctrl_c_stops_after_the_move_in_hand_and_records_it(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err, op_id = apply_with_ctrl_c(db, tmp_path, monkeypatch, presses=1)
    assert "--resume" in (err.hint or "")
    assert disk_agrees_with_ledger(db, op_id) == {"done": 3, "aborted": 5}
    assert service.resume(db).status == "done"
    assert disk_agrees_with_ledger(db, op_id) == {"done": 8}


def test_a_second_ctrl_c_stops_at_once_and_recovery_settles_the_move_in_hand(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err, op_id = apply_with_ctrl_c(db, tmp_path, monkeypatch, presses=2)
    assert "recover" in (err.hint or "")
    # The third file moved but its record did not happen: it is still pending, and so is the run.
    assert ledger_rows(db.path, "SELECT status FROM operations WHERE id=?", op_id) == [("running",)]
    assert service.recover_interrupted(db).runs
    states = disk_agrees_with_ledger(db, op_id)
    assert states.get("done") == 3 and "pending" not in states
    service.resume(db)
    assert disk_agrees_with_ledger(db, op_id) == {"done": 8}
    service.rollback(db, op_id)
    assert files_under(tmp_path / "src") == {f"ep{n}.mkv": f"episode {n}".encode() for n in range(1, 9)}
