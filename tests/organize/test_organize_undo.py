"""Rolling back copies, hard links and symlinks never destroys the last copy (RELIABILITY G1, G5; issue 23).

People copy into a library and then delete the originals: that is why they copy. Undoing such a run must
move the library file back, not delete it. Each rule of organize/undo.py is exercised on real files, through
the service and through the CLI's dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import RunCli
from crash_organize import episode_input, files_under, ledger_rows, write

from anivault.db.connect import open_db
from anivault.db.engine import Database
from anivault.organize import service
from anivault.organize.execute import RunSummary


def organized(db: Database, tmp_path: Path, action: str, n: int = 3) -> tuple[int, list[Path], list[Path]]:
    """``n`` episodes organized with ``action``: the run, the originals, their library copies."""
    srcs = [write(tmp_path / "src" / f"[G] Frieren - {k:02d}.mkv", f"episode {k}") for k in range(1, n + 1)]
    plan = service.plan_from_inputs(
        [episode_input(p, k) for k, p in enumerate(srcs, 1)], str(tmp_path / "vault"), action=action
    )
    res = service.apply_plan(db, plan)
    assert res.status == "done", res
    return res.op_id, srcs, [Path(m.dst) for m in plan.todo]


def undo(db: Database, op_id: int) -> RunSummary:
    res = service.rollback(db, op_id)
    assert isinstance(res, RunSummary)
    return res


@pytest.mark.parametrize("action", ["copy", "hardlink"])
def test_originals_deleted_after_a_copy_or_link_run_come_back_from_the_library(
    db: Database, tmp_path: Path, action: str
) -> None:
    op_id, srcs, _placed = organized(db, tmp_path, action)
    for p in srcs:
        p.unlink()  # the user deletes the originals: the library holds the only copies
    dry = service.rollback(db, op_id, dry_run=True)
    assert isinstance(dry, list)
    assert [u.do for s, u in dry if s.action == "restore"] == ["move-back"] * 3
    res = undo(db, op_id)
    assert res.status == "done", res
    assert [p.read_text() for p in srcs] == ["episode 1", "episode 2", "episode 3"]
    assert not (tmp_path / "vault").exists()
    notes = ledger_rows(
        db.path, "SELECT note FROM operation_items WHERE op_id=? AND action='restore'", res.op_id
    )
    assert {n for (n,) in notes} == {"the original was gone: the library file moved back to it"}


@pytest.mark.parametrize("action", ["copy", "hardlink"])
def test_originals_still_there_lose_only_the_library_copy(db: Database, tmp_path: Path, action: str) -> None:
    op_id, srcs, _placed = organized(db, tmp_path, action)
    res = undo(db, op_id)
    assert res.status == "done" and not (tmp_path / "vault").exists()
    assert [p.read_text() for p in srcs] == ["episode 1", "episode 2", "episode 3"]


@pytest.mark.parametrize("action", ["copy", "hardlink"])
def test_an_original_changed_since_keeps_both_and_says_so(db: Database, tmp_path: Path, action: str) -> None:
    op_id, srcs, placed = organized(db, tmp_path, action)
    srcs[0].unlink()
    srcs[0].write_text("the user's new file under the old name")  # a different file, not the copy
    srcs[1].unlink()  # gone: its library file goes back
    dry = service.rollback(db, op_id, dry_run=True)
    assert isinstance(dry, list)
    verdicts = {s.dst: u.do for s, u in dry if s.action == "restore"}
    assert verdicts == {str(srcs[0]): "keep", str(srcs[1]): "move-back", str(srcs[2]): "remove"}
    res = undo(db, op_id)
    assert res.status == "partial"
    kept, *folders = res.problems  # and the folders that still hold the kept copy
    assert (Path(kept[0]).name, kept[2]) == (
        placed[0].name,
        "the original was changed since organize: both kept",
    )
    assert {note for _s, _d, note in folders} == {"folder not empty (holds files AniVault did not put there)"}
    assert placed[0].read_text() == "episode 1"  # the library copy is the only "episode 1" left: kept
    assert srcs[0].read_text() == "the user's new file under the old name"
    assert srcs[1].read_text() == "episode 2" and srcs[2].read_text() == "episode 3"
    assert not placed[1].exists() and not placed[2].exists()


def test_a_symlink_run_is_undone_by_removing_only_the_links(db: Database, tmp_path: Path) -> None:
    op_id, srcs, _placed = organized(db, tmp_path, "symlink")
    srcs[2].unlink()  # a dangling link is still ours to remove; its target is not touched either way
    res = undo(db, op_id)
    assert res.status == "done" and not (tmp_path / "vault").exists()
    assert [p.exists() for p in srcs] == [True, True, False]
    assert srcs[0].read_text() == "episode 1"


def test_a_library_copy_changed_since_is_left_alone(db: Database, tmp_path: Path) -> None:
    op_id, srcs, placed = organized(db, tmp_path, "copy")
    srcs[0].unlink()
    placed[0].write_text("edited in the library")
    res = undo(db, op_id)
    assert res.status == "partial" and "library copy changed since organize" in res.problems[0][2]
    assert placed[0].read_text() == "edited in the library" and not srcs[0].exists()


def test_the_cli_dry_run_says_per_item_what_will_happen(
    run_cli: RunCli, tmp_path: Path, anivault_home: Path
) -> None:
    db = open_db(anivault_home / "data" / "library.db")
    try:
        op_id, srcs, placed = organized(db, tmp_path, "copy")
    finally:
        db.close()
    srcs[0].unlink()
    srcs[1].write_text("changed")
    res = run_cli("rollback", str(op_id), "--dry-run")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert (
        f"move back  {placed[0]} → {srcs[0]}  (the original is gone: move the library file back to its path)"
        in lines
    )
    assert f"keep both  {placed[1]}  (the original was changed since organize: both kept)" in lines
    assert f"remove copy  {placed[2]}  (the original is still there: remove the library copy)" in lines
    assert "1 left alone" in res.stderr and "nothing changed" in res.stderr
    listed = json.loads(run_cli("rollback", str(op_id), "--dry-run", "--json").stdout)
    assert [i["will"] for i in listed if i["action"] == "restore"] == ["remove", "keep", "move-back"]
    assert files_under(tmp_path / "src") == {srcs[1].name: b"changed", srcs[2].name: b"episode 3"}


def test_a_move_after_a_hardlink_run_only_drops_the_source_names(db: Database, tmp_path: Path) -> None:
    """An `--action hardlink` run, then a plain move: each target is already the very file, so the move is
    done by removing the source's name (before, every item failed as a swap, again on --resume)."""
    link_op, srcs, placed = organized(db, tmp_path, "hardlink")
    plan = service.plan_from_inputs(
        [episode_input(p, k) for k, p in enumerate(srcs, 1)], str(tmp_path / "vault"), action="move"
    )
    assert [m.status for m in plan.moves] == ["todo"] * 3 and not any(m.occupied for m in plan.moves)
    res = service.apply_plan(db, plan)
    assert res.status == "done", res
    assert not any(p.exists() for p in srcs)
    assert [p.read_text() for p in placed] == ["episode 1", "episode 2", "episode 3"]
    assert all(p.stat().st_nlink == 1 for p in placed)
    for op in (res.op_id, link_op):  # and both runs roll back, newest first, keeping every file
        undo(db, op)
    assert [p.read_text() for p in srcs] == ["episode 1", "episode 2", "episode 3"]
    assert not (tmp_path / "vault").exists()
