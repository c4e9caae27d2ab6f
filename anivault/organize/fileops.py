"""File operations that never clobber and never lose a byte (RELIABILITY G1, G2, G6).

- Same-device move: one atomic `renameat2(RENAME_NOREPLACE)` on Linux (the file is at exactly one of the two
  names at every instant); where the kernel or filesystem lacks it, `link(src, dst)` (fails with EEXIST, so
  no clobber), a folder fsync, then `unlink(src)`; on filesystems without hard links, check-then-rename
  (not atomic, and the ledger note says so). Windows' own rename already refuses an existing target.
- Cross-device move and copy: copy to `.anivault-<op>-<seq>.part` beside the target (O_EXCL), fsync, verify
  the size (and SHA-256 with `verify`), check the source still matches its fingerprint (rsync's rule: never
  delete a source that changed), publish without clobbering, fsync the folder, and only then unlink the
  source. Never `shutil.move` (on a full disk it leaves a truncated file under the final name).
- Only regular files are moved or read: a folder, FIFO, device, socket or symlink where a file was planned is
  refused, and a source is opened with O_NONBLOCK so a FIFO can never make a copy wait.
- Targets are written through a handle of their folder (TargetFolders): the folder is checked to be inside
  the library and reached through no symlink, and a folder swapped for a symlink after that check cannot
  redirect the write.

Named crash points (`ANIVAULT_CRASHPOINT=after_publish:3`) SIGKILL the process the N-th time the named step
is reached, so tests prove recovery from every intermediate state.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import signal
import stat
import sys
from typing import NamedTuple

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
    """ANIVAULT_CRASHPOINT, read once per process (tests re-read it with rearm_crashpoints)."""

    def __init__(self) -> None:
        spec = os.environ.get("ANIVAULT_CRASHPOINT", "")
        name, _, n = spec.partition(":")
        self.name = name or None
        self.count = int(n or "1") if name else 0

    def hit(self, name: str) -> None:
        if self.name == name:
            self.count -= 1
            if self.count <= 0:
                os.kill(os.getpid(), signal.SIGKILL)


_crash = _CrashPoints()


def crashpoint(name: str) -> None:
    """Die here (SIGKILL) when ANIVAULT_CRASHPOINT names this point and its count is reached."""
    _crash.hit(name)


def rearm_crashpoints() -> None:
    global _crash
    _crash = _CrashPoints()


class Fingerprint(NamedTuple):
    """What a file was when it was planned: rsync's quick check plus identity."""

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
    except (FileNotFoundError, NotADirectoryError):
        return None


def not_a_file(st: os.stat_result) -> str | None:
    """What ``st`` is when it is not a regular file ("a folder", "a FIFO", …), else None."""
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    for test, what in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a regular file"


# --- folders the run writes into -------------------------------------------------------------------------

# The kernel shows each open descriptor as a link to what it resolved (Linux): a path through it reaches
# the folder a handle holds, whatever its path names by then.
PROC_FD = "/proc/self/fd"
HAVE_PROC_FD = sys.platform.startswith("linux") and os.path.isdir(PROC_FD)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class TargetFolders:
    """Where a run may write, and the paths it writes through.

    ``root`` (the library, for organize) confines every target folder: it must be the folder's own real
    path (no symlink on the way) and lie under the root. Without a root (a rollback writes back into the
    source folders), a missing folder is created and symlinks are only refused for the last component.
    On Linux each checked folder is held open and a target is written as `/proc/self/fd/N/name`, so a
    folder swapped for a symlink after the check cannot redirect the file (RELIABILITY scenario 16).
    A few folders stay open at once (a run goes folder by folder), the oldest closed first.
    """

    LIMIT = 64

    def __init__(self, root: str | None) -> None:
        self.root = root
        self._open: dict[str, int] = {}
        self._device: dict[str, int] = {}

    def check(self, folder: str) -> None:
        if self.root is not None:
            real = os.path.realpath(folder)
            root = self.root.rstrip(os.sep) or os.sep
            inside = real == root or real.startswith(root.rstrip(os.sep) + os.sep)
            if real != folder or not inside:
                raise OSError(
                    errno.ELOOP, "refusing to write through a symlink or outside the library", folder
                )
        elif not os.path.isdir(folder):
            os.makedirs(folder, exist_ok=True)  # rollback: the original folder may have been removed

    def pin(self, path: str) -> str:
        """The path to write ``path`` through (use it at once: another folder may evict its handle)."""
        folder, _, name = path.rpartition(os.sep)
        folder = folder or os.sep
        if not HAVE_PROC_FD:
            self.check(folder)
            return path
        fd = self._open.get(folder)
        if fd is None:
            fd = self._open_checked(folder)
        return f"{PROC_FD}/{fd}/{name}"

    def device(self, path: str) -> int:
        """The device of the folder ``path`` goes into (a checked folder keeps its device: a folder swapped
        since is refused by its handle anyway)."""
        folder = path.rpartition(os.sep)[0] or os.sep
        dev = self._device.get(folder)
        if dev is None:
            fd = self._open.get(folder)
            dev = self._device[folder] = os.fstat(fd).st_dev if fd is not None else os.stat(folder).st_dev
        return dev

    def _open_checked(self, folder: str) -> int:
        self.check(folder)
        try:
            fd = os.open(folder, _DIR_FLAGS | _NOFOLLOW)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # swapped for a symlink since the check
                raise OSError(errno.ELOOP, "refusing to write through a symlink", folder) from exc
            raise
        try:
            if os.readlink(f"{PROC_FD}/{fd}") != folder:  # reached through a symlink on the way
                raise OSError(errno.ELOOP, "refusing to write through a symlink", folder)
        except BaseException:
            os.close(fd)
            raise
        if len(self._open) >= self.LIMIT:
            os.close(self._open.pop(next(iter(self._open))))
        self._open[folder] = fd
        return fd

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


