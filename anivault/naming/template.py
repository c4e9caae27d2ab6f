"""Naming templates: `{title} ({year})/Season {season:02}/...` rendered into safe path components.

A template is split on `/` *before* any value is substituted, so a value (a TMDB title such as `Fate/Zero` or
`../../x`) can never add a folder level; every rendered component then goes through `safe_component`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from anivault.errors import UsageError
from anivault.naming.safename import safe_component

FIELDS = (
    "title",  # in tmdb.language (TMDB's fallback to the original name included)
    "title_en",
    "title_original",
    "original_title",  # the same as title_original
    "year",
    "tmdb_id",
    "season",
    "episode",
    "episode_end",
    "absolute",
    "episode_title",
    "group",
    "resolution",
    "ext",
)

# Plex and Jellyfin both read `[tmdbid-N]` in a folder name; Kodi prefers plain names.
PRESETS: dict[str, tuple[str, str]] = {
    "plex": (
        "{title} ({year}) [tmdbid-{tmdb_id}]/Season {season:02}/{title} - S{season:02}E{episode:02}.{ext}",
        "{title} ({year}) [tmdbid-{tmdb_id}]/{title} ({year}).{ext}",
    ),
    "jellyfin": (
        "{title} ({year}) [tmdbid-{tmdb_id}]/Season {season:02}/{title} S{season:02}E{episode:02}.{ext}",
        "{title} ({year}) [tmdbid-{tmdb_id}]/{title} ({year}) [tmdbid-{tmdb_id}].{ext}",
    ),
    "kodi": (
        "{title} ({year})/Season {season:02}/{title} S{season:02}E{episode:02}.{ext}",
        "{title} ({year})/{title} ({year}).{ext}",
    ),
}
DEFAULT_SERIES_TEMPLATE, DEFAULT_MOVIE_TEMPLATE = PRESETS["plex"]

_EMPTY_BRACKETS = re.compile(r"\s*(\(\s*\)|\[\s*\]|\{\s*\})")
_DANGLING_DASH = re.compile(r"(\s+-)+\s*(?=\.[A-Za-z0-9]+$)|(\s+-)+\s*$")


class TemplateError(UsageError):
    """A naming template that cannot be used: bad input, so exit code 2 like any other bad option."""


class EpisodeNumber:
    """An episode number that renders a multi-episode file as `01-E02` under the same format spec."""

    def __init__(self, first: int, last: int | None) -> None:
        self.first = first
        self.last = last if last is not None and last > first else None

    def __format__(self, spec: str) -> str:
        text = format(self.first, spec)
        if self.last is not None:
            text += "-E" + format(self.last, spec)
        return text


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: one list of (literal, field, spec) parts per path component."""

    source: str
    components: tuple[tuple[tuple[str, str | None, str], ...], ...]

    def fields(self) -> set[str]:
        """The field names this template uses."""
        return {field for parts in self.components for _lit, field, _spec in parts if field is not None}

    def render(self, values: Mapping[str, object]) -> list[str]:
        """Render into safe path components; None values render empty and their brackets vanish."""
        out = []
        for parts in self.components:
            text = []
            missing = False
            for literal, field, spec in parts:
                text.append(literal)
                if field is None:
                    continue
                value = values.get(field)
                if value is None or value == "":
                    missing = True
                    continue
                try:
                    text.append(format(value, spec))
                except (ValueError, TypeError) as exc:
                    raise TemplateError(
                        f"template field {{{field}:{spec}}} cannot format {value!r}: {exc}",
                        hint="numeric specs such as :02 only fit season, episode, year, tmdb_id, absolute",
                    ) from None
            rendered = "".join(text)
            if missing:  # the brackets and dashes around what rendered empty go too
                rendered = _DANGLING_DASH.sub("", _EMPTY_BRACKETS.sub("", rendered))
            out.append(safe_component(rendered))
        return out


def parse_template(source: str) -> Template:
    """Parse and check a template; unknown fields, conversions and `..` are errors at plan time."""
    hint = f"fields: {', '.join(FIELDS)}; presets: {', '.join(PRESETS)}"
    if not source.strip():
        raise TemplateError("the naming template is empty", hint=hint)
    if source.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", source):
        raise TemplateError(f"template {source!r} is absolute; it must be relative to --dest", hint=hint)
    components = []
    for comp in source.split("/"):
        if comp.strip() in ("", ".", ".."):
            raise TemplateError(f"template {source!r} has an empty, '.' or '..' folder", hint=hint)
        parts = []
        try:
            parsed = list(string.Formatter().parse(comp))
        except ValueError as exc:
            raise TemplateError(f"template {source!r} is malformed: {exc}", hint=hint) from None
        for literal, field, spec, conversion in parsed:
            if field is not None:
                if field not in FIELDS:
                    raise TemplateError(f"unknown template field {{{field}}} in {source!r}", hint=hint)
                if conversion:
                    raise TemplateError(f"conversions such as !{conversion} are not supported", hint=hint)
                if spec and "{" in spec:
                    raise TemplateError(f"nested fields in {{{field}:{spec}}} are not supported", hint=hint)
            parts.append((literal, field, spec or ""))
        components.append(tuple(parts))
    template = Template(source, tuple(components))
    template.render(_SAMPLE)  # a bad format spec fails now, not halfway through a run
    return template


def names_episodes(*templates: str) -> bool:
    """Whether any of these templates (or preset names: none of them does) uses `{episode_title}`, for
    which `anivault match` also looks up TMDB's episode names."""
    return any("{episode_title" in t for t in templates if t)


def resolve_templates(spec: str | None, series: str, movie: str) -> tuple[Template, Template]:
    """Resolve `--template`: a preset name, or one template string used for series (movies keep theirs)."""
    if spec is None:
        return parse_template(series), parse_template(movie)
    if spec in PRESETS:
        s, m = PRESETS[spec]
        return parse_template(s), parse_template(m)
    return parse_template(spec), parse_template(movie)


_SAMPLE: dict[str, object] = {
    "title": "Title",
    "title_en": "Title",
    "title_original": "Original",
    "original_title": "Original",
    "year": 2000,
    "tmdb_id": 1,
    "season": 1,
    "episode": EpisodeNumber(1, 2),
    "episode_end": 2,
    "absolute": 1,
    "episode_title": "Episode",
    "group": "Group",
    "resolution": "1080p",
    "ext": "mkv",
}
