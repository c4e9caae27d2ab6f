"""Settings: every key by section with its value and where it comes from; change one (checked, written to
anivault.toml atomically by `config.set_value`); store or delete the TMDB key under a PIN."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from anivault.cli.tui.term import Back, MenuItem, Terminal, esc, number_in

if TYPE_CHECKING:
    from anivault.config import Settings


def fresh_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Settings read again from the file (a screen may just have changed it), with the global flags."""
    from anivault.cli.common import STATE, settings

    STATE._settings = None
    return settings(overrides)


def display(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def screen(term: Terminal) -> None:
    from anivault.config import SECTIONS

    sections = list(SECTIONS)
    items = [MenuItem(str(n), name, _section_note(name)) for n, name in enumerate(sections, 1)]
    items += [
        MenuItem("k", "TMDB key", _key_note()),
        MenuItem("p", "Settings file", "where anivault.toml is"),
    ]
    while True:
        choice = term.menu("Settings", items)
        try:
            if choice == "k":
                key_screen(term)
            elif choice == "p":
                term.text(str(fresh_settings().config_file))
                term.pause()
            else:
                section_screen(term, sections[int(choice) - 1])
        except Back:
            continue
        items[-2] = MenuItem("k", "TMDB key", _key_note())


def _section_note(section: str) -> str:
    from anivault.config import SECTIONS

    return ", ".join(f.name for f in dataclasses.fields(SECTIONS[section]))


def section_screen(term: Terminal, section: str) -> None:
    from anivault.config import SECTIONS

    keys = [f"{section}.{f.name}" for f in dataclasses.fields(SECTIONS[section])]
    while True:
        cfg = fresh_settings()
        from rich.table import Table

        term.title(f"Settings: {section}")
        table = Table(header_style="bold", pad_edge=False, box=None)
        table.add_column("#", justify="right")
        table.add_column("setting", no_wrap=True)
        table.add_column("value", overflow="fold", max_width=36)
        table.add_column("from", no_wrap=True)
        for n, key in enumerate(keys, 1):
            table.add_row(str(n), key, esc(display(cfg.get(key))), cfg.sources.get(key, "default"))
        term.print(table)
        answer = term.ask(
            "Setting to change (number, b = back)",
            check=number_in(len(keys)),
        )
        try:
            change_setting(term, keys[int(answer) - 1], cfg)
        except Back:
            continue


def change_setting(term: Terminal, key: str, cfg: Settings) -> None:
    from anivault.config import check_value, set_value
    from anivault.errors import ConfigError

    def check(answer: str) -> str | None:
        if answer == "-":
            return None
        try:
            check_value(key, answer)
        except ConfigError as exc:
            return exc.message
        return None

    current = display(cfg.get(key))
    answer = term.ask(f"{key} (Enter keeps it, - restores the default)", default=current, check=check)
    if answer == current:
        term.text("Unchanged.")
        return
    result = set_value(key, None, unset=True) if answer == "-" else set_value(key, answer)
    if answer == "-":
        term.ok(f"{key} restored to its default in {result.path}")
    else:
        term.ok(f"{key} = {display(result.value)} in {result.path}")
    if result.overridden_by:
        term.error(f"{result.overridden_by} is set in the environment and still wins over the file")
    if result.backup:
        term.text(f"note: the old file (it had comments) is kept as {result.backup}")


def _key_note() -> str:
    from anivault.cli.cmd_settings import key_status

    status = key_status()
    return {
        "env": f"from {status.get('variable')}",
        "store": "stored encrypted under a PIN",
        "none": "not set yet",
    }[status["source"]]


def key_screen(term: Terminal) -> None:
    from anivault import secrets_store as ss

    term.title("TMDB key")
    term.text(f"Now: {_key_note()}.")
    items = [MenuItem("1", "Store a key (encrypted under a PIN)")]
    if ss.inspect_secret_file().exists:
        items.append(MenuItem("2", "Delete the stored key"))
    choice = term.menu("TMDB key", items)
    if choice == "1":
        store_key(term)
    elif choice == "2" and term.confirm(f"Delete {ss.default_secret_path()}?"):
        ss.delete_api_key()
        term.ok("deleted the stored key")


def store_key(term: Terminal) -> None:
    from anivault import secrets_store as ss
    from anivault.errors import AniVaultError

    def check_key(answer: str) -> str | None:
        try:
            ss.validate_api_key(answer)
        except AniVaultError as exc:
            return exc.message
        return None

    key = ss.validate_api_key(
        term.ask("TMDB key (v3 API key or v4 read access token; hidden)", check=check_key, secret=True)
    )
    pin = ss.pin_from_env()
    while pin is None:
        first = term.ask("New PIN (hidden)", secret=True)
        if term.ask("Repeat the PIN", secret=True) == first:
            pin = first
        else:
            term.error("the two PINs differ", "type the same PIN twice")
    where = ss.store_api_key(key, pin)
    kind = "v4 read access token" if ss.api_key_kind(key) == "v4" else "v3 API key"
    term.ok(f"stored the TMDB {kind} encrypted in {where}")
