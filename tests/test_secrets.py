"""The encrypted TMDB key store (RELIABILITY §5.F test 45)."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from anivault import secrets_store as ss

# Real Scrypt parameters cost ~0.65 s per derivation; most tests use cheap ones, and the tests that are
# about the parameters use the real ones.
FAST = ss.ScryptParams(n=2**10, r=8, p=1)
KEY = "0123456789abcdef0123456789abcdef"
PIN = "4711-secret"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANIVAULT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(ss.KEY_ENV, raising=False)
    monkeypatch.delenv(ss.PIN_ENV, raising=False)
    monkeypatch.setattr(ss, "CURRENT_PARAMS", FAST)
    ss._cache_forget()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "cfg" / "tmdb-key.enc"


def test_roundtrip(key_file: Path) -> None:
    ss.store_api_key(KEY, PIN, key_file)
    result = ss.unlock(PIN, key_file)
    assert result.key == KEY
    assert not result.upgraded


def test_v4_token_roundtrip(key_file: Path) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9." + "a" * 120 + ".sig_nature-x"
    ss.store_api_key(token, PIN, key_file)
    key = ss.unlock(PIN, key_file).key
    assert key == token
    assert ss.api_key_kind(key) == "v4"
    assert ss.api_key_kind(KEY) == "v3"


def test_unicode_pin(key_file: Path) -> None:
    ss.store_api_key(KEY, "암호ピン🔑", key_file)
    assert ss.unlock("암호ピン🔑", key_file).key == KEY


def test_wrong_pin(key_file: Path) -> None:
    ss.store_api_key(KEY, PIN, key_file)
    with pytest.raises(ss.WrongPinError) as info:
        ss.unlock("0000", key_file)
    assert str(info.value) == "wrong PIN"
    assert info.value.exit_code != 0
    assert KEY not in repr(info.value) and PIN not in repr(info.value)


def test_file_format_is_versioned_and_records_kdf(key_file: Path) -> None:
    ss.store_api_key(KEY, PIN, key_file)
    doc = json.loads(key_file.read_text("utf-8"))
    assert doc["format"] == "anivault-secret/1"
    assert doc["kdf"] == "scrypt"
    assert doc["params"] == {"n": FAST.n, "r": 8, "p": 1}
    assert len(base64.b64decode(doc["salt"])) >= 16
    assert KEY not in key_file.read_text("utf-8")


def test_salt_is_random(key_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.enc"
    ss.store_api_key(KEY, PIN, key_file)
    ss.store_api_key(KEY, PIN, other)
    a, b = (json.loads(p.read_text("utf-8")) for p in (key_file, other))
    assert a["salt"] != b["salt"] and a["token"] != b["token"]


def _flip(text: str, index: int) -> str:
    ch = text[index]
    return text[:index] + ("A" if ch != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: b"\xff\xfe garbage", id="binary"),
        pytest.param(lambda raw: b"[1, 2]", id="not-an-object"),
        pytest.param(lambda raw: raw.replace(b"anivault-secret/1", b"something-else/1"), id="format"),
        pytest.param(lambda raw: raw.replace(b'"scrypt"', b'"rot13"'), id="kdf"),
        pytest.param(lambda raw: raw.replace(b'"r": 8', b'"r": "8"'), id="param-type"),
        pytest.param(lambda raw: raw.replace(b'"n": 1024', b'"n": 1000'), id="n-not-power-of-two"),
        pytest.param(lambda raw: raw.replace(b'"n": 1024', b'"n": 1073741824'), id="n-huge"),
        pytest.param(lambda raw: b" " * 70_000, id="huge"),
    ],
)
def test_damaged_file_is_a_clear_error(key_file: Path, mutate: object) -> None:
    ss.store_api_key(KEY, PIN, key_file)
    key_file.write_bytes(mutate(key_file.read_bytes()))  # type: ignore[operator]
    with pytest.raises(ss.SecretFileDamagedError) as info:
        ss.unlock(PIN, key_file)
    assert "damaged" in str(info.value)
    assert info.value.hint and "set-key" in info.value.hint


def test_tampered_ciphertext_is_not_called_a_wrong_pin(key_file: Path) -> None:
    ss.store_api_key(KEY, PIN, key_file)
    doc = json.loads(key_file.read_text("utf-8"))
    doc["token"] = _flip(doc["token"], len(doc["token"]) // 2)
    key_file.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(ss.SecretFileDamagedError, match="does not authenticate"):
        ss.unlock(PIN, key_file)


def test_tampered_salt_reads_as_wrong_pin(key_file: Path) -> None:
    # Without the PIN the header cannot be authenticated; a changed salt derives another key.
    ss.store_api_key(KEY, PIN, key_file)
    doc = json.loads(key_file.read_text("utf-8"))
    doc["salt"] = base64.b64encode(b"x" * 16).decode()
    key_file.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(ss.WrongPinError):
        ss.unlock(PIN, key_file)


def test_newer_format_says_upgrade(key_file: Path) -> None:
    ss.store_api_key(KEY, PIN, key_file)
    key_file.write_bytes(key_file.read_bytes().replace(b"anivault-secret/1", b"anivault-secret/9"))
    with pytest.raises(ss.SecretStoreError, match="cannot read"):
        ss.unlock(PIN, key_file)


def test_missing_file(key_file: Path) -> None:
    with pytest.raises(ss.NoSecretError) as info:
        ss.unlock(PIN, key_file)
    assert "set-key" in (info.value.hint or "")


def test_weaker_params_are_reencrypted_on_unlock(key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weak = ss.ScryptParams(n=2**8, r=4, p=1)
    key_file.parent.mkdir(parents=True)
    ss.write_secret_file(key_file, ss.encrypt(KEY, PIN, weak))
    old_salt = json.loads(key_file.read_text("utf-8"))["salt"]
    result = ss.unlock(PIN, key_file)
    assert result.key == KEY and result.upgraded
    doc = json.loads(key_file.read_text("utf-8"))
    assert doc["params"] == {"n": FAST.n, "r": FAST.r, "p": FAST.p}
    assert doc["salt"] != old_salt
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = ss.unlock(PIN, key_file)
    assert again.key == KEY and not again.upgraded


def test_real_params_meet_the_floor_and_are_fast_enough(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ss, "CURRENT_PARAMS", ss.MIN_PARAMS)
    assert ss.MIN_PARAMS.n >= 2**17 and ss.MIN_PARAMS.r >= 8 and ss.MIN_PARAMS.p >= 1
    started = time.perf_counter()
    ss.store_api_key(KEY, PIN, key_file)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"one Scrypt derivation took {elapsed:.2f} s"
    doc = json.loads(key_file.read_text("utf-8"))
    assert doc["params"]["n"] >= 2**17
    assert ss.unlock(PIN, key_file).key == KEY


def test_floor_params_upgrade_files_made_with_fast_params(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ss.store_api_key(KEY, PIN, key_file)  # FAST params
    monkeypatch.setattr(ss, "CURRENT_PARAMS", ss.MIN_PARAMS)
    assert ss.unlock(PIN, key_file).upgraded
    assert json.loads(key_file.read_text("utf-8"))["params"]["n"] == 2**17


@pytest.mark.skipif(os.name != "posix", reason="POSIX mode bits")
def test_file_is_0600_even_with_umask_000(key_file: Path) -> None:
    old = os.umask(0)
    try:
        ss.store_api_key(KEY, PIN, key_file)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        ss.store_api_key(KEY, "another-pin", key_file)  # replacing keeps it owner-only
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert not ss.inspect_secret_file(key_file).mode_too_open
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name], "no temp files left behind"


@pytest.mark.skipif(os.name != "posix", reason="POSIX mode bits")
def test_created_with_o_excl_and_0600(key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    real_open = os.open

    def spy(path: object, flags: int, mode: int = 0o777, *a: object, **k: object) -> int:
        calls.append((flags, mode))
        return real_open(path, flags, mode, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(ss.os, "open", spy)
    ss.store_api_key(KEY, PIN, key_file)
    creating = [(f, m) for f, m in calls if f & os.O_CREAT]
    assert creating and all(f & os.O_EXCL and m == 0o600 for f, m in creating)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs SIGKILL")
def test_kill_mid_write_leaves_old_or_new_file(key_file: Path, tmp_path: Path) -> None:
    ss.store_api_key(KEY, PIN, key_file)
    before = key_file.read_bytes()
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from anivault import secrets_store as ss
        ss.CURRENT_PARAMS = ss.ScryptParams(n=2**10, r=8, p=1)
        ss.store_api_key("ffffffffffffffffffffffffffffffff", "new-pin-1", Path({str(key_file)!r}))
        """
    )
    env = {**os.environ, "ANIVAULT_CRASHPOINT": "secret_before_replace", "ANIVAULT_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, timeout=60)
    assert proc.returncode != 0  # killed
    assert key_file.read_bytes() == before
    assert ss.unlock(PIN, key_file).key == KEY
    # Without the crash point the new file replaces the old one whole.
    env.pop("ANIVAULT_CRASHPOINT")
    subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, timeout=60, check=True)
    assert ss.unlock("new-pin-1", key_file).key == "f" * 32


