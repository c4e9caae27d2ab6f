"""The Run wizard: ask sources, destination, language, rate, action and template; then index → match →
plan (a dry run, shown) → apply only after an explicit yes. Each stage is the library function the
commands call (`run_index`, `match_library`, `organize.service`); the wizard only asks and shows.

`b` at a question goes back one question (at the first, back to the home screen). Wrong answers are asked
again with the reason: a folder that does not exist, a destination inside a source, an unknown language,
a rate out of range, a template that does not parse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anivault.cli.tui.term import Back, MenuItem, Terminal, cut, esc, short_path

if TYPE_CHECKING:
    from anivault.config import Settings
    from anivault.db.engine import Database
    from anivault.organize.service import OrganizePlan

# Rows around the plan: its title, up to three notes, the counts, the menu (title, 3 items, back) and the
# prompt. The plan gets what is left of the screen's height.
PLAN_CHROME_ROWS = 11
TEMPLATES = ("plex", "jellyfin", "kodi", "custom")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")


@dataclass(slots=True)
class RunAnswers:
    sources: list[str] = field(default_factory=list)
    dest: str = ""
    language: str = "en-US"
    rate: float = 35.0
    action: str = "move"
    template: str = "plex"
    conflict: str = "skip"

    def overrides(self) -> dict[str, Any]:
        return {"tmdb.language": self.language, "tmdb.rate": self.rate}


def defaults(cfg: Settings, sources: tuple[str, ...] = ()) -> RunAnswers:
    return RunAnswers(
        sources=list(sources),
        dest=cfg.organize.dest,
        language=cfg.tmdb.language,
        rate=float(cfg.tmdb.rate),
        action=cfg.organize.action,
        template=cfg.organize.template or "plex",
        conflict=cfg.organize.conflict,
    )


# The answers of the last wizard in this session: running it again (after a Ctrl-C, after a review) offers
# them as the defaults instead of asking everything from scratch.
_last: list[RunAnswers] = []


def screen(term: Terminal) -> None:
    from anivault.cli.tui.settings import fresh_settings

    wizard(term, _last[-1] if _last else defaults(fresh_settings()))


def wizard(term: Terminal, start: RunAnswers, *, profile: str | None = None) -> None:
    """Ask (with ``start`` as defaults), confirm, run. ``profile`` names the profile the defaults came from."""
    answers = ask_all(term, start)
    _last[:] = [answers]
    while True:
        term.title("Ready", clear=True)
        summarise(term, answers)
        if term.confirm("Index, match and plan now (a dry run: nothing is moved yet)?", default=True):
            break
        answers = ask_all(term, answers, first=len(STEPS) - 1)  # no: back to the last question
        _last[:] = [answers]
    run(term, answers, profile=profile)


# --------------------------------------------------------------------------------------------- questions


def check_source(answer: str) -> str | None:
    from anivault.errors import UsageError
    from anivault.pipeline.index import normalise_roots

    try:
        normalise_roots([Path(answer)])
    except UsageError as exc:
        return exc.message
    return None


def source_path(answer: str) -> str:
    """A source folder as `index` records its root (absolute, not resolved), so the plan finds its files."""
    from anivault.pipeline.index import normalise_roots

    return normalise_roots([Path(answer)])[0]


def check_dest(answer: str, sources: list[str]) -> str | None:
    from anivault.errors import UsageError
    from anivault.organize.plan import check_dest as library_check

    try:
        library_check(answer, sources)
    except UsageError as exc:
        return exc.message.replace("--dest ", "", 1)
    return None


def check_language(answer: str) -> str | None:
    return (
        None
        if _LANGUAGE.match(answer)
        else f"'{answer}' is not a language code such as en-US, ja-JP or ko-KR"
    )


def check_rate(answer: str) -> str | None:
    from anivault.config import check_value
    from anivault.errors import ConfigError

    try:
        check_value("tmdb.rate", answer)
    except ConfigError as exc:
        return exc.message
    return None


def check_template(answer: str) -> str | None:
    from anivault.errors import AniVaultError
    from anivault.naming.template import DEFAULT_MOVIE_TEMPLATE, DEFAULT_SERIES_TEMPLATE, resolve_templates

    try:
        resolve_templates(answer, DEFAULT_SERIES_TEMPLATE, DEFAULT_MOVIE_TEMPLATE)
    except AniVaultError as exc:
        return exc.message
    return None


def ask_sources(term: Terminal, a: RunAnswers) -> RunAnswers:
    term.title("Run wizard 1/6: source folders", clear=True)
    if a.sources:
        for s in a.sources:
            term.text(f"  {s}")
        if term.confirm("Use these source folders?", default=True):
            problems = [p for p in map(check_source, a.sources) if p]
            if not problems:
                return replace(a, sources=[source_path(s) for s in a.sources])
            for p in problems:
                term.error(p)
    term.text("The folders that hold your videos, one per line; Enter on an empty line when done.")
    sources: list[str] = []
    while True:
        n = len(sources) + 1

        def check(answer: str) -> str | None:
            problem = check_source(answer)
            if problem is None and source_path(answer) in sources:
                return f"{answer} is already in the list"
            return problem

        answer = term.ask(
            f"Source folder {n}" + (" (Enter: done)" if sources else ""),
            check=check,
            allow_empty=bool(sources),
        )
        if not answer:
            return replace(a, sources=sources)
        sources.append(source_path(answer))


def ask_dest(term: Terminal, a: RunAnswers) -> RunAnswers:
    term.title("Run wizard 2/6: destination", clear=True)
    term.text("The library folder to organize into (created if missing; not inside a source).")
    dest = term.ask("Destination", default=a.dest or None, check=lambda d: check_dest(d, a.sources))
    return replace(a, dest=os.path.realpath(os.path.expanduser(dest)))


def ask_language(term: Terminal, a: RunAnswers) -> RunAnswers:
    term.title("Run wizard 3/6: language", clear=True)
    term.text("Titles come from TMDB in this language (en-US, ja-JP, ko-KR, …).")
    return replace(a, language=term.ask("Language", default=a.language, check=check_language))


def ask_rate(term: Terminal, a: RunAnswers) -> RunAnswers:
    term.title("Run wizard 4/6: request rate", clear=True)
    term.text("TMDB requests per second (TMDB allows about 40; lower it on a shared connection).")
    rate = term.ask("Rate", default=f"{a.rate:g}", check=check_rate)
    return replace(a, rate=float(rate))


def ask_action(term: Terminal, a: RunAnswers) -> RunAnswers:
    from anivault.organize.plan import ACTIONS

    term.title("Run wizard 5/6: action", clear=True)
    term.text("move: files leave the source · copy: both stay · hardlink: same file, two names (one disk)")
    term.text("symlink: the library points at the source")
    return replace(a, action=term.choose("Action", ACTIONS, default=a.action))


def ask_template(term: Terminal, a: RunAnswers) -> RunAnswers:
    from anivault.naming.template import PRESETS

    term.title("Run wizard 6/6: naming template", clear=True)
    term.text("How a file lands in the library, for example:")
    for name in PRESETS:
        term.text(f"  {name:9} {example(name)}")
    preset = a.template if a.template in PRESETS else "custom"
    choice = term.choose("Template", TEMPLATES, default=preset)
    if choice != "custom":
        return replace(a, template=choice)
    term.text("Fields: {title} {year} {tmdb_id} {season:02} {episode:02} {ext} {group} {resolution} …")
    custom = term.ask(
        "Series template", default=a.template if preset == "custom" else None, check=check_template
    )
    term.text(f"  for example: {example(custom)}")
    return replace(a, template=custom)


def example(spec: str) -> str:
    """Where episode 1 of Frieren would go under template ``spec`` (a preset name or a template)."""
    from anivault.naming.template import (
        DEFAULT_MOVIE_TEMPLATE,
        DEFAULT_SERIES_TEMPLATE,
        EpisodeNumber,
        resolve_templates,
    )

    series, _movie = resolve_templates(spec, DEFAULT_SERIES_TEMPLATE, DEFAULT_MOVIE_TEMPLATE)
    values: dict[str, object] = {
        "title": "Frieren",
        "original_title": "葬送のフリーレン",
        "year": 2023,
        "tmdb_id": 209867,
        "season": 1,
        "episode": EpisodeNumber(1, None),
        "episode_end": None,
        "absolute": 1,
        "episode_title": "The Journey's End",
        "group": "SubsPlease",
        "resolution": "1080p",
        "ext": "mkv",
    }
    return "/".join(series.render(values))


STEPS: tuple[Callable[[Terminal, RunAnswers], RunAnswers], ...] = (
    ask_sources,
    ask_dest,
    ask_language,
    ask_rate,
    ask_action,
    ask_template,
)


def ask_all(term: Terminal, start: RunAnswers, *, first: int = 0) -> RunAnswers:
    """Walk the questions from ``first``; `b` steps back one question, and out of the wizard from the
    first question."""
    state, i = start, first
    while i < len(STEPS):
        try:
            state = STEPS[i](term, state)
            i += 1
        except Back:
            if i == 0:
                raise
            i -= 1  # the answers so far stay as the defaults
    return state


def summarise(term: Terminal, a: RunAnswers) -> None:
    width = max(20, term.console.width - 16)
    rows = [
        ("sources", "; ".join(a.sources)),
        ("destination", a.dest),
        ("language", a.language),
        ("rate", f"{a.rate:g} requests/s"),
        ("action", a.action),
        ("template", a.template),
        ("conflicts", f"{a.conflict} (Settings → organize)"),
    ]
    for name, value in rows:
        term.text(f"  {name:12} {short_path(value, width)}")


# --------------------------------------------------------------------------------------------- running


def run(term: Terminal, a: RunAnswers, *, profile: str | None = None) -> None:
    from anivault.cli.common import open_library
    from anivault.cli.tui.settings import fresh_settings

    cfg = fresh_settings(a.overrides())
    with open_library() as db:
        index_step(term, db, cfg, a)
        match_step(term, db, cfg, a)
        plan = plan_step(term, db, cfg, a)
        decide(term, db, cfg, a, plan, profile=profile)


def index_step(term: Terminal, db: Database, cfg: Settings, a: RunAnswers) -> None:
    from anivault.pipeline.index import IndexOptions, run_index

    term.title("Index")
    opts = IndexOptions.from_settings(cfg, [Path(s) for s in a.sources])
    with term.progress("indexing") as update:
        report = run_index(
            db, opts, lambda seen, parsed: update(completed=seen, description=f"indexing ({parsed} parsed)")
        )
    term.ok(
        f"{report.seen} files seen: {report.new} new, {report.changed} changed, {report.moved} moved, "
        f"{report.missing} missing, {report.errors} unreadable"
    )
    for sample in report.error_samples[:3]:
        term.text(f"  cannot read: {sample}")


def ask_pin(term: Terminal) -> str:
    """ANIVAULT_PIN when it is set, else a hidden question."""
    from anivault import secrets_store as ss

    return ss.pin_from_env() or term.ask("PIN for the stored TMDB key (hidden)", secret=True)


def unlock_key(term: Terminal, cfg: Settings) -> bool:
    """Make sure the TMDB key is at hand (asking the PIN here, not in a bare getpass). False: no key."""
    from anivault import secrets_store as ss

    for attempt in range(3):
        try:
            key = ss.load_api_key(cfg, pin_provider=lambda: ask_pin(term))
        except ss.WrongPinError as exc:
            term.show_error(exc)
            if attempt == 2:
                raise
            continue
        return key is not None
    return False  # pragma: no cover - the loop returns or raises


def match_step(term: Terminal, db: Database, cfg: Settings, a: RunAnswers) -> None:
    from anivault.pipeline.match import match_library

    term.title("Match")
    offline = not unlock_key(term, cfg)
    if offline:
        term.error(
            "no TMDB key: matching from the cache only",
            "store one in Settings → TMDB key, or set ANIVAULT_TMDB_KEY",
        )
    with term.progress("matching") as update:
        report = match_library(
            db,
            cfg,
            offline=offline,
            rate=a.rate,
            progress=lambda done, total: update(completed=done, total=total),
        )
    term.ok(
        f"{report.keys} titles: {report.matched} files matched, {report.review} wait for review, "
        f"{report.unmatched} unmatched, {report.deferred} deferred"
    )
    if report.review:
        term.text("  doubtful titles: home → Review matches")


def plan_for_sources(db: Database, a: RunAnswers) -> OrganizePlan:
    """The dry-run plan for the matched videos under this run's sources (the library may hold others)."""
    from anivault.organize import service
    from anivault.organize.source import library_roots, plan_inputs

    roots = [s.rstrip(os.sep) + os.sep for s in a.sources]
    with db.read() as session:
        inputs = [i for i in plan_inputs(session) if any(i.path.startswith(r) for r in roots)]
        indexed = library_roots(session)
    return service.plan_from_inputs(
        inputs, a.dest, action=a.action, conflict=a.conflict, template=a.template, library_roots=indexed
    )


