"""`anivault run`: index → match → organize plan in one go; `--apply` carries the plan out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from anivault.pipeline.runner import RunResult


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Folders to index (default: the profile's sources).", show_default=False),
    ] = None,
    dest: Annotated[
        str | None, typer.Option("--dest", help="Library folder to organize into (default: organize.dest).")
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Carry the plan out (default: stop after planning).")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the last unfinished run from the stage where it stopped."),
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="Use [profiles.NAME] from anivault.toml (sources, dest, options)."),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Match from the TMDB cache only.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Index folders, match them on TMDB and plan the library layout, with one progress display.

    Nothing is moved unless --apply is given. An interrupted run (Ctrl-C, crash) continues with --resume
    from the stage where it stopped; every stage saves its work as it goes.

    Example:  anivault run ~/Anime --dest ~/Vault
    Example:  anivault run --resume --apply
    Example:  anivault run --profile nas --apply
    """
    from anivault.cli.common import STATE, emit_json, open_library
    from anivault.config import load_settings
    from anivault.errors import UsageError
    from anivault.pipeline.runner import RunRequest, run_pipeline

    if resume and (paths or dest or profile):
        raise UsageError(
            "--resume continues the last run with its own folders, destination and profile",
            hint="drop the folders/--dest/--profile, or start a new run without --resume",
        )
    saved_profile = profile
    if resume:
        saved_profile = _saved_profile()
    cfg = load_settings(STATE.overrides, profile=saved_profile)
    request = RunRequest(
        paths=list(paths or []), dest=dest, apply=apply, resume=resume, profile=profile, offline=offline
    )
    with open_library() as db, _RunProgress() as progress:
        result = run_pipeline(db, cfg, request, progress.update)
    if json_out:
        emit_json(result.to_dict())
    else:
        _summary(result)
    if result.deferred:
        from anivault.cli.cmd_match import deferred_error

        raise deferred_error(result.deferred, [])


def _saved_profile() -> str | None:
    """The profile the unfinished run used, so --resume applies the same settings."""
    import json

    from anivault.cli.common import db_path

    path = db_path()
    if not path.exists():
        return None
    import sqlite3

    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT args FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if not row:
        return None
    try:
        value = json.loads(row[0]).get("profile")
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None


class _RunProgress:
    """One progress bar for the whole run; its label says the stage. Silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._ctx: Any = None

    def __enter__(self) -> _RunProgress:
        from anivault.cli.common import progress_bar

        self._ctx = progress_bar("run")
        self._bar = self._ctx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)

    def update(self, stage: str, done: int, total: int | None, note: str) -> None:
        if self._bar is None:
            return
        task = self._bar.task_ids[0]
        from rich.markup import escape

        # escape(): a note may hold a file or show name with [brackets], which Rich would read as markup.
        self._bar.update(task, completed=done, total=total, description=escape(f"{stage}: {note}"))


def _fmt(counts: Any, keys: tuple[str, ...]) -> str:
    if not isinstance(counts, dict):
        return "-"
    return ", ".join(f"{counts.get(k, 0)} {k}" for k in keys if counts.get(k))


def _summary(result: RunResult) -> None:
    from anivault.cli.common import out_console, say

    c = result.counts
    lines = [
        f"run {result.run_id}: "
        + {
            "planned": "planned (dry run, nothing changed)",
            "done": "done",
            "failed": "finished with problems",
        }.get(result.state, result.state)
        + (f", resumed at {result.resumed_from_stage}" if result.resumed_from_stage else "")
    ]
    if "index" in c:
        lines.append(
            "  index: " + (_fmt(c["index"], ("seen", "new", "changed", "moved", "missing", "errors")) or "-")
        )
    if "match" in c:
        lines.append(
            "  match: "
            + (
                _fmt(c["match"], ("keys", "matched", "review", "unmatched", "deferred"))
                or "nothing new to match"
            )
        )
    if "plan" in c:
        lines.append(
            "  plan: " + (_fmt(c["plan"], ("todo", "noop", "identical", "skip", "stale")) or "nothing to do")
        )
    if "apply" in c:
        lines.append(
            "  apply: "
            + (", ".join(f"{n} {state}" for state, n in sorted(c["apply"].items())) or "nothing to do")
        )
    console = out_console()
    for line in lines:
        console.print(line, markup=False)
    if result.state == "planned":
        for item in result.plan_sample[:10]:
            if item["status"] == "todo":
                console.print(f"    {item['src']}\n      → {item['dst']}", markup=False)
        todo = int(c.get("plan", {}).get("todo", 0))
        if todo > 10:
            console.print(
                f"    … and {todo - 10} more (`anivault organize --dest … --json` lists them all)",
                markup=False,
            )
        if c.get("match", {}).get("review"):
            say("next: `anivault review` for the doubtful series, then `anivault run --resume --apply`")
        elif todo:
            say("next: `anivault run --resume --apply` to carry the plan out")
    for problem in result.problems[:20]:
        say(f"  {problem['note']}: {problem['src'] or problem['dst']}")
