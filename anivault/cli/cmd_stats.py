"""`anivault stats`: totals and breakdowns of the library."""

from __future__ import annotations

from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)


def stats(
    json_out: Annotated[bool, typer.Option("--json", help="All of it as one JSON object.")] = False,
) -> None:
    """Count the library: files by kind and status, sizes, per root, per extension, per match status,
    per resolution, the biggest series, and which parser versions read the names.

    Example:

    \b
        anivault stats
        anivault stats --json
    """
    from anivault.cli.common import emit_json
    from anivault.cli.output import read_connection
    from anivault.db.library import library_stats

    with read_connection() as conn:
        data = library_stats(conn)
    if json_out:
        emit_json(data)
        return
    render(data)


def render(data: dict[str, Any]) -> None:
    from anivault.cli.common import emit_table, out_console
    from anivault.cli.output import human_size

    t = data["totals"]
    console = out_console()

    def n(count: int, word: str) -> str:
        return f"{count} {word}" + ("" if count == 1 else "s")

    console.print(
        f"{n(t['videos'], 'video')} and {n(t['companions'], 'companion file')} present "
        f"({human_size(t['present_bytes'])}), {t['missing']} missing; "
        f"{t['series']} series "
        f"in {n(t['roots'], 'root')}, {n(t['scans'], 'scan')}"
    )

    def table(title: str, rows: list[dict[str, Any]], sizes: tuple[str, ...] = ("bytes",)) -> None:
        if not rows:
            return
        columns = list(rows[0])
        shown = [[human_size(r[c]) if c in sizes else r[c] for c in columns] for r in rows]
        emit_table(columns, shown, title=title)

    table("by kind", data["by_kind"])
    table("by root", data["by_root"])
    table("by extension", data["by_extension"])
    table("by match status", data["by_match_status"])
    table("by media kind", data["by_media_kind"])
    table("by resolution", data["by_resolution"])
    table("top series", data["top_series"])
    table("parser versions", data["parser_versions"])
    last = data.get("last_scan")
    if last:
        console.print(
            f"last scan {last['id']} ({last['status']}) started {last['started_at']}: {last['seen']} seen, "
            f"{last['new']} new, {last['changed']} changed, {last['moved']} moved, {last['missing']} missing, "
            f"{last['errors']} errors"
        )
