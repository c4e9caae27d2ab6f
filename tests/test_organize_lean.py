"""The executor's lean path (one renameat2 between open folder handles) and the set-based batch commits:
the library's `files` rows follow every move there and back, a swap or a stale row still lands right, the
SQL that splits a path agrees with os.path, and the handles stay bounded and confined."""

from __future__ import annotations

import dataclasses
import errno
import ntpath
import os
import posixpath
import shutil
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from crash_organize import episode_input, files_under, ledger_rows, write
from hypothesis import given
from hypothesis import strategies as st

from anivault.db.engine import Database, open_db
from anivault.errors import Interrupted, UsageError
from anivault.organize import execute, fileops, ledger, service
from anivault.organize.fileops import Fingerprint, FolderHandles
from anivault.organize.ledger import Ledger, folder_len
from anivault.organize.plan import PlanInput, Step

lean_only = pytest.mark.skipif(not fileops.FAST_MOVES, reason="the lean path needs renameat2 (Linux)")
needs_c = pytest.mark.skipif(fileops.lean_runner() is None, reason="the C loop (_lean.c) is not built here")


@pytest.fixture(params=["c", "python"])
def lean_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test through each of the lean path's two forms: the C loop (runs of moves per call, where it
    is built) and fileops.fast_move (one move per call: the fallback, and the reference)."""
    if request.param == "c":
        if fileops.lean_runner() is None:
            pytest.skip("the C loop (_lean.c) is not built here")
    else:
        monkeypatch.setattr(execute, "lean_runner", lambda: None)
    return str(request.param)


def count_lean_moves(
    monkeypatch: pytest.MonkeyPatch, after: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Counts the lean moves each form made ("c", "python"), calling ``after`` with the running total after
    each call that moved something. Keeps the form the lean_path fixture chose."""
    counts = {"c": 0, "python": 0}

    def tally(form: str, n: int) -> None:
        counts[form] += n
        if n and after is not None:
            after(counts["c"] + counts["python"])

    lean = execute.fast_move

    def fast(*args: Any) -> bool:
        moved = lean(*args)
        tally("python", int(moved))
        return moved

    monkeypatch.setattr(execute, "fast_move", fast)
    runner = execute.lean_runner()
    if runner is not None:
        real = runner

        def many(steps: list[Step], start: int, stop: int, *rest: Any) -> tuple[int, int]:
            moved, why = real(steps, start, stop, *rest)
            tally("c", moved)
            return moved, why

        monkeypatch.setattr(execute, "lean_runner", lambda: many)
    return counts


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    d = open_db(tmp_path / "library.db")
    yield d
    d.close()


def index_rows(db: Database, root: Path, paths: list[Path], *, status: str = "present") -> list[int]:
    """The `files` rows `anivault index` would have written for these files (ids returned in order)."""
    conn = sqlite3.connect(db.path)
    try:
        conn.execute("INSERT OR IGNORE INTO roots (path, added_at) VALUES (?, '2026-01-01')", (str(root),))
        root_id = conn.execute("SELECT id FROM roots WHERE path=?", (str(root),)).fetchone()[0]
        ids = []
        for p in paths:
            st_ = os.lstat(p) if p.exists() else None
            cur = conn.execute(
                "INSERT INTO files (root_id, path, dir, name, ext, size, mtime_ns, dev, inode, kind, status,"
                " first_seen, last_seen) VALUES (?, ?, ?, ?, 'mkv', ?, ?, ?, ?, 'video', ?, '2026-01-01',"
                " '2026-01-01')",
                (root_id, str(p), str(p.parent), p.name, st_.st_size if st_ else 0, st_.st_mtime_ns if st_ else 0,
                 st_.st_dev if st_ else 0, st_.st_ino if st_ else 0, status),
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


def episodes_plan(paths: list[Path], ids: list[int], vault: Path) -> service.OrganizePlan:
    """The plan for ``paths`` as episodes 1, 2, … of one show, each with its library id, into ``vault``."""
    return service.plan_from_inputs(
        [indexed(p, n, i) for n, (p, i) in enumerate(zip(paths, ids, strict=True), 1)], str(vault)
    )


@lean_only
def test_lean_moves_keep_the_library_rows_true_there_and_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lean_path: str
) -> None:
    src = tmp_path / "src"
    paths = [write(src / f"d{n % 3}" / f"[Grp] Frieren - {n:02d}.mkv", f"ep {n}") for n in range(1, 13)]
    ids = index_rows(db, src, paths)
    before_rows, before_tree = file_rows(db), files_under(src)
    content = {str(p): p.read_text() for p in paths}

    def general_path_used(*_a: object) -> str:
        raise AssertionError("a plain same-device move must take the lean path")

    monkeypatch.setattr(execute, "move_same_device", general_path_used)
    lean = count_lean_moves(monkeypatch)
    plan = episodes_plan(paths, ids, tmp_path / "vault")
    res = service.apply_plan(db, plan)
    assert res.status == "done" and not any(p.exists() for p in paths)
    # Python opens each folder's handle (the first move from each of d0..d2); the C loop then takes the rest.
    assert lean == ({"c": 9, "python": 3} if lean_path == "c" else {"c": 0, "python": 12})
    rows = file_rows(db)
    for m in plan.todo:
        path, folder, name, root_id, status = rows[m.file_id or 0]
        assert (path, folder, name) == (m.dst, os.path.dirname(m.dst), os.path.basename(m.dst))
        assert root_id is None and status == "present"  # the vault is not an indexed folder
        assert Path(m.dst).read_text() == content[m.src]
    states = ledger_rows(db.path, "SELECT DISTINCT state FROM operation_items WHERE op_id=?", res.op_id)
    assert states == [("done",)]

    back = service.rollback(db, res.op_id)
    assert not isinstance(back, list) and back.status == "done"
    assert file_rows(db) == before_rows and files_under(src) == before_tree
    # Reported undone (derived from the rollback's done items: the rollback wrote nothing into the run).
    assert ledger_rows(db.path, "SELECT DISTINCT state FROM v_ledger WHERE op_id=?", res.op_id) == [
        ("undone",)
    ]
    assert ledger_rows(db.path, "SELECT DISTINCT state FROM operation_items WHERE op_id=?", res.op_id) == [
        ("done",)
    ]
    # Both runs stored where each path's folder ends (the rollback's swapped with its paths), so the
    # commits above cut `dir` and `name` there rather than searching the text.
    moves = ledger_rows(
        db.path, "SELECT src, src_dir_len, dst, dst_dir_len FROM operation_items WHERE action='move'"
    )
    assert len(moves) == 2 * len(paths)
    for src_, src_cut, dst, dst_cut in moves:
        assert (src_[:src_cut], dst[:dst_cut]) == (os.path.dirname(str(src_)), os.path.dirname(str(dst)))


