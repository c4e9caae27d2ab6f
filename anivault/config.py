"""Settings: `anivault.toml` in the config dir, overridden by `ANIVAULT_<SECTION>_<KEY>` env vars, overridden
by command-line flags. Precedence: flags > env > toml > defaults.

The schema is the dataclasses below: every key has a type and a default, so an unknown key or a wrong
type is a clear error that names the key. `Settings.sources` records where each value came from so
`anivault settings show` can say it.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anivault.errors import ConfigError
from anivault.paths import app_paths

DEFAULT_IGNORE = [
    # Junk that OSes and download tools leave in media folders.
    ".*",
    "$RECYCLE.BIN",
    "System Volume Information",
    "@eaDir",
    "#recycle",
    "lost+found",
    "*.part",
    "*.!qB",
    "*.crdownload",
]


@dataclass(slots=True)
class IndexSettings:
    workers: int = 0  # parse processes; 0 = one per CPU core
    batch_size: int = 500  # rows per writer transaction
    ignore: list[str] = field(default_factory=lambda: list(DEFAULT_IGNORE))
    include_hidden: bool = False
    follow_symlinks: bool = False


@dataclass(slots=True)
class TmdbSettings:
    base_url: str = "https://api.themoviedb.org/3"
    language: str = "en-US"
    rate: float = 35.0  # requests per second (TMDB's published ceiling is ~40/s)
    concurrency: int = 4  # requests in flight at once
    timeout: float = 10.0  # seconds per request (connect and read)
    retry_after_cap: float = 60.0  # longest Retry-After we honour before going cache-only
    search_ttl_hours: float = 72.0  # searches change as TMDB adds shows: keep them shorter
    details_ttl_hours: float = 720.0  # show details rarely change once a season has aired
    negative_ttl_hours: float = 24.0  # 404s and empty searches


@dataclass(slots=True)
class MatchSettings:
    auto_threshold: float = 0.80  # at or above: applied without asking
    review_threshold: float = 0.50  # below auto, at or above this: waits for `anivault review`


@dataclass(slots=True)
class OrganizeSettings:
    dest: str = ""
    action: str = "move"
    conflict: str = "skip"
    template: str = "plex"
    series_template: str = ""
    movie_template: str = ""
    verify: bool = False


@dataclass(slots=True)
class LoggingSettings:
    level: str = "INFO"
    max_bytes: int = 5_000_000
    backups: int = 5


@dataclass(slots=True)
class DbSettings:
    busy_timeout_ms: int = 30_000  # long enough that a second writer waits rather than fails
    allow_network: bool = False  # WAL on SMB/NFS can corrupt: refuse unless the user opts in
    backups_keep: int = 5


SECTIONS: dict[str, type[Any]] = {
    "index": IndexSettings,
    "tmdb": TmdbSettings,
    "match": MatchSettings,
    "organize": OrganizeSettings,
    "logging": LoggingSettings,
    "db": DbSettings,
}

# Env names that read better than the generic ANIVAULT_<SECTION>_<KEY> form.
ENV_ALIASES = {"ANIVAULT_TMDB_URL": "tmdb.base_url"}


@dataclass(slots=True)
class Settings:
    index: IndexSettings = field(default_factory=IndexSettings)
    tmdb: TmdbSettings = field(default_factory=TmdbSettings)
    match: MatchSettings = field(default_factory=MatchSettings)
    organize: OrganizeSettings = field(default_factory=OrganizeSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    db: DbSettings = field(default_factory=DbSettings)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # "section.key" -> default|toml|env|flag
    config_file: Path | None = None

    def get(self, dotted: str) -> Any:
        section, key = _split_key(dotted)
        return getattr(getattr(self, section), key)

    def set(self, dotted: str, value: Any, source: str) -> None:
        section, key = _split_key(dotted)
        setattr(getattr(self, section), key, _coerce(dotted, value, _field_type(section, key)))
        self.sources[dotted] = source

    def items(self) -> list[tuple[str, Any, str]]:
        out = []
        for section in SECTIONS:
            for f in dataclasses.fields(SECTIONS[section]):
                dotted = f"{section}.{f.name}"
                out.append((dotted, self.get(dotted), self.sources.get(dotted, "default")))
        return out


def all_keys() -> list[str]:
    return [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def _split_key(dotted: str) -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS or key not in {f.name for f in dataclasses.fields(SECTIONS[section])}:
        raise ConfigError(
            f"unknown setting '{dotted}'",
            hint="`anivault settings show` lists every setting",
        )
    return section, key


def _field_type(section: str, key: str) -> Any:
    return typing.get_type_hints(SECTIONS[section])[key]


def _coerce(dotted: str, value: Any, typ: Any) -> Any:
    """Check (from toml) or convert (from env and flags, which are strings) a value to the key's type."""
    bad = ConfigError(
        f"setting '{dotted}' must be {_type_name(typ)}, got {value!r}",
        hint="fix it in anivault.toml (`anivault settings path`) or the matching ANIVAULT_* variable",
    )
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        }:
            return value.strip().lower() in {"1", "true", "yes", "on"}
        raise bad
    if typ is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise bad from None
        raise bad
    if typ is float:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise bad from None
        raise bad
    if typ is str:
        if isinstance(value, str):
            return value
        raise bad
    if typing.get_origin(typ) is list:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise bad
    raise bad  # pragma: no cover - every schema type is handled above


def _type_name(typ: Any) -> str:
    if typing.get_origin(typ) is list:
        return "a list of strings"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "text"}.get(typ, str(typ))


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint="fix or delete the file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text", hint="save it as UTF-8") from None


def load_settings(
    cli_overrides: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Defaults, then the toml file, then ANIVAULT_* env vars, then flags (`{"tmdb.rate": 10}`)."""
    env = os.environ if environ is None else environ
    path = config_file or app_paths().config_file
    settings = Settings(config_file=path)
    data = read_toml(path)
    for section, table in data.items():
        if section == "profiles":
            if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
                raise ConfigError("[profiles] must hold tables such as [profiles.nas]", hint=f"fix {path}")
            settings.profiles = {str(k): dict(v) for k, v in table.items()}
            continue
        if section not in SECTIONS:
            raise ConfigError(
                f"unknown section [{section}] in {path}",
                hint=f"known sections: {', '.join(SECTIONS)}, profiles",
            )
        if not isinstance(table, dict):
            raise ConfigError(f"'{section}' in {path} must be a table", hint=f"write it as [{section}]")
        for key, value in table.items():
            settings.set(f"{section}.{key}", value, "toml")
    for dotted in all_keys():
        section, key = dotted.split(".", 1)
        name = f"ANIVAULT_{section}_{key}".upper()
        if name in env:
            settings.set(dotted, env[name], "env")
    for name, dotted in ENV_ALIASES.items():
        if name in env:
            settings.set(dotted, env[name], "env")
    for dotted, value in (cli_overrides or {}).items():
        if value is not None:
            settings.set(dotted, value, "flag")
    return settings
