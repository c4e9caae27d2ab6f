"""Profiles: the `[profiles.NAME]` tables of anivault.toml (sources, destination, setting overrides).
Run the wizard with one's answers as the defaults, create one, or delete one."""

from __future__ import annotations

from anivault.cli.tui.term import Back, MenuItem, Terminal


def screen(term: Terminal) -> None:
    from anivault.cli.tui.settings import fresh_settings

    while True:
        cfg = fresh_settings()
        names = sorted(cfg.profiles)
        term.title("Profiles")
        if not names:
            term.text("No profiles yet. The Run wizard can save its answers as one (or create one here).")
        for n, name in enumerate(names, 1):
            p = cfg.profile(name)
            term.text(f"  {n}  {name}: {len(p.sources)} sources → {p.dest or '(no destination)'}")
        items = [MenuItem("r", "Run the wizard with a profile")] if names else []
        items.append(MenuItem("n", "New profile"))
        if names:
            items.append(MenuItem("d", "Delete a profile"))
        choice = term.menu("Profiles", items)
        try:
            if choice == "n":
                new_profile(term)
                continue
            name = _pick(term, names)
            if choice == "r":
                run_profile(term, name)
            elif choice == "d" and term.confirm(f"Delete profile {name} from anivault.toml?"):
                delete_profile(name)
                term.ok(f"deleted profile {name}")
        except Back:
            continue


def _pick(term: Terminal, names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    answer = term.ask(
        "Profile (number or name)",
        check=lambda a: (
            None if a in names or (a.isdigit() and 1 <= int(a) <= len(names)) else f"no profile {a}"
        ),
    )
    return names[int(answer) - 1] if answer.isdigit() and answer not in names else answer


def run_profile(term: Terminal, name: str) -> None:
    from anivault.cli.common import STATE
    from anivault.cli.tui.wizard import defaults, wizard
    from anivault.config import load_settings

    cfg = load_settings(STATE.overrides, profile=name)
    wizard(term, defaults(cfg, cfg.profile(name).sources), profile=name)


def new_profile(term: Terminal) -> None:
    from anivault.cli.tui.settings import fresh_settings
    from anivault.cli.tui.wizard import ask_dest, ask_sources, check_profile_name, defaults
    from anivault.config import set_value

    taken = set(fresh_settings().profiles)
    name = term.ask(
        "Name for the new profile",
        check=lambda a: check_profile_name(a) or (f"there is already a profile {a}" if a in taken else None),
    )
    answers = ask_dest(term, ask_sources(term, defaults(fresh_settings())))
    set_value(f"profiles.{name}.sources", list(answers.sources))
    result = set_value(f"profiles.{name}.dest", answers.dest)
    term.ok(f"saved profile {name} in {result.path}")


def delete_profile(name: str) -> None:
    """Remove every key of [profiles.NAME] through `set_value` (which drops the emptied tables)."""
    from anivault.cli.tui.settings import fresh_settings
    from anivault.config import SECTIONS, set_value

    table = fresh_settings().profiles.get(name, {})
    for key, value in list(table.items()):
        if key in SECTIONS and isinstance(value, dict):
            for sub in value:
                set_value(f"profiles.{name}.{key}.{sub}", None, unset=True)
        else:
            set_value(f"profiles.{name}.{key}", None, unset=True)
