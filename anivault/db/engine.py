"""The one engine factory for the library database.

Every connection sets the same pragmas; every write transaction starts with BEGIN IMMEDIATE (Python's
default deferred BEGIN fails with `database is locked` when two writers upgrade their read locks at once,
where IMMEDIATE waits for busy_timeout and then succeeds). Opening an older database backs it up and
upgrades it; a file that is not an AniVault database is refused and left untouched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from anivault.errors import DatabaseBusyError, DatabaseError

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
DEFAULT_BUSY_MS = 30_000


def check_sqlite_file(path: Path) -> None:
    """Refuse, without touching it, a file that is not an SQLite database."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise DatabaseError(
            f"{path} is a folder, not a database file", hint="give --db a file path"
        ) from None
    except OSError as exc:
        raise DatabaseError(
            f"cannot read {path}: {exc.strerror}", hint="check the path and permissions"
        ) from None
    if head and head != SQLITE_MAGIC:
        raise DatabaseError(
            f"{path} is not an AniVault library database (not SQLite)",
            hint="point --db at a library.db made by AniVault, or at a new file name",
        )


@dataclass
class Database:
    """An open library database: a write engine (BEGIN IMMEDIATE) and read sessions (deferred BEGIN)."""

    path: Path
    engine: Engine
    journal_mode: str
    network_fs: str | None = None
    _read_factory: sessionmaker[Session] = field(init=False, repr=False)
    _write_factory: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._write_factory = sessionmaker(self.engine, expire_on_commit=False)
        self._read_factory = sessionmaker(
            self.engine.execution_options(anivault_begin="DEFERRED"), expire_on_commit=False
        )

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one BEGIN IMMEDIATE transaction, committed on success, rolled back on error."""
        with self._write_factory() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; it never takes the write lock."""
        with self._read_factory() as session:
            try:
                yield session
            finally:
                session.rollback()

    def raw_connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        """A plain sqlite3 connection with the same pragmas (for `anivault sql` and backups)."""
        if readonly:
            conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={DEFAULT_BUSY_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def backup_to(self, target: Path) -> Path:
        """A consistent copy made with SQLite's online backup API (safe while others write)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        src = self.raw_connect(readonly=True)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
        return target

    def backup_before(self, what: str, folder: Path) -> Path:
        """A backup into ``folder`` named for what comes next (`library-YYYYMMDD-HHMMSS-before-sql.db`); two in
        one second keep both (`…-before-sql-2.db`): a backup never overwrites another."""
        from datetime import datetime

        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = folder / f"{self.path.stem}-{stamp}-before-{what}.db"
        n = 2
        while target.exists():
            target = folder / f"{self.path.stem}-{stamp}-before-{what}-{n}.db"
            n += 1
        return self.backup_to(target)

    def integrity_check(self, *, quick: bool = True) -> list[str]:
        """[] when healthy, else SQLite's complaints."""
        conn = self.raw_connect(readonly=True)
        try:
            pragma = "quick_check" if quick else "integrity_check"
            rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        finally:
            conn.close()
        return [] if rows == ["ok"] else rows

    def checkpoint(self) -> None:
        """Fold the WAL back into the database so it does not grow without bound between runs."""
        if self.journal_mode != "wal":
            return
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:  # best effort: a reader elsewhere may hold the WAL; SQLite retries later
            log.debug("wal checkpoint skipped", exc_info=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.checkpoint()
        self.engine.dispose()


def probe_existing(path: Path) -> None:
    """Look at an existing file read-only before anything writes to it: our pragmas (journal_mode=WAL)
    rewrite the header, so a foreign or damaged file must be refused first, untouched."""
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DatabaseError(f"{path} cannot be opened as a database: {exc}", hint="check the path") from None
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    except sqlite3.DatabaseError as exc:
        from anivault.paths import damaged_database_hint

        raise DatabaseError(
            f"{path} cannot be opened as a database: {exc}", hint=damaged_database_hint(path)
        ) from None
    finally:
        conn.close()
    user = [t for t in tables if not t.startswith("sqlite_")]
    if user and "alembic_version" not in user:
        raise DatabaseError(
            f"{path} is an SQLite database AniVault did not make (tables: {', '.join(user[:5])})",
            hint="point --db at a library.db made by AniVault, or at a new file name",
        )


def make_engine(path: Path, *, busy_timeout_ms: int = DEFAULT_BUSY_MS, journal_mode: str = "wal") -> Engine:
    engine = create_engine(
        f"sqlite+pysqlite:///{path}",
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so we can issue BEGIN IMMEDIATE ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA journal_mode={journal_mode}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # NORMAL is durable across application crashes in WAL mode and much faster than FULL; the
        # organize ledger raises it to FULL for its own intent records.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("anivault_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


# --- One writer per library -------------------------------------------------------------------------
# SQLite serialises writers anyway; this lock makes a second `anivault index` (or organize) wait for the
# first, then stop with a clear message, instead of interleaving two scans of one library. The OS drops
# the lock when a process dies, so a crash never leaves a stale lock behind.


@contextlib.contextmanager
def writer_lock(db_path: Path, *, wait_seconds: float = 10.0, purpose: str = "write") -> Iterator[None]:
    lock_path = db_path.with_name(db_path.name + ".lock")
    fh = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block's duration
    try:
        deadline = time.monotonic() + wait_seconds
        while not _try_lock(fh):
            if time.monotonic() >= deadline:
                holder = _read_holder(fh)
                raise DatabaseBusyError(
                    f"another AniVault ({holder}) is using this library",
                    hint="wait for it to finish, or stop it, then run this again",
                )
            time.sleep(0.1)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}, {purpose}\n")
        fh.flush()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
                fh.flush()
            _unlock(fh)
    finally:
        fh.close()


def _read_holder(fh: IO[str]) -> str:
    try:
        fh.seek(0)
        text = fh.read().strip()
    except OSError:
        text = ""
    return text or "another process"


if sys.platform == "win32":  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fh: IO[str]) -> bool:
        try:
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fh: IO[str]) -> None:
        with contextlib.suppress(OSError):
            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fh: IO[str]) -> bool:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fh: IO[str]) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