def test_rows_from_before_the_folder_lengths_still_roll_back_the_library_rows(
    db: Database, tmp_path: Path
) -> None:
    """A run organized before migration 0006 has no folder lengths: its rollback's commits search the text."""
    src = tmp_path / "src"
    paths = [write(src / f"d{n % 2}" / f"[Grp] Frieren - {n:02d}.mkv", f"ep {n}") for n in range(1, 5)]
    ids = index_rows(db, src, paths)
    before_rows = file_rows(db)
    plan = episodes_plan(paths, ids, tmp_path / "vault")
    res = service.apply_plan(db, plan)
    assert res.status == "done"
    conn = sqlite3.connect(db.path)
    try:
        conn.execute("UPDATE operation_items SET src_dir_len = NULL, dst_dir_len = NULL")
        conn.commit()
    finally:
        conn.close()
    back = service.rollback(db, res.op_id)
    assert not isinstance(back, list) and back.status == "done"
    assert file_rows(db) == before_rows  # path, dir, name and root back as the index wrote them
    # The rollback's moves inherited the missing lengths, so its commits did search.
    unknown = "SELECT count(*) FROM operation_items WHERE op_id=? AND action='move' AND dst_dir_len IS NULL"
    assert ledger_rows(db.path, unknown, back.op_id) == [(len(paths),)]


def test_swapped_indexed_files_and_a_stale_row_land_on_the_right_rows(db: Database, tmp_path: Path) -> None:
    season = tmp_path / "vault" / "Frieren (2023) [tmdbid-209867]" / "Season 01"
    e1, e2 = (write(season / f"Frieren - S01E0{n}.mkv", f"episode {n}") for n in (1, 2))
    gone = season / "Frieren - S01E03.mkv"  # indexed once, deleted since: its row still holds the name
    id1, id2, id_gone = index_rows(db, season, [e1, e2, gone])
    conn = sqlite3.connect(db.path)
    conn.execute("UPDATE files SET status='missing' WHERE id=?", (id_gone,))
    conn.commit()
    conn.close()
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


def test_rollback_dry_run_lists_exactly_what_the_rollback_writes(db: Database, tmp_path: Path) -> None:
    srcs = [write(tmp_path / "src" / f"ep{n}.mkv", f"{n}") for n in range(1, 4)]
    plan = service.plan_from_inputs(
        [episode_input(p, n) for n, p in enumerate(srcs, 1)], str(tmp_path / "vault"), action="hardlink"
    )
    res = service.apply_plan(db, plan)
    steps = service.rollback(db, res.op_id, dry_run=True)
    assert isinstance(steps, list) and [s.action for s in steps] == ["unlink"] * 3 + ["rmdir"] * 3
    back = service.rollback(db, res.op_id)
    assert not isinstance(back, list) and back.status == "done"
    written = ledger_rows(
        db.path,
        "SELECT seq, action, src, dst, size, undo_of FROM operation_items WHERE op_id=? ORDER BY seq",
        back.op_id,
    )
    assert written == [(s.seq, s.action, s.src, s.dst, s.fp.size if s.fp else None, s.undo_of) for s in steps]
    assert all(p.exists() for p in srcs) and not (tmp_path / "vault").exists()


def _organized(db: Database, tmp_path: Path, *, action: str = "move") -> tuple[int, list[Path]]:
    """A run to roll back: three videos, one with a name that is not UTF-8 (its paths go in `*_raw`)."""
    src = tmp_path / "src"
    odd = Path(os.fsdecode(os.fsencode(str(src / "d1")) + b"/[Grp] Frieren \xff - 03.mkv"))
    paths = [
        write(src / "d0" / "[Grp] Frieren - 01.mkv", "1"),
        write(src / "d1" / "葬送のフリーレン 02.mkv", "2"),
    ]
    ids = index_rows(db, src, paths)
    paths.append(write(odd, "3"))  # not in the index (its row would need path_raw): no file id
    inputs = [indexed(p, n, i) for n, (p, i) in enumerate(zip(paths, ids, strict=False), 1)]
    plan = service.plan_from_inputs([*inputs, episode_input(odd, 3)], str(tmp_path / "vault"), action=action)
    res = service.apply_plan(db, plan)
    assert res.status == "done", res
    return res.op_id, paths


@pytest.mark.parametrize("action", ["move", "hardlink"])
def test_rollback_steps_read_beside_its_intent_are_the_items_it_wrote(
    db: Database, tmp_path: Path, action: str
) -> None:
    op_id, _ = _organized(db, tmp_path, action=action)
    with Ledger(db) as led:
        created = led.create_rollback(op_id)
        assert created is not None
        new_id, stream = created
        assert stream is not None, "a WAL database reads the steps beside the intent"
        assert (stream.run_id, stream.total) == (new_id, 6)
        assert stream.wait(stream.total) == 6  # all of them, then the read ended
        stream.close()
        assert stream.steps == list(led.pending_steps(new_id))
        assert [s.action for s in stream.steps] == ["move" if action == "move" else "unlink"] * 3 + [
            "rmdir"
        ] * 3


def _rollback_with_stream(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fetch: Callable[[Any, int, int], list[Any]]
) -> tuple[list[int], list[Path]]:
    """Roll back the run of _organized with the side read's chunks (two rows each) passed through ``fetch``
    (cursor, size, call number); returns the seqs the executor read back from the ledger."""
    op_id, paths = _organized(db, tmp_path)
    calls = iter(range(100))
    monkeypatch.setattr(ledger.StepStream, "FIRST", 2)
    monkeypatch.setattr(ledger.StepStream, "CHUNK", 2)
    monkeypatch.setattr(
        ledger.StepStream, "_fetch", staticmethod(lambda cur, size: fetch(cur, size, next(calls)))
    )
    read_back: list[int] = []
    real_remainder = ledger.StepStream.remainder

    def remainder(self: ledger.StepStream, led: Ledger) -> list[Step]:
        rest = real_remainder(self, led)
        read_back.extend(s.seq for s in rest)
        return rest

    monkeypatch.setattr(ledger.StepStream, "remainder", remainder)
    back = service.rollback(db, op_id)
    assert not isinstance(back, list) and back.status == "done", back
    assert back.counts == {"done": 6}
    assert all(p.exists() for p in paths) and not (tmp_path / "vault").exists()
    return read_back, paths


