"""`anivault match --query`: one title looked up on TMDB the way a series is, without touching the library."""

from __future__ import annotations

from anivault.pipeline.match.resolve import GroupResolver
from anivault.pipeline.match.types import Candidate, MatchOptions, SeriesGroup
from anivault.title_key import normalize_title
from anivault.tmdb.port import TmdbPort


def lookup_title(
    port: TmdbPort,
    title: str,
    *,
    year: int | None = None,
    movie: bool = False,
    opts: MatchOptions | None = None,
) -> list[Candidate]:
    """The candidates a series with this title (and year) would get, best first, with score and reasons."""
    norm = normalize_title(title)
    if not norm:
        from anivault.errors import UsageError

        raise UsageError(f"'{title}' has no letters or digits to look up", hint="give the show's title")
    kind = "movie" if movie else "tv"
    group = SeriesGroup(
        key=f"{kind}:{norm}:{year or ''}", title_norm=norm, title=title.strip(), year=year, kind=kind, files=0,
        max_episode=None if movie else 1, seasons=(), has_special=False,
    )  # fmt: skip
    decision = GroupResolver(port, opts or MatchOptions()).resolve(group)
    return list(decision.candidates)
