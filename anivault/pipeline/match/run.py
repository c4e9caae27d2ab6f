"""`anivault match`: every pending series key looked up by workers, decisions written by this thread."""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy.orm import Session

from anivault.db.engine import Database
from anivault.errors import Interrupted, TmdbError
from anivault.pipeline.match.keys import pending_groups
from anivault.pipeline.match.overrides import find_override, load_overrides
from anivault.pipeline.match.resolve import GroupResolver
from anivault.pipeline.match.store import mark_untitled, write_decision
from anivault.pipeline.match.titles import fetch_episode_titles, missing_seasons
from anivault.pipeline.match.types import (
    REASON_DEFERRED,
    GroupDecision,
    MatchOptions,
    MatchReport,
    ProgressFn,
    SeriesGroup,
)
from anivault.pipeline.match.workers import DaemonPool
from anivault.tmdb.port import (
    TmdbAuthError,
    TmdbBadResponse,
    TmdbPort,
    TmdbUnavailable,
)


def run_match(
    db: Database,
    port: TmdbPort,
    opts: MatchOptions,
    *,
    flush: Callable[[Session], int] | None = None,
    requests_sent: Callable[[], int] | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressFn | None = None,
    on_decision: Callable[[GroupDecision], None] | None = None,
) -> MatchReport:
    """Match every pending series key. ``flush`` writes the cache's new rows inside the writer's transaction."""
    t0 = time.monotonic()
    report = MatchReport()
    with db.read() as s:
        groups = pending_groups(s, opts)
        rules = load_overrides(s)
    with db.write() as s:
        mark_untitled(s)
    report.keys = len(groups)
    resolver = GroupResolver(port, opts)
    stop = cancel or threading.Event()
    fatal: list[BaseException] = []

    def work(g: SeriesGroup) -> GroupDecision:
        if stop.is_set():
            raise TmdbUnavailable("stopped")
        before = requests_sent() if requests_sent else 0
        ov = find_override(rules, g)
        try:
            if ov is not None:
                d = resolver.pick(g, ov.tmdb_id, ov.media_type, "override", ov.season_offset)
            elif g.manual is not None:
                d = resolver.pick(g, *g.manual, "manual")  # a person's pick, decided again for its names
            else:
                d = resolver.resolve(g)
        except TmdbUnavailable as exc:
            d = GroupDecision(g, "deferred", "none", 0.0, f"{REASON_DEFERRED} ({exc.message})", None, ())
        except TmdbBadResponse as exc:
            d = GroupDecision(g, "deferred", "none", 0.0, f"deferred: {exc.message}", None, ())
        after = requests_sent() if requests_sent else 0
        # counts from a shared counter: with several workers this is approximate per key, exact in total
        return dataclasses.replace(d, requests=max(0, after - before))

    pending: list[GroupDecision] = []

    def write_batch() -> None:
        if not pending and flush is None:
            return
        with db.write() as s:
            for d in pending:
                _count(report, d, write_decision(s, d, opts.refresh))
            if flush is not None:
                flush(s)
        pending.clear()

    done = 0
    last_write = time.monotonic()
    pool = DaemonPool(max(1, opts.workers), "match")
    try:
        futures = {pool.submit(work, g): g for g in groups}
        for fut in cf.as_completed(futures):
            if fut.cancelled():
                continue  # cancelled after a 401: nothing was decided for it
            try:
                d = fut.result()
            except TmdbAuthError as exc:
                stop.set()
                fatal.append(exc)
                for f in futures:
                    f.cancel()
                continue
            except TmdbError:
                if stop.is_set():
                    continue
                raise
            pending.append(d)
            if on_decision is not None:
                on_decision(d)
            done += 1
            if progress is not None:
                progress(done, len(groups))
            if len(pending) >= opts.batch_groups or time.monotonic() - last_write > 2.0:
                write_batch()
                last_write = time.monotonic()
    except KeyboardInterrupt:
        stop.set()
        report.interrupted = True
        pool.shutdown(wait=False)
        write_batch()
        raise Interrupted(
            f"interrupted: {done} of {len(groups)} series decided and saved",
            hint="run `anivault match` again to continue",
        ) from None
    finally:
        # after Ctrl-C or a 401, do not wait for requests still on the wire (DaemonPool)
        pool.shutdown(wait=not stop.is_set())
    write_batch()
    report.http_requests = requests_sent() if requests_sent else 0
    report.seconds = round(time.monotonic() - t0, 3)
    if fatal:
        report.stopped_by = str(fatal[0])
        raise fatal[0]
    return report


