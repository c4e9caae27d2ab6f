"""Plan files (`organize --plan FILE`): a versioned JSON list of moves a user can review and edit.

Each item carries the source's library id and fingerprint (size, mtime_ns, dev, inode) taken at planning
time. A plan file is user input: applying one (`--from-plan`) checks every item against the library and the
disk first (organize.service.recheck_plan) and refuses, with the reason, an item whose source is not the
regular file its library row names, under an indexed folder, as the library knows it. Targets may be edited;
an edited target must stay inside `dest` and be made of safe names.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from anivault.errors import UsageError
from anivault.naming.safename import is_safe_component
from anivault.organize.fileops import Fingerprint
from anivault.organize.plan import ACTIONS, Move

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


def _path_text(value: Any, what: str) -> str:
    """A path from the plan, as the OS can take it (no NUL, nothing that cannot be encoded)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} is not a path")
    if "\0" in value:
        raise ValueError(f"{what} contains a NUL character")
    try:
        os.fsencode(value)
    except UnicodeEncodeError:
        raise ValueError(f"{what} contains characters no file name can hold") from None
    return value


def _whole(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ValueError(f"{what} {str(value)[:20]!r} is not a whole number")
    return value


def read_plan(path: str) -> tuple[dict[str, Any], list[Move]]:
    """Load and validate a plan file; raises UsageError naming what is wrong. Items are not yet checked
    against the library and the disk (service.recheck_plan does that)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise UsageError(f"plan file {path} does not exist", hint="write one with --plan FILE") from None
    except (OSError, ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise UsageError(
            f"cannot read plan file {path}: {why}", hint="write it again with --plan FILE"
        ) from None
    if not isinstance(data, dict) or data.get("anivault_plan") != PLAN_VERSION:
        raise UsageError(
            f"{path} is not an AniVault plan (version {PLAN_VERSION})", hint="write it again with --plan FILE"
        )
    try:
        dest = _path_text(data.get("dest"), "dest")
    except ValueError as exc:
        raise UsageError(f"plan {path}: {exc}", hint="write it again with --plan FILE") from None
    if not os.path.isabs(dest):
        raise UsageError(f"plan {path} has no absolute dest", hint="write it again with --plan FILE")
    items = data.get("items")
    if not isinstance(items, list):
        raise UsageError(f"plan {path}: items is not a list", hint="write it again with --plan FILE")
    root = os.path.realpath(dest)
    moves = []
    for n, it in enumerate(items, 1):
        try:
            if not isinstance(it, dict):
                raise ValueError("not an object")
            fp = it.get("fingerprint")
            if not isinstance(fp, dict):
                raise ValueError("no fingerprint")
            file_id = it.get("file_id")
            move = Move(
                src=_path_text(it.get("src"), "src"),
                dst=os.path.normpath(_path_text(it.get("dst"), "dst")),
                action=str(it.get("action") or data.get("action") or "move"),
                kind=str(it.get("kind") or "video"),
                file_id=None if file_id is None else _whole(file_id, "file_id"),
                fp=Fingerprint(*(_whole(fp.get(k), k) for k in ("size", "mtime_ns", "dev", "inode"))),
            )
        except ValueError as exc:
            raise UsageError(
                f"plan item {n} is malformed ({exc})", hint="fix the item or write the plan again"
            ) from None
        status = it.get("status")
        if status not in (None, "todo"):
            move.status, move.note = str(status), str(it.get("note") or "")
        elif move.action not in ACTIONS:
            move.status, move.note = "refused", f"unknown action {move.action[:20]!r}"
        else:
            rel = os.path.relpath(move.dst, root)
            if (
                not os.path.isabs(move.dst)
                or rel.startswith("..")
                or not all(is_safe_component(p) for p in rel.split(os.sep))
            ):
                move.status, move.note = "refused", "edited target is outside dest or has an unsafe name"
        moves.append(move)
    return data, moves
