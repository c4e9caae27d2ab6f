"""Reading the library from the command line: ls, show, stats, sql and db, over real files indexed with
the real `anivault index`, through the real main() (exit codes, stdout for data, stderr for talk)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import RunCli, make_files

FRIEREN = "[SubsPlease] Sousou no Frieren - {:02d} (1080p) [A1B2C3D4].mkv"
RAW_NAME = b"Caf\xe9 Latte - 02.mkv"  # Latin-1 bytes: not valid UTF-8 on Linux

NAMES = [
    *(f"Frieren/{FRIEREN.format(e)}" for e in range(1, 5)),
    f"Frieren/{FRIEREN.format(1)[:-4]}.en.ass",
    "Frieren S2/[Erai-raws] Sousou no Frieren S2 - 03 [1920x1080].mp4",
    "Vinland Saga/[Judas] Vinland Saga S2 - 01-04 [720p].mkv",
    "진격의 거인/진격의 거인 3기 12화.mp4",
    "Movies/[Group] Kimi no Na wa (2016) [2160p].mkv",
]


def db_file(home: Path) -> Path:
    return home / "data" / "library.db"


def ok(res: Any) -> Any:
    assert res.exit_code == 0, res.stderr
    return res


def as_json(res: Any) -> Any:
    return json.loads(ok(res).stdout)


@pytest.fixture
def library(run_cli: RunCli, tmp_path: Path) -> Path:
    root = tmp_path / "Anime"
    make_files(root, NAMES, size=100)
    (root / "Frieren" / FRIEREN.format(4)).write_bytes(b"\0" * 5000)  # one bigger file for --sort size
    if sys.platform == "linux":
        (root / "Misc").mkdir()
        with open(os.path.join(os.fsencode(root / "Misc"), RAW_NAME), "wb") as fh:
            fh.write(b"x")
    ok(run_cli("index", str(root), "--workers", "1"))
    return root


def ls_json(run_cli: RunCli, *args: str) -> list[dict[str, Any]]:
    rows = as_json(run_cli("ls", *args, "--json"))
    assert isinstance(rows, list)
    return rows


def titles(rows: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return sorted((r["title"] or "", r["episode"]) for r in rows)


# --- ls ------------------------------------------------------------------------------------------------


def test_ls_lists_present_videos_for_people(run_cli: RunCli, library: Path) -> None:
    res = ok(run_cli("ls"))
    lines = res.stdout.splitlines()
    videos = [n for n in NAMES if not n.endswith(".ass")]
    assert len(lines) == len(videos) + (1 if sys.platform == "linux" else 0)
    assert any("Sousou no Frieren S01E02 [SubsPlease] 1080p" in line for line in lines)
    assert any("Vinland Saga S02E01-E04 [Judas] 720p" in line for line in lines)
    assert all(line.split()[0].isdigit() for line in lines)
    assert "files" in res.stderr  # the count is talk, not data
    assert ".ass" not in res.stdout  # companions only with kind:


def test_ls_filters_negation_ranges_and_resolution(run_cli: RunCli, library: Path) -> None:
    assert titles(ls_json(run_cli, "frieren", "season:1")) == [("Sousou no Frieren", e) for e in range(1, 5)]
    assert titles(ls_json(run_cli, "frieren", "episode:2..3")) == [
        ("Sousou no Frieren", 2),
        ("Sousou no Frieren", 3),
        ("Sousou no Frieren", 3),
    ]
    assert titles(ls_json(run_cli, "title:frieren", "-group:subsplease")) == [("Sousou no Frieren", 3)]
    assert titles(ls_json(run_cli, "^group:subsplease", "frieren")) == [("Sousou no Frieren", 3)]
    # 1080p and 1920x1080 are one resolution
    res_1080 = ls_json(run_cli, "resolution:1080p")
    assert {r["resolution"] for r in res_1080} == {"1080p", "1920x1080"} and len(res_1080) == 5
    assert titles(ls_json(run_cli, "episode:3", "season:2")) == [
        ("Sousou no Frieren", 3),
        ("Vinland Saga", 1),
    ]
    assert [r["kind"] for r in ls_json(run_cli, "kind:subtitle")] == ["subtitle"]
    assert [r["ext"] for r in ls_json(run_cli, "ext:mp4", "진격의")] == ["mp4"]
    assert [r["year"] for r in ls_json(run_cli, "kind:movie")] == [2016]


def test_ls_sort_limit_and_csv(run_cli: RunCli, library: Path) -> None:
    rows = ls_json(run_cli, "frieren", "--sort", "-size", "--limit", "2")
    assert len(rows) == 2 and rows[0]["size"] == 5000
    eps = [r["episode"] for r in ls_json(run_cli, "frieren", "season:1", "--sort", "-episode")]
    assert eps == [4, 3, 2, 1]
    res = ok(run_cli("ls", "frieren", "--csv"))
    table = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(table) == 5 and table[0]["title"] == "Sousou no Frieren"
    assert list(table[0])[:3] == ["id", "path", "title"]


def test_ls_unmatched_and_missing(run_cli: RunCli, library: Path) -> None:
    rows = ls_json(run_cli, "--unmatched")
    assert rows and all(r["reason"] == "not matched yet" for r in rows)
    assert "(not matched yet)" in ok(run_cli("ls", "--unmatched", "frieren")).stdout
    assert ls_json(run_cli, "--missing") == []
    gone = library / "Frieren" / FRIEREN.format(2)
    gone.unlink()
    ok(run_cli("index", str(library), "--workers", "1"))
    missing = ls_json(run_cli, "--missing")
    assert [r["path"] for r in missing] == [str(gone)]
    assert "MISSING" in ok(run_cli("ls", "--missing")).stdout
    assert all(r["status"] == "present" for r in ls_json(run_cli))
    assert len(ls_json(run_cli, "status:any", "frieren", "season:1")) == 4


def test_ls_bad_queries_are_one_line_errors(run_cli: RunCli, library: Path) -> None:
    res = run_cli("ls", "colour:red")
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.startswith("error: unknown field 'colour'")
    assert "hint: fields: title, name, season, episode" in res.stderr
    res = run_cli("ls", "season:abc")
    assert res.exit_code == 2 and "'abc' is not a number" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("ls", "--sort", "colour")
    assert res.exit_code == 2 and "sort fields:" in res.stderr
    res = run_cli("ls", "--unmatched", "--missing")
    assert res.exit_code == 2
    res = run_cli("ls", "--json", "--csv")
    assert res.exit_code == 2 and "choose one output format" in res.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="non-UTF-8 file names are a Linux thing")
def test_non_utf8_names_show_as_escapes(run_cli: RunCli, library: Path) -> None:
    res = ok(run_cli("ls", "name:latte"))
    assert "Caf\\xe9 Latte - 02.mkv" in res.stdout
    (row,) = ls_json(run_cli, "name:latte")
    assert row["path"].endswith("Caf\\xe9 Latte - 02.mkv")
    show = ok(run_cli("show", str(row["id"])))
    assert "not UTF-8" in show.stdout
    assert as_json(run_cli("show", str(row["id"]), "--json"))["file"]["path_has_raw_bytes"] is True


def test_reading_commands_need_a_library(run_cli: RunCli, tmp_path: Path, anivault_home: Path) -> None:
    for args in (["ls"], ["show", "1"], ["stats"], ["sql", "select 1"], ["db", "schema"], ["db", "backup"]):
        res = run_cli(*args)
        assert res.exit_code == 2, args
        assert "no library database" in res.stderr and "anivault index" in res.stderr
    assert not db_file(anivault_home).exists()  # reading never creates one


# --- show and stats ------------------------------------------------------------------------------------


def test_show_file(run_cli: RunCli, library: Path) -> None:
    (video,) = ls_json(run_cli, "frieren", "episode:1", "season:1")
    res = ok(run_cli("show", str(video["id"])))
    out = res.stdout
    assert f"file {video['id']}" in out
    assert str(library / "Frieren" / FRIEREN.format(1)) in out
    assert "companions (1)" in out and ".en.ass" in out and "[en]" in out
    assert "release_group   SubsPlease" in out
    assert "(not matched yet)" in out
    assert "first        scan 1" in out
    detail = as_json(run_cli("show", str(video["id"]), "--json"))
    assert detail["parse"]["title"] == "Sousou no Frieren"
    assert detail["companions"][0]["kind"] == "subtitle"
    assert detail["scans"]["first"]["id"] == 1
    sub = as_json(run_cli("show", str(detail["companions"][0]["id"]), "--json"))
    assert sub["video"]["id"] == video["id"]


def test_show_unknown_id_is_exit_2(run_cli: RunCli, library: Path) -> None:
    res = run_cli("show", "999999")
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        "error: no file with id 999999 in the library",
        "hint: find ids with `anivault ls QUERY`",
    ]
    assert run_cli("show", "abc").exit_code == 2


def test_stats(run_cli: RunCli, library: Path) -> None:
    data = as_json(run_cli("stats", "--json"))
    t = data["totals"]
    linux_extra = 1 if sys.platform == "linux" else 0
    assert t["videos"] == len(NAMES) - 1 + linux_extra and t["companions"] == 1 and t["missing"] == 0
    assert t["roots"] == 1 and t["scans"] == 1
    assert data["by_root"][0]["root"] == str(library)
    assert {r["ext"] for r in data["by_extension"]} == {"mkv", "mp4", "ass"}
    assert data["top_series"][0]["title_norm"] == "sousou no frieren"
    assert data["top_series"][0]["videos"] == 5
    assert data["by_match_status"] == [{"match_status": "new", "videos": t["videos"]}]
    human = ok(run_cli("stats")).stdout
    for heading in ("by kind", "by root", "by extension", "top series", "parser versions"):
        assert heading in human


# --- sql -----------------------------------------------------------------------------------------------


def test_sql_outputs_and_params(run_cli: RunCli, library: Path) -> None:
    q = "select title_norm, count(*) n from v_library where kind = 'video' group by 1 order by n desc limit 1"
    assert as_json(run_cli("sql", q, "--json")) == [{"title_norm": "sousou no frieren", "n": 5}]
    res = ok(run_cli("sql", q, "--csv"))
    assert res.stdout == "title_norm,n\nsousou no frieren,5\n"
    assert ok(run_cli("sql", q)).stdout == "sousou no frieren\t5\n"  # piped: plain rows
    table = ok(run_cli("sql", q, "--table")).stdout
    assert "sousou no frieren" in table and "title_norm" in table
    rows = as_json(
        run_cli("sql", "select episode from v_library where title_norm = :t and kind = :k order by 1",
                "-p", "t", "sousou no frieren", "--param", "k", "video", "--json")
    )  # fmt: skip
    assert [r["episode"] for r in rows] == [1, 2, 3, 3, 4]
    piped = as_json(
        run_cli("sql", "-", "--json", input="select count(*) as n from files where kind = 'subtitle'\n")
    )
    assert piped == [{"n": 1}]


def test_sql_is_read_only_unless_write(run_cli: RunCli, library: Path, anivault_home: Path) -> None:
    before = as_json(run_cli("sql", "select count(*) n from files", "--json"))
    res = run_cli("sql", "delete from files")
    assert res.exit_code == 2
    assert "read-only" in res.stderr and "--write" in res.stderr
    assert as_json(run_cli("sql", "select count(*) n from files", "--json")) == before
    res = run_cli("sql", "create table t (x)")
    assert res.exit_code == 2 and "--write" in res.stderr
    assert not (anivault_home / "data" / "backups").exists()


def test_sql_write_backs_up_first(run_cli: RunCli, library: Path, anivault_home: Path) -> None:
    res = ok(run_cli("sql", "--write", "update files set size = :s where kind = 'subtitle'", "-p", "s", "7"))
    backups = list((anivault_home / "data" / "backups").glob("*.db"))
    assert len(backups) == 1
    assert f"backup: {backups[0]}" in res.stderr and "1 row changed" in res.stderr
    assert as_json(run_cli("sql", "select size from files where kind = 'subtitle'", "--json")) == [
        {"size": 7}
    ]
    old = sqlite3.connect(backups[0])
    try:
        assert old.execute("select size from files where kind = 'subtitle'").fetchone() == (100,)
    finally:
        old.close()
    ok(run_cli("sql", "--write", "select 1"))
    assert len(list((anivault_home / "data" / "backups").glob("*.db"))) == 2  # never overwrites one


def test_sql_errors(run_cli: RunCli, library: Path) -> None:
    res = run_cli("sql", "select * from nope")
    assert res.exit_code == 2 and "no such table: nope" in res.stderr and "db schema" in res.stderr
    res = run_cli("sql", "select 1; select 2")
    assert res.exit_code == 2 and "one statement" in res.stderr
    res = run_cli("sql", "select :a")
    assert res.exit_code == 2 and "parameters" in res.stderr
    res = run_cli("sql", "select 1", "-p", "a")
    assert res.exit_code == 2
    res = run_cli("sql", "-", input="  \n")
    assert res.exit_code == 2 and "no SQL" in res.stderr


# --- db ------------------------------------------------------------------------------------------------


def test_db_path_prints_only_the_path(run_cli: RunCli, library: Path, anivault_home: Path) -> None:
    res = ok(run_cli("db", "path"))
    assert res.stdout == f"{db_file(anivault_home)}\n" and res.stderr == ""
    conn = sqlite3.connect(res.stdout.strip())
    try:
        assert conn.execute("select count(*) from v_library where kind = 'video'").fetchone()[0] >= 8
    finally:
        conn.close()
    custom = library.parent / "other.db"
    assert ok(run_cli("--db", str(custom), "db", "path")).stdout == f"{custom}\n"
    assert not custom.exists()


def test_db_schema_and_status(run_cli: RunCli, library: Path, anivault_home: Path) -> None:
    from anivault.db.migrate import head_revision

    schema = ok(run_cli("db", "schema")).stdout
    assert "CREATE TABLE files" in schema.replace('"', "") or "CREATE TABLE files" in schema
    assert "CREATE VIEW v_library" in schema and "CREATE VIEW v_unmatched" in schema
    status = as_json(run_cli("db", "status", "--json"))
    assert status["path"] == str(db_file(anivault_home))
    assert status["revision"] == status["head"] == head_revision() and status["up_to_date"] is True
    assert status["journal_mode"] == "wal" and status["quick_check"] == "ok"
    assert status["row_counts"]["files"] == len(NAMES) + (1 if sys.platform == "linux" else 0)
    assert status["size"] > 0 and status["network_fs"] is None
    human = ok(run_cli("db", "status")).stdout
    assert "quick_check   ok" in human and "up to date" in human


def test_db_status_without_a_library(run_cli: RunCli, anivault_home: Path) -> None:
    status = as_json(run_cli("db", "status", "--json"))
    assert status["exists"] is False and status["revision"] is None
    assert not db_file(anivault_home).exists()


def test_db_backup(run_cli: RunCli, library: Path, tmp_path: Path, anivault_home: Path) -> None:
    res = ok(run_cli("db", "backup"))
    default = Path(res.stdout.strip())
    assert default.parent == anivault_home / "data" / "backups" and default.exists()
    assert "integrity ok" in res.stderr
    dest = tmp_path / "copy.db"
    assert ok(run_cli("db", "backup", str(dest))).stdout == f"{dest}\n"
    from anivault.db.connect import open_db

    copy = open_db(dest, migrate=False)
    try:
        assert copy.integrity_check(quick=False) == []
    finally:
        copy.close()
    conn = sqlite3.connect(dest)
    try:
        assert conn.execute("select count(*) from files").fetchone()[0] == len(NAMES) + (
            sys.platform == "linux"
        )
    finally:
        conn.close()
    again = run_cli("db", "backup", str(dest))
    assert again.exit_code == 2 and "never overwrites" in again.stderr
    folder = tmp_path / "folder"
    folder.mkdir()
    into = Path(ok(run_cli("db", "backup", str(folder))).stdout.strip())
    assert into.parent == folder and into.name.startswith("library-")


def test_db_compact_gives_back_the_space_of_deleted_rows(
    run_cli: RunCli, library: Path, anivault_home: Path
) -> None:
    """After a backup, VACUUM: every row kept, WAL mode kept, the space of deleted rows given back."""
    path = db_file(anivault_home)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE scratch (x)")  # pages to give back
        conn.executemany("INSERT INTO scratch VALUES (?)", [("x" * 2000,) for _ in range(500)])
        conn.execute("DROP TABLE scratch")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        files = conn.execute("SELECT id, path FROM files ORDER BY id").fetchall()
    finally:
        conn.close()
    before = path.stat().st_size
    res = ok(run_cli("db", "compact"))
    assert "compacted: " in res.stderr and path.stat().st_size < before, res.stderr
    backups = sorted((anivault_home / "data" / "backups").glob("library-*-before-compact*.db"))
    assert len(backups) == 1 and f"backup: {backups[0]}" in res.stderr
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT id, path FROM files ORDER BY id").fetchall() == files
    finally:
        conn.close()
    assert ok(run_cli("ls", "--json")).stdout  # the library still reads


def test_db_upgrade_from_an_older_schema(run_cli: RunCli, anivault_home: Path) -> None:
    from alembic import command

    from anivault.db.engine import make_engine
    from anivault.db.migrate import alembic_config, head_revision, revisions

    if len(revisions()) < 2:
        pytest.skip("one revision: there is no older schema to upgrade from yet")
    older = revisions()[-2]
    path = db_file(anivault_home)
    path.parent.mkdir(parents=True)
    engine = make_engine(path)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), older)
    engine.dispose()
    status = as_json(run_cli("db", "status", "--json"))
    assert status["revision"] == older and status["up_to_date"] is False
    res = ok(run_cli("db", "upgrade"))
    assert f"upgraded from schema {older} to {head_revision()}" in res.stderr
    backups = list((anivault_home / "data" / "backups").glob(f"*before-{older}.db"))
    assert len(backups) == 1 and f"backup: {backups[0]}" in res.stderr
    assert as_json(run_cli("db", "status", "--json"))["up_to_date"] is True
    assert "already up to date" in ok(run_cli("db", "upgrade")).stderr


def test_sqlite3_shell_opens_db_path(installed_cli: Path, library: Path, anivault_home: Path) -> None:
    sqlite3_cli = shutil.which("sqlite3")
    if sqlite3_cli is None:
        pytest.skip("no sqlite3 command-line shell on this machine")
    env = {**os.environ, "ANIVAULT_HOME": str(anivault_home)}
    out = subprocess.run(
        f'sqlite3 "$("{installed_cli}" db path)" "select count(*) from v_library where kind = \'video\'"',
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(out.stdout.strip()) == len(NAMES) - 1 + (sys.platform == "linux")


@pytest.mark.parametrize(
    ("statement", "refused"),
    [
        pytest.param("vacuum into '{out}'", "VACUUM INTO", id="vacuum-into"),
        pytest.param("attach 'file:{out}?mode=rwc' as x", "ATTACH", id="attach-rwc"),
        pytest.param("pragma journal_mode=delete", "PRAGMA journal_mode = delete", id="pragma-write"),
        pytest.param("create temp table t(x)", "CREATE TEMP TABLE", id="temp-table"),
        pytest.param("select load_extension('x')", "load_extension", id="extension"),
    ],
)
def test_read_only_sql_writes_no_file_anywhere(
    run_cli: RunCli, library: Path, tmp_path: Path, statement: str, refused: str
) -> None:
    out = tmp_path / "copy.db"
    before = sorted(p.name for p in tmp_path.iterdir())
    res = run_cli("sql", statement.format(out=out))
    assert res.exit_code == 2, res.stderr
    assert res.stderr.startswith("error: `anivault sql` is read-only: refused ") and refused in res.stderr
    assert "--write" in res.stderr and "disk I/O" not in res.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == before


def test_read_only_sql_still_reads_schema_pragmas(run_cli: RunCli, library: Path) -> None:
    rows = as_json(run_cli("sql", "pragma table_info(files)", "--json"))
    assert "path" in [r["name"] for r in rows]
    assert as_json(run_cli("sql", "pragma journal_mode", "--json")) == [{"journal_mode": "wal"}]


RUNAWAY = "with recursive c(x) as (select 1 union all select x+1 from c) select count(*) from c"


def test_a_runaway_statement_stops_at_its_timeout(run_cli: RunCli, library: Path) -> None:
    started = time.monotonic()
    res = run_cli("sql", RUNAWAY, "--timeout", "0.2")
    assert res.exit_code == 2 and "--timeout 0.2 s" in res.stderr
    assert time.monotonic() - started < 3


def test_ctrl_c_stops_a_runaway_statement(installed_cli: Path, library: Path) -> None:
    proc = subprocess.Popen(
        [str(installed_cli), "-v", "sql", RUNAWAY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the statement runs
        if "running a statement" in line:
            break
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 3
    assert proc.returncode == 130, err
    assert "stopped (Ctrl-C)" in err and "Traceback" not in err


def test_a_table_for_people_is_bounded(run_cli: RunCli, library: Path) -> None:
    header = "x" * 100_000
    res = ok(run_cli("sql", f"select 1 as \"{header}\", '{'y' * 100_000}' as v", "--table"))
    assert len(res.stdout) < 5_000
    count_to_1500 = "with recursive c(x) as (select 1 union all select x+1 from c limit 1500) select x from c"
    many = ok(run_cli("sql", count_to_1500, "--table"))
    assert "1000" in many.stdout and "1001" not in many.stdout
    assert "1500 rows, the first 1000 shown" in many.stderr