def test_a_rollback_whose_side_read_ends_short_reads_the_rest_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer changing the run between the two reads (AniVault's writer lock keeps its own out):
    the read delivers fewer items than the intent wrote, and the executor reads the rest from the ledger."""

    rows: list[Any] = []

    def drop_last(cur: Any, size: int, call: int) -> list[Any]:
        if call == 0:
            rows.extend(cur.fetchall()[:-1])  # the read ends one row early
        chunk = rows[:size]
        del rows[:size]
        return chunk

    read_back, _ = _rollback_with_stream(db, tmp_path, monkeypatch, drop_last)
    assert len(read_back) == 1  # had the short read been carried out alone, a folder would still be pending


def test_a_rollback_whose_side_read_fails_midway_reads_the_rest_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_second(cur: Any, size: int, call: int) -> list[Any]:
        if call == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return list(cur.fetchmany(size))

    read_back, _ = _rollback_with_stream(db, tmp_path, monkeypatch, fail_second)
    assert len(read_back) == 4  # the first chunk (two items) came from the side read


def test_a_rollback_whose_side_read_meets_rows_out_of_order_reads_the_rest_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite keeps the subquery's order today; should it not, the read stops at the first row out of
    order (a chunk's Steps are only ever handed on in seq order) and the rest comes from the ledger."""

    def swap_second(cur: Any, size: int, call: int) -> list[Any]:
        rows = list(cur.fetchmany(size))
        return rows[::-1] if call == 1 else rows

    read_back, _ = _rollback_with_stream(db, tmp_path, monkeypatch, swap_second)
    assert read_back == sorted(read_back) and len(read_back) == 4


def test_rollback_reads_its_items_back_when_the_side_read_cannot_open(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    op_id, paths = _organized(db, tmp_path)
    opened: list[bool] = []

    def refuse(*, readonly: bool = False) -> sqlite3.Connection:
        opened.append(readonly)
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(db, "raw_connect", refuse)
    back = service.rollback(db, op_id)
    assert opened == [True]  # the side read was tried, failed, and the rollback went on without it
    assert not isinstance(back, list) and back.status == "done", back
    assert all(p.exists() for p in paths) and not (tmp_path / "vault").exists()


def test_a_side_read_that_takes_its_snapshot_after_the_commit_is_not_used(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the intent's commit another writer could change the run before the side read looks: such a
    read is dropped however it turns out, and the items are read back."""
    op_id, paths = _organized(db, tmp_path)
    real_connect = db.raw_connect
    connected: list[bool] = []

    def slow(*, readonly: bool = False) -> sqlite3.Connection:
        time.sleep(0.3)  # longer than the commit is made to wait below
        connected.append(readonly)
        return real_connect(readonly=readonly)

    monkeypatch.setattr(db, "raw_connect", slow)
    monkeypatch.setattr(ledger.StepStream, "SNAPSHOT_WAIT", 0.01)
    with Ledger(db) as led:
        created = led.create_rollback(op_id)
        assert created is not None and created[1] is None  # not used ...
        assert connected == [True]  # ... though it was opened, after the commit (and stopped)
        led.mark_pending(created[0], "aborted", "not attempted: test")
        led.set_status(created[0], "interrupted")
    monkeypatch.setattr(db, "raw_connect", real_connect)
    back = service.rollback(db, op_id)
    assert not isinstance(back, list) and back.status == "done", back
    assert all(p.exists() for p in paths)


def test_rollback_without_wal_reads_its_items_after_the_intent(db: Database, tmp_path: Path) -> None:
    """journal_mode=DELETE (a library on a network filesystem): a reader would hold up the intent's
    commit, so there is no side read, and the rollback still restores everything."""
    op_id, paths = _organized(db, tmp_path)
    no_wal = dataclasses.replace(db, journal_mode="delete")
    with Ledger(no_wal) as led:
        created = led.create_rollback(op_id)
        assert created is not None and created[1] is None
        led.mark_pending(created[0], "aborted", "not attempted: test")
        led.set_status(created[0], "interrupted")
    back = service.rollback(no_wal, op_id)  # resumes the run written above, from its ledger rows
    assert not isinstance(back, list) and back.status == "done", back
    assert all(p.exists() for p in paths) and not (tmp_path / "vault").exists()


def thirty_files_with_small_batches(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> service.OrganizePlan:
    """A plan of 30 indexed files in 3 folders, run in batches of 8 but for the last 10 items, 2 at a time."""
    src = tmp_path / "src"
    paths = [write(src / f"d{n % 3}" / f"[Grp] Frieren - {n:02d}.mkv", f"ep {n}") for n in range(1, 31)]
    ids = index_rows(db, src, paths)
    monkeypatch.setattr(execute, "BATCH", 8)
    monkeypatch.setattr(execute, "TAIL_ITEMS", 10)
    monkeypatch.setattr(execute, "TAIL_BATCH", 2)
    return episodes_plan(paths, ids, tmp_path / "vault")


@lean_only
def test_the_last_items_of_a_run_go_to_the_writer_in_small_batches(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches hold BATCH items until the last TAIL_ITEMS, which go TAIL_BATCH at a time: once the last file
    has moved, the writer has one small batch left to write, not a full one."""
    plan = thirty_files_with_small_batches(db, tmp_path, monkeypatch)
    sizes: list[int] = []
    put = execute.BatchWriter.put

    def sized_put(self: execute.BatchWriter, batch: execute.Batch) -> None:
        sizes.append(batch.size)
        put(self, batch)

    monkeypatch.setattr(execute.BatchWriter, "put", sized_put)
    res = service.apply_plan(db, plan)
    assert res.status == "done"
    total = ledger_rows(db.path, "SELECT count(*) FROM operation_items WHERE op_id=?", res.op_id)[0][0]
    assert sum(sizes) == total > 30  # the files and their folders
    assert sizes[:2] == [8, 8] and max(sizes) == 8, sizes
    tail, seen = [], 0
    for size in reversed(sizes):
        if seen >= 10:
            break
        tail.append(size)
        seen += size
    assert max(tail) <= 2 and len(tail) >= 5, sizes  # the last 10 items, 2 at a time


@lean_only
def test_the_writer_commits_ahead_of_the_end_so_its_last_commit_is_small(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Besides every COMMIT_ITEMS items, the writer commits when the run has COMMIT_BEFORE_END items left:
    once the last file has moved, its last commit holds only the items after the last of those points."""
    plan = thirty_files_with_small_batches(db, tmp_path, monkeypatch)
    monkeypatch.setattr(execute, "COMMIT_ITEMS", 10_000)  # no commit by count
    monkeypatch.setattr(execute, "COMMIT_SECONDS", 600.0)  # nor by age
    monkeypatch.setattr(execute, "COMMIT_BEFORE_END", (7, 3))
    written: list[int] = []
    commits: list[int] = []  # items written before each commit's folder sync
    sent = [0]
    put, sync, record_into = execute.BatchWriter.put, execute.sync_folders, Ledger.record_into

    def caught_up_put(self: execute.BatchWriter, batch: execute.Batch) -> None:
        # Each batch is written before the next is sent, so the writer takes them one at a time, as a writer
        # that keeps up does. One far behind took every batch and the end at once, and made one commit
        # (seen in a fresh-clone CI run); test_a_writer_behind_... covers a writer behind.
        put(self, batch)
        sent[0] += batch.size
        deadline = time.monotonic() + 30
        while sum(written) < sent[0]:
            assert time.monotonic() < deadline, (written, sent)
            time.sleep(0.001)

    def sized_record(self: Ledger, c: sqlite3.Connection, results: Any, plain: Any = ()) -> None:
        written.append(len(results) + sum(hi - lo + 1 for _op, lo, hi in plain))
        record_into(self, c, results, plain)

    def counted_sync(folders: set[str]) -> None:
        commits.append(sum(written))
        sync(folders)

    monkeypatch.setattr(execute.BatchWriter, "put", caught_up_put)
    monkeypatch.setattr(execute, "sync_folders", counted_sync)
    monkeypatch.setattr(Ledger, "record_into", sized_record)
    res = service.apply_plan(db, plan)
    assert res.status == "done"
    total = ledger_rows(db.path, "SELECT count(*) FROM operation_items WHERE op_id=?", res.op_id)[0][0]
    assert sum(written) == total > 30
    # The batch of 2 that crosses 7 items before the end is committed, so is the one that crosses 3 before,
    # unless it is the last; then the end: two or three commits where there would be one.
    assert len(commits) in (2, 3) and commits[-1] == total, (commits, total)
    assert total - 7 <= commits[0] < total and commits == sorted(set(commits)), (commits, total)
    assert ledger_rows(db.path, "SELECT DISTINCT state FROM operation_items WHERE op_id=?", res.op_id) == [
        ("done",)
    ]


def test_a_writer_behind_takes_the_waiting_batches_together_and_commits_every_commit_items(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer is held in its first batch until the run has queued four more; it then writes those four
    with one statement each, and commits only when COMMIT_ITEMS items are written (or at the end), after
    syncing their folders. Every item and library row still ends right."""
    src = tmp_path / "src"
    paths = [write(src / f"d{n % 2}" / f"[Grp] Frieren - {n:02d}.mkv", f"ep {n}") for n in range(1, 13)]
    ids = index_rows(db, src, paths)
    monkeypatch.setattr(execute, "BATCH", 2)
    monkeypatch.setattr(execute, "COMMIT_ITEMS", 6)
    taken, queued, puts = threading.Event(), threading.Event(), [0]
    put, sync, record_into = execute.BatchWriter.put, execute.sync_folders, Ledger.record_into

    def counted_put(self: execute.BatchWriter, batch: execute.Batch) -> None:
        put(self, batch)
        puts[0] += 1
        if puts[0] == 1:
            # The second batch waits until the writer holds the first alone: put at once, it could find
            # both (and more) in the queue, and take them together (seen once in a fresh-clone CI run).
            assert taken.wait(30), "the writer never took the first batch"
        if puts[0] == 5:  # the first is in the writer's hands, four wait in its queue
            queued.set()

    sizes: list[int] = []
    commits: list[int] = []  # items written before each commit's folder sync

    def sized_record(self: Ledger, c: sqlite3.Connection, results: Any, plain: Any = ()) -> None:
        if not sizes:
            taken.set()
            assert queued.wait(30), "the run never queued four batches behind the first"
        sizes.append(len(results) + sum(hi - lo + 1 for _op, lo, hi in plain))
        record_into(self, c, results, plain)

    def counted_sync(folders: set[str]) -> None:
        commits.append(sum(sizes))
        sync(folders)

    monkeypatch.setattr(execute.BatchWriter, "put", counted_put)
    monkeypatch.setattr(execute, "sync_folders", counted_sync)
    monkeypatch.setattr(Ledger, "record_into", sized_record)
    plan = episodes_plan(paths, ids, tmp_path / "vault")
    res = service.apply_plan(db, plan)
    assert res.status == "done"
    total = ledger_rows(db.path, "SELECT count(*) FROM operation_items WHERE op_id=?", res.op_id)[0][0]
    assert sum(sizes) == total and len(plan.todo) == 12
    assert sizes[0] == 2 and max(sizes[1:]) >= 8, sizes  # batch 1 alone, then batches 2-5 at once
    # Commits come after 6 items or more, the last one at the end of the run: fewer than the writes.
    assert commits[-1] == total and all(b - a >= 6 for a, b in pairwise([0, *commits[:-1]])), commits
    assert len(commits) < len(sizes), (commits, sizes)
    assert ledger_rows(db.path, "SELECT DISTINCT state FROM operation_items WHERE op_id=?", res.op_id) == [
        ("done",)
    ]
    rows = file_rows(db)
    assert all(rows[m.file_id or 0][0] == m.dst for m in plan.todo)


def test_a_slow_item_does_not_keep_finished_ones_uncommitted(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one item takes long (a big copy), the writer commits what it holds once its queue has been
    empty for COMMIT_SECONDS: another process sees the finished items done, not pending."""
    monkeypatch.setattr(execute, "BATCH", 1)
    monkeypatch.setattr(execute, "COMMIT_SECONDS", 0.2)
    first, slow = (write(tmp_path / "src" / f"ep{n}.mkv", f"episode {n}") for n in (1, 2))
    plan = service.plan_from_inputs(
        [episode_input(first, 1), episode_input(slow, 2)], str(tmp_path / "vault")
    )
    monkeypatch.setattr(execute, "lean_runner", lambda: None)
    lean, general = execute.fast_move, execute.execute_item
    monkeypatch.setattr(execute, "fast_move", lambda src, *a: src != str(slow) and lean(src, *a))
    seen: dict[str, object] = {}

    def slow_item(item: Any, ctx: Any) -> Any:
        if item.src == str(slow):
            time.sleep(1.0)
            seen.update(ledger_rows(db.path, "SELECT src, state FROM operation_items WHERE action='move'"))
        return general(item, ctx)

    monkeypatch.setattr(execute, "execute_item", slow_item)
    assert service.apply_plan(db, plan).status == "done"
    assert seen == {str(first): "done", str(slow): "pending"}


def test_rolling_back_twice_writes_no_second_rollback_run(db: Database, tmp_path: Path) -> None:
    a = write(tmp_path / "src" / "ep1.mkv")
    res = service.apply_plan(db, service.plan_from_inputs([episode_input(a, 1)], str(tmp_path / "vault")))
    first = service.rollback(db, res.op_id)
    runs = ledger_rows(db.path, "SELECT id, kind, total FROM operations")
    again = service.rollback(db, res.op_id)
    assert not isinstance(again, list) and not isinstance(first, list) and again.op_id == first.op_id
    assert ledger_rows(db.path, "SELECT id, kind, total FROM operations") == runs
    assert runs[-1][1:] == ("rollback", 4)  # the file and its three folders


_name = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\:"), min_size=1, max_size=120
)


def split_in_sql(path: str, sep: str, dir_len: int | str | None = "not stored") -> tuple[str, str]:
    """`dir` and `name` as a batch commit computes them: searching the text, or (``dir_len`` an int or
    None) from a stored folder length, NULL meaning "search"."""
    conn = sqlite3.connect(":memory:")
    try:
        if dir_len == "not stored":
            source = Ledger.sql_split("SELECT :path AS dst")
        else:
            source = Ledger.sql_split("SELECT :path AS dst, :cut AS cut", dir_len="cut")
        row = conn.execute(
            f"SELECT dir, name FROM {source}", {"path": path, "sep": sep, "cut": dir_len}
        ).fetchone()
        return str(row[0]), str(row[1])
    finally:
        conn.close()


@given(parts=st.lists(_name, min_size=1, max_size=6))
def test_sql_split_matches_posixpath(parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    assert split_in_sql(path, "/") == (posixpath.dirname(path), posixpath.basename(path))


@given(
    parts=st.lists(_name, min_size=1, max_size=6),
    anchor=st.sampled_from(["C:\\", "\\\\server\\share\\"]),
)
def test_sql_split_matches_ntpath(parts: list[str], anchor: str) -> None:
    path = anchor + "\\".join(parts)
    assert split_in_sql(path, "\\") == (ntpath.dirname(path), ntpath.basename(path))


@given(parts=st.lists(_name, min_size=1, max_size=6), lead=st.sampled_from(["/", "//"]))
def test_stored_folder_length_cuts_like_posixpath(parts: list[str], lead: str) -> None:
    path = lead + "/".join(parts)
    expected = (posixpath.dirname(path), posixpath.basename(path))
    cut = folder_len(path) if os.sep == "/" else None
    if os.sep == "/":
        # Known for every path but a file at the root, where the folder keeps its separator.
        assert (cut is None) == (len(parts) == 1)
    assert split_in_sql(path, "/", cut) == expected
    assert split_in_sql(path, "/", None) == expected  # not stored (older rows): the text is searched


_intent_path = st.one_of(
    st.lists(
        st.sampled_from(["a", "Show 1", "S01", "x.mkv", "ü", "葬送", "", "."]), min_size=1, max_size=4
    ).map(lambda parts: "/" + "/".join(parts)),
    st.sampled_from(["//x.mkv", "/x.mkv", "x.mkv", "/a//b.mkv", "", "/", "/a/b/"]),
)


@st.composite
def _intent_steps(draw: st.DrawFn) -> tuple[list[Step], int | None]:
    dev = 2049
    steps = []
    for seq in range(1, draw(st.integers(0, 12)) + 1):
        action = draw(st.sampled_from(["move", "move", "move", "copy", "mkdir", "hardlink"]))
        fp = draw(
            st.one_of(
                st.none(),
                st.builds(
                    Fingerprint,
                    st.integers(0, 2**63 - 1),
                    st.integers(-(2**63), 2**63 - 1),
                    st.sampled_from([dev, dev + 1, 2**64 - 1]),
                    st.integers(0, 2**64 - 1),
                ),
            )
        )
        steps.append(
            Step(
                seq, action, draw(st.one_of(st.none(), _intent_path)), draw(_intent_path), fp,
                draw(st.one_of(st.none(), st.integers(1, 2**40))), "video",
                draw(st.one_of(st.none(), st.none(), st.integers(1, 99))),
            )
        )  # fmt: skip
    return steps, draw(st.sampled_from([dev, None]))


@needs_c
@given(case=_intent_steps())
def test_intent_rows_in_c_are_the_python_loops(case: tuple[list[Step], int | None]) -> None:
    """_lean.intent_rows builds the same intent rows, in the same runs, as the Python loop it stands in
    for: which items are plain (a same-device move between ASCII paths with a fingerprint, undoing
    nothing), the values bound, and where each folder ends."""
    steps, dest_dev = case
    assert fileops.intent_rows is not None
    reference = ledger.intent_runs(steps, 7, dest_dev)
    assert ledger.intent_runs(steps, 7, dest_dev, fileops.intent_rows) == reference
    plain = [row for is_plain, rows in reference if is_plain for row in rows]
    assert all(len(row) == 10 for row in plain)
    assert [(row[2], row[8]) for row in plain] == [(row[2], folder_len(row[2])) for row in plain]


@needs_c
def test_intent_rows_stop_at_the_first_item_that_is_not_plain() -> None:
    fp = Fingerprint(1, 2, 3, 4)
    steps = [
        Step(1, "move", "/s/a.mkv", "/d/a.mkv", fp, 10),
        Step(2, "move", "/s/b.mkv", "/d/b.mkv", fp._replace(dev=9), 11),  # another device
        Step(3, "move", "/s/c.mkv", "/d/c.mkv", fp, 12),
    ]
    assert fileops.intent_rows is not None
    assert fileops.intent_rows(steps, 0, 3) == ([(1, 10, "/s/a.mkv", "/d/a.mkv", 1, 2, 3, 4, 2, 2)], 1)
    assert fileops.intent_rows(steps, 1, 3) == ([], 1)
    assert fileops.intent_rows(steps, 2, None)[1] == 3
    with pytest.raises(IndexError):
        fileops.intent_rows(steps, 4, 3)


def test_sql_root_of_agrees_with_root_id_for(db: Database) -> None:
    # Nested roots (the deepest must win), one stored with a trailing separator, one a prefix of another's
    # name but not its folder, and a non-ASCII one.
    roots = ["/lib", "/lib/anime/", "/libx", "/srv/a b/ü"]
    conn = sqlite3.connect(db.path)
    try:
        conn.executemany("INSERT INTO roots (path, added_at) VALUES (?, '2026-01-01')", [(r,) for r in roots])
        conn.commit()
    finally:
        conn.close()
    paths = [
        "/lib", "/lib/x.mkv", "/lib/anime", "/lib/anime/S1/x.mkv", "/lib/animex/x.mkv", "/libx/y.mkv",
        "/li", "/srv/a b/ü/z.mkv", "/srv/a b/üz.mkv", "/other/x.mkv",
    ]  # fmt: skip
    with Ledger(db) as ledger:
        case, params = ledger.sql_root_of(":path")
        for path in paths:
            in_sql = ledger.conn.execute(f"SELECT {case}", {**params, "path": path}).fetchone()[0]
            assert in_sql == ledger.root_id_for(path), path
        found = {ledger.root_id_for(p) for p in paths}
    assert None in found and len(found) == len(roots) + 1  # every root, and no root, were checked


def test_sql_split_long_names_use_the_full_character_set() -> None:
    # A name longer than 64 characters whose first character appears nowhere in its last 64.
    name = "Z" + "a" * 100 + ".mkv"
    assert split_in_sql(f"/lib/Show/{name}", "/") == ("/lib/Show", name)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc")
def test_folder_handles_stay_bounded_and_closed(tmp_path: Path) -> None:
    folders = [tmp_path / f"f{n}" for n in range(5)]
    for f in folders:
        f.mkdir()
    start = open_fds()
    handles = FolderHandles(limit=2)
    for f in folders:
        handles.get(str(f))
        assert open_fds() - start <= 2
    fd, dev = handles.get(str(folders[-1]))
    assert dev == os.stat(folders[-1]).st_dev and os.path.samestat(os.fstat(fd), os.stat(folders[-1]))
    handles.close()
    assert open_fds() == start


def test_folder_handles_refuse_a_symlink_and_what_confine_refuses(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    start = open_fds() if os.path.isdir("/proc/self/fd") else 0

    def refuse(folder: str) -> None:
        raise OSError(errno.EPERM, "outside the library", folder)

    with pytest.raises(OSError):
        FolderHandles().get(str(link))  # O_NOFOLLOW
    with pytest.raises(OSError, match="outside the library"):
        FolderHandles(confine=refuse).get(str(real))
    if start:
        assert open_fds() == start  # the refused handle was closed


@lean_only
def test_a_symlinked_target_folder_is_never_written_through(db: Database, tmp_path: Path) -> None:
    src = write(tmp_path / "src" / "ep1.mkv")
    plan = service.plan_from_inputs([episode_input(src, 1)], str(tmp_path / "vault"))
    season = Path(plan.todo[0].dst).parent
    outside = tmp_path / "outside"
    outside.mkdir()
    season.parent.mkdir(parents=True)
    season.symlink_to(outside, target_is_directory=True)  # planted after planning
    res = service.apply_plan(db, plan, recheck=False)
    assert res.status != "done" and src.exists() and list(outside.iterdir()) == []


def test_the_batch_writer_hands_back_a_connection_that_checks_keys(db: Database) -> None:
    with Ledger(db, check_foreign_keys=False) as ledger:
        assert ledger.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 0
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL again


def ctrl_c_after_rename(monkeypatch: pytest.MonkeyPatch, at: int, presses: int) -> None:
    """Press Ctrl-C ``presses`` times right after the ``at``-th lean rename, before the executor records it:
    the moment a KeyboardInterrupt used to leave a moved file marked "not attempted". The C loop is held to
    one move per call so that the presses land exactly there."""
    runner = execute.lean_runner()
    if runner is not None:
        real = runner

        def one_at_a_time(steps: list[Step], start: int, stop: int, *rest: Any) -> tuple[int, int]:
            return real(steps, start, min(stop, start + 1), *rest)

        monkeypatch.setattr(execute, "lean_runner", lambda: one_at_a_time)

    def press(total: int) -> None:
        if total == at:
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)

    count_lean_moves(monkeypatch, after=press)


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
    """Organize 8 files, pressing Ctrl-C ``presses`` times right after the third rename: the error and run."""
    srcs = [write(tmp_path / "src" / f"ep{n}.mkv", f"episode {n}") for n in range(1, 9)]
    plan = service.plan_from_inputs([episode_input(p, n) for n, p in enumerate(srcs, 1)], str(tmp_path / "v"))
    ctrl_c_after_rename(monkeypatch, at=3, presses=presses)
    with pytest.raises(Interrupted) as exc:
        service.apply_plan(db, plan)
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back after the run
    return exc.value, int(str(ledger_rows(db.path, "SELECT max(id) FROM operations")[0][0]))


@lean_only
def test_ctrl_c_stops_after_the_move_in_hand_and_records_it(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lean_path: str
) -> None:
    err, op_id = apply_with_ctrl_c(db, tmp_path, monkeypatch, presses=1)
    assert "--resume" in (err.hint or "")
    assert disk_agrees_with_ledger(db, op_id) == {"done": 3, "aborted": 5}
    assert service.resume(db).status == "done"
    assert disk_agrees_with_ledger(db, op_id) == {"done": 8}


@lean_only
def test_a_second_ctrl_c_stops_at_once_and_recovery_settles_the_move_in_hand(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lean_path: str
) -> None:
    err, op_id = apply_with_ctrl_c(db, tmp_path, monkeypatch, presses=2)
    assert "recover" in (err.hint or "")
    # The third file moved but its record did not happen: it is still pending, and so is the run.
    assert ledger_rows(db.path, "SELECT status FROM operations WHERE id=?", op_id) == [("running",)]
    report = service.recover_interrupted(db)
    assert report.runs
    states = disk_agrees_with_ledger(db, op_id)
    assert states.get("done") == 3 and "pending" not in states
    service.resume(db)
    assert disk_agrees_with_ledger(db, op_id) == {"done": 8}
    service.rollback(db, op_id)
    assert files_under(tmp_path / "src") == {f"ep{n}.mkv": f"episode {n}".encode() for n in range(1, 9)}


@lean_only
def test_statements_over_a_runs_items_read_them_in_seq_order(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement over one run's items goes through the `(op_id, seq)` index, whose order is the
    table's. Left to itself SQLite took `(op_id, file_id)` (migration 0010) for `WHERE op_id=?` and read
    the rows in random order: the state count at the end of a 100k run went from 0.03 to 0.15 s."""
    statements: list[str] = []
    init, close = Ledger.__init__, Ledger.close

    def traced(self: Ledger, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.conn.set_trace_callback(statements.append)

    def untraced(self: Ledger) -> None:
        self.conn.set_trace_callback(None)
        close(self)

    Ledger.__init__, Ledger.close = traced, untraced  # type: ignore[method-assign]
    try:
        _err, op_id = apply_with_ctrl_c(db, tmp_path, monkeypatch, presses=1)  # the count, aborted items
        assert service.resume(db).status == "done"  # aborted items made pending again
        assert not isinstance(back := service.rollback(db, op_id), list) and back.status == "done"
    finally:
        Ledger.__init__, Ledger.close = init, close  # type: ignore[method-assign]
    verbs = ("SELECT", "UPDATE", "INSERT", "DELETE", "WITH")
    on_items = {s for s in statements if "operation_items" in s and s.lstrip().split()[0].upper() in verbs}
    conn = sqlite3.connect(db.path)
    try:
        plans = {s: " | ".join(str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {s}")) for s in on_items}
    finally:
        conn.close()
    assert sum("uq_operation_items_op_id_seq" in p for p in plans.values()) >= 5, plans
    assert not {s: p for s, p in plans.items() if "ix_operation_items_op_id_file_id" in p}


def test_the_writer_page_cache_is_given_back_to_the_pool(db: Database) -> None:
    """The batch writer's 64 MB page cache and in-memory temporary data last as long as its Ledger: the
    pooled connection gets the defaults back (and frees the pages) for whoever uses it next."""
    with Ledger(db) as plain:
        default = plain.conn.execute("PRAGMA cache_size").fetchone()[0]
        default_temp = plain.conn.execute("PRAGMA temp_store").fetchone()[0]
    led = Ledger(db, check_foreign_keys=False, cache_kib=ledger.RUN_CACHE_KIB)
    conn = led.conn
    assert conn.execute("PRAGMA cache_size").fetchone()[0] == -ledger.RUN_CACHE_KIB
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    assert default_temp != 2
    led.close()
    assert conn.execute("PRAGMA cache_size").fetchone()[0] == default
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == default_temp
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_an_intent_checks_file_ids_itself_and_puts_the_connection_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intent runs with SQLite's foreign key check off (it proves the `files` ids itself, in order) and
    a bigger page cache: a plan naming a row the library no longer has is refused with nothing written,
    and afterwards the connection has its key check and cache back."""
    a, b = write(tmp_path / "src" / "ep1.mkv", "1"), write(tmp_path / "src" / "ep2.mkv", "2")
    (known,) = index_rows(db, tmp_path / "src", [a])
    plan = service.plan_from_inputs(
        [indexed(a, 1, known), indexed(b, 2, known + 41)], str(tmp_path / "vault")
    )
    steps = service.expand_steps(plan.moves, "t")
    with Ledger(db) as led:
        conn = led.conn

        def settings() -> tuple[int, int, int]:
            return (
                conn.execute("PRAGMA cache_size").fetchone()[0],
                conn.execute("PRAGMA foreign_keys").fetchone()[0],
                conn.execute("PRAGMA temp_store").fetchone()[0],
            )

        during: list[tuple[int, int, int]] = []
        check = Ledger._check_file_ids

        def checked(c: sqlite3.Connection, items: list[Step]) -> None:
            during.append(settings())
            check(c, items)

        monkeypatch.setattr(Ledger, "_check_file_ids", staticmethod(checked))
        before = settings()
        with pytest.raises(UsageError, match=f"file id\\(s\\) {known + 41} that the library no longer has"):
            led.create_operation("organize", str(tmp_path / "vault"), {}, steps)
        assert settings() == before
        assert before[1] == 1
        assert ledger_rows(db.path, "SELECT count(*) FROM operations") == [(0,)]
        good = [s for s in steps if s.file_id != known + 41]
        op_id = led.create_operation("organize", str(tmp_path / "vault"), {}, good)
        assert settings() == before
    # inside the intent: the run's page cache, no key check, temporary data in memory
    assert during == [(-ledger.RUN_CACHE_KIB, 0, 2)] * 2
    assert before[2] != 2
    assert ledger_rows(db.path, "SELECT count(*) FROM operation_items WHERE op_id=?", op_id) == [(len(good),)]
    assert a.exists() and b.exists()  # an intent touches no file


def test_the_file_id_check_trusts_a_row_count_only_while_the_library_has_no_gap(
    db: Database, tmp_path: Path
) -> None:
    """While the library's ids are 1..max with no gap, a plan's ids are proven by counting the rows; once a
    row is deleted by hand in `sqlite3` the ids are looked up one by one, so a plan naming the missing row
    is still refused and one that steps over the gap still passes."""
    paths = [write(tmp_path / "src" / f"ep{n}.mkv", str(n)) for n in range(1, 6)]
    ids = index_rows(db, tmp_path / "src", paths)
    statements: list[str] = []

    def check(chosen: list[int]) -> None:
        plan = service.plan_from_inputs(
            [indexed(paths[ids.index(i)], ids.index(i) + 1, i) for i in chosen], str(tmp_path / "vault")
        )
        steps = service.expand_steps(plan.moves, "t")
        statements.clear()
        with Ledger(db) as led:
            led.conn.set_trace_callback(statements.append)
            with led.tx() as c:
                Ledger._check_file_ids(c, steps)

    check(ids)  # no gap: the count alone
    assert not any("json_each" in s for s in statements)
    assert any("count(*) FROM files)" in s for s in statements)
    conn = sqlite3.connect(db.path)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("DELETE FROM files WHERE id=?", (ids[2],))
    conn.commit()
    conn.close()
    check([ids[0], ids[1], ids[3], ids[4]])  # over the gap: looked up one by one, and passes
    assert any("json_each" in s for s in statements)
    with pytest.raises(UsageError, match=f"file id\\(s\\) {ids[2]} that the library no longer has"):
        check(ids[:4])


@needs_c
def test_the_c_loop_moves_a_run_and_stops_at_the_first_item_python_must_look_at(tmp_path: Path) -> None:
    """_lean.move_run's contract (see _lean.c): moves from `start` in order, stops before the first item
    that is not a plain move with both handles open, or that fails its check or its rename, and changes
    nothing for that item."""
    move_run = fileops.lean_runner()
    assert move_run is not None
    src, dst = tmp_path / "s", tmp_path / "d"
    files = [write(src / f"e{n}.mkv", f"episode {n}") for n in range(8)]
    dst.mkdir()
    steps = [
        Step(n + 1, "move", str(p), str(dst / p.name), Fingerprint.of(os.lstat(p)))
        for n, p in enumerate(files)
    ]
    sources, targets = FolderHandles(), FolderHandles()
    sources.get(str(src))
    targets.get(str(dst))
    touched: set[str] = set()

    def run(todo: list[Step], start: int = 0, stop: int | None = None) -> tuple[int, int]:
        stop = len(todo) if stop is None else stop
        return move_run(todo, start, stop, sources._open, targets._open, touched)  # type: ignore[no-any-return]

    try:
        time.sleep(0.01)
        files[2].write_text("episode 2, re-encoded")  # changed since it was planned
        assert run(steps) == (2, 2)
        assert touched == {str(src), str(dst)}
        assert [p.exists() for p in files] == [False, False, True, True, True, True, True, True]
        assert (dst / "e1.mkv").read_text() == "episode 1"

        write(dst / "e3.mkv", "in the way")  # the target taken: never clobbered
        assert run(steps, 3) == (0, 2)
        assert files[3].exists() and (dst / "e3.mkv").read_text() == "in the way"

        elsewhere = dataclasses.replace(steps[4], dst=str(tmp_path / "x" / "e4.mkv"))  # no handle open there
        assert run([elsewhere]) == (0, 1)
        for odd in (
            Step(1, "mkdir", None, str(dst / "f"), None),
            dataclasses.replace(steps[4], fp=None),
            dataclasses.replace(steps[4], action="copy"),
            dataclasses.replace(steps[4], dst=str(dst / "e4\0.mkv")),  # the system call would see "e4"
            dataclasses.replace(steps[4], src=os.fsdecode(os.fsencode(str(files[4])) + b"\xff")),  # not UTF-8
        ):
            assert run([odd]) == (0, 2), odd
        assert files[4].exists() and sorted(os.listdir(dst)) == ["e0.mkv", "e1.mkv", "e3.mkv"]

        assert run(steps, 4, 4) == (0, 0)
        assert run(steps, 4, 6) == (2, 0)  # stops at `stop`
        assert run(steps, 6) == (2, 0)
        assert sorted(os.listdir(src)) == ["e2.mkv", "e3.mkv"]
        with pytest.raises(IndexError):
            run(steps, 2, 99)
    finally:
        sources.close()
        targets.close()


@lean_only
def test_a_run_sends_each_item_that_is_not_as_planned_down_the_general_path(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lean_path: str
) -> None:
    src = tmp_path / "src"
    names = [
        "[Grp] Frieren - {:02d}.mkv",
        "[Grp] 葬送のフリーレン 第{:02d}話.mkv",
        "장송의 프리렌 {:02d}화.mkv",
    ]
    paths = [write(src / names[n % 3].format(n), f"ep {n}") for n in range(1, 10)]
    lean = count_lean_moves(monkeypatch)
    odd_name = Path(os.fsdecode(os.fsencode(str(src / "[Grp] Frieren - 10")) + b"\xff.mkv"))
    paths.append(write(odd_name, "ep 10"))  # a name that is not UTF-8: the C loop leaves it to Python
    plan = service.plan_from_inputs(
        [episode_input(p, n) for n, p in enumerate(paths, 1)], str(tmp_path / "v")
    )
    by_src = {m.src: m.dst for m in plan.todo}
    time.sleep(0.01)
    paths[2].write_text("ep 3, re-encoded")  # changed since it was planned
    write(Path(by_src[str(paths[5])]), "in the way")  # a target taken since planning
    res = service.apply_plan(db, plan, recheck=False)
    rows = ledger_rows(
        db.path, "SELECT src, state, note FROM operation_items WHERE op_id=? AND action='move'", res.op_id
    )
    states = {str(s): (str(state), str(note)) for s, state, note in rows}
    assert states.pop(str(paths[2]))[0] == "failed" and "changed since it was planned" in str(res.problems)
    assert states.pop(str(paths[5])) == ("skipped", "target appeared since planning")
    assert set(states.values()) == {("done", "None")} and len(states) == 8
    for p in paths:
        moved = p not in (paths[2], paths[5])
        assert p.exists() is not moved
        assert Path(by_src[str(p)]).exists() is (moved or p == paths[5])
    assert Path(by_src[str(paths[5])]).read_text() == "in the way"
    assert Path(by_src[str(odd_name)]).read_text() == "ep 10"
    # Python opens the two folders' handles with the first move; the C loop takes the Japanese and Korean
    # names like the others (six moves) and leaves the changed, the blocked and the non-UTF-8 one to Python,
    # whose fast_move moves the last (its general path refuses the first two).
    assert lean == ({"c": 6, "python": 2} if lean_path == "c" else {"c": 0, "python": 8})


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("cc") is None,
    reason="builds only on Linux with a C compiler",
)
def test_the_c_loop_is_built_where_it_can_be() -> None:
    """setup.py marks the extension optional, so a broken build would pass silently: here it would not."""
    assert fileops.LEAN_BUILT and fileops.lean_runner() is not None


_name_in_case = st.sampled_from(["a.mkv", "A.mkv", "b.mkv", "ss.mkv", "ß.mkv", "SS.mkv", "é.mkv", "é.mkv"])


@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(["/s", "/t"]), _name_in_case, st.sampled_from(["/s", "/t", "/v"]), _name_in_case,
            st.sampled_from(["move", "move", "copy"]), st.booleans(),
        ),
        max_size=6,
    )
)  # fmt: skip
def test_the_whole_plan_shortcut_orders_steps_as_the_per_move_loop(
    pairs: list[tuple[str, str, str, str, str, bool]],
) -> None:
    """expand_steps skips its per-move ordering when no move waits for another (plan._none_waits): the
    steps are then exactly the loop's. Chains, swaps, case-only renames (`ß` and `ss` included: casefold
    changes the length) and targets that exist go through the loop."""
    from anivault.organize import plan as plan_mod

    moves, seen = [], set()
    for k, (sdir, sname, ddir, dname, action, occupied) in enumerate(pairs):
        src = f"{sdir}/{k}-{sname}" if (sdir, sname) in seen else f"{sdir}/{sname}"
        seen.add((sdir, sname))
        moves.append(
            plan_mod.Move(
                src, f"{ddir}/{dname}", action, "video", k + 1, Fingerprint(1, 2, 3, k), occupied=occupied
            )
        )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plan_mod, "_mkdirs", lambda folder, made, steps: made.add(folder))  # no disk
        shortcut = plan_mod.expand_steps(moves, "t0k3")
        mp.setattr(plan_mod, "_none_waits", lambda todo, by_src: False)
        assert shortcut == plan_mod.expand_steps(moves, "t0k3")


def test_the_whole_plan_shortcut_sees_what_makes_a_move_wait() -> None:
    from anivault.organize.plan import Move, _none_waits

    def waits(*pairs: tuple[str, str], occupied: bool = False) -> bool:
        todo = [
            Move(s, d, "move", "video", None, Fingerprint(1, 2, 3, 4), occupied=occupied) for s, d in pairs
        ]
        return not _none_waits(todo, {m.src: m for m in todo})

    assert not waits(("/s/a.mkv", "/d/a.mkv"), ("/s/b.mkv", "/d/b.mkv"))
    assert waits(("/s/a.mkv", "/s/b.mkv"), ("/s/b.mkv", "/d/b.mkv"))  # a chain
    assert waits(("/s/a.mkv", "/s/A.mkv"))  # case only
    assert waits(("/s/ss.mkv", "/s/ß.mkv"))  # case only, another length
    assert waits(("/s/e\u0301.mkv", "/s/\u00e9.mkv"))  # NFD to NFC
    assert waits(("/s/a.mkv", "/d/a.mkv"), occupied=True)  # the target is there now