def shown(path: str, target: str) -> str:
    """``path`` as a person should read it: a path through a folder handle names the target instead."""
    return target if path.startswith(PROC_FD + "/") else path


# --- atomic no-clobber rename ----------------------------------------------------------------------------

_RENAME_NOREPLACE = 1
_AT_FDCWD = -100
_renameat2 = None
_syncfs = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
        _renameat2 = _libc.renameat2
        _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        _renameat2.restype = ctypes.c_int
        _syncfs = _libc.syncfs
        _syncfs.argtypes = [ctypes.c_int]
        _syncfs.restype = ctypes.c_int
    except (OSError, AttributeError):  # an old C library: link + unlink, and a folder fsync each
        _renameat2 = _syncfs = None


class SourceKept(Exception):
    """The target is in place but the source could not be removed (read-only source folder, permission)."""

    def __init__(self, method: str, cause: OSError) -> None:
        super().__init__(f"source kept: {cause.strerror or cause}")
        self.method = method


def move_no_replace(src: str, dst: str) -> str:
    """Move without clobbering on one filesystem; returns how ("rename", or a fallback the note names).

    Raises FileExistsError when ``dst`` exists, OSError(EXDEV) across devices, SourceKept when a link was
    made but the source name could not be removed."""
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            crashpoint("after_publish")
            return "rename"
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # the filesystem lacks NOREPLACE
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
    fsync_dir(os.path.dirname(dst))  # the new name is durable before the old one goes
    try:
        os.unlink(src)
    except OSError as exc:
        raise SourceKept("link", exc) from exc
    crashpoint("after_src_unlink")
    return "link+unlink"


def fsync_dir(path: str) -> None:
    """Make a folder's entries durable (PostgreSQL's durable rename); a no-op where folders cannot be opened."""
    if sys.platform == "win32":  # pragma: no cover
        return
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: folders cannot be fsynced here; EIO must not be trusted away
            raise
    finally:
        os.close(fd)


def sync_folders(folders: set[str]) -> None:
    """Make the entries of many folders durable: one syncfs per filesystem where there is one (a batch
    touches hundreds of folders, and an fsync of each costs a journal commit apiece), else each folder."""
    if _syncfs is None:
        for folder in folders:
            fsync_dir(folder)
        return
    done: set[int] = set()
    for folder in folders:
        try:
            fd = os.open(folder, _DIR_FLAGS)
        except OSError:
            continue
        try:
            dev = os.fstat(fd).st_dev
            if dev not in done:
                if _syncfs(fd) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err), folder)
                done.add(dev)
        finally:
            os.close(fd)


# --- copying ---------------------------------------------------------------------------------------------


class SourceChanged(Exception):
    """The source no longer matches its planned fingerprint (still downloading, replaced, edited)."""


class VerifyFailed(Exception):
    """The copy's size or hash differs from the source's."""


def open_regular(path: str) -> int:
    """Open ``path`` for reading only if it is a regular file (never waits on a FIFO or a device)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _NOFOLLOW | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    what = not_a_file(os.fstat(fd))
    if what is not None:
        os.close(fd)
        raise OSError(errno.EINVAL, f"not a regular file ({what})", path)
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return fd


def file_hash(path: str) -> str:
    h = hashlib.sha256()
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def same_content(a: str, b: str) -> bool:
    """Byte-for-byte comparison of two regular files (size first)."""
    try:
        fa, fb = open_regular(a), None
        try:
            fb = open_regular(b)
            if os.fstat(fa).st_size != os.fstat(fb).st_size:
                return False
            while True:
                ca, cb = os.read(fa, CHUNK), os.read(fb, CHUNK)
                if ca != cb:
                    return False
                if not ca:
                    return True
        finally:
            os.close(fa)
            if fb is not None:
                os.close(fb)
    except OSError:
        return False


def copy_to_part(src: str, part: str, *, want_hash: bool) -> str | None:
    """Copy src to part (created with O_EXCL), keep mode and mtime, fsync. Returns the source's SHA-256.

    On any error the part file is removed before the error propagates."""
    fin = open_regular(src)
    try:
        st = os.fstat(fin)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_BINARY", 0)
        out = os.open(part, flags, stat.S_IMODE(st.st_mode) | 0o200)
        h = hashlib.sha256() if want_hash else None
        try:
            first = True
            while chunk := os.read(fin, CHUNK):
                if h is not None:
                    h.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view) :]
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
    finally:
        os.close(fin)
    crashpoint("after_tmp_fsync")
    return h.hexdigest() if h is not None else None


def copy_move(
    src: str, dst: str, part: str, expected: Fingerprint, *, verify: bool, remove_source: bool
) -> str | None:
    """Copy (and for a cross-device move, then remove the source) through a verified temp file."""
    src_hash = copy_to_part(src, part, want_hash=verify)
    try:
        diff = expected.differences(os.lstat(src))
        if diff:
            raise SourceChanged(", ".join(diff))
        size = os.stat(part).st_size
        if size != expected.size:
            raise VerifyFailed(f"copy has {size} bytes, source {expected.size}")
        if src_hash is not None and file_hash(part) != src_hash:
            raise VerifyFailed("copy's SHA-256 differs from the source's")
        crashpoint("after_verify")
        move_no_replace(part, dst)  # same folder, same device
    except BaseException:
        _unlink_quiet(part)
        raise
    crashpoint("before_dir_fsync")
    fsync_dir(os.path.dirname(dst))
    if remove_source:
        diff = expected.differences(os.lstat(src))  # the rsync rule, once more right before the delete
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
