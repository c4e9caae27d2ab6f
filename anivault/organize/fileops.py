"""File operations that never clobber and never lose a byte (RELIABILITY G1, G2).

- Same-device move: one atomic `renameat2(RENAME_NOREPLACE)` on Linux (the file is at exactly one of the two
  names at every instant); where the kernel or filesystem lacks it, `link(src, dst)` (fails with EEXIST, so no
  clobber) then `unlink(src)`; on filesystems without hard links, check-then-rename (not atomic, recorded).
- Cross-device move and copy: copy to `.anivault-<op>-<seq>.part` beside the target (O_EXCL), fsync, verify
  size (and SHA-256 with `verify`), check the source still matches its fingerprint (rsync's rule: never delete
  a source that changed), publish without clobbering, fsync the folder, and only then unlink the source.
- Never `shutil.move` (on a full disk it leaves a truncated file under the final name).

Named crash points (`ANIVAULT_CRASHPOINT=after_publish:3`) SIGKILL the process at the N-th time the named
step is reached, so tests can prove recovery from every intermediate state.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import signal
import stat
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

CHUNK = 1 << 20

CRASH_POINTS = (
    "after_intent_commit",
    "mid_copy",
    "after_tmp_fsync",
    "after_verify",
    "after_publish",
    "before_dir_fsync",
    "after_src_unlink",
    "before_done_commit",
    "in_recovery",
)


class _CrashPoints:
    """Parsed once per process; a disarmed check costs one attribute read."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.count = 0
        spec = os.environ.get("ANIVAULT_CRASHPOINT", "")
        if spec:
            name, _, n = spec.partition(":")
            self.name = name
            self.count = int(n or "1")

    def hit(self, name: str) -> None:
        if self.name != name:
            return
        self.count -= 1
        if self.count <= 0:
            os.kill(os.getpid(), signal.SIGKILL)


_crash = _CrashPoints()


def crashpoint(name: str) -> None:
    """Die here (SIGKILL) when ANIVAULT_CRASHPOINT names this point and its count is reached."""
    if _crash.name is not None:
        _crash.hit(name)


def rearm_crashpoints() -> None:
    """Re-read ANIVAULT_CRASHPOINT (tests that set it in-process)."""
    global _crash
    _crash = _CrashPoints()


class Fingerprint(NamedTuple):
    """What a file was when it was planned: rsync's quick check plus identity.

    A named tuple rather than a frozen dataclass: a run builds one per item it reads back (a rollback reads
    100,000), and a frozen dataclass's __init__ cost 0.5 µs against the tuple's 0.18."""

    size: int
    mtime_ns: int
    dev: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> Fingerprint:
        return cls(st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino)

    def differences(self, st: os.stat_result) -> list[str]:
        """Which of size, mtime_ns, inode changed (dev is implied by inode on one machine)."""
        out = []
        if st.st_size != self.size:
            out.append(f"size {self.size} -> {st.st_size}")
        if st.st_mtime_ns != self.mtime_ns:
            out.append("mtime changed")
        if st.st_ino != self.inode or st.st_dev != self.dev:
            out.append("a different file (inode)")
        return out


def lstat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


# --- atomic no-clobber rename ------------------------------------------------------------------------

_RENAME_NOREPLACE = 1
_AT_FDCWD = -100
_renameat2: object | None = None
_renameat2_lean: object | None = None
_syncfs: object | None = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
        _fn = _libc.renameat2
        _fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        _fn.restype = ctypes.c_int
        _renameat2 = _fn
        # The lean path's handle: no errno capture (a failure only sends the file down the general path,
        # which looks again) and no argument converters (its arguments are ints and bytes already), which
        # saves 0.3 of the 1.2 µs a call costs in Python.
        _renameat2_lean = ctypes.CDLL(None).renameat2
    except (OSError, AttributeError):  # old glibc: fall back to link + unlink
        _renameat2 = _renameat2_lean = None
    try:
        _sfn = _libc.syncfs
        _sfn.argtypes = [ctypes.c_int]
        _sfn.restype = ctypes.c_int
        _syncfs = _sfn
    except (OSError, AttributeError, NameError):
        _syncfs = None


_M_ARENA_MAX = -8  # glibc's mallopt parameter
_arenas_limited = False


