"""`verify` checks and `status` reports at the library level (anivault.pipeline.verify, anivault.db.status)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tmdb_emulator  # scripts/ is on sys.path (tests/conftest.py)

from anivault import secrets_store as ss
from anivault.db import status as st
from anivault.pipeline import verify as dx

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "tests" / "fixtures" / "tmdb_catalog_small.json"


@pytest.fixture
def emulator() -> Iterator[Any]:
    running = tmdb_emulator.start_emulator(CATALOG, api_key="test-key")
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIVAULT_HOME", str(tmp_path / "home"))
    for name in list(os.environ):
        if name.startswith("ANIVAULT_") and name != "ANIVAULT_HOME":
            monkeypatch.delenv(name)
    monkeypatch.setattr(ss, "CURRENT_PARAMS", ss.ScryptParams(n=2**10, r=8, p=1))
    ss._cache_forget()


def make_db(path: Path) -> Path:
    from anivault.db.connect import open_db

    open_db(path).close()
    return path


def by_name(report: dx.VerifyReport) -> dict[str, dx.Check]:
    return {c.name: c for c in report.checks}


def test_healthy_setup_passes(tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIVAULT_TMDB_URL", emulator.base_url)
    ss.store_api_key("test-key", "1234-pin")
    db = make_db(tmp_path / "library.db")
    report = dx.verify(db, pin_provider=lambda: "1234-pin")
    checks = by_name(report)
    assert report.ok, report.to_json()
    assert checks["TMDB reachable"].status == "ok"
    assert checks["schema version"].status == "ok"
    assert checks["TMDB key"].status == "ok" and "decrypts" in checks["TMDB key"].detail
    assert "test-key" not in json.dumps(report.to_json())


def test_problems_fail_with_a_fix(tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIVAULT_TMDB_URL", emulator.base_url)
    ss.store_api_key("not-the-right-key", "1234-pin")
    db = make_db(tmp_path / "library.db")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO roots (path, added_at) VALUES (?, '2026-01-01')", (str(tmp_path / "gone"),))
    report = dx.verify(db, pin_provider=lambda: "1234-pin")
    checks = by_name(report)
    assert not report.ok
    assert checks["TMDB reachable"].status == "fail" and "401" in checks["TMDB reachable"].detail
    assert "set-key" in (checks["TMDB reachable"].hint or "")
    assert checks["library paths"].status == "fail" and "gone" in checks["library paths"].detail
    assert checks["library paths"].hint


def test_wrong_pin_and_missing_key(tmp_path: Path) -> None:
    report = dx.verify(tmp_path / "none.db", offline=True)
    key = by_name(report)["TMDB key"]
    assert key.status == "fail" and "set-key" in (key.hint or "")
    ss.store_api_key("0123456789abcdef0123456789abcdef", "1234-pin")
    key = by_name(dx.verify(tmp_path / "none.db", pin_provider=lambda: "9999", offline=True))["TMDB key"]
    assert key.status == "fail" and key.detail == "wrong PIN"


def test_unreachable_tmdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIVAULT_TMDB_KEY", "test-key-from-env")
    monkeypatch.setenv("ANIVAULT_TMDB_URL", "http://127.0.0.1:9/3")  # discard port: connection refused
    check = by_name(dx.verify(tmp_path / "none.db", timeout=1.0))["TMDB reachable"]
    assert check.status == "fail" and check.hint and "test-key-from-env" not in check.detail


def test_corrupt_database(tmp_path: Path) -> None:
    db = make_db(tmp_path / "library.db")
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE filler (x TEXT)")
        conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,) for _ in range(200)])
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")  # the header's page size
    for i in range(page * 3, page * 3 + 200):  # scribble over a b-tree page
        data[i] = 0x5A
    db.write_bytes(bytes(data))
    check = by_name(dx.verify(db, offline=True))["database integrity"]
    assert check.status == "fail" and check.hint and "backup" in check.hint


def test_not_a_database_and_foreign_schema(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("hello", "utf-8")
    assert by_name(dx.verify(text, offline=True))["database integrity"].status == "fail"
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert by_name(dx.verify(foreign, offline=True))["schema version"].status == "fail"


def test_a_pre_release_schema_fails_with_what_to_do(tmp_path: Path) -> None:
    db = make_db(tmp_path / "library.db")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num='0003_ledger'")
    check = by_name(dx.verify(db, offline=True))["schema version"]
    assert check.status == "fail" and "development build" in check.detail and "aside" in (check.hint or "")


def test_bad_settings_fail(tmp_path: Path) -> None:
    from anivault.paths import app_paths

    cfg = app_paths().config_file
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[tmdb]\nrate = 'fast'\n", "utf-8")
    check = by_name(dx.verify(tmp_path / "none.db", offline=True))["settings"]
    assert check.status == "fail" and "tmdb.rate" in check.detail


def test_status_without_a_library(tmp_path: Path) -> None:
    out = st.status(tmp_path / "none.db")
    assert out["exists"] is False and "index" in out["hint"]


def test_status_reads_what_exists(tmp_path: Path) -> None:
    db = make_db(tmp_path / "library.db")
    out = st.status(db)
    assert out["last_run"] is None and out["last_scan"] is None and out["last_organize"] is None
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO runs (started_at, updated_at, state, stage, args, counts, pid, host) "
            "VALUES ('2026-11-21', '2026-11-21', 'running', 'match', '{\"paths\": [\"/a\"]}', "
            '\'{"index": {"seen": 3}}\', 999999999, ?)',
            (__import__("socket").gethostname(),),
        )
    out = st.status(db)
    run = out["last_run"]
    assert run["stage"] == "match" and run["counts"] == {"index": {"seen": 3}}
    assert run["state"] == "interrupted" and run["resumable"]
    assert "pid" not in run


def test_status_degrades_when_tables_are_missing(tmp_path: Path) -> None:
    db = tmp_path / "bare.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE files (id INTEGER, kind TEXT, status TEXT)")
        conn.execute("INSERT INTO files VALUES (1, 'video', 'present')")
    out = st.status(db)
    assert out["library"] == {"video": {"present": 1}}
    assert out["matching"] is None and out["last_run"] is None
