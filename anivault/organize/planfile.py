"""Plan files (`organize --plan FILE`): a versioned JSON list of moves a user can review and edit.

Each item carries the source's fingerprint (size, mtime_ns, dev, inode) taken at planning time; applying a
plan (`--from-plan`) checks every fingerprint against the disk first and refuses stale items with a reason.
Targets may be edited; an edited target must stay inside `dest` and be made of safe names.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from anivault.errors import UsageError
from anivault.organize.fileops import Fingerprint
from anivault.organize.plan import Move
from anivault.organize.safename import is_safe_component

PLAN_VERSION = 1


def plan_to_json(
    moves: list[Move], dest: str, action: str, conflict: str, template: str | None
) -> dict[str, Any]:
    return {
        "anivault_plan": PLAN_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dest": dest,
        "action": action,
        "conflict": conflict,
        "template": template,
        "items": [
            {
                "file_id": m.file_id,
                "kind": m.kind,
                "action": m.action,
                "src": m.src,
                "dst": m.dst,
                "status": m.status,
                "note": m.note,
                "fingerprint": {
                    "size": m.fp.size,
                    "mtime_ns": m.fp.mtime_ns,
                    "dev": m.fp.dev,
                    "inode": m.fp.inode,
                },
            }
            for m in moves
        ],
    }


def write_plan(path: str, data: dict[str, Any]) -> None:
    from pathlib import Path

    from anivault.atomicfile import atomic_write_bytes  # shared O_EXCL + fsync + replace writer

    atomic_write_bytes(Path(path), (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))


def read_plan(path: str) -> tuple[dict[str, Any], list[Move]]:
    """Load and validate a plan file; raises UsageError naming what is wrong."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise UsageError(f"plan file {path} does not exist", hint="write one with --plan FILE") from None
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"cannot read plan file {path}: {exc}", hint="write it again with --plan FILE"
        ) from None
    if not isinstance(data, dict) or data.get("anivault_plan") != PLAN_VERSION:
        raise UsageError(
            f"{path} is not an AniVault plan (version {PLAN_VERSION})", hint="write it again with --plan FILE"
        )
    dest = data.get("dest")
    if not isinstance(dest, str) or not os.path.isabs(dest):
        raise UsageError(f"plan {path} has no absolute dest", hint="write it again with --plan FILE")
    root = os.path.realpath(dest)
    moves = []
    for n, it in enumerate(data.get("items") or [], 1):
        try:
            fp = it["fingerprint"]
            file_id = it.get("file_id")
            if file_id is not None and (not isinstance(file_id, int) or isinstance(file_id, bool)):
                raise ValueError(f"file_id {file_id!r} is not a whole number")
            move = Move(
                src=str(it["src"]),
                dst=os.path.normpath(str(it["dst"])),
                action=str(it.get("action") or data.get("action") or "move"),
                kind=str(it.get("kind") or "video"),
                file_id=file_id,
                fp=Fingerprint(int(fp["size"]), int(fp["mtime_ns"]), int(fp["dev"]), int(fp["inode"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"plan item {n} is malformed ({exc})", hint="fix the item or write the plan again"
            ) from None
        if it.get("status") not in (None, "todo"):
            move.status, move.note = str(it["status"]), it.get("note")
        elif move.action not in ("move", "copy", "hardlink", "symlink"):
            move.status, move.note = "stale", f"unknown action {move.action!r}"
        else:
            rel = os.path.relpath(move.dst, root)
            parts = rel.split(os.sep)
            if (
                not os.path.isabs(move.dst)
                or rel.startswith("..")
                or not all(is_safe_component(p) for p in parts)
            ):
                move.status, move.note = "stale", "edited target is outside dest or has an unsafe name"
        moves.append(move)
    return data, moves
