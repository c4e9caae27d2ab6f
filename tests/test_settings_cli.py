"""`anivault settings …`, `logs path`, `status` and `verify` through the real main()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from anivault import secrets_store as ss

ROOT = Path(__file__).resolve().parents[1]
KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ss, "CURRENT_PARAMS", ss.ScryptParams(n=2**10, r=8, p=1))
    ss._cache_forget()


def test_show_marks_sources(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("settings", "set", "tmdb.rate", "12").exit_code == 0
    monkeypatch.setenv("ANIVAULT_TMDB_LANGUAGE", "ko-KR")
    r = run_cli("settings", "show", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    s = data["settings"]
    assert s["tmdb.rate"] == {"value": 12.0, "source": "toml", "env": "ANIVAULT_TMDB_RATE"}
    assert s["tmdb.language"]["source"] == "env" and s["tmdb.language"]["value"] == "ko-KR"
    assert s["tmdb.timeout"]["source"] == "default"
    assert data["tmdb_key"]["source"] == "none"
    text = run_cli("settings", "show").stdout
    assert "tmdb.rate = 12.0" in text and "# toml" in text and "# env ANIVAULT_TMDB_LANGUAGE" in text


def test_get_set_unset_path(run_cli, anivault_home: Path) -> None:  # type: ignore[no-untyped-def]
    path = run_cli("settings", "path").stdout.strip()
    assert path == str(anivault_home / "config" / "anivault.toml")
    r = run_cli("settings", "set", "organize.dest", "/ライブラリ/アニメ")
    assert r.exit_code == 0 and "organize.dest = /ライブラリ/アニメ" in r.stderr
    assert run_cli("settings", "get", "organize.dest").stdout == "/ライブラリ/アニメ\n"
    assert tomllib.loads(Path(path).read_text("utf-8"))["organize"]["dest"] == "/ライブラリ/アニメ"
    got = json.loads(run_cli("settings", "get", "organize.dest", "--json").stdout)
    assert got == {"key": "organize.dest", "value": "/ライブラリ/アニメ", "source": "toml"}
    assert json.loads(run_cli("settings", "get", "index.ignore").stdout)[0] == ".*"
    assert run_cli("settings", "unset", "organize.dest").exit_code == 0
    assert run_cli("settings", "get", "organize.dest").stdout == "\n"


def test_set_errors_name_the_key(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("settings", "set", "tmdb.rate", "fast")
    assert r.exit_code == 3
    assert "error: setting 'tmdb.rate' must be a number" in r.stderr and "hint:" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("settings", "set", "tmdb.colour", "red")
    assert r.exit_code == 3 and "unknown setting 'tmdb.colour'" in r.stderr
    r = run_cli("settings", "get", "nope")
    assert r.exit_code == 3


def test_profiles_via_cli(run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("settings", "set", "profiles.nas.sources", "/mnt/a,/mnt/b").exit_code == 0
    assert run_cli("settings", "set", "profiles.nas.organize.action", "copy").exit_code == 0
    data = json.loads(run_cli("settings", "show", "--json", "--profile", "nas").stdout)
    assert data["profiles"]["nas"] == {
        "sources": ["/mnt/a", "/mnt/b"],
        "dest": None,
        "overrides": {"organize.action": "copy"},
    }
    assert data["settings"]["organize.action"] == {
        "value": "copy",
        "source": "profile:nas",
        "env": "ANIVAULT_ORGANIZE_ACTION",
    }
    r = run_cli("settings", "show", "--profile", "missing")
    assert r.exit_code == 3 and "unknown profile 'missing'" in r.stderr


def test_set_key_from_stdin_and_env_pin(
    run_cli, monkeypatch: pytest.MonkeyPatch, anivault_home: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANIVAULT_PIN", "pin-4711")
    r = run_cli("settings", "set-key", "--stdin", input=KEY + "\n")
    assert r.exit_code == 0, r.stderr
    assert "v3 API key" in r.stderr and KEY not in r.stdout + r.stderr
    stored = anivault_home / "config" / "tmdb-key.enc"
    assert stored.exists() and KEY not in stored.read_text("utf-8")
    assert ss.unlock("pin-4711", stored).key == KEY
    data = json.loads(run_cli("settings", "show", "--json").stdout)
    assert data["tmdb_key"]["source"] == "store" and data["tmdb_key"]["mode"] == "600"
    assert KEY not in json.dumps(data)
    assert run_cli("settings", "delete-key").exit_code == 0 and not stored.exists()


def test_set_key_needs_a_pin_source(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("settings", "set-key", "--stdin", input=KEY + "\n")
    assert r.exit_code == 3 and "ANIVAULT_PIN" in r.stderr


def test_set_key_rejects_garbage(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANIVAULT_PIN", "pin-4711")
    r = run_cli("settings", "set-key", "--stdin", input="two words\n")
    assert r.exit_code == 3 and "unexpected characters" in r.stderr


def test_key_and_pin_are_never_arguments(run_cli) -> None:  # type: ignore[no-untyped-def]
    for flag in ("--pin", "--key"):
        r = run_cli("settings", "set-key", flag, "x")
        assert r.exit_code == 2


def test_a_key_read_from_stdin_is_stored_and_never_shown(anivault_home: Path) -> None:
    """The key arrives on stdin (never argv) and the PIN from the environment: the stored file decrypts to
    it, and neither appears in anything the process writes."""
    env = {**os.environ, "ANIVAULT_PIN": "pin-4711-stdin", "ANIVAULT_HOME": str(anivault_home)}
    proc = subprocess.run(
        [sys.executable, "-m", "anivault", "settings", "set-key", "--stdin"],
        input=KEY.encode() + b"\n", capture_output=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert ss.unlock("pin-4711-stdin").key == KEY
    written = (
        proc.stdout + proc.stderr + b"".join(p.read_bytes() for p in (anivault_home / "logs").glob("*.log"))
    )
    assert KEY.encode() not in written and b"pin-4711" not in written


def test_wrong_pin_exit_code(run_cli, monkeypatch: pytest.MonkeyPatch, emulator: object) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ANIVAULT_TMDB_KEY")
    ss.store_api_key("test-key", "right-pin")
    monkeypatch.setenv("ANIVAULT_PIN", "wrong-pin")
    r = run_cli("verify", "--json")
    assert r.exit_code == 1
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["TMDB key"]["detail"] == "wrong PIN"


def test_logs_path(run_cli, anivault_home: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("logs", "path").stdout.strip() == str(anivault_home / "logs")
    data = json.loads(run_cli("logs", "path", "--json").stdout)
    assert data["errors"].endswith("errors.log") and data["main"].endswith("anivault.log")


def test_verify_cli(run_cli, emulator: object, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("verify")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "all checks passed" in r.stdout and "test-key" not in r.stdout
    monkeypatch.setenv("ANIVAULT_TMDB_KEY", "bad-key-123456")
    r = run_cli("verify")
    assert r.exit_code == 1
    assert "FAIL  TMDB reachable" in r.stdout and "fix: " in r.stdout
    assert "bad-key-123456" not in r.stdout + r.stderr


def test_status_cli(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("status")
    assert r.exit_code == 0 and "no library yet" in r.stdout
    data = json.loads(run_cli("status", "--json").stdout)
    assert data["exists"] is False
    media = tmp_path / "media"
    (media / "Show").mkdir(parents=True)
    (media / "Show" / "[Grp] Frieren - 01 [1080p].mkv").write_bytes(b"x")
    assert run_cli("index", media).exit_code == 0
    data = json.loads(run_cli("status", "--json").stdout)
    assert data["last_scan"]["seen"] >= 1 and data["library"]["video"]["present"] == 1
    text = run_cli("status").stdout
    assert "last scan #" in text and "files: video present 1" in text


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_set_key_hidden_prompts_on_a_terminal(anivault_home: Path) -> None:
    import fcntl
    import select
    import termios

    def controlling_terminal() -> None:
        # getpass reads /dev/tty: the pty must be the child's controlling terminal, as in a real shell.
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    primary, secondary = os.openpty()
    env = {**os.environ, "ANIVAULT_HOME": str(anivault_home)}
    env.pop("ANIVAULT_PIN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "anivault", "settings", "set-key"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        cwd=ROOT,
        close_fds=True,
        preexec_fn=controlling_terminal,
    )
    os.close(secondary)
    seen = b""

    def wait_for(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while text not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(primary, 4096)
                except OSError:
                    break
        assert text in seen, seen

    try:
        # getpass turns echo off (flushing pending input) and then writes the prompt's last character,
        # so wait for the whole prompt (with its final space) before typing, as a person would.
        wait_for(b"token): ")
        os.write(primary, KEY.encode() + b"\n")
        wait_for(b"PIN: ")
        os.write(primary, b"tty-pin-1\n")
        wait_for(b"Repeat the PIN: ")
        os.write(primary, b"tty-pin-1\n")
        wait_for(b"stored the TMDB")
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        os.close(primary)
    assert KEY.encode() not in seen and b"tty-pin-1" not in seen, "hidden prompts do not echo"
    assert ss.unlock("tty-pin-1", anivault_home / "config" / "tmdb-key.enc").key == KEY
