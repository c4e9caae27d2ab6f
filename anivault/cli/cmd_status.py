"""`anivault status`: the last run (stage, counts), what waits for review, and what failed."""

from __future__ import annotations

from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="How many review items and failures to list.")] = 10,
) -> None:
    """Show the last run and the state of the library. Reads the database without changing it.

    Example:  anivault status --json
    """
    from anivault.cli.common import db_path, emit_json
    from anivault.db.status import status as library_status

    report = library_status(db_path(), failures=limit, review=limit)
    if json_out:
        emit_json(report)
        return
    _render(report)


def _counts(counts: Any) -> str:
    if not isinstance(counts, dict) or not counts:
        return "-"
    shown = [
        f"{k} {v}"
        for k, v in counts.items()
        if isinstance(v, int) and not isinstance(v, bool) and v and not k.endswith("_id")
    ]
    return ", ".join(shown) or "-"


def _render(report: dict[str, Any]) -> None:
    from anivault.cli.common import out_console

    console = out_console()

    def line(text: str) -> None:
        console.print(text, markup=False)

    line(f"library: {report['database']}")
    if not report.get("exists"):
        line(report.get("hint", "no library yet"))
        return
    run = report.get("last_run")
    if run:
        line(f"last run #{run['id']}: {run['state']} at stage {run['stage']} (started {run['started_at']})")
        for stage, counts in (run.get("counts") or {}).items():
            line(f"  {stage}: {_counts(counts)}")
        if run.get("error"):
            line(f"  error: {run['error']}")
        if run.get("note"):
            line(f"  note: {run['note']}")
        if run.get("resumable"):
            line(
                "  continue it with: anivault run --resume"
                + (" --apply" if run["state"] == "planned" else "")
            )
    else:
        line("last run: none (`anivault run FOLDER --dest LIBRARY`)")
    scan = report.get("last_scan")
    if scan:
        line(
            f"last scan #{scan['id']}: {scan.get('status', '?')}, {scan.get('seen', 0)} seen, {scan.get('new', 0)} new, "
            f"{scan.get('changed', 0)} changed, {scan.get('missing', 0)} missing, {scan.get('errors', 0)} errors"
        )
    library = report.get("library")
    if library:
        line("files: " + "; ".join(f"{kind} {_counts(states)}" for kind, states in library.items()))
    matching = report.get("matching")
    if matching:
        line(
            f"matches: {_counts(matching.get('by_status'))}; not matched yet {matching.get('not_matched_yet', 0)}"
        )
        waiting = matching.get("waiting_for_review") or []
        if waiting:
            line("waiting for review (`anivault review`):")
            for item in waiting:
                line(f"  {item['series_key']}: {item['files']} files, best {item['confidence']:.2f}")
    op = report.get("last_organize")
    if op:
        line(f"last organize #{op['id']}: {op['status']}, items {_counts(op.get('items'))}")
        for item in op.get("failed") or []:
            line(f"  {item['state']}: {item['src']} -> {item['dst']}: {item.get('note') or ''}")
