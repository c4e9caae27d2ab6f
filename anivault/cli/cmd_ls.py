"""`anivault ls [QUERY…]`: list library files that match a query."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    # `-group:x` (negation) must reach the query, not be taken for an unknown option.
    app.command("ls", context_settings={"ignore_unknown_options": True})(ls)


def ls(
    query: Annotated[
        list[str] | None,
        typer.Argument(
            help="Filters: field:value, -field:value, bare title words (see above).",
            show_default=False,
            metavar="QUERY",
        ),
    ] = None,
    unmatched: Annotated[
        bool, typer.Option("--unmatched", help="Present videos without a TMDB match, with the reason.")
    ] = False,
    missing: Annotated[
        bool, typer.Option("--missing", help="Files that were indexed and are now gone.")
    ] = False,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help="Sort by a field (-FIELD descends; several: --sort title,episode).",
            metavar="FIELD",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many rows.", metavar="N")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="A JSON array of rows.")] = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV with a header row.")] = False,
) -> None:
    """List the files in the library; by default every present video, sorted by path.

    Filters are field:value (title season episode year group resolution ext kind status root tmdb match
    name id); -field:value (or ^field:value) negates; a bare word is a title word. Numbers take ranges (episode:1..12, 5..)
    and lists (season:1,2); resolution:1080p also finds 1920x1080; kind:any and status:any widen the
    default of present videos.

    Examples:

    \b
        anivault ls frieren season:1 episode:1..6 group:subsplease -ext:mp4
        anivault ls resolution:1080p -group:subsplease --sort -episode --limit 20
        anivault ls --unmatched --json
    """
    from anivault.cli.common import say
    from anivault.cli.output import check_one_format, read_connection, stream_csv, stream_json
    from anivault.db.query import LibraryQuery, list_files, parse_terms

    check_one_format(json=json_out, csv=csv_out)
    q = LibraryQuery(parse_terms(query or []), unmatched=unmatched, missing=missing, sort=sort, limit=limit)
    with read_connection() as conn:
        columns, rows = list_files(conn, q)
        if json_out:
            n = stream_json(rows)
        elif csv_out:
            n = stream_csv(columns, (row.values() for row in rows))
        else:
            n = 0
            out = sys.stdout
            for row in rows:
                out.write(_line(row) + "\n")
                n += 1
            out.flush()
    what = "unmatched videos" if unmatched else "files"
    say(f"{n} {what}" if n != 1 else f"1 {what.rstrip('s')}")


def _line(row: dict[str, Any]) -> str:
    """`    12  Sousou no Frieren S01E12 [SubsPlease] 1080p  /path/to/file.mkv` for people."""
    parts = [str(row["title"] or "?")]
    season, episode, end = row["season"], row["episode"], row["episode_end"]
    if episode is not None:
        se = f"S{season if season is not None else 1:02d}E{episode:02d}"
        if end is not None and end != episode:
            se += f"-E{end:02d}"
        parts.append(se)
    elif season is not None:
        parts.append(f"S{season:02d}")
    if row["media_kind"] not in (None, "tv"):
        parts.append(str(row["media_kind"]))
    if row["year"]:
        parts.append(f"({row['year']})")
    if row["group"]:
        parts.append(f"[{row['group']}]")
    if row["resolution"]:
        parts.append(str(row["resolution"]))
    if row["kind"] != "video":
        parts.append(str(row["kind"]))
    if row["status"] != "present":
        parts.append(str(row["status"]).upper())
    line = f"{row['id']:>6}  {' '.join(parts)}  {row['path']}"
    if "reason" in row:
        line += f"  ({row['reason']})"
    return line
