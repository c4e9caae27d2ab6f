"""What `anivault verify` checks: the install, the settings, the key, TMDB, the database. Plain data; the
CLI renders it.

It reads the library database without changing it (``mode=ro``), and reports a schema behind head instead
of upgrading it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from anivault.redact import redact

CheckStatus = Literal["ok", "warn", "fail", "skip"]

# Every third-party module AniVault imports somewhere; a broken install (or a one-file build that
# missed a hidden import) shows up here first.
DEPENDENCIES = (
    "typer",
    "rich",
    "sqlalchemy",
    "alembic",
    "anitopy",
    "tmdbv3api",
    "requests",
    "urllib3",
    "pyrate_limiter",
    "cryptography",
    "rapidfuzz",
    "platformdirs",
    "tomli_w",
)


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    detail: str
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VerifyReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.to_json() for c in self.checks]}


PinProvider = Callable[[], str]


def verify(
    db_path: Path,
    *,
    pin_provider: PinProvider | None = None,
    offline: bool = False,
    profile: str | None = None,
    timeout: float = 5.0,
) -> VerifyReport:
    """Run every check; a check that cannot run because an earlier one failed says "skip"."""
    report = VerifyReport()
    add = report.checks.append
    add(check_dependencies())
    settings, check = check_settings(profile)
    add(check)
    add(check_writable("log folder", _log_dir(), "set ANIVAULT_HOME to a writable folder"))
    add(check_database(db_path))
    add(check_migrations(db_path))
    key, key_check = check_key(settings, pin_provider)
    add(key_check)
    if offline:
        add(Check("TMDB reachable", "skip", "--offline"))
    elif settings is None:
        add(Check("TMDB reachable", "skip", "settings did not load"))
    else:
        add(check_tmdb(settings.tmdb.base_url, key, timeout=timeout))
    for check in check_library_paths(db_path, settings, profile):
        add(check)
    return report


def _log_dir() -> Path:
    from anivault.paths import app_paths

    return app_paths().log_dir


def check_dependencies() -> Check:
    missing = []
    for name in DEPENDENCIES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # ImportError, or a module that fails while importing
            missing.append(f"{name} ({type(exc).__name__})")
    if missing:
        return Check(
            "dependencies",
            "fail",
            "cannot import " + ", ".join(missing),
            "reinstall AniVault: pip install --force-reinstall anivault (or pipx reinstall anivault)",
        )
    return Check("dependencies", "ok", f"{len(DEPENDENCIES)} libraries import")


def check_settings(profile: str | None = None) -> tuple[Any, Check]:
    from anivault.config import load_settings
    from anivault.errors import AniVaultError

    try:
        settings = load_settings(profile=profile)
    except AniVaultError as exc:
        return None, Check("settings", "fail", exc.message, exc.hint)
    where = settings.config_file if settings.config_file and settings.config_file.exists() else None
    detail = f"{where}" if where else "defaults (no anivault.toml yet)"
    if profile:
        detail += f", profile {profile!r}"
    return settings, Check("settings", "ok", detail)


def check_writable(name: str, folder: Path, hint: str) -> Check:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".anivault-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return Check(name, "fail", f"{folder} is not writable: {exc.strerror}", hint)
    return Check(name, "ok", str(folder))


@contextlib.contextmanager
def _readonly(db_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"{db_path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        yield conn
    finally:
        conn.close()


def check_database(db_path: Path) -> Check:
    name = "database integrity"
    if not db_path.exists():
        return Check(name, "ok", f"no library yet at {db_path} (the first `anivault index` creates it)")
    from anivault.db.engine import SQLITE_MAGIC

    try:
        with db_path.open("rb") as fh:
            if fh.read(16) != SQLITE_MAGIC:
                return Check(
                    name,
                    "fail",
                    f"{db_path} is not an SQLite database",
                    "point --db at AniVault's library.db",
                )
        with _readonly(db_path) as conn:
            rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
            fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.DatabaseError as exc:
        rows, fk = [str(exc)], []
    except OSError as exc:
        return Check(name, "fail", f"cannot read {db_path}: {exc.strerror}", "check the file's permissions")
    from anivault.paths import damaged_database_hint

    restore = damaged_database_hint(db_path)
    if rows != ["ok"]:
        return Check(name, "fail", "integrity_check: " + "; ".join(rows[:3]), restore)
    if fk:
        return Check(name, "fail", f"{len(fk)} rows point at rows that do not exist", restore)
    return Check(name, "ok", f"{db_path}: integrity_check ok")


def check_migrations(db_path: Path) -> Check:
    name = "schema version"
    if not db_path.exists():
        return Check(name, "skip", "no library yet")
    try:
        from anivault.db.migrate import PRE_RELEASE, head_revision, revisions

        head = head_revision()
        with _readonly(db_path) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            current = (
                conn.execute("SELECT version_num FROM alembic_version").fetchone()
                if "alembic_version" in tables
                else None
            )
    except sqlite3.DatabaseError as exc:
        return Check(name, "fail", f"cannot read the schema version: {exc}", "see the integrity check above")
    except Exception as exc:
        return Check(name, "fail", f"the migration scripts cannot be read: {exc}", "reinstall AniVault")
    revision = current[0] if current else None
    if revision == head:
        return Check(name, "ok", f"at head ({head})")
    if revision is None:
        return Check(
            name,
            "fail",
            "the database has no schema version",
            "point --db at a library.db made by AniVault, or at a new file name",
        )
    if revision in PRE_RELEASE:
        return Check(
            name,
            "fail",
            f"made by a development build of AniVault ({revision}); it cannot be upgraded",
            f"move {db_path} aside and run `anivault index` on your folders again",
        )
    if revision not in revisions():
        return Check(
            name,
            "fail",
            f"made by a newer AniVault ({revision})",
            "upgrade AniVault: pip install -U anivault",
        )
    return Check(
        name,
        "warn",
        f"at {revision}, head is {head}",
        "the next command that opens the library upgrades it (after a backup)",
    )


def check_key(settings: Any, pin_provider: PinProvider | None) -> tuple[str | None, Check]:
    from anivault import secrets_store as ss
    from anivault.errors import AniVaultError

    name = "TMDB key"
    if os.environ.get(ss.KEY_ENV, "").strip():
        key = ss.load_api_key(settings)
        return key, Check(name, "ok", f"from {ss.KEY_ENV} ({ss.api_key_kind(key or '')})")
    info = ss.inspect_secret_file(ss._path_from_settings(settings) or None)
    if not info.exists:
        return None, Check(
            name,
            "fail",
            "no key stored",
            f"run `anivault settings set-key`, or set {ss.KEY_ENV}",
        )
    try:
        key = ss.load_api_key(settings, pin_provider)
    except ss.PinUnavailableError as exc:
        return None, Check(name, "warn", f"stored at {info.path}; not unlocked ({exc.message})", exc.hint)
    except AniVaultError as exc:
        return None, Check(name, "fail", exc.message, exc.hint)
    detail = f"stored encrypted at {info.path}, decrypts ({ss.api_key_kind(key or '')})"
    if info.mode_too_open:
        return key, Check(
            name, "warn", detail + f"; but the file's mode is {info.mode:o}", f"chmod 600 {info.path}"
        )
    return key, Check(name, "ok", detail)


def check_tmdb(base_url: str, key: str | None, *, timeout: float = 5.0) -> Check:
    """GET /configuration with the key as a Bearer header (the TMDB client's way; never in the URL)."""
    import requests

    name = "TMDB reachable"
    url = base_url.rstrip("/") + "/configuration"
    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        response = requests.get(
            url, headers=headers, timeout=(min(timeout, 3.0), timeout), allow_redirects=False
        )
    except requests.RequestException as exc:
        return Check(
            name,
            "fail",
            redact(f"{url}: {type(exc).__name__}"),
            "check the network, or ANIVAULT_TMDB_URL / tmdb.base_url",
        )
    if response.status_code == 200:
        return Check(
            name, "ok" if key else "warn", f"{url} answered 200" + ("" if key else " (without a key)")
        )
    if response.status_code == 401:
        if not key:
            return Check(name, "fail", f"{url} needs a key", "run `anivault settings set-key`")
        return Check(
            name,
            "fail",
            f"{url} rejected the key (401)",
            "the key is wrong or expired: run `anivault settings set-key` with a current key",
        )
    if response.status_code == 429:
        return Check(name, "warn", f"{url} says too many requests (429)", "wait a minute and try again")
    return Check(
        name,
        "fail",
        f"{url} answered HTTP {response.status_code}",
        "TMDB may be down; try again later, or check tmdb.base_url",
    )


def check_library_paths(db_path: Path, settings: Any, profile: str | None) -> list[Check]:
    """Every indexed root, the destination and the profile's folders must exist (a NAS may be unmounted)."""
    folders: list[tuple[str, str]] = []
    if db_path.exists():
        from anivault.db.library import table_exists

        with contextlib.suppress(sqlite3.DatabaseError), _readonly(db_path) as conn:
            if table_exists(conn, "roots"):
                folders += [
                    ("indexed root", str(r[0])) for r in conn.execute("SELECT path FROM roots ORDER BY id")
                ]
    if settings is not None:
        if settings.organize.dest:
            folders.append(("destination (organize.dest)", settings.organize.dest))
        names = [profile] if profile else sorted(settings.profiles)
        for name in names:
            with contextlib.suppress(Exception):
                chosen = settings.profile(name)
                folders += [(f"profile {name} source", s) for s in chosen.sources]
                if chosen.dest:
                    folders.append((f"profile {name} dest", chosen.dest))
    if not folders:
        return [Check("library paths", "ok", "no folders configured or indexed yet")]
    missing = [(what, path) for what, path in folders if not Path(path).expanduser().is_dir()]
    if not missing:
        return [Check("library paths", "ok", f"{len(folders)} folders present")]
    return [
        Check(
            "library paths",
            "fail",
            f"{what} {path} is missing",
            "mount or reconnect the drive, or change the setting/profile that names it",
        )
        for what, path in missing
    ]
