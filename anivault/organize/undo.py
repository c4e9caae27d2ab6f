"""Rollback: the inverse of a run, and what undoing each of its items will do on the disk as it is now.

A run's done items are undone newest first:

| organize item | rollback item | what it does                                                            |
|---------------|---------------|-------------------------------------------------------------------------|
| mkdir         | rmdir         | removes the folder if it is empty (a folder that already existed stays) |
| move          | move          | moves the file back, if it is still the file organize placed            |
| copy/hardlink | restore       | the original still there and the same file: removes the library copy;    |
|               |               | the original gone: moves the library file back to it (never the last     |
|               |               | copy destroyed); the original changed: keeps both, and says so           |
| symlink       | unlink        | removes the link organize made, never its target                         |

The same `plan_undo` decides for `rollback --dry-run`, for the executor and for recovery, so what the dry
run says is what the rollback does.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from anivault.organize.fileops import Fingerprint, lstat_or_none, not_a_file, same_content
from anivault.organize.ledger import Ledger
from anivault.organize.plan import Step


class Undo(NamedTuple):
    """What undoing one item will do: ``do`` is one of move-back, remove, keep, gone, skip."""

    do: str
    why: str


def inverse_steps(ledger: Ledger, op_id: int) -> list[Step]:
    """The rollback of run ``op_id``: its done items (not yet undone), newest first, reversed."""
    steps: list[Step] = []
    for it, row_id, dst_dev, dst_inode in ledger.placed(op_id):
        seq = len(steps) + 1
        if it.action == "mkdir":
            if it.note != "existed":  # a folder that was there before organize is not ours to remove
                steps.append(Step(seq, "rmdir", None, it.dst, None, None, "dir", row_id))
        elif it.action in ("move", "copy", "hardlink") and it.fp is not None and it.src is not None:
            # What organize left at the target: the source's size and mtime (a copy keeps them), and the
            # device and inode recorded when it was placed.
            placed = Fingerprint(it.fp.size, it.fp.mtime_ns, dst_dev or it.fp.dev, dst_inode or it.fp.inode)
            action = "move" if it.action == "move" else "restore"
            steps.append(Step(seq, action, it.dst, it.src, placed, it.file_id, "file", row_id))
        elif it.action == "symlink" and it.src is not None:
            steps.append(Step(seq, "unlink", it.src, it.dst, None, it.file_id, "link", row_id))
    return steps


def plan_undo(step: Step) -> Undo:
    """What undoing ``step`` would do now (it reads the disk, changes nothing)."""
    if step.action == "rmdir":
        return Undo("remove", "remove the folder if it is empty")
    if step.action == "unlink":
        link = lstat_or_none(step.dst)
        if link is None:
            return Undo("gone", "the link is already gone")
        try:
            target = os.readlink(step.dst)
        except OSError:
            return Undo("skip", "no longer the symlink organize made; left alone")
        if step.src is not None and target != os.path.abspath(step.src):
            return Undo("skip", "the symlink now points elsewhere; left alone")
        return Undo("remove", "remove the link (its target is not touched)")
    assert step.src is not None and step.fp is not None
    placed = lstat_or_none(step.src)
    original = lstat_or_none(step.dst)
    if step.action == "move":
        if placed is None:
            return Undo("skip", "target missing")
        diff = step.fp.differences(placed)
        if diff:
            return Undo("skip", f"target changed since organize: {', '.join(diff)}")
        if original is not None:
            return Undo("skip", "original path is occupied by another file")
        return Undo("move-back", "move it back")
    # restore: a copy or a hard link organize made
    if placed is None:
        if original is not None:
            return Undo("gone", "the library copy is already gone; the original is there")
        return Undo("skip", "both the library copy and the original are gone")
    diff = step.fp.differences(placed)
    if diff:
        return Undo("skip", f"library copy changed since organize: {', '.join(diff)}; left alone")
    if original is None:
        return Undo("move-back", "the original is gone: move the library file back to its path")
    what = not_a_file(original)
    if what is not None:
        return Undo("keep", f"the original path now holds {what}; both kept")
    if (original.st_dev, original.st_ino) == (placed.st_dev, placed.st_ino) or (
        original.st_size == placed.st_size and same_content(step.dst, step.src)
    ):
        return Undo("remove", "the original is still there: remove the library copy")
    return Undo("keep", "the original was changed since organize: both kept")
