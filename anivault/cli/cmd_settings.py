"""`anivault settings …`: read and change anivault.toml, and store the TMDB key encrypted under a PIN.

Where a value comes from, strongest first: a command-line flag, a `--profile`, an `ANIVAULT_*` environment
variable, anivault.toml, the default. `settings show` marks the source of each value.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

settings_app = typer.Typer(
    name="settings",
    help="""Show and change settings (anivault.toml) and store the TMDB key.

Example:  anivault settings set tmdb.language ja-JP && anivault settings show
""",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(settings_app)


def _load(profile: str | None = None) -> Any:
    from anivault.cli.common import STATE
    from anivault.config import load_settings

    return load_settings(STATE.overrides, profile=profile)


def _display(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def key_status() -> dict[str, Any]:
    """Where the TMDB key would come from, without unlocking it (and never the key itself)."""
    import os

    from anivault import secrets_store as ss

    if os.environ.get(ss.KEY_ENV, "").strip():
        return {"source": "env", "variable": ss.KEY_ENV}
    info = ss.inspect_secret_file()
    if not info.exists:
        return {"source": "none", "file": str(info.path)}
    out: dict[str, Any] = {"source": "store", "file": str(info.path), "kdf": info.kdf}
    if info.params:
        out["params"] = {"n": info.params.n, "r": info.params.r, "p": info.params.p}
    if info.mode is not None:
        out["mode"] = f"{info.mode:o}"
    return out


@settings_app.command("show")
def show(
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Show the values with this profile applied.")
    ] = None,
) -> None:
    """Every setting with its value and where it came from (default, toml, env, profile, flag).

    Example:  anivault settings show --json
    """
    from anivault.cli.common import emit_json, out_console
    from anivault.config import env_name, parse_profile

    cfg = _load(profile)
    rows = [(key, value, source, env_name(key)) for key, value, source in cfg.items()]
    profiles = {name: parse_profile(name, body) for name, body in sorted(cfg.profiles.items())}
    key = key_status()
    if json_out:
        emit_json(
            {
                "config_file": str(cfg.config_file),
                "settings": {k: {"value": v, "source": s, "env": e} for k, v, s, e in rows},
                "profiles": {
                    name: {"sources": list(p.sources), "dest": p.dest, "overrides": dict(p.overrides)}
                    for name, p in profiles.items()
                },
                "tmdb_key": key,
            }
        )
        return
    console = out_console()
    console.print(f"# {cfg.config_file}", markup=False)
    width = min(48, max(len(f"{k} = {_display(v)}") for k, v, _s, _e in rows))
    for k, v, s, e in rows:
        where = f"env {e}" if s == "env" else s
        console.print(f"{f'{k} = {_display(v)}':<{width}}  # {where}", markup=False, overflow="ignore")
    for name, p in profiles.items():
        overrides = ", ".join(f"{k}={_display(v)}" for k, v in p.overrides) or "-"
        console.print(
            f"profile {name}: sources {', '.join(p.sources) or '-'}; dest {p.dest or '-'}; {overrides}",
            markup=False,
        )
    where = {
        "env": f"from {key.get('variable')}",
        "store": f"stored encrypted in {key.get('file')}",
        "none": "not set (anivault settings set-key)",
    }[key["source"]]
    console.print(f"TMDB key: {where}", markup=False)


@settings_app.command("get")
def get(
    key: Annotated[str, typer.Argument(help="A setting such as tmdb.language.", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print value and source as JSON.")] = False,
) -> None:
    """Print one setting's value.

    Example:  anivault settings get tmdb.rate
    """
    from anivault.cli.common import emit_json

    cfg = _load()
    value = cfg.get(key)
    if json_out:
        emit_json({"key": key, "value": value, "source": cfg.sources.get(key, "default")})
        return
    sys.stdout.write(
        (json.dumps(value, ensure_ascii=False) if isinstance(value, list) else _display(value)) + "\n"
    )


@settings_app.command("set")
def set_(
    key: Annotated[
        str, typer.Argument(help="A setting, or profiles.NAME.sources|dest|SECTION.KEY.", show_default=False)
    ],
    value: Annotated[str, typer.Argument(help="The new value (lists: comma-separated).", show_default=False)],
) -> None:
    """Check a value and write it to anivault.toml (atomically; the old file is replaced whole).

    Example:  anivault settings set organize.action hardlink
    Example:  anivault settings set profiles.nas.sources "/mnt/nas/in, /mnt/nas/seed"
    """
    from anivault.cli.common import say
    from anivault.config import set_value

    result = set_value(key, value)
    say(
        f"{key} = {_display(result.value)} (was {_display(result.previous) if result.previous is not None else 'unset'}) in {result.path}"
    )
    _notes(result)


@settings_app.command("unset")
def unset(
    key: Annotated[str, typer.Argument(help="The setting to remove from anivault.toml.", show_default=False)],
) -> None:
    """Remove a setting from anivault.toml so its default applies again.

    Example:  anivault settings unset tmdb.rate
    """
    from anivault.cli.common import say
    from anivault.config import set_value

    result = set_value(key, None, unset=True)
    say(
        f"{key} removed from {result.path}"
        if result.previous is not None
        else f"{key} was not set in {result.path}"
    )
    _notes(result)


def _notes(result: Any) -> None:
    from anivault.cli.common import say

    if result.overridden_by:
        say(f"note: {result.overridden_by} is set in the environment and still wins over the file")
    if result.backup:
        say(f"note: anivault.toml had comments, which cannot be kept; the old file is at {result.backup}")


@settings_app.command("path")
def path() -> None:
    """Print where anivault.toml lives (it may not exist yet).

    Example:  $EDITOR "$(anivault settings path)"
    """
    from anivault.paths import app_paths

    sys.stdout.write(f"{app_paths().config_file}\n")


def prompt_pin(*, confirm: bool = False) -> str:
    """The PIN from ANIVAULT_PIN, else a hidden prompt on the terminal (never an argument)."""
    from anivault import secrets_store as ss

    pin = ss.pin_from_env()
    if pin is not None:
        return pin
    if not sys.stdin.isatty():
        raise ss.PinUnavailableError()
    text = typer.prompt(
        "PIN", hide_input=True, confirmation_prompt="Repeat the PIN" if confirm else False, err=True
    )
    return str(text)


@settings_app.command("set-key")
def set_key(
    from_stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the key from the first line of stdin instead of prompting.")
    ] = False,
) -> None:
    """Store the TMDB key (a v3 API key or a v4 read access token) encrypted under a PIN.

    The key and the PIN are asked for with hidden prompts; they are never command-line arguments (other users
    can read those). For scripts: the key on stdin with --stdin, the PIN in ANIVAULT_PIN.
    ANIVAULT_TMDB_KEY, when set, is used instead of the stored key.

    Example:  anivault settings set-key
    Example:  printf '%s\\n' "$KEY" | ANIVAULT_PIN=… anivault settings set-key --stdin
    """
    from anivault import secrets_store as ss
    from anivault.cli.common import say
    from anivault.errors import UsageError

    if from_stdin:
        key = sys.stdin.readline().strip()
    elif sys.stdin.isatty():
        key = str(typer.prompt("TMDB key (v3 API key or v4 read access token)", hide_input=True, err=True))
    else:
        raise UsageError("no terminal to ask for the key", hint="pipe it in with --stdin")
    key = ss.validate_api_key(key)
    pin = prompt_pin(confirm=True)
    location = ss.store_api_key(key, pin)
    kind = "v4 read access token" if ss.api_key_kind(key) == "v4" else "v3 API key"
    say(f"stored the TMDB {kind} encrypted in {location}")
    import os

    if os.environ.get(ss.KEY_ENV):
        say(f"note: {ss.KEY_ENV} is set and is used instead of the stored key while it is")


@settings_app.command("delete-key")
def delete_key() -> None:
    """Delete the stored TMDB key file.

    Example:  anivault settings delete-key
    """
    from anivault import secrets_store as ss
    from anivault.cli.common import say

    path = ss.default_secret_path()
    say(f"deleted {path}" if ss.delete_api_key(path) else f"no key stored at {path}")