def _count(report: MatchReport, d: GroupDecision, by_status: Counter[str]) -> None:
    """Count files by the status each got (a matched series can hold files whose placement waits)."""
    report.files += sum(by_status.values())
    report.matched += by_status["matched"]
    if d.method == "override":
        report.overridden += by_status["matched"]
    report.review += by_status["review"]
    report.unmatched += by_status["unmatched"]
    report.deferred += by_status["deferred"]
    if by_status["deferred"] and len(report.deferred_keys) < 50:
        report.deferred_keys.append(d.group.key)


def options_from_settings(settings: Any, **kw: Any) -> MatchOptions:
    m = settings.match
    opts = MatchOptions(
        auto_threshold=float(m.auto_threshold),
        review_threshold=float(m.review_threshold),
        workers=max(1, int(settings.tmdb.concurrency) * 2),
    )
    for name in ("ambiguity_margin", "max_details"):
        value = getattr(m, name, None)
        if value is not None:
            setattr(opts, name, type(getattr(opts, name))(value))
    for k, v in kw.items():
        setattr(opts, k, v)
    return opts


def match_library(
    db: Database,
    settings: Any,
    *,
    refresh: bool = False,
    offline: bool = False,
    rate: float | None = None,
    only_title_norm: str | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    episode_titles: bool = False,
) -> MatchReport:
    """What `anivault match` runs: the cached, polite TMDB port and :func:`run_match`, then (with
    ``episode_titles``, or when the settings' series template uses `{episode_title}`) the episode names of
    every matched season not cached yet.

    Holds the library's writer lock, so a match never interleaves with an index or organize run."""
    from anivault.db.engine import writer_lock
    from anivault.tmdb.cached import open_tmdb

    mode: Literal["normal", "refresh", "offline"] = (
        "offline" if offline else "refresh" if refresh else "normal"
    )
    from anivault.naming.template import names_episodes

    titles = episode_titles or names_episodes(settings.organize.template, settings.organize.series_template)
    opts = options_from_settings(
        settings, refresh=refresh, only_title_norm=only_title_norm, episode_names=titles
    )
    wait = float(getattr(settings.db, "lock_wait_seconds", 10.0))
    todo: list[tuple[int, int]] = []
    with writer_lock(db.path, wait_seconds=wait, purpose="match"):
        with db.read() as s:
            nothing = not pending_groups(s, opts)
        if nothing:
            # nothing to look up: no key needed, no client built (unless episode names are missing)
            report = run_match(db, _NoTmdb(), opts)
            todo = missing_seasons(db) if titles else []
            if not todo:
                return report
        port = open_tmdb(db, settings, mode=mode, rate=rate)
        http = port.http
        # one event stops the run and the HTTP session's waits (rate, gate, backoff): Ctrl-C is prompt
        ev = http.session.cancel if http is not None else threading.Event()
        if cancel is not None and cancel.is_set():
            ev.set()
        try:
            if not nothing:
                report = run_match(
                    db,
                    port,
                    opts,
                    flush=port.flush,
                    requests_sent=(lambda: http.requests_sent) if http is not None else None,
                    cancel=ev,
                    progress=progress,
                )
            if titles:
                if not nothing:  # the seasons this run matched too
                    todo = missing_seasons(db)
                fetch_episode_titles(db, port, todo, opts.workers, ev, report, progress)
                if http is not None:
                    report.http_requests = http.requests_sent
        finally:
            if http is not None:
                http.close()
    report.cache_hits = port.counters.hits
    report.cache_misses = port.counters.misses
    report.seconds_http = round(http.busy_seconds, 3) if http is not None else 0.0
    return report


class _NoTmdb:
    """A port for runs with nothing to look up."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TmdbUnavailable("no TMDB client in this run")

    search = details = season_details = episode_groups = episode_group = _refuse