def plan_step(term: Terminal, db: Database, cfg: Settings, a: RunAnswers) -> OrganizePlan:
    plan = plan_for_sources(db, a)
    show_plan(term, plan)
    return plan


def show_plan(term: Terminal, plan: OrganizePlan, *, full: bool = False) -> None:
    """The plan as the folder tree it makes. Unless ``full``, it must leave room on the screen for the
    counts and the menu under it (24 rows: 13 for the plan): a plan that does not fit is summed up per
    top folder (show or movie) instead, and `l` lists every file."""
    term.title("Plan (dry run: nothing has changed)")
    width = term.console.width
    todo = plan.todo
    rows = max(6, term.console.height - PLAN_CHROME_ROWS)
    tree_rows = 1 + len({os.path.dirname(os.path.relpath(m.dst, plan.dest)) for m in todo}) + len(todo)
    if full or tree_rows <= rows:
        _plan_tree(term, plan)
    else:
        _plan_summary(term, plan, rows)
    others = [m for m in plan.moves if m.status not in ("todo", "noop")]
    for m in others if full else others[:2]:
        term.text(cut(f"  {m.status} ({m.note}): {os.path.basename(m.src)}", width))
    if len(others) > 2 and not full:
        term.text(f"  … and {len(others) - 2} more not moved (l lists them)")
    counts = plan.counts()
    term.text(
        f"{counts.get('todo', 0)} to {plan.action}, {counts.get('noop', 0)} already in place, "
        f"{counts.get('identical', 0)} identical, {counts.get('skip', 0)} skipped, {counts.get('stale', 0)} stale"
    )


