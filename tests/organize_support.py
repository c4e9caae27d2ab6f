"""Helpers shared by the organize tests (plain functions; fixtures live in the test modules)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from anivault.organize.fileops import Fingerprint
from anivault.organize.plan import Companion, PlanInput


def episode_input(path: Path, episode: int, *, title: str = "Frieren", season: int = 1, tmdb_id: int = 209867,
                  companions: list[Path] | None = None, media_type: str = "tv") -> PlanInput:  # fmt: skip
    comps = [Companion(None, str(c), "subtitle", Fingerprint.of(os.lstat(c))) for c in companions or []]
    return PlanInput(
        None, str(path), Fingerprint.of(os.lstat(path)), title, tmdb_id, media_type, path.suffix.lstrip("."),
        year=2023, season=season, episode=episode, root=str(path.parent), companions=comps,
    )  # fmt: skip


def write(path: Path, data: bytes | str = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def ledger_rows(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def files_under(folder: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _d, names in os.walk(folder):
        for n in names:
            p = Path(dirpath) / n
            out[str(p.relative_to(folder))] = p.read_bytes()
    return out
