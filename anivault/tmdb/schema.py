"""What a TMDB answer must look like before AniVault caches or believes it.

A 200 with null or wrongly typed fields is not an answer: cached, it would mark a series `unmatched` for days
and keep later runs from asking again. Every answer is checked against the fields AniVault reads, as TMDB
documents them (`../shared/data/tmdb_real/` holds recorded answers): the fields matching depends on are
required, the rest may be missing or null (TMDB sends `"air_date": null`, `"first_air_date": ""`) but, when
present, must have their documented type. An answer that fails raises TmdbBadResponse naming the first bad
field; the series is deferred and asked again by the next run. Cached rows are checked again when read, so
a row written before a check existed is a miss, not a verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from anivault.tmdb.port import TmdbBadResponse

Check = Callable[[Any], bool]


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _list_of(item: Check) -> Check:
    return lambda v: isinstance(v, list) and all(item(x) for x in v)


class _Field:
    __slots__ = ("check", "required")

    def __init__(self, check: Check, required: bool = False) -> None:
        self.check = check
        self.required = required


def _need(check: Check) -> _Field:
    return _Field(check, required=True)


def _may(check: Check) -> _Field:
    return _Field(check)


Spec = Mapping[str, _Field]


def _check(obj: Any, spec: Spec, where: str) -> None:
    if not isinstance(obj, dict):
        raise TmdbBadResponse(f"TMDB sent a malformed answer ({where} is not an object)")
    for name, field in spec.items():
        value = obj.get(name)
        if value is None:
            if field.required:
                raise TmdbBadResponse(f"TMDB sent a malformed answer ({where}.{name} is missing)")
            continue
        if not field.check(value):
            raise TmdbBadResponse(f"TMDB sent a malformed answer ({where}.{name} has the wrong type)")


def _each(items: Any, spec: Spec, where: str, *, required: bool = False) -> None:
    if items is None and not required:
        return
    if not isinstance(items, list):
        raise TmdbBadResponse(f"TMDB sent a malformed answer ({where} is not a list)")
    for i, item in enumerate(items):
        _check(item, spec, f"{where}[{i}]")


_COMMON = {
    "original_language": _may(_str),
    "genre_ids": _may(_list_of(_int)),
    "origin_country": _may(_list_of(_str)),
    "popularity": _may(_num),
    "adult": _may(_bool),
}
_TV = {"id": _need(_int), "name": _need(_str), "original_name": _may(_str), "first_air_date": _may(_str)}
_MOVIE = {"id": _need(_int), "title": _need(_str), "original_title": _may(_str), "release_date": _may(_str)}
_PAGE = {"page": _may(_int), "total_pages": _may(_int), "total_results": _may(_int)}
_SEASON_SUMMARY = {
    "season_number": _need(_int),
    "episode_count": _may(_int),
    "air_date": _may(_str),
    "name": _may(_str),
}
_EPISODE = {
    "episode_number": _need(_int),
    "season_number": _may(_int),
    "name": _may(_str),
    "air_date": _may(_str),
}
_ALT_TITLE = {"title": _need(_str), "iso_3166_1": _may(_str), "type": _may(_str)}
_TRANSLATION = {
    "iso_639_1": _may(_str),
    "iso_3166_1": _may(_str),
    "data": _may(lambda v: isinstance(v, dict)),
}
_TRANSLATION_DATA = {"name": _may(_str), "title": _may(_str)}


def check_search(media_type: str, payload: Any) -> None:
    """A search answer: `results` a list of shows (or films) with an id and a name."""
    _check(payload, _PAGE, "answer")
    item = {**(_TV if media_type == "tv" else _MOVIE), **_COMMON}
    _each(payload.get("results"), item, "results", required=True)


def check_details(media_type: str, payload: Any) -> None:
    """Details of one show or film, with what `append_to_response` added."""
    spec = {
        **(_TV if media_type == "tv" else _MOVIE),
        **_COMMON,
        "genres": _may(_list_of(lambda g: isinstance(g, dict) and _int(g.get("id")))),
        "number_of_seasons": _may(_int),
        "number_of_episodes": _may(_int),
    }
    _check(payload, spec, "answer")
    if media_type == "tv":
        _each(payload.get("seasons"), _SEASON_SUMMARY, "seasons")
        last = payload.get("last_episode_to_air")
        if last is not None:
            _check(last, {**_EPISODE, "season_number": _need(_int)}, "last_episode_to_air")
    alt = payload.get("alternative_titles")
    if alt is not None:
        key = "results" if media_type == "tv" else "titles"
        _check(alt, {}, "alternative_titles")
        _each(alt.get(key), _ALT_TITLE, f"alternative_titles.{key}")
    tr = payload.get("translations")
    if tr is not None:
        _check(tr, {}, "translations")
        _each(tr.get("translations"), _TRANSLATION, "translations.translations")
        for i, t in enumerate(tr.get("translations") or ()):
            if t.get("data") is not None:
                _check(t["data"], _TRANSLATION_DATA, f"translations.translations[{i}].data")


def check_season(payload: Any) -> None:
    """One season's details: its episodes, each with its number."""
    _check(payload, {"season_number": _may(_int), "name": _may(_str), "air_date": _may(_str)}, "answer")
    _each(payload.get("episodes"), _EPISODE, "episodes", required=True)


_GROUP_SUMMARY = {"id": _need(_str), "name": _may(_str), "type": _need(_int), "episode_count": _may(_int)}


def check_episode_groups(payload: Any) -> None:
    """A show's episode groups: `results`, each with its id and type."""
    _check(payload, {}, "answer")
    _each(payload.get("results"), _GROUP_SUMMARY, "results", required=True)


def check_episode_group(payload: Any) -> None:
    """One episode group: its groups in order, each listing episodes with the season TMDB files them in."""
    _check(payload, {"id": _need(_str), "type": _need(_int)}, "answer")
    groups = payload.get("groups")
    _each(groups, {"order": _may(_int), "name": _may(_str)}, "groups", required=True)
    for i, group in enumerate(groups):
        spec = {**_EPISODE, "season_number": _need(_int), "order": _may(_int)}
        _each(group.get("episodes"), spec, f"groups[{i}].episodes", required=True)
