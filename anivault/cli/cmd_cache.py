"""`anivault cache stats|prune|clear`: the TMDB answers kept in the library database."""

from __future__ import annotations

from typing import Annotated

import typer

cache_app = typer.Typer(
    help=(
        "The TMDB cache in the library database: answers are reused until they expire, so a second"
        " `anivault match` sends no requests.\n\nExample:  anivault cache stats"
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")


@cache_app.command("stats")
def stats(json_out: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """How many TMDB answers are cached, how many expired, and how often they were reused.

    Example:  anivault cache stats
    """
    from dataclasses import asdict

    from anivault.cli.common import emit_json, emit_table, open_library
    from anivault.tmdb.cached import cache_stats

    with open_library() as db, db.read() as s:
        st = cache_stats(s)
    if json_out:
        emit_json(asdict(st))
        return
    rows = [
        ("entries", st.entries),
        ("expired", st.expired),
        ("not found (404)", st.negative),
        ("payload bytes", st.bytes),
        ("reuses (hits)", st.hits),
    ] + [(f"  {ep}", n) for ep, n in sorted(st.by_endpoint.items())]
    emit_table(["", "count"], rows, title="TMDB cache")


@cache_app.command("prune")
def prune() -> None:
    """Delete expired answers (and answers from an older cache format).

    Example:  anivault cache prune
    """
    from anivault.cli.common import open_library, say
    from anivault.tmdb.cached import prune_cache

    with open_library() as db, db.write() as s:
        n = prune_cache(s)
    say(f"{n} expired entries removed")


@cache_app.command("clear")
def clear() -> None:
    """Delete every cached answer; the next `anivault match` asks TMDB again.

    Example:  anivault cache clear
    """
    from anivault.cli.common import open_library, say
    from anivault.tmdb.cached import clear_cache

    with open_library() as db, db.write() as s:
        n = clear_cache(s)
    say(f"{n} entries removed")
