"""The library database: migrations, pragmas, refusing foreign files, network filesystems, locking."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import ROOT, RunCli, make_files

from anivault.db import connect as connect_mod
from anivault.db.base import Base
from anivault.db.connect import open_db
from anivault.db.engine import writer_lock
from anivault.db.fsdetect import fs_type_for, network_fs
from anivault.db.migrate import alembic_config, current_revision, head_revision, revisions
from anivault.db.models import all_models
from anivault.errors import DatabaseBusyError, DatabaseError


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_empty_to_head_and_models_equal_migrations(tmp_path: Path) -> None:
    db = open_db(tmp_path / "lib.db")
    assert current_revision(db) == head_revision()
    all_models()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    views = {
        r[0] for r in sqlite3.connect(db.path).execute("SELECT name FROM sqlite_master WHERE type='view'")
    }
    assert {"v_library", "v_unmatched"} <= views
    db.close()


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    db = open_db(tmp_path / "lib.db")
    with db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert current_revision(db) is None
    with db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert current_revision(db) == head_revision()
    db.close()


def test_every_connection_sets_the_pragmas(tmp_path: Path) -> None:
    db = open_db(tmp_path / "lib.db")
    with db.engine.connect() as conn:
        got = {
            p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
            for p in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert got == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000, "synchronous": 1}
    db.close()


def test_older_database_is_backed_up_then_upgraded(tmp_path: Path) -> None:
    revs = revisions()
    if len(revs) < 2:
        pytest.skip("one revision: there is no older schema to upgrade from yet")
    path = tmp_path / "old.db"
    db = open_db(path)
    with db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), revs[-2])
        conn.exec_driver_sql(
            "INSERT INTO files (path, dir, name, ext, size, mtime_ns, dev, inode, kind, status, first_seen, last_seen)"
            " VALUES ('/a/b.mkv', '/a', 'b.mkv', 'mkv', 1, 1, 1, 1, 'video', 'present', '2026-01-01', '2026-01-01')"
        )
    db.close()
    backups = tmp_path / "backups"
    db = open_db(path, backup_dir=backups)
    assert current_revision(db) == head_revision()
    (backup,) = list(backups.iterdir())
    assert f"before-{revs[-2]}" in backup.name
    old = sqlite3.connect(backup)
    assert old.execute("SELECT version_num FROM alembic_version").fetchone() == (revs[-2],)
    assert old.execute("SELECT count(*) FROM files").fetchone() == (1,)
    with db.engine.connect() as conn:  # data survived the upgrade
        assert conn.exec_driver_sql("SELECT path FROM v_library").scalar() == "/a/b.mkv"
    db.close()


def test_a_library_from_a_pre_release_build_is_refused_untouched(tmp_path: Path, run_cli: RunCli) -> None:
    path = tmp_path / "old.db"
    open_db(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = '0012_ledger_file_index_organize_only'")
    conn.commit()
    conn.close()
    before = sha(path)
    res = run_cli("--db", str(path), "ls")
    assert (
        res.exit_code == 4
        and "development build of AniVault" in res.stderr
        and "cannot be upgraded" in res.stderr
    )
    assert f"move {path} aside" in res.stderr and sha(path) == before


def test_foreign_and_corrupt_files_are_refused_untouched(tmp_path: Path, run_cli: RunCli) -> None:
    text = tmp_path / "notes.db"
    text.write_text("these are my notes, not a database\n" * 50)
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    for path, phrase in ((text, "not an AniVault"), (foreign, "did not make"), (corrupt, "cannot be opened")):
        before = sha(path)
        res = run_cli("--db", str(path), "index", str(tmp_path))
        assert res.exit_code == 4, res.stderr
        assert res.stderr.startswith("error: ") and phrase in res.stderr and "Traceback" not in res.stderr
        assert sha(path) == before
        assert not path.with_name(path.name + "-wal").exists() or path == foreign


def test_newer_database_is_refused(tmp_path: Path) -> None:
    db = open_db(tmp_path / "lib.db")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    db.close()
    with pytest.raises(DatabaseError, match="newer AniVault"):
        open_db(tmp_path / "lib.db")


MOUNTINFO = textwrap.dedent(
    """\
    22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
    40 22 0:35 / /mnt/nas rw,relatime shared:20 - cifs //nas/anime rw,vers=3.0
    41 22 0:36 / /mnt/nfs\\040share rw shared:21 - nfs4 srv:/export rw
    42 40 259:3 / /mnt/nas/local rw - ext4 /dev/sdb1 rw
    """
)


def test_network_filesystem_detector() -> None:
    assert fs_type_for(Path("/home/me/library.db"), MOUNTINFO) == "ext4"
    assert network_fs(Path("/mnt/nas/anime/library.db"), MOUNTINFO) == "cifs"
    assert network_fs(Path("/mnt/nfs share/x.db"), MOUNTINFO) == "nfs4"
    assert network_fs(Path("/mnt/nas/local/x.db"), MOUNTINFO) is None  # a local disk mounted below
    assert network_fs(Path("/home/me/x.db"), MOUNTINFO) is None


def test_database_on_network_fs_uses_a_safe_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(connect_mod, "network_fs", lambda p: "cifs")
    db = open_db(tmp_path / "lib.db")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
    assert db.network_fs == "cifs"
    assert any("network filesystem" in r.getMessage() for r in caplog.records)
    db.close()


def test_writer_lock_makes_a_second_writer_wait_then_stop(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from anivault.db.engine import writer_lock
            with writer_lock(Path({str(path)!r}), purpose="index"):
                print("locked", flush=True)
                sys.stdin.read()  # held until the test closes our stdin
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with (
            pytest.raises(DatabaseBusyError, match=r"another AniVault \(pid \d+"),
            writer_lock(path, wait_seconds=0.5),
        ):
            pass
        assert time.monotonic() - t0 >= 0.45
    finally:
        holder.kill()
        holder.wait()
    with writer_lock(path, wait_seconds=2):  # the OS dropped the dead holder's lock
        pass


def test_two_index_processes_at_once_stay_consistent(tmp_path: Path, anivault_home: Path) -> None:
    lib = tmp_path / "lib"
    make_files(lib, [f"Show {s}/[G] Show {s} - {e:02d} [1080p].mkv" for s in range(40) for e in range(1, 26)])
    env = dict(os.environ, ANIVAULT_HOME=str(anivault_home))
    cmd = [sys.executable, "-m", "anivault", "index", str(lib), "--json"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    codes = sorted(p.returncode for p in procs)
    # The second either waited and found everything unchanged, or stopped with the busy message.
    assert codes in ([0, 0], [0, 4]), outs
    if codes == [0, 4]:
        assert any("another AniVault" in err for _, err in outs), outs
    conn = sqlite3.connect(anivault_home / "data" / "library.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("SELECT count(*), count(DISTINCT path) FROM files").fetchone() == (1000, 1000)
    assert conn.execute("SELECT count(*) FROM parses").fetchone() == (1000,)


def test_the_head_read_from_file_names_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [head_revision()]
    assert sorted(s.revision for s in scripts.walk_revisions()) == list(revisions())
    assert len(revisions()) <= 5


def _scribble_middle_pages(db_file: Path) -> None:
    conn = sqlite3.connect(db_file)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db_file.read_bytes())
    pages = len(data) // page
    for p in range(pages // 3, 2 * pages // 3 + 1):
        data[p * page + 100 : p * page + page - 100] = b"\x5a" * (page - 200)
    db_file.write_bytes(bytes(data))


@pytest.mark.parametrize("with_backup", [False, True], ids=["no-backup", "a-backup"])
def test_a_page_damaged_in_the_middle_is_a_clear_error_naming_what_exists(
    tmp_path: Path, run_cli: RunCli, anivault_home: Path, with_backup: bool
) -> None:
    make_files(tmp_path / "lib", [f"[G] Show {i % 30} - {i:02} (1080p).mkv" for i in range(600)])
    assert run_cli("index", str(tmp_path / "lib")).exit_code == 0
    if with_backup:
        assert run_cli("db", "backup").exit_code == 0
    db_file = anivault_home / "data" / "library.db"
    _scribble_middle_pages(db_file)
    res = run_cli("--db", str(db_file), "sql", "select count(*) from parses where title like '%x%'")
    if res.exit_code == 0:  # the read did not meet a bad page: a command that reads every row will
        res = run_cli("--db", str(db_file), "ls", "--json")
    assert res.exit_code == 4, (res.exit_code, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 2 and "damaged" in lines[0] and "malformed" in lines[0], res.stderr
    if with_backup:
        backup = next((anivault_home / "data" / "backups").iterdir())
        assert (
            lines[1]
            == f"hint: restore the newest backup: copy {backup} over {db_file} (with no AniVault running)"
        )
    else:
        assert not (anivault_home / "data" / "backups").exists()
        assert "no backup exists yet" in lines[1] and "anivault index" in lines[1]
