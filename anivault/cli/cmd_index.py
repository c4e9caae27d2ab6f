"""`anivault index PATH…`: record every video and companion under the folders in the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("index")(index)


def index(
    paths: Annotated[list[Path], typer.Argument(help="Folders to index.", show_default=False)],
    reparse: Annotated[
        bool, typer.Option("--reparse", help="Parse every file again, changed or not.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Parse processes (default: one per core).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the scan summary as JSON.")] = False,
) -> None:
    """Walk folders and record every video and its subtitles in the library database.

    Re-running is incremental: only new or changed files are parsed; moved files keep their record and
    vanished ones are marked missing.

    Example:  anivault index ~/Anime /mnt/nas/anime
    """
    from anivault.cli.common import emit_json, open_library, progress_bar, say, settings
    from anivault.pipeline.index import IndexOptions, normalise_roots, run_index

    cfg = settings({"index.workers": workers})
    opts = IndexOptions.from_settings(cfg, paths, reparse=reparse)
    normalise_roots(paths)  # a missing folder is an error before the database is touched
    with open_library() as db, progress_bar("indexing") as bar:

        def progress(seen: int, parsed: int) -> None:
            if bar is not None:
                bar.update(bar.task_ids[0], completed=seen, description=f"indexing ({parsed} parsed)")

        report = run_index(db, opts, progress)
    if json_out:
        emit_json(report.to_dict())
        return
    say(
        f"scan {report.scan_id}: {report.seen} files seen in {report.seconds:.1f}s: "
        f"{report.new} new, {report.changed} changed, {report.moved} moved, {report.missing} missing, "
        f"{report.restored} restored, {report.unchanged} unchanged ({report.reparsed} re-parsed), "
        f"{report.errors} errors"
    )
    for sample in report.error_samples:
        say(f"  cannot read: {sample}")
    if report.errors > len(report.error_samples):
        say(f"  … and {report.errors - len(report.error_samples)} more (see the log: `anivault logs path`)")
