"""Recovery: resolve every item a dead run left `pending` against the disk (RELIABILITY §3, G4).

Runs, holding the library's writer lock, at the start of every command that writes. A run still marked
`running` under that lock belongs to a process that died. For each of its pending items the disk says how
far the action got:

| on disk                                          | resolution                                        |
|--------------------------------------------------|---------------------------------------------------|
| temp `.anivault-<op>-<seq>.part` present          | delete it (ours, O_EXCL), then look again         |
| no target, source there                          | `aborted` (nothing happened; --resume retries it) |
| target = source (same inode, two links)          | roll forward: unlink the source -> `done`         |
| target with the source's content, source there   | roll forward (copy was published): unlink source  |
| target there, source gone                        | `done` (size checked; otherwise `conflict`)       |
| target is the planned inode, source name reused  | `done` (a swap's next step already ran)           |
| target there but a different file                | `conflict`: touch nothing, report                 |
| neither source nor target                        | `failed` with an ALERT note (must never happen)   |
| restore (a copy or link undone): library copy gone | `done` (removed, or moved back to the original)  |
| restore: library copy still there                | `aborted`; the rollback, run again, decides anew  |

Every action is idempotent (unlink what is provably a duplicate, stat, delete our own temp file), outcomes
are committed in batches, and a recovery killed half-way is simply run again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from anivault.organize.execute import finish
from anivault.organize.fileops import crashpoint, fsync_dir, lstat_or_none, same_content
from anivault.organize.ledger import ItemResult, Ledger, LedgerItem, inode_of

ALERT = "ALERT: source and target both missing"
BATCH = 1000  # resolutions per commit (each may have rolled a file forward: record it soon)


@dataclass(slots=True)
class RecoveryReport:
    runs: list[int] = field(default_factory=list)
    resolved: dict[str, int] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)


def recover(ledger: Ledger) -> RecoveryReport:
    """Bring every interrupted run to terminal item states that match the disk. Idempotent."""
    report = RecoveryReport()
    for op in ledger.operations(statuses=["running"]):
        report.runs.append(op.id)
        batch: list[ItemResult] = []
        for item in ledger.items(op.id, ["pending"]):
            crashpoint("in_recovery")
            res = resolve(item)
            report.resolved[res.state] = report.resolved.get(res.state, 0) + 1
            if res.note == ALERT:
                report.alerts.append(f"run {op.id} item {item.seq}: {item.src} -> {item.dst}")
            batch.append(res)
            if len(batch) >= BATCH:
                ledger.record(batch)
                batch.clear()
        ledger.record(batch)
        finish(ledger, op.id)
    return report


def _unlink_part(item: LedgerItem) -> None:
    if item.action in ("move", "copy", "restore"):
        try:
            os.unlink(item.part)
        except FileNotFoundError:
            pass


def resolve(item: LedgerItem) -> ItemResult:
    """Decide one pending item from what is on disk (see the module table)."""
    _unlink_part(item)
    action = item.action
    dst_st = lstat_or_none(item.dst)
    if action == "mkdir":
        if dst_st is not None and os.path.isdir(item.dst):
            return ItemResult(item, "done", "recovered")
        return ItemResult(item, "aborted", "not started")
    if action in ("rmdir", "unlink"):
        if dst_st is None:
            return ItemResult(item, "done", "recovered")
        return ItemResult(item, "aborted", "not started")
    src = item.src
    assert src is not None
    src_st = lstat_or_none(src)
    if action == "restore":
        # src is the library copy, dst the original path: once the copy is gone, the original holds the
        # file (the copy was removed because the original was there, or it was moved back to it).
        if src_st is None:
            if dst_st is not None:
                return ItemResult(item, "done", "recovered")
            return ItemResult(item, "failed", ALERT)
        return ItemResult(item, "aborted", "not finished; the rollback, run again, decides anew")
    fp = item.fp
    if dst_st is None:
        if src_st is not None:
            return ItemResult(item, "aborted", "not started")
        return ItemResult(item, "failed", ALERT)
    if action == "symlink":
        ok = os.path.islink(item.dst) and os.readlink(item.dst) == os.path.abspath(src)
        return ItemResult(
            item,
            "done" if ok else "conflict",
            "recovered" if ok else "target exists (not ours)",
            placed=inode_of(dst_st),
        )
    if action == "hardlink":
        ok = src_st is not None and (src_st.st_dev, src_st.st_ino) == (dst_st.st_dev, dst_st.st_ino)
        return ItemResult(
            item,
            "done" if ok else "conflict",
            "recovered" if ok else "target exists (not ours)",
            placed=inode_of(dst_st),
        )
    if action == "copy":
        ok = src_st is not None and same_content(src, item.dst)
        return ItemResult(
            item,
            "done" if ok else "conflict",
            "recovered" if ok else "target exists and differs",
            placed=inode_of(dst_st),
        )
    # move
    if src_st is None:
        if fp is not None and dst_st.st_size != fp.size:
            return ItemResult(
                item, "conflict", "source gone; target is not the planned size", placed=inode_of(dst_st)
            )
        return ItemResult(item, "done", "recovered", placed=inode_of(dst_st))
    same_inode = (src_st.st_dev, src_st.st_ino) == (dst_st.st_dev, dst_st.st_ino)
    if same_inode and src_st.st_nlink >= 2:
        # link(src, dst) happened, unlink(src) did not: both names are one file.
        fsync_dir(os.path.dirname(item.dst))
        os.unlink(src)
        fsync_dir(os.path.dirname(src))
        return ItemResult(item, "done", "recovered: rolled forward", placed=inode_of(dst_st))
    if same_inode:
        # One entry under two spellings (a case-insensitive filesystem): nothing moved yet.
        return ItemResult(item, "aborted", "not started")
    if fp is not None and (dst_st.st_dev, dst_st.st_ino) == (fp.dev, fp.inode):
        # The target is the very file we planned to move (a rename keeps the inode); the source name now
        # holds another file, as in a swap whose next step already ran.
        return ItemResult(item, "done", "recovered", placed=inode_of(dst_st))
    unchanged = fp is None or not fp.differences(src_st)
    if unchanged and same_content(src, item.dst):
        # The verified copy was published; the source's unlink did not happen.
        fsync_dir(os.path.dirname(item.dst))
        os.unlink(src)
        fsync_dir(os.path.dirname(src))
        return ItemResult(item, "done", "recovered: rolled forward", placed=inode_of(dst_st))
    return ItemResult(
        item, "conflict", "target exists and differs from the source; both kept", placed=inode_of(dst_st)
    )
