"""Is a path on a network filesystem? SQLite's WAL needs shared memory between processes on one host,
which SMB/NFS do not give: WAL there can corrupt the database, so the engine falls back to a rollback
journal (journal_mode=DELETE) and says so."""

from __future__ import annotations

import os
import sys
from pathlib import Path

NETWORK_FS_TYPES = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph",
        "glusterfs", "fuse.sshfs", "fuse.rclone", "fuse.glusterfs", "fuse.s3fs", "lustre", "gpfs",
        "davfs", "fuse.davfs2", "virtiofs", "vboxsf", "fuse.smbnetfs",
    }
)  # fmt: skip


def parse_mountinfo(text: str) -> list[tuple[str, str]]:
    """(mount point, fs type) pairs from /proc/self/mountinfo text."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        if len(fields) < 5:
            continue
        mount_point = fields[4].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
        fstype = right.split()[0] if right.split() else ""
        mounts.append((mount_point, fstype))
    return mounts


def fs_type_for(path: Path, mountinfo: str | None = None) -> str | None:
    """The filesystem type holding `path` (longest mount-point prefix), or None when unknown."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    target = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for mount_point, fstype in parse_mountinfo(mountinfo):
        mp = mount_point.rstrip("/") or "/"
        contains = target == mp or target.startswith(mp + "/") or mp == "/"
        if contains and (best is None or len(mp) > best[0]):
            best = (len(mp), fstype)
    return best[1] if best else None


def network_fs(path: Path, mountinfo: str | None = None) -> str | None:
    """The network fs type name if `path` is on one, else None."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows CI
        s = str(path.absolute())
        if s.startswith("\\\\"):
            return "smb"
        import ctypes

        drive = os.path.splitdrive(s)[0] + "\\"
        drive_remote = 4
        if ctypes.windll.kernel32.GetDriveTypeW(drive) == drive_remote:
            return "smb"
        return None
    fstype = fs_type_for(path, mountinfo)
    if fstype and (fstype in NETWORK_FS_TYPES or fstype.split(".")[0] in {"nfs", "cifs", "smb3"}):
        return fstype
    return None