def test_repr_and_errors_never_show_the_key(key_file: Path) -> None:
    ss.store_api_key(KEY, PIN, key_file)
    result = ss.unlock(PIN, key_file)
    assert KEY not in repr(result) and KEY not in str(result)
    with pytest.raises(ss.SecretStoreError) as info:
        ss.store_api_key(KEY + " trailing words", PIN, key_file)
    assert KEY not in str(info.value) and KEY not in (info.value.hint or "")


@pytest.mark.parametrize("bad", ["", "   ", "two words", "ключ" * 8, "a\x00b"])
def test_bad_keys_rejected(bad: str, key_file: Path) -> None:
    with pytest.raises(ss.SecretStoreError):
        ss.store_api_key(bad, PIN, key_file)
    assert not key_file.exists()


def test_short_pin_rejected(key_file: Path) -> None:
    with pytest.raises(ss.SecretStoreError, match="PIN is too short"):
        ss.store_api_key(KEY, "12", key_file)


def test_env_key_bypasses_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ss.KEY_ENV, "from-env-key")

    def no_pin() -> str:
        raise AssertionError("the PIN must not be asked for")

    assert ss.load_api_key(None, no_pin) == "from-env-key"


def test_load_api_key_default_path_and_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ss.load_api_key(None, lambda: PIN) is None
    with pytest.raises(ss.NoSecretError):
        ss.resolve_api_key(None, lambda: PIN)
    path = ss.store_api_key(KEY, PIN)
    assert path == ss.default_secret_path() and path.exists()
    asked: list[int] = []

    def provider() -> str:
        asked.append(1)
        return PIN

    assert ss.load_api_key(None, provider) == KEY
    assert ss.resolve_api_key(None, provider) == KEY
    assert len(asked) == 1, "the PIN is asked for once per process"


