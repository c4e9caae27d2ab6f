"""Settings: `anivault.toml` in the config dir, overridden by `ANIVAULT_<SECTION>_<KEY>` env vars, overridden
by command-line flags. Precedence: flags > env > toml > defaults.

The schema is the dataclasses below: every key has a type and a default, so an unknown key or a wrong
type is a clear error that names the key. `Settings.sources` records where each value came from so
`anivault settings show` can say it.
"""

from __future__ import annotations

import dataclasses
import os
import re
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
    deadline: float = 30.0  # total seconds for one lookup, retries and Retry-After waits included
    retries: int = 3  # extra attempts after a 5xx, a dropped connection or a timeout (with backoff)
    breaker_ratio: float = 0.6  # this share of failed attempts (of the last 40) switches to cache-only
    breaker_cooldown: float = 30.0  # seconds in cache-only before one probe request may go out
    max_body_bytes: int = 5_000_000  # larger TMDB answers are refused, never read into memory


@dataclass(slots=True)
class MatchSettings:
    auto_threshold: float = 0.80  # at or above: applied without asking
    review_threshold: float = 0.50  # below auto, at or above this: waits for `anivault review`
    ambiguity_margin: float = 0.06  # the best two candidates closer than this: ask a person
    max_details: int = 3  # detail lookups per search (search results lack alternative titles)


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
    lock_wait_seconds: float = 10.0  # a second writer waits this long for the first, then stops
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
        setattr(getattr(self, section), key, check_value(dotted, value))
        self.sources[dotted] = source

    def profile(self, name: str) -> Profile:
        """The named `[profiles.NAME]` table, validated."""
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles)) or "none defined"
            raise ConfigError(
                f"unknown profile '{name}' (known: {known})",
                hint="define it as [profiles.NAME] in anivault.toml (`anivault settings path`)",
            )
        return parse_profile(name, self.profiles[name])

    def items(self) -> list[tuple[str, Any, str]]:
        out = []
        for section in SECTIONS:
            for f in dataclasses.fields(SECTIONS[section]):
                dotted = f"{section}.{f.name}"
                out.append((dotted, self.get(dotted), self.sources.get(dotted, "default")))
        return out


@dataclass(frozen=True, slots=True)
class Profile:
    """A named set of sources, destination and setting overrides for `anivault run --profile NAME`.

    In the toml::

        [profiles.nas]
        sources = ["/mnt/nas/incoming", "/mnt/nas/seeding"]
        dest = "/mnt/nas/Anime"
        [profiles.nas.organize]
        action = "hardlink"
    """

    name: str
    sources: tuple[str, ...] = ()
    dest: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()  # ("organize.action", "hardlink"), already type-checked


PROFILE_FIELDS = {"sources", "dest"}


def parse_profile(name: str, table: Mapping[str, Any]) -> Profile:
    where = f"profiles.{name}"
    sources: tuple[str, ...] = ()
    dest: str | None = None
    overrides: list[tuple[str, Any]] = []
    for key, value in table.items():
        if key == "sources":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ConfigError(
                    f"setting '{where}.sources' must be a list of folders",
                    hint='write it as sources = ["/path/one", "/path/two"]',
                )
            sources = tuple(value)
        elif key == "dest":
            if not isinstance(value, str) or not value:
                raise ConfigError(
                    f"setting '{where}.dest' must be a folder path", hint='dest = "/path/to/library"'
                )
            dest = value
        elif key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"'{where}.{key}' must be a table", hint=f"write it as [{where}.{key}]")
            for sub, sub_value in value.items():
                dotted = f"{key}.{sub}"
                try:
                    overrides.append((dotted, check_value(dotted, sub_value)))
                except ConfigError as exc:
                    raise ConfigError(f"in profile '{name}': {exc.message}", hint=exc.hint) from None
        else:
            raise ConfigError(
                f"unknown setting '{where}.{key}'",
                hint=f"a profile holds sources, dest and setting tables ({', '.join(SECTIONS)})",
            )
    return Profile(name=name, sources=sources, dest=dest, overrides=tuple(overrides))


def env_name(dotted: str) -> str:
    """The environment variable that overrides a setting."""
    section, key = _split_key(dotted)
    return f"ANIVAULT_{section}_{key}".upper()


def _level(value: Any) -> str | None:
    return (
        None
        if str(value).upper() in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        else ("DEBUG, INFO, WARNING, ERROR or CRITICAL")
    )