def limit_malloc_arenas() -> None:
    """At most two glibc malloc arenas for this process from now on (the first call sets it; service.writing
    calls it before a run's threads start).

    A rollback's side read runs on its own thread beside the run's batch writer (ledger.StepStream), and
    glibc gave each thread an arena of its own: memory one thread freed stayed in its arena while another
    thread's grew. A 100,000-item rollback peaked at 560-576 MB RSS against 470-480 MB with the read
    finished before the writer started, and 481 MB with two arenas (411 with one). Python's own objects
    come from pymalloc either way; what goes through malloc here is mostly SQLite's page caches. The
    run's time did not change (100k apply and rollback, alternating processes: within noise)."""
    global _arenas_limited
    if _arenas_limited or not sys.platform.startswith("linux"):
        return
    _arenas_limited = True
    try:
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 2)
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        pass


def move_same_device(src: str, dst: str) -> str:
    """Move without clobbering on one filesystem. Returns the method used (for the ledger note).

    Raises FileExistsError when dst exists, OSError(EXDEV) when the two paths are on different devices.
    """
    fn = _renameat2
    if fn is not None:
        rc = fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)  # type: ignore[operator]
        if rc == 0:
            crashpoint("after_publish")
            return "rename"
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), dst if err == errno.EEXIST else src)
    if sys.platform == "win32":  # pragma: no cover - os.rename refuses an existing target on Windows
        os.rename(src, dst)
        return "rename"
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # No hard links here (FAT/exFAT, some SMB): check then rename. Not atomic; the note says so.
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "target exists", dst) from None
        os.rename(src, dst)
        crashpoint("after_publish")
        return "rename-checked (not atomic)"
    crashpoint("after_publish")
    # The new name must be durable before the old one goes (a power cut must not lose both).
    fsync_dir(os.path.dirname(dst))
    try:
        os.unlink(src)
    except OSError as exc:
        raise SourceKept("link", exc) from exc
    crashpoint("after_src_unlink")
    return "link+unlink"


# --- the lean same-device move between open folder handles ------------------------------------------------

# _lean.move_run: (steps, start, stop, source handles, target handles, touched folders) -> (moved, why)
MoveRun = Callable[
    [list[Any], int, int, dict[str, tuple[int, int]], dict[str, tuple[int, int]], set[str]], tuple[int, int]
]

