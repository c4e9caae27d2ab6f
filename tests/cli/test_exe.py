"""Build the one-file executable and smoke-test it the way a user runs it (issue 6 item 7).

Skipped unless PyInstaller is installed. ``ANIVAULT_EXE=/path/to/anivault`` tests an already built file
instead of building one (the release workflow builds once, then runs this against the artifact).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "tests" / "fixtures" / "tmdb_catalog_small.json"

pytestmark = [pytest.mark.exe, pytest.mark.slow, pytest.mark.timeout(1200)]

MEDIA = [
    "Frieren/[SubsPlease] Sousou no Frieren - 01 (1080p) [ABCD1234].mkv",
    "Frieren/[SubsPlease] Sousou no Frieren - 02 (1080p) [ABCD1235].mkv",
    "Frieren/[SubsPlease] Sousou no Frieren - 02 (1080p) [ABCD1235].ja.ass",
    "進撃の巨人/[Group] Shingeki no Kyojin - 01 [720p].mkv",
    "Kimi no Na wa (2016) [1080p].mkv",
]


def _sources_digest() -> str:
    import hashlib

    digest = hashlib.sha256()
    files = [ROOT / "pyproject.toml", ROOT / "scripts" / "build_exe.py"]
    for folder in ("anivault", "migrations"):
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".mako"})
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def exe() -> Path:
    prebuilt = os.environ.get("ANIVAULT_EXE")
    if prebuilt:
        return Path(prebuilt).resolve()
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (pip install pyinstaller)")
    # A build takes one to two minutes: reuse the last one while the sources it was built from are unchanged.
    # Several test runs may share this checkout, so each builds in a scratch folder of its own and moves
    # the finished file into the cache with one rename.
    cache = ROOT / "build" / "exe-test"
    out = cache / _sources_digest()
    name = "anivault.exe" if sys.platform == "win32" else "anivault"
    if (out / name).exists():
        return out / name
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "build_exe.py"),
                "--dist",
                str(scratch / "dist"),
                "--work",
                str(scratch / "work"),
            ],
            capture_output=True,
            text=True,
            timeout=1100,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        built = scratch / "dist" / name
        assert built.exists()
        print(
            f"built {built.name} ({built.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s"
        )
        ready = scratch / "ready"
        ready.mkdir()
        os.replace(built, ready / name)
        try:
            os.rename(ready, out)
        except OSError:
            pass  # another run finished the same build first: use theirs
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for older in cache.iterdir():  # keep one finished build, not one per source change
        if older != out and not older.name.startswith(".build-"):
            shutil.rmtree(older, ignore_errors=True)
    assert (out / name).exists()
    return out / name


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    spec = importlib.util.spec_from_file_location("tmdb_emulator", ROOT / "scripts" / "tmdb_emulator.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("tmdb_emulator", mod)
    spec.loader.exec_module(mod)
    running = mod.start_emulator(CATALOG, api_key="test-key")
    yield running.base_url
    running.stop()


def run(exe: Path, env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    # Run from a neutral folder so nothing can be imported from the source tree by accident.
    return subprocess.run(
        [str(exe), *args],
        env=env,
        cwd=env["ANIVAULT_HOME"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def test_executable_smoke(exe: Path, emulator_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    media, dest = tmp_path / "media", tmp_path / "Vault"
    for name in MEDIA:
        p = media / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\0" * 1024)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANIVAULT_", "PYTHON"))}
    env.update(
        ANIVAULT_HOME=str(home),
        ANIVAULT_TMDB_URL=emulator_url,
        ANIVAULT_TMDB_KEY="test-key",
        PYTHONIOENCODING="cp1252",  # a legacy code page must not break Japanese output
    )

    r = run(exe, env, "--version")
    assert r.returncode == 0 and r.stdout.startswith("anivault "), r.stderr

    r = run(exe, env, "index", str(media), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["seen"] >= 4

    # The migrations travelled inside the executable: the new database is at head.
    r = run(exe, env, "verify", "--json")
    checks: dict[str, Any] = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["dependencies"]["status"] == "ok", checks["dependencies"]
    if sys.platform.startswith("linux"):  # the C loop travelled too, where the build had it
        from anivault.organize import fileops

        assert checks["organize moves"]["status"] == ("ok" if fileops.LEAN_BUILT else "warn")
    assert checks["schema version"]["status"] == "ok", checks["schema version"]
    assert checks["TMDB reachable"]["status"] == "ok", checks["TMDB reachable"]
    assert r.returncode == 0, r.stdout

    help_text = run(exe, env, "--help").stdout
    if " match " not in help_text:
        pytest.skip("this build has no `match` command yet")
    r = run(exe, env, "match", "--json")
    assert r.returncode == 0, r.stderr
    assert "test-key" not in r.stdout + r.stderr

    r = run(exe, env, "organize", "--dest", str(dest), "--json")
    assert r.returncode == 0, r.stderr
    json.loads(r.stdout)
    assert not dest.exists() or not any(dest.rglob("*.mkv")), "a dry run moves nothing"
    assert all((media / name).exists() for name in MEDIA)

    r = run(exe, env, "ls", "--json")
    assert r.returncode == 0 and "進撃の巨人" in r.stdout
