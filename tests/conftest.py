"""Shared fixtures. Every test runs with ANIVAULT_HOME in its own temp dir (never the real home) and with
no ANIVAULT_* or TMDB variables leaking in from the machine."""

from __future__ import annotations

import io
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

# One profile for every run: no per-example deadline (shared, noisy machines), and no "explain" phase
# (it re-runs a failing example under a tracer for minutes; the shrunk example is what we need).
settings.register_profile(
    "anivault",
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("anivault")

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
FIXTURES = ROOT / "tests" / "fixtures"
SMALL_CATALOG = FIXTURES / "tmdb_catalog_small.json"

if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))


@pytest.fixture(autouse=True)
def anivault_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("anivault-home")
    for name in list(os.environ):
        if name.startswith("ANIVAULT_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANIVAULT_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """A CLI run configures process-wide logging (root handlers, quiet library loggers, excepthooks):
    undo it after each test so one test's setup never hides another test's log records."""
    import threading

    hooks = (sys.excepthook, threading.excepthook)
    yield
    from anivault.logging_setup import shutdown_logging

    shutdown_logging()
    sys.excepthook, threading.excepthook = hooks


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Any]:
    """A library database in the test's temp folder (migrated to head)."""
    from anivault.db.connect import open_db

    d = open_db(tmp_path / "library.db")
    yield d
    d.close()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """Run `anivault ARGS…` in-process through the real main() (errors, exit codes and all)."""
    from anivault.cli.app import main

    def run(*args: str, input: str | None = None) -> CliResult:
        capsys.readouterr()
        if input is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(input))
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def installed_cli() -> Path:
    """The console script pip installed next to this interpreter."""
    exe = Path(sys.executable).with_name("anivault.exe" if os.name == "nt" else "anivault")
    if not exe.exists():
        pytest.skip("the anivault console script is not installed in this environment")
    return exe


@pytest.fixture
def emulator() -> Iterator[object]:
    """The TMDB emulator on 127.0.0.1 with the tests' own small catalog, and the env to reach it."""
    from tmdb_emulator import start_emulator

    emu = start_emulator(SMALL_CATALOG, api_key="test-key")
    mp = pytest.MonkeyPatch()
    mp.setenv("ANIVAULT_TMDB_URL", emu.base_url)
    mp.setenv("ANIVAULT_TMDB_KEY", "test-key")
    try:
        yield emu
    finally:
        mp.undo()
        emu.stop()


def make_files(root: Path, names: list[str], *, size: int = 0) -> list[Path]:
    """Create real files (parents too) under root; returns their paths."""
    out = []
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\0" * size)
        out.append(p)
    return out


@dataclass
class StalledServer:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a hung TMDB)."""

    url: str
    accepted: threading.Event


@pytest.fixture
def stalled_server() -> Iterator[StalledServer]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    accepted = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return  # closed at the end of the test
            held.append(conn)
            accepted.set()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield StalledServer(f"http://127.0.0.1:{sock.getsockname()[1]}/3", accepted)
    finally:
        sock.close()
        for conn in held:
            conn.close()


def closed_port_url() -> str:
    """A TMDB base URL on 127.0.0.1 where nothing listens (a port just bound and released)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/3"
