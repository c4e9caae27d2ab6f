"""Tools: the TMDB cache (statistics, prune, clear), `verify`'s checks, and the library database (where it
is, what it holds, an integrity check, a backup)."""

from __future__ import annotations

from anivault.cli.tui.term import Back, MenuItem, Terminal

_MARK = {
    "ok": "[green]ok  [/green]",
    "warn": "[yellow]warn[/yellow]",
    "fail": "[red]FAIL[/red]",
    "skip": "skip",
}


def screen(term: Terminal) -> None:
    items = [
        MenuItem("1", "Cache statistics"),
        MenuItem("2", "Prune the cache", "drop expired entries"),
        MenuItem("3", "Clear the cache", "the next match asks TMDB again"),
        MenuItem("4", "Verify", "installation, settings, database, key, TMDB"),
        MenuItem("5", "Database", "path, contents, integrity"),
        MenuItem("6", "Back up the database"),
    ]
    actions = {"1": cache_stats, "2": cache_prune, "3": cache_clear, "4": verify, "5": database, "6": backup}
    while True:
        choice = term.menu("Tools", items)
        try:
            actions[choice](term)
        except Back:
            continue


def cache_stats(term: Terminal) -> None:
    from anivault.cli.common import open_library
    from anivault.tmdb.cached import cache_stats as stats

    with open_library() as db, db.read() as session:
        s = stats(session)
    term.title("TMDB cache")
    term.text(
        f"{s.entries} entries ({s.expired} expired, {s.negative} negative), {s.bytes:,} bytes, {s.hits} hits"
    )
    for endpoint, n in sorted(s.by_endpoint.items()):
        term.text(f"  {endpoint}: {n}")
    term.pause()


def cache_prune(term: Terminal) -> None:
    from anivault.cli.common import open_library
    from anivault.tmdb.cached import prune_cache

    with open_library() as db, db.write() as session:
        n = prune_cache(session)
    term.ok(f"pruned {n} expired cache entries")


def cache_clear(term: Terminal) -> None:
    from anivault.cli.common import open_library
    from anivault.tmdb.cached import clear_cache

    if not term.confirm("Delete every cached TMDB answer?"):
        term.text("Nothing changed.")
        return
    with open_library() as db, db.write() as session:
        n = clear_cache(session)
    term.ok(f"cleared {n} cache entries")


def verify(term: Terminal) -> None:
    from anivault.cli.common import db_path
    from anivault.cli.tui.wizard import ask_pin

    offline = not term.confirm("Also contact TMDB?", default=True)

    term.text("checking…")
    from anivault.pipeline import verify as checks

    report = checks.verify(db_path(), pin_provider=lambda: ask_pin(term), offline=offline)
    term.title("Verify")
    for check in report.checks:
        term.print(f"{_MARK[check.status]}  {_e(check.name)}: {_e(check.detail)}")
        if check.hint and check.status in ("fail", "warn"):
            term.text(f"      fix: {check.hint}")
    failed = sum(c.status == "fail" for c in report.checks)
    if failed:
        term.error(f"{failed} problem(s) found")
    else:
        term.ok("all checks passed")
    term.pause()


def database(term: Terminal) -> None:
    from anivault.cli.common import db_path, open_library
    from anivault.db.status import status

    path = db_path()
    term.title("Database")
    term.text(f"file: {path}")
    if not path.exists():
        term.text("no library yet: the Run wizard creates it")
        term.pause()
        return
    term.text(f"size: {path.stat().st_size:,} bytes")
    report = status(path, failures=0, review=3)
    for kind, states in (report.get("library") or {}).items():
        term.text(f"{kind}: " + ", ".join(f"{n} {s}" for s, n in states.items()))
    matching = report.get("matching") or {}
    if matching.get("by_status"):
        term.text("matches: " + ", ".join(f"{n} {s}" for s, n in matching["by_status"].items()))
    with open_library() as db:
        problems = db.integrity_check(quick=True)
    if problems:
        term.error(
            "integrity check failed: " + "; ".join(problems[:3]), "restore a backup (Tools → 6 makes one)"
        )
    else:
        term.ok("integrity check passed")
    term.pause()


def backup(term: Terminal) -> None:
    from datetime import UTC, datetime

    from anivault.cli.common import open_library
    from anivault.paths import app_paths

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    with open_library() as db:
        target = db.backup_to(app_paths().backup_dir / f"library-{stamp}.db")
    term.ok(f"backed up to {target}")


def _e(text: str) -> str:
    from rich.markup import escape

    return escape(text)
