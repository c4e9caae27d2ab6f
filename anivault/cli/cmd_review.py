"""`anivault review`: decide the doubtful series one at a time."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from anivault.db.engine import Database
    from anivault.pipeline.match import ReviewGroup
    from anivault.tmdb.cached import CachedTmdb

HELP_LINE = "[1-9] pick · s search again · i enter a TMDB id · k skip · q quit"


def register(app: typer.Typer) -> None:
    app.command("review")(review)


def review(
    limit: Annotated[int | None, typer.Option("--limit", help="Review at most N series.", min=1)] = None,
) -> None:
    """Go through doubtful matches one series at a time and decide.

    For each series you see its files' title and the best TMDB candidates with their score and the
    reasons for it. Answer with a number to pick a candidate, `s` to search TMDB with other words, `i` to
    type a TMDB id, `k` to skip (it stays in review) or `q` to stop. Answers are read line by line from
    standard input, so a script can drive it. A pick also becomes an override: future files of the series
    follow it.

    Example:  anivault review
              printf '1\\nk\\n' | anivault review
    """
    from anivault.cli.common import open_library, say, settings
    from anivault.pipeline.match import review_groups

    cfg = settings()
    decided = skipped = 0
    with open_library() as db:
        with db.read() as s:
            groups = review_groups(s, limit)
        if not groups:
            say("nothing to review")
            return
        port: CachedTmdb | None = None
        try:
            for i, rg in enumerate(groups, 1):
                port, outcome = _one(db, cfg, port, rg, i, len(groups))
                if outcome == "quit":
                    break
                if outcome == "decided":
                    decided += 1
                else:
                    skipped += 1
        finally:
            if port is not None:
                with db.write() as s:
                    port.flush(s)
                if port.http is not None:
                    port.http.close()
    say(f"{decided} series decided, {skipped} skipped")


def _ask(prompt: str) -> str | None:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        sys.stderr.write("\n")
        return None
    return line.strip()


def _show(cands: list[dict[str, Any]]) -> None:
    from anivault.cli.common import say

    if not cands:
        say("  (no candidates)")
    for n, c in enumerate(cands, 1):
        reasons = c.get("reasons") or {}
        why = ", ".join(f"{k} {v}" for k, v in reasons.items() if k != "matched_title")
        matched = reasons.get("matched_title")
        year = c.get("year") or "?"
        say(
            f"  {n}) {c.get('name') or '?'} ({year}) [{c.get('media_type')} {c.get('tmdb_id')}]"
            f"  score {c.get('score')}"
            + (f"  via '{matched}'" if matched else "")
            + (f"  — {why}" if why else "")
        )


def _port(db: Database, cfg: Any, port: CachedTmdb | None) -> CachedTmdb:
    if port is not None:
        return port
    from anivault.errors import AniVaultError
    from anivault.tmdb.cached import open_tmdb

    try:
        return open_tmdb(db, cfg)
    except AniVaultError:
        return open_tmdb(db, cfg, mode="offline")  # no key: the cache may still know the answer


def _one(
    db: Database, cfg: Any, port: CachedTmdb | None, rg: ReviewGroup, i: int, total: int
) -> tuple[Any, str]:
    from anivault.cli.common import say
    from anivault.errors import AniVaultError
    from anivault.pipeline.match import GroupResolver, SeriesGroup, options_from_settings
    from anivault.tmdb.port import MediaType

    g = rg.group
    say(
        f"\n[{i}/{total}] '{g.title}' ({g.kind}{', ' + str(g.year) if g.year else ''})"
        f" — {g.files} file(s), confidence {rg.confidence:.2f}"
    )
    cands = [dict(c) for c in rg.candidates]
    _show(cands)
    while True:
        answer = _ask(f"{HELP_LINE}\n> ")
        if answer is None or answer.lower() in ("q", "quit"):
            return port, "quit"
        a = answer.lower()
        if a in ("k", "skip", ""):
            return port, "skipped"
        if a.isdigit() and 1 <= int(a) <= len(cands):
            c = cands[int(a) - 1]
            mt: MediaType = "movie" if c.get("media_type") == "movie" else "tv"
            port = _port(db, cfg, port)
            outcome = _apply(db, cfg, port, g, int(c["tmdb_id"]), mt)
            if outcome != "again":
                return port, outcome
            continue
        if a in ("s", "search"):
            words = _ask("search TMDB for: ")
            if not words:
                continue
            port = _port(db, cfg, port)
            from anivault.title_key import normalize_title

            probe = SeriesGroup(
                g.key, normalize_title(words), words, g.year, g.kind, g.files, g.max_episode, g.seasons, False
            )
            try:
                d = GroupResolver(port, options_from_settings(cfg)).resolve(probe)
            except AniVaultError as exc:
                say(f"  search failed: {exc}")
                continue
            cands = [c.to_json() for c in d.candidates]
            _show(cands)
            continue
        if a in ("i", "id"):
            raw = _ask("TMDB id (add 'movie' for a film, e.g. '129 movie'): ")
            if not raw:
                continue
            parts = raw.split()
            if not parts[0].isdigit():
                say("  not an id")
                continue
            mt = "movie" if len(parts) > 1 and parts[1].lower().startswith("m") else "tv"
            port = _port(db, cfg, port)
            outcome = _apply(db, cfg, port, g, int(parts[0]), mt)
            if outcome != "again":
                return port, outcome
            continue
        say(f"  ? {answer!r}")


def _apply(db: Database, cfg: Any, port: CachedTmdb, g: Any, tmdb_id: int, media_type: Any) -> str:
    from anivault.cli.common import say
    from anivault.pipeline.match import apply_pick, options_from_settings

    done = apply_pick(db, port, g, tmdb_id, media_type, options_from_settings(cfg))
    if done.no_such_id:
        say(f"  TMDB has no {media_type} with id {tmdb_id}")
        return "again"
    if done.deferred is not None:
        say(f"  TMDB could not answer ({done.deferred}); saved as an override for the next `anivault match`")
    elif done.details is not None:
        say(f"  → {done.details.name} ({done.details.year or '?'}): {done.files} file(s) decided")
    return "decided"