_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()
# One renameat2 between two folder handles: the kernel resolves one name on each side instead of two whole
# paths, and a folder swapped for a symlink after we opened it cannot redirect the file (Linux only).
FAST_MOVES = _renameat2 is not None and os.stat in os.supports_dir_fd
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _handle_budget() -> int:
    """How many folder handles one cache may hold: 256, or an eighth of the open-file limit if lower."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 64
    if soft == resource.RLIM_INFINITY:
        return 256
    return max(8, min(256, soft // 8))


# Where the kernel shows each open descriptor as a link to what it resolved (Linux): a path through it
# reaches the folder a handle holds, whatever its path names by then.
PROC_FD = "/proc/self/fd"
HAVE_PROC_FD = sys.platform.startswith("linux") and os.path.isdir(PROC_FD)


def through_handle(fd: int, name: str) -> str:
    """A path to ``name`` inside the folder held open by ``fd`` (needs HAVE_PROC_FD)."""
    return f"{PROC_FD}/{fd}/{name}"


class FolderHandles:
    """Open folder descriptors by path, at most ``limit`` at a time (the oldest is closed first).

    ``confine`` is called with each folder's path after it is opened and must raise if the folder may not
    be written to; the handle is kept only if the path still names the folder that was opened. With
    ``exact`` (and HAVE_PROC_FD), the folder the kernel opened must be the path itself, reached through no
    symlink on the way (O_NOFOLLOW covers only the last name).
    """

    def __init__(
        self, confine: Callable[[str], None] | None = None, limit: int | None = None, *, exact: bool = False
    ) -> None:
        self._open: dict[str, tuple[int, int]] = {}  # path -> (fd, st_dev)
        self._confine = confine
        self._exact = exact and HAVE_PROC_FD
        # A plan walks its targets folder by folder, but its sources may come from hundreds of folders in
        # turn: 64 handles thrashed on the benchmark's 100 source folders (a reopen per file).
        self._limit = limit if limit is not None else _handle_budget()

    def get(self, folder: str) -> tuple[int, int]:
        """(fd, device) of ``folder``; raises OSError when it cannot be opened or fails the check."""
        got = self._open.get(folder)
        if got is not None:
            return got
        fd = os.open(folder, _DIR_FLAGS | getattr(os, "O_NOFOLLOW", 0))
        try:
            st = os.fstat(fd)
            if self._confine is not None:
                self._confine(folder)
                now = os.stat(folder, follow_symlinks=False)
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    raise OSError(errno.ELOOP, "folder was replaced while it was being opened", folder)
            if self._exact and os.readlink(f"{PROC_FD}/{fd}") != folder:
                raise OSError(errno.ELOOP, "refusing to write through a symlink", folder)
        except BaseException:
            os.close(fd)
            raise
        if len(self._open) >= self._limit:
            oldest = next(iter(self._open))
            os.close(self._open.pop(oldest)[0])
        got = self._open[folder] = (fd, st.st_dev)
        return got

    def close(self) -> None:
        for fd, _dev in self._open.values():
            os.close(fd)
        self._open.clear()


def fast_move(
    src: str,
    dst: str,
    expected: Fingerprint,
    sources: FolderHandles,
    targets: FolderHandles,
    touched: set[str],
) -> bool:
    """The common case of a move, in as few calls as possible: check the source against its fingerprint
    and rename it without clobbering, both relative to open folder handles. True when the file moved;
    its two folders are then added to ``touched`` (their entries must be made durable).

    False means nothing was changed (source missing or changed, target taken, another device, any error):
    the caller then takes the general path, which looks again and says what is wrong.
    """
    rename = _renameat2_lean
    if rename is None:
        return False
    sep = os.sep
    sdir, _, sname = src.rpartition(sep)
    ddir, _, dname = dst.rpartition(sep)
    sdir, ddir = sdir or sep, ddir or sep
    try:
        # The handles' own dicts first: a run meets the same folders item after item, and skipping the
        # method call for a handle already open is a tenth of this function's Python time.
        sfd, _sdev = sources._open.get(sdir) or sources.get(sdir)
        dfd, ddev = targets._open.get(ddir) or targets.get(ddir)
        st = os.stat(sname, dir_fd=sfd, follow_symlinks=False)
    except OSError:
        return False
    if (
        st.st_ino != expected.inode
        or st.st_dev != expected.dev
        or st.st_size != expected.size
        or st.st_mtime_ns != expected.mtime_ns
        or st.st_dev != ddev
    ):
        return False
    rc = rename(  # type: ignore[operator]
        sfd,
        sname.encode(_FS_ENCODING, _FS_ERRORS),
        dfd,
        dname.encode(_FS_ENCODING, _FS_ERRORS),
        _RENAME_NOREPLACE,
    )
    if rc != 0:
        return False
    if _crash.name is not None:  # crashpoint("after_publish"), without a call per file
        _crash.hit("after_publish")
    touched.add(sdir)
    touched.add(ddir)
    return True


# _lean.intent_rows: (steps, start, dest_dev) -> (intent rows of the plain items from start, first other)
IntentRows = Callable[[list[Any], int, int | None], tuple[list[tuple[Any, ...]], int]]

_move_run: MoveRun | None
intent_rows: IntentRows | None
try:  # the same check and rename in C, runs of moves per call (built on Linux where a compiler is; optional)
    from anivault.organize import _lean

    _move_run, intent_rows = _lean.move_run, _lean.intent_rows
except (ImportError, AttributeError):  # pragma: no cover - no compiler at install time, not Linux, or a
    _move_run = intent_rows = None  # build older than this source (an editable install not rebuilt)
LEAN_BUILT = _move_run is not None  # `anivault verify` reports it


def lean_runner() -> MoveRun | None:
    """`_lean.move_run` (see _lean.c) where it can stand in for fast_move: built, the lean path in use, file
    names in UTF-8 (what the C side reads), and no crash point armed (the crash test needs the Python path's
    per-file point). None otherwise: the executor then calls fast_move for each item."""
    if _move_run is None or not FAST_MOVES or _crash.name is not None:
        return None
    if _FS_ENCODING.lower() not in ("utf-8", "utf8"):
        return None
    return _move_run


def fsync_dir(path: str) -> None:
    """Make a folder's entries durable (PostgreSQL's durable rename); a no-op where folders cannot be opened."""
    if sys.platform == "win32":  # pragma: no cover
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        # EINVAL: the filesystem cannot fsync folders. Any other error (EIO) must not be trusted away.
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def sync_folders(folders: set[str]) -> None:
    """Make the entries of many folders durable at once.

    A batch of renames touches hundreds of folders; fsyncing each costs a journal commit apiece (measured
    here: 200 folders 250-660 ms), while one syncfs per filesystem costs about 9 ms and covers them all.
    """
    fn = _syncfs
    if fn is None:
        for folder in folders:
            fsync_dir(folder)
        return
    done_devs: set[int] = set()
    for folder in folders:
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            dev = os.fstat(fd).st_dev
            if dev in done_devs:
                continue
            if fn(fd) != 0:  # type: ignore[operator]
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), folder)
            done_devs.add(dev)
        finally:
            os.close(fd)


# --- copying -------------------------------------------------------------------------------------------


class SourceChanged(Exception):
    """The source no longer matches its planned fingerprint (still downloading, replaced, edited)."""


class SourceKept(Exception):
    """The target is in place but the source could not be removed (read-only source folder, permission)."""

    def __init__(self, method: str, cause: OSError) -> None:
        super().__init__(f"source kept: {cause.strerror or cause}")
        self.method = method
        self.cause = cause


class VerifyFailed(Exception):
    """The copy's size or hash differs from the source's."""


def file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def same_content(a: str, b: str) -> bool:
    """Byte-for-byte comparison (size first)."""
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                ca, cb = fa.read(CHUNK), fb.read(CHUNK)
                if ca != cb:
                    return False
                if not ca:
                    return True
    except OSError:
        return False


def copy_to_part(src: str, part: str, *, want_hash: bool) -> str | None:
    """Copy src to part (created with O_EXCL), keep mode and mtime, fsync. Returns the source's SHA-256.

    On any error the part file is removed before the error propagates.
    """
    st = os.stat(src)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    out = os.open(part, flags, stat.S_IMODE(st.st_mode) | 0o200)
    h = hashlib.sha256() if want_hash else None
    try:
        with open(src, "rb") as fin:
            first = True
            while True:
                chunk = fin.read(CHUNK)
                if not chunk:
                    break
                if h is not None:
                    h.update(chunk)
                view = memoryview(chunk)
                while view:
                    n = os.write(out, view)
                    view = view[n:]
                if first:
                    crashpoint("mid_copy")
                    first = False
        # Keep the source's times: Plex shows them, and rollback's fingerprint check compares mtime_ns.
        os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.fsync(out)
    except BaseException:
        os.close(out)
        _unlink_quiet(part)
        raise
    os.close(out)
    crashpoint("after_tmp_fsync")
    return h.hexdigest() if h is not None else None


def verify_part(part: str, expected: Fingerprint, src: str, src_hash: str | None) -> None:
    """Check the temp copy (size, hash when given) and that the source did not change meanwhile."""
    diff = expected.differences(os.lstat(src))
    if diff:
        raise SourceChanged(", ".join(diff))
    pst = os.stat(part)
    if pst.st_size != expected.size:
        raise VerifyFailed(f"copy has {pst.st_size} bytes, source {expected.size}")
    if src_hash is not None and file_hash(part) != src_hash:
        raise VerifyFailed("copy's SHA-256 differs from the source's")
    crashpoint("after_verify")


def publish(part: str, dst: str) -> None:
    """Give the verified temp file its final name without clobbering (same folder, same device)."""
    move_same_device(part, dst)


def copy_move(
    src: str, dst: str, part: str, expected: Fingerprint, *, verify: bool, remove_source: bool
) -> str | None:
    """Copy (and for a cross-device move, then remove the source) through a verified temp file."""
    src_hash = copy_to_part(src, part, want_hash=verify)
    try:
        verify_part(part, expected, src, src_hash)
        publish(part, dst)
    except BaseException:
        _unlink_quiet(part)
        raise
    crashpoint("before_dir_fsync")
    fsync_dir(os.path.dirname(dst))
    if remove_source:
        # The rsync rule, once more right before the delete.
        diff = expected.differences(os.lstat(src))
        if diff:
            _unlink_quiet(dst)  # our own fresh copy of an older version: drop it, keep the source
            raise SourceChanged(", ".join(diff))
        try:
            os.unlink(src)
        except OSError as exc:
            raise SourceKept("copy", exc) from exc
        crashpoint("after_src_unlink")
    return src_hash


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