def _template(value: Any, *, preset: bool) -> str | None:
    """A naming template setting: a preset name (organize.template only), or a template that parses."""
    from anivault.naming.template import PRESETS, TemplateError, parse_template

    text = str(value)
    if text == "" or (preset and text in PRESETS):  # empty: the default preset, or the preset's template
        return None
    if preset and "{" not in text:  # a misspelt preset name would name every file the same
        return f"a preset ({', '.join(PRESETS)}) or a template with fields such as {{title}}"
    try:
        parse_template(text)
    except TemplateError as exc:
        names = f"a preset ({', '.join(PRESETS)}) or " if preset else "empty (the preset's) or "
        return f"{names}a usable template ({exc.message})"
    return None


# Range and choice checks beyond the type; each returns what the value must be, or None when it is fine.
# TMDB's `language`: an ISO 639-1 code, with an ISO 3166-1 country for the regional name.
LANGUAGE_TAG = re.compile(r"[a-z]{2}(?:-[A-Z]{2})?")

VALIDATORS: dict[str, typing.Callable[[Any], str | None]] = {
    "index.workers": lambda v: None if v >= 0 else "0 (one per core) or more",
    "index.batch_size": lambda v: None if 1 <= v <= 100_000 else "between 1 and 100000",
    "tmdb.rate": lambda v: None if 0 < v <= 1000 else "more than 0 requests per second",
    "tmdb.concurrency": lambda v: None if 1 <= v <= 32 else "between 1 and 32",
    "tmdb.timeout": lambda v: None if 0 < v <= 600 else "between 0 and 600 seconds",
    "tmdb.retry_after_cap": lambda v: None if 0 <= v <= 3600 else "between 0 and 3600 seconds",
    "tmdb.search_ttl_hours": lambda v: None if v >= 0 else "0 or more hours",
    "tmdb.details_ttl_hours": lambda v: None if v >= 0 else "0 or more hours",
    "tmdb.negative_ttl_hours": lambda v: None if v >= 0 else "0 or more hours",
    "tmdb.language": lambda v: (
        None if LANGUAGE_TAG.fullmatch(v) else "a TMDB language such as en-US, ko-KR or ja-JP"
    ),
    "tmdb.base_url": lambda v: None if v.startswith(("http://", "https://")) else "an http(s) URL",
    "tmdb.deadline": lambda v: None if 0 < v <= 3600 else "between 0 and 3600 seconds",
    "tmdb.retries": lambda v: None if 0 <= v <= 20 else "between 0 and 20",
    "tmdb.breaker_ratio": lambda v: None if 0 < v <= 1 else "more than 0 and at most 1",
    "tmdb.breaker_cooldown": lambda v: None if 0 <= v <= 3600 else "between 0 and 3600 seconds",
    "tmdb.max_body_bytes": lambda v: None if v >= 10_000 else "at least 10000 bytes",
    "match.auto_threshold": lambda v: None if 0 <= v <= 1 else "between 0 and 1",
    "match.ambiguity_margin": lambda v: None if 0 <= v <= 1 else "between 0 and 1",
    "match.max_details": lambda v: None if 0 <= v <= 20 else "between 0 and 20",
    "match.review_threshold": lambda v: None if 0 <= v <= 1 else "between 0 and 1",
    "organize.action": lambda v: (
        None if v in {"move", "copy", "hardlink", "symlink"} else ("move, copy, hardlink or symlink")
    ),
    "organize.conflict": lambda v: None if v in {"skip", "rename", "fail"} else "skip, rename or fail",
    "organize.template": lambda v: _template(v, preset=True),
    "organize.series_template": lambda v: _template(v, preset=False),
    "organize.movie_template": lambda v: _template(v, preset=False),
    "logging.level": _level,
    "logging.max_bytes": lambda v: None if v >= 10_000 else "at least 10000 bytes",
    "logging.backups": lambda v: None if 0 <= v <= 1000 else "between 0 and 1000",
    "db.busy_timeout_ms": lambda v: None if v >= 0 else "0 or more milliseconds",
    "db.lock_wait_seconds": lambda v: None if v >= 0 else "0 or more seconds",
    "db.backups_keep": lambda v: None if v >= 0 else "0 or more",
}


def check_value(dotted: str, value: Any) -> Any:
    """``value`` converted to the type of setting ``dotted`` and range-checked, or a ConfigError naming it."""
    section, key = _split_key(dotted)
    coerced = _coerce(dotted, value, _field_type(section, key))
    validator = VALIDATORS.get(dotted)
    problem = validator(coerced) if validator else None
    if problem:
        raise ConfigError(
            f"setting '{dotted}' must be {problem}, got {value!r}",
            hint="fix it in anivault.toml (`anivault settings path`) or the matching ANIVAULT_* variable",
        )
    if dotted == "logging.level":
        coerced = str(coerced).upper()
    return coerced


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
    profile: str | None = None,
) -> Settings:
    """Defaults, then the toml file, then ANIVAULT_* env vars, then a profile's overrides, then flags
    (`{"tmdb.rate": 10}`). A profile is picked by a flag (`--profile`), so it ranks just below the flags."""
    env = os.environ if environ is None else environ
    path = config_file or app_paths().config_file
    settings = Settings(config_file=path)
    apply_toml(settings, read_toml(path), path)
    for dotted in all_keys():
        name = env_name(dotted)
        if name in env:
            settings.set(dotted, env[name], "env")
    for name, dotted in ENV_ALIASES.items():
        if name in env:
            settings.set(dotted, env[name], "env")
    if profile:
        chosen = settings.profile(profile)
        for dotted, value in chosen.overrides:
            settings.set(dotted, value, f"profile:{profile}")
        if chosen.dest:
            settings.set("organize.dest", chosen.dest, f"profile:{profile}")
    for dotted, value in (cli_overrides or {}).items():
        if value is not None:
            settings.set(dotted, value, "flag")
    return settings


