"""pytest wrapper for tests/crash_organize.py: SIGKILL the real CLI mid-organize/mid-rollback, recover,
check the invariants, finish, roll back byte for byte (issue 5 item 10; RELIABILITY A1–A4, C27, C29).

The default suite runs one scenario per crash point over 120 videos; `-m slow` runs the full loop
(32 runs over 300 videos, named points and random kills, same- and cross-device).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from crash_organize import POINTS, crash_run, crash_undo_copies, cross_device_dir, scenarios

SHM = cross_device_dir()


def _dest(tmp_path: Path, cross: bool) -> Path | None:
    if not cross:
        return None
    if SHM is None:
        pytest.skip("needs /dev/shm on another device for cross-device runs")
    return Path(tempfile.mkdtemp(prefix="anivault-crash-", dir=SHM)) / "vault"


SAME = [p for p in POINTS if p not in ("mid_copy", "after_tmp_fsync", "after_verify", "after_src_unlink")]


@pytest.mark.parametrize(
    ("point", "cross"),
    [(p, False) for p in SAME]
    + [(p, True) for p in ("mid_copy", "after_tmp_fsync", "after_verify", "after_src_unlink")],
)
def test_crash_at_named_point_then_recover_resume_and_roll_back(
    tmp_path: Path, point: str, cross: bool
) -> None:
    n = 1 if point in ("after_intent_commit", "before_done_commit", "before_dir_fsync") and not cross else 7
    dest = _dest(tmp_path, cross)
    try:
        crash_run(tmp_path, 120, crash=f"{point}:{n}", kill_after=None, dest=dest, seed=n)
    finally:
        if dest is not None:
            shutil.rmtree(dest.parent, ignore_errors=True)


@pytest.mark.parametrize("cross", [False, True])
def test_crash_inside_rollback(tmp_path: Path, cross: bool) -> None:
    dest = _dest(tmp_path, cross)
    try:
        crash_run(tmp_path, 60, crash="after_publish:5", kill_after=None, dest=dest, during_rollback=True)
    finally:
        if dest is not None:
            shutil.rmtree(dest.parent, ignore_errors=True)


@pytest.mark.parametrize(
    ("action", "crash", "cross"),
    [
        ("copy", "after_publish:4", False),  # a library copy moved back to its deleted original's path
        ("copy", "after_src_unlink:3", False),  # a library copy removed, the original still there
        ("copy", "before_done_commit:1", False),
        ("copy", "mid_copy:3", True),  # moved back across devices, through a temp file
        ("copy", "after_src_unlink:4", True),
        ("hardlink", "after_publish:4", False),
        ("hardlink", "after_src_unlink:3", False),
    ],
)
def test_crash_inside_the_rollback_of_copies_whose_originals_were_deleted(
    tmp_path: Path, action: str, crash: str, cross: bool
) -> None:
    dest = _dest(tmp_path, cross)
    try:
        crash_undo_copies(tmp_path, 40, action=action, crash=crash, kill_after=None, dest=dest)
    finally:
        if dest is not None:
            shutil.rmtree(dest.parent, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("i", range(32))
def test_crash_loop(tmp_path: Path, i: int) -> None:
    sc = scenarios(32, seed=7)[i]
    dest = _dest(tmp_path, bool(sc["cross"]))
    try:
        crash_run(tmp_path, 300, crash=sc["crash"], kill_after=sc["kill_after"], dest=dest,  # type: ignore[arg-type]
                  during_rollback=bool(sc["rollback"]), seed=7 + i)  # fmt: skip
    finally:
        if dest is not None:
            shutil.rmtree(dest.parent, ignore_errors=True)


def test_crash_inside_recovery_then_recovery_converges(tmp_path: Path) -> None:
    """RELIABILITY A4: kill the recovery of a crashed run; the next recovery still converges, no ALERT."""
    from crash_organize import check_invariants, cli, finish_and_roll_back, make_library

    lib = make_library(tmp_path, 60)
    assert cli(lib, "organize", "--dest", str(lib.dest), "--apply", crash="after_publish:20") == -9
    # The organize died before its first batch commit, so recovery has every item to resolve.
    assert cli(lib, "recover", crash="in_recovery:5") == -9
    check_invariants(lib)  # recovers again (no ALERT, second recovery a no-op) and checks every file
    finish_and_roll_back(lib)


def test_crash_in_the_middle_of_a_swap(tmp_path: Path) -> None:
    """E01 <-> E02 goes through a temp name; killed after the second rename, recovery must see that the
    first one happened although its source name already holds the other file, so rollback restores both."""
    import os
    import subprocess
    import sys

    from crash_organize import ROOT, files_under

    from anivault.db.connect import open_db
    from anivault.organize import service

    season = tmp_path / "vault" / "Frieren (2023) [tmdbid-209867]" / "Season 01"
    season.mkdir(parents=True)
    for n in (1, 2):
        (season / f"Frieren - S01E0{n}.mkv").write_text(f"episode {n}" * n)
    before = files_under(tmp_path / "vault")
    script = f"""
from pathlib import Path
from crash_organize import episode_input
from anivault.db.connect import open_db
from anivault.organize import service
season = Path({str(season)!r})
db = open_db(Path({str(tmp_path / "library.db")!r}))
inputs = [episode_input(season / "Frieren - S01E01.mkv", 2), episode_input(season / "Frieren - S01E02.mkv", 1)]
service.apply_plan(db, service.plan_from_inputs(inputs, {str(tmp_path / "vault")!r}))
"""
    env = dict(
        os.environ, ANIVAULT_CRASHPOINT="after_publish:2", PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}"
    )
    assert subprocess.run([sys.executable, "-c", script], env=env).returncode == -9
    db = open_db(tmp_path / "library.db")
    try:
        report = service.recover_interrupted(db)
        assert report.resolved == {"done": 2, "aborted": 1}, report
        assert service.resume(db).status == "done"
        assert (season / "Frieren - S01E02.mkv").read_text() == "episode 1"
        service.rollback(db, 1)
    finally:
        db.close()
    assert files_under(tmp_path / "vault") == before
