"""Review matches: the doubtful series (`match.review_groups`), their candidates with scores, and a pick
(`match.decide_manually`, which also remembers it as an override) or a TMDB id typed in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anivault.cli.tui.term import Back, Terminal, esc, number_in

if TYPE_CHECKING:
    from anivault.pipeline.match import ReviewGroup

SHOWN_SERIES = 12


def _groups() -> list[ReviewGroup]:
    from anivault.cli.common import open_library
    from anivault.pipeline.match import review_groups

    with open_library() as db, db.read() as session:
        return review_groups(session)


def screen(term: Terminal) -> None:
    from rich.table import Table

    while True:
        groups = _groups()
        term.title("Review matches")
        if not groups:
            term.text("Nothing waits for review.")
            term.pause()
            return
        table = Table(header_style="bold", pad_edge=False, box=None)
        table.add_column("#", justify="right")
        table.add_column("title in the file names", overflow="fold", max_width=44)
        table.add_column("kind", no_wrap=True)
        table.add_column("year", no_wrap=True)
        table.add_column("files", justify="right")
        table.add_column("best", justify="right")
        for n, rg in enumerate(groups[:SHOWN_SERIES], 1):
            g = rg.group
            table.add_row(
                str(n), esc(g.title), g.kind, str(g.year or ""), str(g.files), f"{rg.confidence:.2f}"
            )
        term.print(table)
        if len(groups) > SHOWN_SERIES:
            term.text(f"({len(groups) - SHOWN_SERIES} more after these are decided)")
        shown = min(len(groups), SHOWN_SERIES)
        answer = term.ask(
            "Series to review (number, b = back)",
            check=number_in(shown),
        )
        try:
            review_one(term, groups[int(answer) - 1])
        except Back:
            continue


def show_candidates(term: Terminal, cands: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not cands:
        term.text("  (no candidates: type a TMDB id)")
        return
    table = Table(header_style="bold", pad_edge=False, box=None)
    table.add_column("#", justify="right")
    table.add_column("TMDB title", overflow="fold", max_width=40)
    table.add_column("year", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("id", justify="right")
    table.add_column("score", justify="right")
    for n, c in enumerate(cands, 1):
        table.add_row(
            str(n), esc(str(c.get("name") or "?")), str(c.get("year") or ""), str(c.get("media_type") or ""),
            str(c.get("tmdb_id") or ""), f"{float(c.get('score') or 0):.2f}",
        )  # fmt: skip
    term.print(table)


def review_one(term: Terminal, rg: ReviewGroup) -> None:
    g = rg.group
    term.title(f"{g.title}" + (f" ({g.year})" if g.year else ""))
    term.text(f"{g.files} {g.kind} file(s); best confidence {rg.confidence:.2f}")
    cands = [dict(c) for c in rg.candidates]
    show_candidates(term, cands)

    def check(answer: str) -> str | None:
        low = answer.lower()
        if low in ("i", "k") or (low.isdigit() and 1 <= int(low) <= len(cands)):
            return None
        return f"'{answer}' is not 1-{len(cands)}, i or k" if cands else "type i (TMDB id) or k (skip)"

    prompt = f"Pick 1-{len(cands)}, i = type a TMDB id, k = skip" if cands else "i = type a TMDB id, k = skip"
    answer = term.ask(prompt, check=check).lower()
    if answer == "k":
        term.text("Skipped: it stays in review.")
        return
    if answer == "i":
        raw = term.ask(
            "TMDB id (add 'movie' for a film, e.g. '129 movie')",
            check=lambda a: None if a.split()[0].isdigit() else f"'{a}' is not a number",
        )
        parts = raw.split()
        tmdb_id, media = (
            int(parts[0]),
            "movie" if len(parts) > 1 and parts[1].lower().startswith("m") else "tv",
        )
    else:
        c = cands[int(answer) - 1]
        tmdb_id, media = int(c["tmdb_id"]), "movie" if c.get("media_type") == "movie" else "tv"
    decide(term, rg, tmdb_id, media)


def decide(term: Terminal, rg: ReviewGroup, tmdb_id: int, media: str) -> None:
    from anivault.cli.common import open_library
    from anivault.cli.tui.settings import fresh_settings
    from anivault.cli.tui.wizard import unlock_key
    from anivault.pipeline.match import apply_pick, options_from_settings
    from anivault.tmdb.cached import open_tmdb
    from anivault.tmdb.port import MediaType

    mt: MediaType = "movie" if media == "movie" else "tv"
    cfg = fresh_settings()
    online = unlock_key(term, cfg)
    with open_library() as db:
        port = open_tmdb(db, cfg, mode="normal" if online else "offline")
        try:
            done = apply_pick(db, port, rg.group, tmdb_id, mt, options_from_settings(cfg))
        finally:
            with db.write() as session:
                port.flush(session)
            if port.http is not None:
                port.http.close()
    if done.no_such_id:
        term.error(f"TMDB has no {mt} with id {tmdb_id}", "pick another or type another id")
    elif done.deferred is not None:
        term.error(
            f"TMDB could not answer ({done.deferred})", "the pick is saved; `anivault match` applies it later"
        )
    elif done.details is not None:
        label = f"{done.details.name} ({done.details.year or '?'})"
        term.ok(
            f"{rg.group.title} → {label}: {done.files} file(s) decided; future files of it follow this pick"
        )