def apply_toml(settings: Settings, data: Mapping[str, Any], path: Path) -> None:
    """Check a parsed anivault.toml against the schema and apply it with source "toml"."""
    for section, table in data.items():
        if section == "profiles":
            if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
                raise ConfigError("[profiles] must hold tables such as [profiles.nas]", hint=f"fix {path}")
            settings.profiles = {str(k): dict(v) for k, v in table.items()}
            for name, body in settings.profiles.items():
                parse_profile(name, body)  # a broken profile is an error now, not when it is used
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


# ---------------------------------------------------------------------------------------------------------
# Writing anivault.toml (`anivault settings set` / `unset`)


@dataclass(frozen=True, slots=True)
class WriteResult:
    path: Path
    key: str
    value: Any  # the stored value (typed), or None after unset
    previous: Any
    overridden_by: str | None  # an env var that still wins over the file, if set
    backup: Path | None  # where the old file went when it had comments (tomli-w cannot keep them)


def _split_write_key(dotted: str) -> list[str]:
    """The toml table path for a key: "tmdb.rate" or "profiles.nas.dest" / "profiles.nas.organize.action"."""
    parts = dotted.split(".")
    if parts[0] == "profiles":
        if len(parts) == 3 and parts[2] in PROFILE_FIELDS and parts[1]:
            return parts
        if len(parts) == 4 and parts[1]:
            _split_key(f"{parts[2]}.{parts[3]}")
            return parts
        raise ConfigError(
            f"unknown setting '{dotted}'",
            hint="profile keys are profiles.NAME.sources, profiles.NAME.dest or profiles.NAME.SECTION.KEY",
        )
    _split_key(dotted)
    return parts


def _typed_for_write(parts: list[str], value: Any) -> Any:
    if parts[0] != "profiles":
        return check_value(".".join(parts), value)
    if parts[2] == "sources":
        items = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
        return [str(v) for v in items]
    if parts[2] == "dest":
        return str(value)
    return check_value(f"{parts[2]}.{parts[3]}", value)


def set_value(
    dotted: str, value: Any, *, config_file: Path | None = None, unset: bool = False
) -> WriteResult:
    """Validate ``value`` for setting ``dotted`` and write it to anivault.toml atomically."""
    import tomli_w

    from anivault.atomicfile import atomic_write_bytes

    path = config_file or app_paths().config_file
    parts = _split_write_key(dotted)
    data = read_toml(path)
    table: dict[str, Any] = data
    for part in parts[:-1]:
        child = table.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"'{part}' in {path} is not a table", hint=f"fix {path} by hand")
        table = child
    previous = table.get(parts[-1])
    stored: Any = None
    if unset:
        table.pop(parts[-1], None)
        _prune_empty(data)
    else:
        stored = _typed_for_write(parts, value)
        table[parts[-1]] = stored
    # The whole file must still load: a write never leaves a config the next command rejects.
    apply_toml(Settings(config_file=path), data, path)
    backup: Path | None = None
    if path.exists() and _has_comments(path):
        backup = path.with_name(path.name + ".bak")
        atomic_write_bytes(backup, path.read_bytes(), mode=0o644)
    atomic_write_bytes(path, tomli_w.dumps(data).encode("utf-8"), mode=0o644)
    overridden_by = None
    if parts[0] != "profiles":
        name = env_name(dotted)
        aliases = [alias for alias, target in ENV_ALIASES.items() if target == dotted]
        overridden_by = next((n for n in [name, *aliases] if n in os.environ), None)
    return WriteResult(path, dotted, stored, previous, overridden_by, backup)


def _prune_empty(table: dict[str, Any]) -> None:
    for key in list(table):
        if isinstance(table[key], dict):
            _prune_empty(table[key])
            if not table[key]:
                del table[key]


def _has_comments(path: Path) -> bool:
    try:
        return any(line.lstrip().startswith("#") for line in path.read_text("utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return False
