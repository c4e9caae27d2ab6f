"""The TMDB key never leaks (issue 6 item 2; RELIABILITY G11, §5.F test 46).

A canary key is the only key the emulator accepts. The whole pipeline runs with it as real subprocesses,
with DEBUG logging, through the encrypted store and through ANIVAULT_TMDB_KEY, and with forced failures:
401, 429 storms, an unreachable TMDB (connection errors, urllib3's MaxRetryError territory), and an uncaught
exception with --debug whose message quotes the key. Then every artifact is searched for the canary in
every spelling: raw, URL-encoded and base64. It must appear nowhere.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import tmdb_emulator  # scripts/ is on sys.path (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "tests" / "fixtures" / "tmdb_catalog_small.json"
CANARY = "TMDBCANARY1234567890abcdef0123456789"
PIN = "canary-pin-4711"
NAMES = [
    "Frieren/[SubsPlease] Sousou no Frieren - 01 (1080p).mkv",
    "Frieren/[SubsPlease] Sousou no Frieren - 02 (1080p).mkv",
    "AoT/[Group] Shingeki no Kyojin - 01 [720p].mkv",
    "AoT/[Group] Shingeki no Kyojin - 02 [720p].mkv",
    "Movies/Kimi no Na wa (2016) [1080p].mkv",
    "Unknown/Totally Unknown Show - 03.mkv",
]

pytestmark = pytest.mark.timeout(600)


def spellings(secret: str) -> list[bytes]:
    raw = secret.encode()
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    out = [f.encode() for f in forms]
    out.append(secret.encode("utf-16-le"))  # in case anything writes UTF-16 (Windows APIs, SQLite text)
    return out


@pytest.fixture
def servers() -> Iterator[dict[str, str]]:
    emu = tmdb_emulator
    good = emu.start_emulator(CATALOG, api_key=CANARY)
    other_key = emu.start_emulator(CATALOG, api_key="some-other-key")  # answers 401 to the canary
    limited = emu.start_emulator(CATALOG, api_key=CANARY, rate_limit=1)  # 429 with Retry-After
    flaky = emu.start_emulator(CATALOG, api_key=CANARY, fail_rate=0.7, seed=7)  # 5xx and dropped connections
    yield {
        "good": good.base_url,
        "401": other_key.base_url,
        "429": limited.base_url,
        "flaky": flaky.base_url,
        "down": "http://127.0.0.1:9/3",  # nothing listens: connection refused, retries, MaxRetryError
    }
    for s in (good, other_key, limited, flaky):
        s.stop()


class Session:
    def __init__(self, tmp: Path, home: Path, url: str) -> None:
        self.tmp, self.home, self.url = tmp, home, url
        self.outputs: list[tuple[str, bytes]] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANIVAULT_")}
        env.update(ANIVAULT_HOME=str(self.home), ANIVAULT_TMDB_URL=self.url, ANIVAULT_PIN=PIN)
        env.update(extra)
        return env

    def run(self, *args: str, stdin: str | None = None, code: str | None = None, **env: str) -> int:
        cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "anivault", *args]
        proc = subprocess.run(
            cmd,
            input=stdin.encode() if stdin is not None else None,
            env=self.env(**env),
            cwd=self.tmp,
            capture_output=True,
            timeout=240,
        )
        label = " ".join(args) if not code else "python -c (crash)"
        self.outputs.append((f"stdout of {label}", proc.stdout))
        self.outputs.append((f"stderr of {label}", proc.stderr))
        return proc.returncode


def test_canary_key_appears_nowhere(tmp_path: Path, servers: dict[str, str]) -> None:
    media, dest, home = tmp_path / "media", tmp_path / "Vault", tmp_path / "home"
    for name in NAMES:
        p = media / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(256))
    s = Session(tmp_path, home, servers["good"])

    # The key goes in through stdin, encrypted under a PIN; the store is unlocked with ANIVAULT_PIN.
    assert s.run("settings", "set-key", "--stdin", stdin=CANARY + "\n") == 0
    # The whole flow at DEBUG through the store: dry run, a plan file, apply, then undo.
    assert s.run("--debug", "run", str(media), "--dest", str(dest), "--json") == 0
    assert (
        s.run("--debug", "organize", "--dest", str(dest), "--plan", str(tmp_path / "plan.json"), "--json")
        == 0
    )
    assert s.run("--debug", "run", "--resume", "--apply", "--json") == 0
    assert s.run("--debug", "rollback", "1", "--json") == 0
    # Exports and reports (the key from the environment from here on: no PIN needed).
    for export in (
        ["log", "--json"],
        ["ls", "--json"],
        ["status", "--json"],
        ["settings", "show", "--json"],
        ["sql", "select * from tmdb_cache", "--json"],
    ):
        s.run("--debug", *export, ANIVAULT_TMDB_KEY=CANARY)
    # Forced failures, each with --debug so tracebacks are printed and logged: 401 (wrong key for that
    # server), 429 storms, 5xx and dropped connections, nothing listening (retries end in MaxRetryError).
    for name in ("401", "429", "flaky", "down"):
        code = s.run(
            "--debug",
            "match",
            "--refresh",
            "--json",
            ANIVAULT_TMDB_URL=servers[name],
            ANIVAULT_TMDB_KEY=CANARY,
        )
        assert code != 0 or name in ("429", "flaky"), f"{name}: exit {code}"
    assert s.run("--debug", "verify", "--json", ANIVAULT_TMDB_URL=servers["401"]) != 0  # through the store
    # Wrong PIN, and an uncaught exception whose message quotes the loaded key, raw and in a URL and a
    # header (crash output, with and without --debug; the key from the env and from the store).
    s.run("--debug", "match", "--refresh", ANIVAULT_PIN="wrong-pin-0000")
    crash = textwrap.dedent(
        f"""
        import sys
        import anivault.pipeline.match as m
        from anivault.secrets_store import resolve_api_key
        def boom(*a, **k):
            key = resolve_api_key()  # from the env, or unlocked from the store with ANIVAULT_PIN
            raise RuntimeError(f"GET /3/search/tv?api_key={{key}}&query=x failed; Bearer {{key}}; bare {{key}}")
        m.match_library = boom
        from anivault.cli.app import main
        sys.exit(main(["--debug", "run", {str(media)!r}, "--dest", {str(dest)!r}]))
        """
    )
    assert s.run(code=crash, ANIVAULT_TMDB_KEY=CANARY) != 0
    assert s.run(code=crash.replace('"--debug", ', "")) != 0

    artifacts: list[tuple[str, bytes]] = list(s.outputs)
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and media not in path.parents and dest not in path.parents:
            artifacts.append((str(path.relative_to(tmp_path)), path.read_bytes()))
    names = [name for name, _ in artifacts]
    assert any(n.endswith("anivault.log") for n in names) and any(n.endswith("errors.log") for n in names)
    assert any(n.endswith("library.db") for n in names) and any(n.endswith("plan.json") for n in names)
    assert any(n.endswith("tmdb-key.enc") for n in names)
    assert any(b"Traceback" in data for n, data in artifacts if n.startswith("stderr")), (
        "crash output was produced"
    )
    assert any(b"RuntimeError" in data for n, data in artifacts if n.startswith("stderr of python -c"))

    leaks = [f"{name}: {form!r}" for name, data in artifacts for form in spellings(CANARY) if form in data]
    assert not leaks, "the canary key leaked:\n" + "\n".join(leaks)
