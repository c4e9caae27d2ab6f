"""The TMDB key, stored encrypted under a PIN.

The key file is UTF-8 JSON, versioned, and records everything needed to derive the key again::

    {"format": "anivault-secret/1", "kdf": "scrypt",
     "params": {"n": 131072, "r": 8, "p": 1}, "salt": "<base64>",
     "pin_check": "<base64>", "token": "<Fernet token>"}

Scrypt turns the PIN and a random salt into 64 bytes: the first 32 are the Fernet key, the last 32 key an
HMAC whose output is ``pin_check``. ``pin_check`` lets a wrong PIN ("wrong PIN") be told apart from a
damaged token ("the file was modified"); it gives an attacker nothing the Fernet token does not already
give (both need one Scrypt derivation per guess).

Order of precedence for the key: ``ANIVAULT_TMDB_KEY`` in the environment, then the encrypted store.
The PIN comes from ``ANIVAULT_PIN`` or a hidden prompt, never from the command line (argv is visible to
every user on the machine through ``/proc``).

Nothing here prints: the CLI passes a ``pin_provider`` that prompts. The plain key is returned only by
:func:`unlock` / :func:`load_api_key`; no exception message, repr or log line ever contains it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import stat
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from anivault import redact
from anivault.atomicfile import atomic_write_bytes
from anivault.errors import ConfigError

FORMAT: Final = "anivault-secret/1"
KEY_ENV: Final = "ANIVAULT_TMDB_KEY"
PIN_ENV: Final = "ANIVAULT_PIN"
MIN_PIN_LENGTH: Final = 4
# A key file larger than this is not ours (a real one is under 1 KiB); refuse before parsing it.
_MAX_FILE_BYTES: Final = 64 * 1024
_PIN_CHECK_LABEL: Final = b"anivault pin check v1"

PinProvider = Callable[[], str]


@dataclass(frozen=True, order=True)
class ScryptParams:
    """Scrypt cost parameters. 2^17 x 8 x 1 uses 128 MiB and ~0.65 s here (OWASP's floor is 2^17)."""

    n: int
    r: int
    p: int

    def weaker_than(self, other: ScryptParams) -> bool:
        return self.n < other.n or self.r < other.r or self.p < other.p

    @property
    def cost_bytes(self) -> int:
        """128·n·r·p: the bytes Scrypt works through (its memory is 128·n·r, done p times)."""
        return 128 * self.n * self.r * self.p


# The floor: files below it are still opened (so an old file can be upgraded) but re-encrypted at once.
MIN_PARAMS: Final = ScryptParams(n=2**17, r=8, p=1)
# What new files use. Tests may lower this with monkeypatch to stay fast; users cannot.
CURRENT_PARAMS: ScryptParams = MIN_PARAMS
# A damaged or hostile file must not make one derivation cost gigabytes or minutes: the total work
# (128·n·r·p) is bounded at four times today's, and a derivation that still runs past the time limit is
# abandoned (it runs on a thread of its own, so the command can stop).
MAX_COST_BYTES: Final = 4 * MIN_PARAMS.cost_bytes
DERIVE_SECONDS: float = 15.0


class SecretStoreError(ConfigError):
    """Any failure of the encrypted key store. Messages never contain the key or the PIN."""


class WrongPinError(SecretStoreError):
    def __init__(self) -> None:
        super().__init__(
            "wrong PIN",
            hint="try again, or run `anivault settings set-key` to store the key again under a new PIN",
        )


class SecretFileDamagedError(SecretStoreError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"the TMDB key file {path} is damaged or was modified ({reason})",
            hint="run `anivault settings set-key` to store the key again",
        )


class NoSecretError(SecretStoreError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"no TMDB key is stored (looked for {path})",
            hint=f"run `anivault settings set-key`, or set {KEY_ENV} in the environment",
        )


class PinUnavailableError(SecretStoreError):
    def __init__(self) -> None:
        super().__init__(
            "the stored TMDB key needs its PIN, and there is no terminal to ask for it",
            hint=f"set {PIN_ENV} in the environment, or set {KEY_ENV} to bypass the key store",
        )


@dataclass(frozen=True)
class UnlockResult:
    """The plain key plus what unlocking did. ``repr`` never shows the key."""

    key: str
    upgraded: bool

    def __repr__(self) -> str:
        return f"UnlockResult(key=<redacted>, upgraded={self.upgraded})"


@dataclass(frozen=True)
class SecretFileInfo:
    """What can be told about a key file without the PIN."""

    path: Path
    exists: bool
    kdf: str | None = None
    params: ScryptParams | None = None
    mode: int | None = None

    @property
    def mode_too_open(self) -> bool:
        """True when group or others can read the file (POSIX only; Windows has no such bits)."""
        return self.mode is not None and os.name == "posix" and bool(self.mode & 0o077)


# ---------------------------------------------------------------------------------------------------------
# Key derivation and file format


def _scrypt(pin: str, salt: bytes, params: ScryptParams) -> bytes:
    """One Scrypt run, given at most DERIVE_SECONDS. It runs on a daemon thread (cryptography releases the
    GIL while it works), so a run past the limit is left behind and the caller gets an error at once."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    out: list[bytes | BaseException] = []

    def work() -> None:
        try:
            out.append(Scrypt(salt=salt, length=64, n=params.n, r=params.r, p=params.p).derive(pin.encode()))
        except BaseException as exc:  # handed to the caller's thread
            out.append(exc)

    thread = threading.Thread(target=work, name="scrypt", daemon=True)
    thread.start()
    thread.join(DERIVE_SECONDS)
    if not out:
        raise SecretStoreError(
            f"deriving the key from the PIN took longer than {DERIVE_SECONDS:.0f} s",
            hint="the key file's parameters are too costly for this machine; run `anivault settings"
            " set-key` to store the key again",
        )
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def derive(pin: str, salt: bytes, params: ScryptParams) -> tuple[bytes, bytes]:
    """Return (Fernet key, PIN check) for ``pin``. Costs one Scrypt run."""
    material = _scrypt(pin, salt, params)
    fernet_key = base64.urlsafe_b64encode(material[:32])
    pin_check = hmac.new(material[32:], _PIN_CHECK_LABEL, hashlib.sha256).digest()
    return fernet_key, pin_check


def encrypt(api_key: str, pin: str, params: ScryptParams | None = None) -> bytes:
    """Encrypt ``api_key`` under ``pin``: the bytes of a key file."""
    from cryptography.fernet import Fernet

    params = params or CURRENT_PARAMS
    salt = secrets.token_bytes(16)
    fernet_key, pin_check = derive(pin, salt, params)
    token = Fernet(fernet_key).encrypt(api_key.encode("utf-8"))
    doc = {
        "format": FORMAT,
        "kdf": "scrypt",
        "params": {"n": params.n, "r": params.r, "p": params.p},
        "salt": base64.b64encode(salt).decode("ascii"),
        "pin_check": base64.b64encode(pin_check).decode("ascii"),
        "token": token.decode("ascii"),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


@dataclass(frozen=True)
class _ParsedFile:
    params: ScryptParams
    salt: bytes
    pin_check: bytes
    token: bytes


def _parse(data: bytes, path: Path) -> _ParsedFile:
    def damaged(reason: str) -> SecretFileDamagedError:
        return SecretFileDamagedError(path, reason)

    if len(data) > _MAX_FILE_BYTES:
        raise damaged("too large to be a key file")
    try:
        doc: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise damaged("not valid JSON; it may be truncated") from None
    if not isinstance(doc, dict):
        raise damaged("not a key file")
    fmt = doc.get("format")
    if fmt != FORMAT:
        if isinstance(fmt, str) and fmt.startswith("anivault-secret/"):
            raise SecretStoreError(
                f"the TMDB key file {path} has format {fmt!r}, which this version cannot read",
                hint="upgrade AniVault, or run `anivault settings set-key` to store the key again",
            )
        raise damaged("unknown format")
    if doc.get("kdf") != "scrypt":
        raise damaged(f"unknown key derivation {str(doc.get('kdf'))[:20]!r}")
    raw_params = doc.get("params")
    if not isinstance(raw_params, dict):
        raise damaged("missing KDF parameters")
    values = [raw_params.get(name) for name in ("n", "r", "p")]
    if not all(type(v) is int for v in values):
        raise damaged("bad KDF parameters")
    n, r, p = (int(v) for v in values)  # type: ignore[arg-type]
    if not (n >= 2 and n & (n - 1) == 0 and r >= 1 and p >= 1):
        raise damaged("KDF parameters out of range")
    cost = ScryptParams(n, r, p).cost_bytes
    if cost > MAX_COST_BYTES:
        raise damaged(
            f"its key derivation would take {cost // 2**20:,} MiB of work, at most {MAX_COST_BYTES // 2**20} MiB"
        )
    try:
        salt = base64.b64decode(str(doc.get("salt", "")), validate=True)
        pin_check = base64.b64decode(str(doc.get("pin_check", "")), validate=True)
    except (binascii.Error, ValueError):
        raise damaged("bad salt or PIN check") from None
    if len(salt) < 16 or len(pin_check) != 32:
        raise damaged("bad salt or PIN check")
    token = doc.get("token")
    if not isinstance(token, str) or not token:
        raise damaged("missing ciphertext")
    return _ParsedFile(ScryptParams(n, r, p), salt, pin_check, token.encode("ascii", "replace"))


def decrypt(data: bytes, pin: str, path: Path = Path("<memory>")) -> tuple[str, ScryptParams]:
    """Decrypt key-file bytes; return (key, the file's KDF params). Raises WrongPinError or damaged."""
    from cryptography.fernet import Fernet, InvalidToken

    parsed = _parse(data, path)
    fernet_key, pin_check = derive(pin, parsed.salt, parsed.params)
    if not hmac.compare_digest(pin_check, parsed.pin_check):
        raise WrongPinError()
    try:
        plain = Fernet(fernet_key).decrypt(parsed.token)
    except InvalidToken:
        # The PIN is right (its check matched), so the ciphertext itself was changed.
        raise SecretFileDamagedError(path, "the ciphertext does not authenticate") from None
    try:
        return plain.decode("utf-8"), parsed.params
    except UnicodeDecodeError:
        raise SecretFileDamagedError(path, "the decrypted key is not text") from None


# ---------------------------------------------------------------------------------------------------------
# Files


def default_secret_path() -> Path:
    from anivault.paths import app_paths

    return app_paths().secret_file


def write_secret_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, owner-only (0600) from creation.

    The mode is set by ``os.open(O_CREAT | O_EXCL, 0o600)`` on the temp file, so there is no window in which
    another user could open it (a chmod after writing has one), and umask can only remove bits. fsync, then
    ``os.replace``: a crash leaves the old file or the new one, never a torn one.
    """
    atomic_write_bytes(path, data, mode=0o600, crashpoint="secret_before_replace")


def read_secret_file(path: Path, *, private: bool = False) -> bytes:
    """The key file's bytes. Only a regular file is read (a FIFO or a device in its place is refused,
    never opened in a way that waits); with ``private``, a file others may read is refused too."""
    flags = (
        os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    )
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise NoSecretError(path) from None
    except OSError as exc:
        raise SecretStoreError(
            f"cannot read the TMDB key file {path}: {exc.strerror}",
            hint="check the file's owner and permissions",
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SecretStoreError(
                f"the TMDB key file {path} is not a regular file",
                hint=f"remove it and run `anivault settings set-key`, or set {KEY_ENV}",
            )
        if private and os.name == "posix" and st.st_mode & 0o077:
            raise SecretStoreError(
                f"the TMDB key file {path} can be read by other users (mode {stat.S_IMODE(st.st_mode):o})",
                hint=f"chmod 600 {path}",
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SecretStoreError(
            f"cannot read the TMDB key file {path}: {exc.strerror}",
            hint="check the file's owner and permissions",
        ) from None
    finally:
        os.close(fd)


def inspect_secret_file(path: Path | None = None) -> SecretFileInfo:
    """Describe the key file without unlocking it (for `verify` and `settings show`)."""
    path = path or default_secret_path()
    try:
        st = os.stat(path)
    except OSError:
        return SecretFileInfo(path=path, exists=False)
    try:
        parsed = _parse(read_secret_file(path), path)
        return SecretFileInfo(path, True, "scrypt", parsed.params, stat.S_IMODE(st.st_mode))
    except SecretStoreError:
        return SecretFileInfo(path, True, None, None, stat.S_IMODE(st.st_mode))


# ---------------------------------------------------------------------------------------------------------
# The operations callers use


def validate_api_key(api_key: str) -> str:
    """Return the key stripped, or raise. Accepts a v3 key (32 hex) or a v4 read access token (a JWT)."""
    key = api_key.strip()
    if not key:
        raise SecretStoreError(
            "the TMDB key is empty", hint="paste the v3 API key or the v4 read access token"
        )
    if any(ch.isspace() for ch in key) or not key.isascii() or not key.isprintable():
        raise SecretStoreError(
            "the TMDB key contains spaces or unexpected characters",
            hint="paste only the key: 32 hex characters (v3) or the long token starting with 'eyJ' (v4)",
        )
    if len(key) > 4096:
        raise SecretStoreError("the TMDB key is too long", hint="paste only the key")
    return key


def api_key_kind(api_key: str) -> str:
    """``"v4"`` for a read access token (sent as ``Authorization: Bearer``), else ``"v3"``."""
    return "v4" if api_key.count(".") == 2 and api_key.startswith("eyJ") else "v3"


def store_api_key(api_key: str, pin: str, path: Path | None = None) -> Path:
    """Encrypt and store ``api_key`` under ``pin``; return the file's path."""
    key = validate_api_key(api_key)
    if len(pin) < MIN_PIN_LENGTH:
        raise SecretStoreError(
            f"the PIN is too short (at least {MIN_PIN_LENGTH} characters)",
            hint="a longer PIN makes a stolen key file much harder to open",
        )
    path = path or default_secret_path()
    write_secret_file(path, encrypt(key, pin))
    _register_secret(key)
    _cache_forget()
    return path


def unlock(pin: str, path: Path | None = None) -> UnlockResult:
    """Decrypt the stored key. A file with weaker KDF parameters than today's is re-encrypted in place."""
    path = path or default_secret_path()
    key, params = decrypt(read_secret_file(path, private=True), pin, path)
    _register_secret(key)
    upgraded = False
    if params.weaker_than(CURRENT_PARAMS):
        write_secret_file(path, encrypt(key, pin, CURRENT_PARAMS))
        upgraded = True
    return UnlockResult(key=key, upgraded=upgraded)


def delete_api_key(path: Path | None = None) -> bool:
    path = path or default_secret_path()
    _cache_forget()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def pin_from_env() -> str | None:
    pin = os.environ.get(PIN_ENV)
    if pin:
        _register_secret(pin)
    return pin or None


def default_pin_provider() -> str:
    """``ANIVAULT_PIN``, else a hidden prompt on the terminal (getpass), else a clear error."""
    pin = pin_from_env()
    if pin is not None:
        return pin
    if not (sys.stdin and sys.stdin.isatty()):
        raise PinUnavailableError()
    import getpass

    return getpass.getpass("PIN for the stored TMDB key: ")


# The unlocked key, kept for the life of the process so one run asks for the PIN (and pays Scrypt) once.
_cache_lock = threading.Lock()
_cache: dict[tuple[str, int, int], str] = {}


def _cache_forget() -> None:
    with _cache_lock:
        _cache.clear()


def load_api_key(
    settings: object | None = None,
    pin_provider: PinProvider | None = None,
    path: Path | None = None,
) -> str | None:
    """The TMDB key, or None when there is none anywhere.

    ``ANIVAULT_TMDB_KEY`` wins; otherwise the store is unlocked with a PIN from ``pin_provider`` (default:
    ``ANIVAULT_PIN`` or a hidden prompt). ``settings`` may carry ``tmdb.key_file`` to move the store.
    """
    env_key = os.environ.get(KEY_ENV, "").strip()
    if env_key:
        _register_secret(env_key)
        return env_key
    path = path or _path_from_settings(settings) or default_secret_path()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretStoreError(f"cannot read the TMDB key file {path}: {exc.strerror}") from None
    cache_key = (str(path), st.st_mtime_ns, st.st_size)
    with _cache_lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            return cached
        result = unlock((pin_provider or default_pin_provider)(), path)
        _cache.clear()
        st = os.stat(path)  # an upgrade rewrote the file
        _cache[(str(path), st.st_mtime_ns, st.st_size)] = result.key
        return result.key


def resolve_api_key(settings: object | None = None, pin_provider: PinProvider | None = None) -> str:
    """Like :func:`load_api_key` but a missing key is an error saying how to set one."""
    key = load_api_key(settings, pin_provider)
    if key is None:
        raise NoSecretError(_path_from_settings(settings) or default_secret_path())
    return key


def _path_from_settings(settings: object | None) -> Path | None:
    tmdb = getattr(settings, "tmdb", None)
    key_file = getattr(tmdb, "key_file", None)
    if key_file:
        return Path(str(key_file)).expanduser()
    return None


def _register_secret(value: str) -> None:
    """Tell the log redaction filter about a secret so no log line can carry it."""
    redact.register_secret(value)