def _plan_tree(term: Terminal, plan: OrganizePlan) -> None:
    from rich.cells import cell_len
    from rich.tree import Tree

    width = term.console.width
    tree = Tree(esc(cut(plan.dest, width)))
    nodes: dict[str, Tree] = {}
    for m in plan.todo:
        rel = os.path.relpath(m.dst, plan.dest).split(os.sep)
        parent, key = tree, ""
        for depth, part in enumerate(rel[:-1], 1):
            key = os.path.join(key, part)
            if key not in nodes:
                nodes[key] = parent.add(esc(cut(part, width - 4 * depth)))
            parent = nodes[key]
        # the source name only where it fits on the line: the tree's guides take 4 cells a level
        name = cut(rel[-1], width - 4 * len(rel))
        room = width - 4 * len(rel) - cell_len(name) - 3
        origin = f" [dim]← {esc(cut(os.path.basename(m.src), room))}[/dim]" if room >= 12 else ""
        parent.add(f"{esc(name)}{origin}")
    term.print(tree)


def _plan_summary(term: Terminal, plan: OrganizePlan, rows: int) -> None:
    """One line per top folder with how many files go there, biggest first."""
    from rich.cells import cell_len

    per_folder: dict[str, int] = {}
    for m in plan.todo:
        top = os.path.relpath(m.dst, plan.dest).split(os.sep)[0]
        per_folder[top] = per_folder.get(top, 0) + 1
    ranked = sorted(per_folder.items(), key=lambda kv: (-kv[1], kv[0]))
    width = term.console.width
    term.text(cut(f"{plan.dest}: {len(plan.todo)} files into {len(ranked)} folders", width))
    shown = ranked if len(ranked) <= rows - 1 else ranked[: rows - 2]
    for folder, n in shown:
        count = f"{n:>5} "
        term.text(count + cut(folder, width - cell_len(count)))
    if len(shown) < len(ranked):
        rest = sum(n for _f, n in ranked[len(shown) :])
        term.text(f"  … and {len(ranked) - len(shown)} more folders ({rest} files); l lists every file")


