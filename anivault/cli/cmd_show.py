"""`anivault show ID`: everything the library knows about one file."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    app.command("show")(show)


def show(
    file_id: Annotated[
        int, typer.Argument(help="File id (the first column of `anivault ls`).", metavar="ID")
    ],
    json_out: Annotated[bool, typer.Option("--json", help="All of it as one JSON object.")] = False,
) -> None:
    """Show one file: path, size, what its name parsed to, its subtitles, its match and candidates, when
    scans saw it, and the organize steps that touched it.

    Example:

    \b
        anivault show 1234
        anivault show 1234 --json
    """
    from anivault.cli.common import emit_json
    from anivault.cli.output import read_connection
    from anivault.db.library import file_detail
    from anivault.errors import UsageError

    with read_connection() as conn:
        detail = file_detail(conn, file_id)
    if detail is None:
        raise UsageError(
            f"no file with id {file_id} in the library", hint="find ids with `anivault ls QUERY`"
        )
    if json_out:
        emit_json(detail)
        return
    sys.stdout.write(render(detail))
    sys.stdout.flush()


_PARSE_FIELDS = (
    "title",
    "title_norm",
    "season",
    "episode",
    "episode_end",
    "year",
    "kind",
    "release_group",
    "resolution",
    "source",
    "checksum",
    "version",
    "episode_title",
    "languages",
    "confidence",
    "parser",
    "parser_version",
    "parsed_at",
)


def _block(title: str, pairs: list[tuple[str, Any]]) -> list[str]:
    shown = [(k, v) for k, v in pairs if v is not None and v != ""]
    if not shown:
        return []
    width = max(len(k) for k, _ in shown)
    return [title, *(f"  {k.ljust(width)}  {v}" for k, v in shown), ""]


def render(d: dict[str, Any]) -> str:
    """The text form of `file_detail`: blocks of `key  value` lines."""
    from anivault.cli.output import human_size

    f = d["file"]
    lines = _block(
        f"file {f['id']}",
        [
            (
                "path",
                f["path"]
                + ("   (name is not UTF-8: bad bytes shown as \\xNN)" if f["path_has_raw_bytes"] else ""),
            ),
            ("kind", f["kind"]),
            ("status", f["status"]),
            ("size", f"{human_size(f['size'])} ({f['size']} bytes)"),
            ("mtime_ns", f["mtime_ns"]),
            ("device/inode", f"{f['dev']}/{f['inode']}"),
            ("root", f["root"]),
            ("first seen", f["first_seen"]),
            ("last seen", f["last_seen"]),
        ],
    )
    video = d.get("video")
    if video:
        lines += _block("belongs to video", [(str(video["id"]), f"{video['path']} ({video['status']})")])
    p = d.get("parse")
    if p:
        lines += _block("parse", [(k, p.get(k)) for k in _PARSE_FIELDS])
    else:
        lines += ["parse", "  (not parsed)", ""]
    comps = d.get("companions") or []
    if comps:
        lines += _block(
            f"companions ({len(comps)})",
            [
                (
                    str(c["id"]),
                    f"{c['kind']} {c['path']}"
                    + (f"  [{c['languages']}]" if c.get("languages") else "")
                    + ("" if c["status"] == "present" else f"  {c['status'].upper()}"),
                )
                for c in comps
            ],
        )
    m = d.get("match")
    if m:
        lines += _block(
            "match",
            [
                ("status", m.get("status")),
                (
                    "tmdb",
                    f"{m.get('media_type')}/{m.get('tmdb_id')}" if m.get("tmdb_id") is not None else None,
                ),
                ("season", m.get("season")),
                ("episode", m.get("episode")),
                ("confidence", m.get("confidence")),
                ("method", m.get("method")),
                ("reason", m.get("reason")),
                ("series key", m.get("series_key")),
                ("decided", m.get("decided_at")),
            ],
        )
        cands = m.get("candidates")
        if isinstance(cands, list) and cands:
            lines.append("  candidates")
            for c in cands:
                if isinstance(c, dict):
                    name = c.get("name") or c.get("title") or "?"
                    extra = ", ".join(
                        f"{k}={c[k]}"
                        for k in ("tmdb_id", "media_type", "year", "score")
                        if c.get(k) is not None
                    )
                    lines.append(f"    {name} ({extra})")
                    reasons = c.get("reasons")
                    if isinstance(reasons, dict) and reasons:
                        lines.append("      " + ", ".join(f"{k}={v}" for k, v in reasons.items()))
                else:
                    lines.append(f"    {c}")
            lines.append("")
    elif f["kind"] == "video":
        lines += ["match", "  (not matched yet)", ""]
    s = d["scans"]
    first, last = s.get("first"), s.get("last")
    lines += _block(
        "scans",
        [
            ("first", f"scan {first['id']} at {first['started_at']}" if first else None),
            ("last", f"scan {last['id']} at {last['started_at']}" if last else None),
            ("scans since", s.get("since_last_seen")),
        ],
    )
    ledger = d.get("ledger")
    if ledger and ledger["items"]:
        lines.append(f"organize steps ({ledger['total']})")
        for it in ledger["items"]:
            lines.append(
                f"  op {it['op_id']} ({it['op_kind']}, {it['op_status']}) #{it['seq']} {it['action']} "
                f"{it['state']}: {it['src']} -> {it['dst']}"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
