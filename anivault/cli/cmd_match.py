"""`anivault match`: find every indexed show and movie on TMDB (one lookup per series, cached)."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("match")(match)


def match(
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ignore cached TMDB answers and decide every series again.")
    ] = False,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Use only the cache; series it cannot answer wait for a later run."),
    ] = False,
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="TMDB requests per second (default: settings, 35).", min=0.1),
    ] = None,
    set_: Annotated[
        tuple[str, int] | None,
        typer.Option(
            "--set",
            metavar="TITLE ID",
            help="Always match TITLE (as parsed from file names) to TMDB id ID; survives every re-run.",
        ),
    ] = None,
    season_offset: Annotated[
        int, typer.Option("--season-offset", help="With --set: add N to the files' season numbers.")
    ] = 0,
    movie: Annotated[
        bool, typer.Option("--movie", help="With --set: ID is a movie (default: a TV show).")
    ] = False,
    episode_titles: Annotated[
        bool,
        typer.Option(
            "--episode-titles",
            help="Also look up the episode names of matched seasons, for {episode_title} in a template"
            " (automatic when organize.series_template or organize.template in settings uses it).",
        ),
    ] = False,
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            metavar="TITLE",
            help="Look TITLE up on TMDB as matching would and print the candidates with score and reasons;"
            " the library is not read or changed.",
        ),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", help="With --query: the year the title first aired.", min=1870)
    ] = None,
    language: Annotated[
        str | None,
        typer.Option("--language", help="With --query: the language of the names shown (e.g. ko-KR)."),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the run summary (with --query: the candidates) as JSON.")
    ] = False,
) -> None:
    """Match indexed files to TMDB shows and movies, with season and episode.

    TMDB is asked once per series (title + year + kind), politely (rate limit, at most 4 requests in
    flight, Retry-After honoured), and every answer is cached, so a second run sends no requests. Doubtful
    series wait for `anivault review`; series TMDB could not answer now are retried by the next run.

    Example:  anivault match && anivault ls --unmatched
              anivault match --set "frieren" 209867
              anivault match --episode-titles
              anivault match --query "Sousou no Frieren" --language ko-KR
              anivault match --query "Ghost in the Shell" --year 1995 --movie --json
    """
    from anivault.cli.common import emit_json, open_library, progress_bar, say, settings
    from anivault.errors import UsageError
    from anivault.pipeline.match import match_library, set_override

    if refresh and offline:
        raise UsageError("--refresh and --offline contradict each other", hint="use one of them")
    if query is not None:
        if set_ is not None or refresh or offline or episode_titles or season_offset:
            raise UsageError(
                "--query only looks a title up; it goes with --year, --language, --movie and --json",
                hint='anivault match --query "TITLE"',
            )
        from anivault.config import LANGUAGE_TAG

        if language is not None and not LANGUAGE_TAG.fullmatch(language):
            raise UsageError(
                f"--language must be a TMDB language such as en-US, ko-KR or ja-JP, got {language!r}",
                hint='anivault match --query "TITLE" --language ko-KR',
            )
        _query(query, year, language, movie, json_out, rate)
        return
    if year is not None or language is not None:
        raise UsageError("--year and --language only go with --query TITLE", hint="add --query")
    if set_ is None and (season_offset or movie):
        raise UsageError(
            "--season-offset and --movie only go with --set TITLE ID or --query", hint="add --set"
        )
    cfg = settings({"tmdb.rate": rate})
    only: str | None = None
    with open_library() as db:
        if set_ is not None:
            title, tmdb_id = set_
            if tmdb_id <= 0:
                raise UsageError(f"{tmdb_id} is not a TMDB id", hint="TMDB ids are positive whole numbers")
            with db.write() as s:
                only = set_override(
                    s, title, tmdb_id, "movie" if movie else "tv", season_offset=season_offset
                )
            say(f"override saved: '{only}' → TMDB {'movie' if movie else 'tv'} {tmdb_id}")
            if not offline:
                offline = not _have_key(cfg)
        with progress_bar("matching") as bar:

            def progress(done: int, total: int) -> None:
                if bar is not None:
                    bar.update(bar.task_ids[0], completed=done, total=total)

            report = match_library(
                db,
                cfg,
                refresh=refresh,
                offline=offline,
                rate=rate,
                only_title_norm=only,
                progress=progress,
                episode_titles=episode_titles,
            )
    if json_out:
        emit_json(report.to_dict())
    else:
        say(
            f"{report.keys} series, {report.files} files in {report.seconds:.1f}s: {report.matched} matched"
            f" ({report.overridden} by override), {report.review} to review, {report.unmatched} unmatched,"
            f" {report.deferred} deferred; {report.http_requests} TMDB requests,"
            f" cache {report.cache_hits} hits / {report.cache_misses} misses"
        )
        if report.title_seasons or report.title_seasons_deferred:
            later = (
                f", {report.title_seasons_deferred} to retry later" if report.title_seasons_deferred else ""
            )
            say(f"episode names looked up for {report.title_seasons} season(s){later}")
        if report.review:
            say("next: `anivault review` to decide the doubtful series")
    if report.deferred and not offline:
        raise deferred_error(report.deferred, report.deferred_keys)


def _query(
    title: str, year: int | None, language: str | None, movie: bool, json_out: bool, rate: float | None
) -> None:
    from anivault.cli.common import emit_json, emit_table, say, settings
    from anivault.pipeline.match import lookup_title, options_from_settings
    from anivault.tmdb.cached import CachedTmdb, ttl_from_settings
    from anivault.tmdb.client import client_from_settings

    cfg = settings({"tmdb.language": language, "tmdb.rate": rate})
    http = client_from_settings(cfg, rate)
    port = CachedTmdb(None, http, language=cfg.tmdb.language, ttl=ttl_from_settings(cfg))
    try:
        found = lookup_title(port, title, year=year, movie=movie, opts=options_from_settings(cfg))
    finally:
        http.close()
    if json_out:
        emit_json([c.to_json() for c in found])
        return
    if not found:
        say(f"TMDB has nothing for '{title}'" + (f" ({year})" if year else ""))
        return
    rows = [
        (
            i,
            f"{c.media_type} {c.tmdb_id}",
            c.name,
            c.year or "",
            f"{c.score:.2f}",
            ", ".join(f"{k} {v}" for k, v in c.reasons.items() if k != "matched_title"),
        )
        for i, c in enumerate(found, 1)
    ]
    emit_table(["#", "TMDB", "name", "year", "score", "reasons"], rows)


def _have_key(cfg: object) -> bool:
    from anivault.errors import AniVaultError
    from anivault.tmdb.client import resolve_api_key

    try:
        resolve_api_key(cfg)  # type: ignore[arg-type]
    except AniVaultError:
        return False
    return True


def deferred_error(count: int, keys: list[str]) -> Exception:
    """Some series could not be looked up: a non-zero exit that says what was saved and what to do."""
    from anivault.errors import TmdbError

    sample = ", ".join(k.split(":", 1)[-1].rstrip(":") for k in keys[:3])
    return TmdbError(
        f"{count} {'file was' if count == 1 else 'files were'} not matched because TMDB could not answer now"
        f"{f' (e.g. {sample})' if sample else ''}; everything else is saved",
        hint="run `anivault match` again later; `anivault ls --unmatched` shows what is waiting",
    )
