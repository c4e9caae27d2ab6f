"""`anivault index` on real files in temp folders: first run, incremental cases, odd names, faults."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import unicodedata
from pathlib import Path

import pytest
from conftest import RunCli, make_files

from anivault.db.connect import open_db
from anivault.pipeline.index import IndexOptions, run_index

FRIEREN = "[SubsPlease] Sousou no Frieren - {:02d} (1080p) [A1B2C3D4].mkv"


def db_at(home: Path) -> Path:
    return home / "data" / "library.db"


def rows(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "Anime"
    make_files(
        root,
        [f"Frieren/{FRIEREN.format(e)}" for e in range(1, 6)]
        + [f"Frieren/{FRIEREN.format(1)[:-4]}.en.ass", "Frieren/Fonts/font.ttf"]
        + [
            "진격의 거인/진격의 거인 3기 12화.mp4",
            "葬送のフリーレン/[Group] 葬送のフリーレン 第12話.mkv",
            "notes.txt",
        ],
        size=10,
    )
    return root


def index(run_cli: RunCli, *args: object) -> dict[str, object]:
    import json

    res = run_cli("index", *map(str, args), "--json")
    assert res.exit_code == 0, res.stderr
    return dict(json.loads(res.stdout))


def test_first_index_records_videos_companions_and_parses(
    run_cli: RunCli, library: Path, anivault_home: Path
) -> None:
    rep = index(run_cli, library)
    assert rep["new"] == 9 and rep["seen"] == 9 and rep["errors"] == 0  # notes.txt is not media
    db = db_at(anivault_home)
    kinds = dict(rows(db, "SELECT kind, count(*) FROM files GROUP BY kind"))  # type: ignore[arg-type]
    assert kinds == {"video": 7, "subtitle": 1, "font": 1}
    sub = rows(
        db, "SELECT s.video_id, v.name FROM files s JOIN files v ON v.id = s.video_id WHERE s.ext='ass'"
    )
    assert sub and sub[0][1] == FRIEREN.format(1)
    parsed = dict(rows(db, "SELECT name, title FROM v_library WHERE kind='video'"))  # type: ignore[arg-type]
    assert parsed[FRIEREN.format(3)] == "Sousou no Frieren"
    assert rows(db, "SELECT season, episode FROM v_library WHERE name = '진격의 거인 3기 12화.mp4'") == [
        (3, 12)
    ]
    (st,) = rows(db, "SELECT status FROM scans WHERE id = ?", rep["scan_id"])
    assert st == ("done",)
    mode = rows(db, "PRAGMA journal_mode")
    assert mode == [("wal",)]


def test_second_run_parses_nothing(run_cli: RunCli, library: Path, anivault_home: Path) -> None:
    index(run_cli, library)
    before = rows(db_at(anivault_home), "SELECT file_id, parsed_at FROM parses ORDER BY 1")
    rep = index(run_cli, library)
    assert (rep["new"], rep["changed"], rep["unchanged"], rep["reparsed"]) == (0, 0, 9, 0)
    assert rows(db_at(anivault_home), "SELECT file_id, parsed_at FROM parses ORDER BY 1") == before


def test_touch_edit_rename_move_delete_restore(run_cli: RunCli, library: Path, anivault_home: Path) -> None:
    index(run_cli, library)
    db = db_at(anivault_home)
    ids = dict(rows(db, "SELECT name, id FROM files"))  # type: ignore[arg-type]
    ep1, ep2, ep3, ep4 = (library / "Frieren" / FRIEREN.format(e) for e in (1, 2, 3, 4))

    os.utime(ep1, ns=(1_000_000_000, 1_000_000_000))  # touch: mtime only
    ep2.write_bytes(b"longer content now")  # edit: size changes
    renamed = ep3.with_name("[SubsPlease] Sousou no Frieren - 03v2 (1080p).mkv")
    ep3.rename(renamed)  # rename in place
    (library / "Moved").mkdir()
    moved = library / "Moved" / ep4.name
    ep4.rename(moved)  # move between folders
    gone = library / "葬送のフリーレン" / "[Group] 葬送のフリーレン 第12話.mkv"
    gone_bytes = gone.read_bytes()
    gone.unlink()  # delete

    rep = index(run_cli, library)
    assert (rep["changed"], rep["moved"], rep["missing"], rep["new"]) == (2, 2, 1, 0)
    assert rows(db, "SELECT id, status FROM files WHERE path = ?", str(moved)) == [(ids[ep4.name], "present")]
    assert rows(db, "SELECT id FROM files WHERE path = ?", str(renamed)) == [(ids[ep3.name],)]
    # a rename re-parses (the name changed); a move keeps its parse
    assert rows(db, "SELECT version FROM parses WHERE file_id = ?", ids[ep3.name]) == [(2,)]
    assert rows(db, "SELECT status FROM files WHERE id = ?", ids[gone.name]) == [("missing",)]

    gone.write_bytes(gone_bytes)  # restore
    rep = index(run_cli, library)
    assert rep["restored"] == 1 and rep["missing"] == 0
    assert rows(db, "SELECT status FROM files WHERE id = ?", ids[gone.name]) == [("present",)]
    assert rows(db, "SELECT count(*) FROM files")[0][0] == 9  # no duplicates anywhere


def test_a_file_copied_elsewhere_and_deleted_is_found_by_size_and_name(
    run_cli: RunCli, library: Path, anivault_home: Path
) -> None:
    """A move across filesystems is a copy and a delete: a new inode, so the index finds the file by its size
    and name (the `ix_files_size` lookup, migration 0007) and keeps its id."""
    index(run_cli, library)
    db = db_at(anivault_home)
    ep1 = library / "Frieren" / FRIEREN.format(1)
    (fid,) = rows(db, "SELECT id FROM files WHERE path = ?", str(ep1))[0]
    (library / "Elsewhere").mkdir()
    copy = library / "Elsewhere" / ep1.name
    copy.write_bytes(ep1.read_bytes())  # a new inode with the same size and name
    ep1.unlink()
    rep = index(run_cli, library)
    assert (rep["moved"], rep["new"], rep["missing"]) == (1, 0, 0)
    assert rows(db, "SELECT id, status FROM files WHERE path = ?", str(copy)) == [(fid, "present")]


def test_deleted_folder_goes_missing_and_reparse_flag(
    run_cli: RunCli, library: Path, anivault_home: Path
) -> None:
    index(run_cli, library)
    import shutil

    shutil.rmtree(library / "진격의 거인")
    rep = index(run_cli, library)
    assert rep["missing"] == 1
    rep = index(run_cli, library, "--reparse")
    assert rep["reparsed"] == 8


def test_a_folder_is_told_apart_from_its_subfolders_and_namesakes(
    run_cli: RunCli, tmp_path: Path, anivault_home: Path
) -> None:
    """The index finds a folder's own files as a range of the path index (there is no `dir` index): files
    of its subfolders and of folders whose names start like it must not be taken for its own."""
    root = tmp_path / "Anime"
    names = [
        "a - 01.mkv",
        "Show/b - 01.mkv",
        "Show/Sub/c - 01.mkv",
        "Show.old/d - 01.mkv",
        "Show 2/e - 01.mkv",
    ]
    make_files(root, names, size=10)
    db = db_at(anivault_home)
    assert index(run_cli, root)["new"] == 5
    first = dict(rows(db, "SELECT name, last_scan_id FROM files"))
    for gone in ("a - 01.mkv", "Show/Sub/c - 01.mkv"):
        (root / gone).unlink()
    rep = index(run_cli, root)
    assert (rep["missing"], rep["unchanged"], rep["new"]) == (2, 3, 0)
    status = dict(rows(db, "SELECT name, status FROM files"))
    assert status == {
        "a - 01.mkv": "missing", "b - 01.mkv": "present", "c - 01.mkv": "missing",
        "d - 01.mkv": "present", "e - 01.mkv": "present",
    }  # fmt: skip
    # The unchanged files of each folder were seen by this scan; the missing ones keep the first.
    seen = dict(rows(db, "SELECT name, last_scan_id FROM files"))
    assert {n for n in seen if seen[n] != first[n]} == {"b - 01.mkv", "d - 01.mkv", "e - 01.mkv"}
    shutil.rmtree(root / "Show")  # a whole folder gone: its subfolder's files were already missing
    assert index(run_cli, root)["missing"] == 1
    assert dict(rows(db, "SELECT name, status FROM files"))["d - 01.mkv"] == "present"


def test_new_parser_version_reparses_only_older_parses(
    run_cli: RunCli, library: Path, anivault_home: Path
) -> None:
    index(run_cli, library)
    db = db_at(anivault_home)
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE parses SET parser_version = 0 WHERE file_id IN (SELECT id FROM files WHERE ext = 'mp4')"
    )
    conn.commit()
    conn.close()
    rep = index(run_cli, library)
    assert rep["reparsed"] == 1 and rep["unchanged"] == 9


def test_odd_names_are_stored_without_loss(run_cli: RunCli, tmp_path: Path, anivault_home: Path) -> None:
    root = tmp_path / "odd"
    root.mkdir()
    nfd = unicodedata.normalize("NFD", "Pokémon - 01.mkv")
    emoji = "🎬 Bocchi the Rock! - 03 🎸.mkv"
    (root / nfd).write_bytes(b"x")
    (root / emoji).write_bytes(b"x")
    raw_name = b"Caf\xe9 Latte - 02.mkv"  # Latin-1 bytes: not valid UTF-8
    if sys.platform != "win32" and sys.platform != "darwin":
        with open(os.path.join(os.fsencode(root), raw_name), "wb") as fh:
            fh.write(b"x")
    rep = index(run_cli, root)
    assert rep["errors"] == 0
    db = db_at(anivault_home)
    names = {r[0] for r in rows(db, "SELECT name FROM files")}
    assert nfd in names and emoji in names  # NFD kept as the disk has it: the path must still open
    if sys.platform == "linux":
        ((text, raw),) = rows(db, "SELECT path, path_raw FROM files WHERE path_raw IS NOT NULL")
        assert "Caf\\xe9 Latte - 02.mkv" in str(text)
        assert os.path.exists(raw) and bytes(raw).endswith(raw_name)  # type: ignore[arg-type]
        assert index(run_cli, root)["unchanged"] == 3  # and it is recognised next time


def test_missing_path_is_a_one_line_error(run_cli: RunCli, tmp_path: Path) -> None:
    res = run_cli("index", str(tmp_path / "nope"))
    assert res.exit_code == 2
    assert res.stderr.startswith("error: ") and "does not exist" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "nope").exists()


def test_unreadable_subfolder_is_counted_and_the_rest_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "lib"
    make_files(root, ["ok/A - 01.mkv", "locked/B - 01.mkv"])
    real_scandir = os.scandir

    def scandir(path: str) -> object:  # as root, chmod cannot make a folder unreadable: inject EACCES
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    db = open_db(tmp_path / "lib.db")
    rep = run_index(db, IndexOptions(roots=[root]))
    assert rep.errors == 1 and rep.new == 1 and "locked" in rep.error_samples[0]
    db.close()


def test_interrupted_index_keeps_finished_batches_and_resumes(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    make_files(root, [f"S{d:02d}/Show {d} - {e:02d}.mkv" for d in range(6) for e in range(1, 4)])
    db = open_db(tmp_path / "lib.db")
    calls = 0

    def progress(seen: int, parsed: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_index(db, IndexOptions(roots=[root], batch_size=1, workers=1), progress)
    with db.read() as s:
        from sqlalchemy import text

        done = s.execute(text("SELECT count(*) FROM files")).scalar_one()
        status = s.execute(text("SELECT status FROM scans ORDER BY id DESC LIMIT 1")).scalar_one()
    assert status == "interrupted"
    assert 0 < done < 18
    rep = run_index(db, IndexOptions(roots=[root]))
    assert rep.new == 18 - done and rep.unchanged == done and rep.missing == 0
    assert db.integrity_check() == []
    db.close()


def test_symlink_loops_and_hidden_folders(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    make_files(root, ["Show/Show - 01.mkv", ".hidden/Secret - 01.mkv", "@eaDir/thumb - 01.mkv"])
    (root / "Show" / "loop").symlink_to(root, target_is_directory=True)
    db = open_db(tmp_path / "lib.db")
    rep = run_index(db, IndexOptions(roots=[root], ignore=[".*", "@eaDir"]))
    assert rep.new == 1
    rep = run_index(db, IndexOptions(roots=[root], follow_symlinks=True, ignore=[".*", "@eaDir"]))
    assert rep.errors == 0 and rep.seen == 1  # the loop is walked once, not forever
    db.close()


def test_installed_script_indexes(installed_cli: Path, library: Path, anivault_home: Path) -> None:
    import subprocess

    env = dict(os.environ, ANIVAULT_HOME=str(anivault_home))
    out = subprocess.run(
        [installed_cli, "index", str(library)], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "9 new" in out.stderr
    out = subprocess.run([installed_cli, "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.startswith("anivault ")
    out = subprocess.run(
        [sys.executable, "-m", "anivault", "--version"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0 and out.stdout.startswith("anivault ")