def test_pin_from_env_and_no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    ss.store_api_key(KEY, PIN)
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115 - closed by the interpreter
    with pytest.raises(ss.PinUnavailableError) as info:
        ss.load_api_key()
    assert ss.PIN_ENV in (info.value.hint or "")
    monkeypatch.setenv(ss.PIN_ENV, PIN)
    assert ss.load_api_key() == KEY
    monkeypatch.setenv(ss.PIN_ENV, "wrong-pin")
    ss._cache_forget()
    with pytest.raises(ss.WrongPinError):
        ss.load_api_key()


def test_settings_key_file(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.enc"
    ss.store_api_key(KEY, PIN, other)

    class Tmdb:
        key_file = str(other)

    class FakeSettings:
        tmdb = Tmdb()

    assert ss.load_api_key(FakeSettings(), lambda: PIN) == KEY


def test_inspect_without_pin(key_file: Path) -> None:
    assert not ss.inspect_secret_file(key_file).exists
    ss.store_api_key(KEY, PIN, key_file)
    info = ss.inspect_secret_file(key_file)
    assert info.exists and info.kdf == "scrypt" and info.params == FAST


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"n": 2**22, "r": 32, "p": 16}, id="every-field-in-the-old-range"),
        pytest.param({"n": 2**18, "r": 8, "p": 4}, id="p-multiplies-the-work"),
        pytest.param({"n": 2**14, "r": 4096, "p": 1}, id="r-alone"),
    ],
)
def test_a_costly_key_derivation_is_refused_before_it_starts(key_file: Path, params: dict[str, int]) -> None:
    ss.store_api_key(KEY, PIN, key_file)
    doc = json.loads(key_file.read_text("utf-8"))
    doc["params"] = params
    key_file.write_text(json.dumps(doc), "utf-8")
    started = time.perf_counter()
    with pytest.raises(ss.SecretFileDamagedError, match="MiB of work"):
        ss.unlock(PIN, key_file)
    assert time.perf_counter() - started < 1.0


def test_the_real_parameters_are_within_the_bound() -> None:
    assert ss.MIN_PARAMS.cost_bytes <= ss.MAX_COST_BYTES
    assert ss.ScryptParams(2**19, 8, 1).cost_bytes == ss.MAX_COST_BYTES  # room to raise them later


def test_a_derivation_past_the_time_limit_is_an_error(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ss, "CURRENT_PARAMS", ss.MIN_PARAMS)  # a derivation of a third of a second
    ss.store_api_key(KEY, PIN, key_file)
    monkeypatch.setattr(ss, "DERIVE_SECONDS", 0.0)
    with pytest.raises(ss.SecretStoreError, match="took longer than"):
        ss.unlock(PIN, key_file)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_as_the_key_file_is_refused_not_waited_on(key_file: Path) -> None:
    key_file.parent.mkdir(parents=True)
    os.mkfifo(key_file)
    with pytest.raises(ss.SecretStoreError, match="not a regular file"):
        ss.unlock(PIN, key_file)
    assert ss.inspect_secret_file(key_file).kdf is None


@pytest.mark.skipif(os.name != "posix", reason="POSIX mode bits")
def test_a_key_file_others_can_read_is_refused(key_file: Path) -> None:
    ss.store_api_key(KEY, PIN, key_file)
    key_file.chmod(0o644)
    with pytest.raises(ss.SecretStoreError, match="other users") as info:
        ss.unlock(PIN, key_file)
    assert info.value.hint == f"chmod 600 {key_file}"
    key_file.chmod(0o600)
    assert ss.unlock(PIN, key_file).key == KEY
