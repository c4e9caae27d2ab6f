"""`anivault run`: the whole flow, dry run by default, --apply, --resume after Ctrl-C or a crash, profiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_files

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "Frieren/[SubsPlease] Sousou no Frieren - 01 (1080p).mkv",
    "Frieren/[SubsPlease] Sousou no Frieren - 02 (1080p).mkv",
    "Frieren/[SubsPlease] Sousou no Frieren - 02 (1080p).en.ass",
    "AoT/[Group] Shingeki no Kyojin - 01 [720p].mkv",
]


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    make_files(root, NAMES, size=64)
    return root


def videos(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.mkv")) if folder.exists() else []


def anivault_process(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """`anivault ARGS` as a real child process (for signals), its output captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "anivault", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def last_run(run_cli: Any) -> dict[str, Any]:
    r = run_cli("status", "--json")
    assert r.exit_code == 0, r.stderr
    run: dict[str, Any] = json.loads(r.stdout)["last_run"]
    return run


def test_dry_run_then_apply(run_cli: Any, emulator: Any, media: Path, tmp_path: Path) -> None:
    dest = tmp_path / "Vault"
    r = run_cli("run", media, "--dest", dest, "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["state"] == "planned"
    assert out["counts"]["index"]["new"] == 4
    assert out["counts"]["match"]["matched"] == 3
    assert out["counts"]["plan"]["todo"] == 4  # three videos and one subtitle
    assert not videos(dest), "a dry run moves nothing"
    assert last_run(run_cli)["state"] == "planned"

    r = run_cli("run", "--resume")
    assert r.exit_code == 2 and "--apply" in r.stderr

    r = run_cli("run", "--resume", "--apply")
    assert r.exit_code == 0, r.stderr
    assert "run 1: done" in r.stdout
    assert len(videos(dest)) == 3 and not videos(media)
    assert any(p.suffix == ".ass" for p in dest.rglob("*")), "the subtitle moved with its video"
    run = last_run(run_cli)
    assert run["state"] == "done" and run["operation_id"] and not run["resumable"]

    r = run_cli("run", "--resume")
    assert r.exit_code == 2 and "no unfinished run" in r.stderr


def test_apply_in_one_go_and_rerun_is_noop(run_cli: Any, emulator: Any, media: Path, tmp_path: Path) -> None:
    dest = tmp_path / "Vault"
    r = run_cli("run", media, "--dest", dest, "--apply")
    assert r.exit_code == 0, r.stderr
    assert len(videos(dest)) == 3
    r = run_cli("run", media, "--dest", dest, "--apply", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counts"]["plan"].get("todo", 0) == 0 and out["counts"]["match"]["http_requests"] == 0


def test_ctrl_c_during_match_resumes_at_match(
    run_cli: Any, emulator: Any, media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anivault.pipeline.match as match_mod

    real = match_mod.match_library

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(match_mod, "match_library", interrupted)
    dest = tmp_path / "Vault"
    r = run_cli("run", media, "--dest", dest, "--apply")
    assert r.exit_code == 130
    assert "interrupted during match" in r.stderr and "anivault run --resume --apply" in r.stderr
    run = last_run(run_cli)
    assert run["state"] == "interrupted" and run["stage"] == "match" and run["resumable"]
    scan_before = run["counts"]["index"]["scan_id"]

    monkeypatch.setattr(match_mod, "match_library", real)
    r = run_cli("run", "--resume", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["resumed_from_stage"] == "match"
    assert out["counts"]["index"]["scan_id"] == scan_before, "index was not run again"
    assert out["state"] == "done" and len(videos(dest)) == 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="SIGKILL crash point")
def test_crash_during_apply_resumes(
    run_cli: Any, emulator: Any, media: Path, tmp_path: Path, anivault_home: Path
) -> None:
    dest = tmp_path / "Vault"
    env = {**os.environ, "ANIVAULT_CRASHPOINT": "after_publish:2"}
    proc = subprocess.run(
        [sys.executable, "-m", "anivault", "run", str(media), "--dest", str(dest), "--apply"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr  # killed at the crash point
    run = last_run(run_cli)
    assert run["stage"] == "apply" and run["state"] == "interrupted" and run["resumable"]
    r = run_cli("run", "--resume", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["state"] == "done" and out["resumed_from_stage"] == "apply"
    assert len(videos(dest)) == 3 and not videos(media)


def test_profile(run_cli: Any, emulator: Any, media: Path, tmp_path: Path) -> None:
    dest = tmp_path / "NAS"
    assert run_cli("settings", "set", "profiles.nas.sources", str(media)).exit_code == 0
    assert run_cli("settings", "set", "profiles.nas.dest", str(dest)).exit_code == 0
    assert run_cli("settings", "set", "profiles.nas.organize.action", "copy").exit_code == 0
    r = run_cli("run", "--profile", "nas", "--apply", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["args"]["profile"] == "nas" and out["args"]["action"] == "copy"
    assert len(videos(dest)) == 3 and len(videos(media)) == 3, "copied, sources kept"


def test_usage_errors(run_cli: Any, media: Path) -> None:
    r = run_cli("run", media)
    assert r.exit_code == 2 and "destination" in r.stderr
    r = run_cli("run", "--resume")
    assert r.exit_code == 2 and "no unfinished run" in r.stderr
    r = run_cli("run", "--resume", media)
    assert r.exit_code == 2
    r = run_cli("run", "--dest", "x")
    assert r.exit_code == 2 and "folder" in r.stderr
    r = run_cli("run", "--profile", "nope", "--dest", "x")
    assert r.exit_code == 3 and "unknown profile" in r.stderr


def test_wrong_key_fails_clearly_and_resumes(
    run_cli: Any, emulator: Any, media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANIVAULT_TMDB_KEY", "wrong-key-1234567")
    r = run_cli("run", media, "--dest", tmp_path / "Vault")
    assert r.exit_code == 5, r.stderr
    assert "error:" in r.stderr and "Traceback" not in r.stderr and "wrong-key-1234567" not in r.stderr
    run = last_run(run_cli)
    assert run["state"] == "failed" and run["stage"] == "match" and run["error"]
    monkeypatch.setenv("ANIVAULT_TMDB_KEY", "test-key")
    r = run_cli("run", "--resume", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["state"] == "planned"


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_during_match_does_not_wait_for_lookups_on_the_wire(
    run_cli: Any, media: Path, anivault_home: Path
) -> None:
    """TMDB hangs (each answer 40 s away, tmdb.timeout 30 s): Ctrl-C saves what was decided and exits
    then, not when the requests in flight time out (the old pool held the process for them)."""
    import signal
    import time

    from tmdb_emulator import start_emulator

    assert run_cli("index", str(media)).exit_code == 0
    hung = start_emulator(
        ROOT / "tests" / "fixtures" / "tmdb_catalog_small.json", api_key="test-key", latency_ms=40_000
    )
    env = {
        **os.environ,
        "ANIVAULT_TMDB_URL": hung.base_url,
        "ANIVAULT_TMDB_KEY": "test-key",
        "ANIVAULT_TMDB_TIMEOUT": "30",
    }
    try:
        proc = anivault_process(["match"], env)
        assert hung.state.requested.wait(30), "match never asked TMDB"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        hung.stop()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "anivault match" in err and "Traceback" not in err
    # the lookups in flight had 30 s of timeout left: far beyond any scheduling noise
    assert took < 15, f"Ctrl-C took {took:.1f} s to end match"


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_real_ctrl_c_leaves_a_resumable_run(
    run_cli: Any, media: Path, tmp_path: Path, anivault_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGINT while match waits on a slow TMDB: exit 130, the run row says match, --resume finishes."""
    import signal
    import sqlite3

    from tmdb_emulator import start_emulator

    slow = start_emulator(
        ROOT / "tests" / "fixtures" / "tmdb_catalog_small.json", api_key="test-key", latency_ms=1500
    )
    env = {**os.environ, "ANIVAULT_TMDB_URL": slow.base_url, "ANIVAULT_TMDB_KEY": "test-key"}
    db = anivault_home / "data" / "library.db"
    try:
        proc = anivault_process(["run", str(media), "--dest", str(tmp_path / "Vault")], env)
        assert slow.state.requested.wait(60), "the run never asked TMDB"  # only match does: it is in match
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
            assert conn.execute("SELECT stage FROM runs ORDER BY id DESC LIMIT 1").fetchone() == ("match",)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        slow.stop()
    assert proc.returncode == 130, err
    assert "interrupted during match" in err and "anivault run --resume" in err and "Traceback" not in err
    run = last_run(run_cli)
    assert run["state"] == "interrupted" and run["stage"] == "match" and run["resumable"]
    fast = start_emulator(ROOT / "tests" / "fixtures" / "tmdb_catalog_small.json", api_key="test-key")
    try:
        monkeypatch.setenv("ANIVAULT_TMDB_URL", fast.base_url)
        monkeypatch.setenv("ANIVAULT_TMDB_KEY", "test-key")
        r = run_cli("run", "--resume", "--json")
    finally:
        fast.stop()
    assert r.exit_code == 0, r.stderr
    out_json = json.loads(r.stdout)
    assert out_json["resumed_from_stage"] == "match" and out_json["state"] == "planned"
    assert out_json["counts"]["plan"]["todo"] == 4