def decide(
    term: Terminal, db: Database, cfg: Settings, a: RunAnswers, plan: OrganizePlan, *, profile: str | None
) -> None:
    """Apply (after an explicit yes), list everything, save the answers as a profile, or go back."""
    while True:
        items = []
        if plan.todo:
            items.append(MenuItem("a", f"Apply: {plan.action} {len(plan.todo)} files", "asks once more"))
            items.append(MenuItem("l", "List every file in the plan"))
        items.append(MenuItem("s", "Save these answers as a profile", f"now: {profile}" if profile else ""))
        choice = term.menu("What now?", items, back="Back to the home screen (nothing changes)")
        if choice == "l":
            show_plan(term, plan, full=True)
        elif choice == "s":
            save_profile(term, a, profile)
        elif choice == "a":
            if not term.confirm(
                f"{plan.action.capitalize()} {len(plan.todo)} files into {plan.dest}? (undo: History & rollback)"
            ):
                term.text("Nothing changed.")
                continue
            apply(term, db, cfg, plan)
            term.pause()
            return


def apply(term: Terminal, db: Database, cfg: Settings, plan: OrganizePlan) -> None:
    from anivault.cli.tui.history import report
    from anivault.organize import service

    term.title("Apply")
    with term.progress("organizing", len(plan.todo)) as update:
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            update(completed=done)

        summary = service.apply_plan(db, plan, verify=cfg.organize.verify, progress=advance)
    report(term, summary)
    if summary.op_id:
        term.text(f"Undo it any time: History & rollback → run {summary.op_id}.")


_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def check_profile_name(answer: str) -> str | None:
    return None if _PROFILE_NAME.match(answer) else "a profile name is letters, digits, - and _ (at most 40)"


def save_profile(term: Terminal, a: RunAnswers, current: str | None) -> str:
    """Write sources, destination and the asked settings as [profiles.NAME] in anivault.toml."""
    from anivault.config import set_value

    name = term.ask("Profile name", default=current, check=check_profile_name)
    set_value(f"profiles.{name}.sources", list(a.sources))
    set_value(f"profiles.{name}.dest", a.dest)
    for key, value in (
        ("tmdb.language", a.language),
        ("tmdb.rate", a.rate),
        ("organize.action", a.action),
        ("organize.template", a.template),
    ):
        result = set_value(f"profiles.{name}.{key}", value)
    term.ok(f"saved profile {name} in {result.path}")
    return name
