"""TMDB's JSON read into the port's dataclasses.

Answers are checked against :mod:`anivault.tmdb.schema` before they get here; still, every item is read
field by field, and an item with a missing or wrongly typed field is skipped, never trusted, so one odd entry
cannot break a batch.
"""

from __future__ import annotations

from typing import Any

from anivault.tmdb.port import (
    EpisodeGroup,
    EpisodeGroupInfo,
    EpisodeInfo,
    MediaType,
    Origin,
    SearchHit,
    SeasonDetails,
    SeasonInfo,
    TitleDetails,
)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _date(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) >= 4 and value[:4].isdigit() else None


def year_of(value: Any) -> int | None:
    date = _date(value)
    return int(date[:4]) if date else None


def _float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _origin(d: dict[str, Any]) -> Origin:
    genres = d.get("genre_ids")
    if not isinstance(genres, list):  # details carry `genres: [{id, name}]`, search results `genre_ids`
        raw = d.get("genres")
        genres = [g.get("id") for g in raw if isinstance(g, dict)] if isinstance(raw, list) else []
    return Origin(
        original_language=_str(d.get("original_language")),
        origin_country=_strings(d.get("origin_country")),
        genre_ids=tuple(g for g in genres if _int(g) is not None),
        adult=d.get("adult") is True,
    )


def _keys(media_type: MediaType) -> tuple[str, str, str]:
    if media_type == "tv":
        return "name", "original_name", "first_air_date"
    return "title", "original_title", "release_date"


def hits(media_type: MediaType, payload: dict[str, Any]) -> list[SearchHit]:
    """A search answer's results, in TMDB's order (relevance)."""
    out: list[SearchHit] = []
    results = payload.get("results")
    name_key, orig_key, date_key = _keys(media_type)
    for r in results if isinstance(results, list) else ():
        if not isinstance(r, dict) or _int(r.get("id")) is None:
            continue
        out.append(
            SearchHit(
                tmdb_id=r["id"],
                media_type=media_type,
                name=_str(r.get(name_key)),
                original_name=_str(r.get(orig_key)),
                year=year_of(r.get(date_key)),
                popularity=_float(r.get("popularity")),
                origin=_origin(r),
            )
        )
    return out


def episode(d: Any) -> EpisodeInfo | None:
    if not isinstance(d, dict):
        return None
    season, number = _int(d.get("season_number")), _int(d.get("episode_number"))
    if season is None or number is None or season < 0 or number < 0:
        return None
    return EpisodeInfo(season, number, _str(d.get("name")), _date(d.get("air_date")))


def _translated(payload: dict[str, Any], key: str, language: str) -> str:
    """The name in ``language`` from the appended translations: the exact code (ko-KR) first, then the same
    language from another country; an empty translated name counts as none (TMDB sends `"title": ""`)."""
    lang, _, country = language.partition("-")
    tr = payload.get("translations")
    items = tr.get("translations") if isinstance(tr, dict) else None
    found = ""
    for t in items if isinstance(items, list) else ():
        data = t.get("data") if isinstance(t, dict) else None
        if not isinstance(data, dict) or t.get("iso_639_1") != lang:
            continue
        value = _str(data.get(key))
        if value and (t.get("iso_3166_1") == country or not country):
            return value
        found = found or value
    return found


def display_name(payload: dict[str, Any], media_type: MediaType, language: str) -> str:
    """The name TMDB gives in ``language``: its translation, else the original name (as TMDB falls back).
    Details are asked for in TMDB's default language (en-US), where TMDB has already applied that rule."""
    name_key, orig_key, _ = _keys(media_type)
    primary, original = _str(payload.get(name_key)), _str(payload.get(orig_key))
    if not language or language.lower().startswith("en"):
        return primary or original
    return _translated(payload, name_key, language) or original or primary


def _all_titles(payload: dict[str, Any], media_type: MediaType) -> list[str]:
    """Every alternative title and translated name, for matching against file names."""
    name_key, _, _ = _keys(media_type)
    titles: list[str] = []
    alt = payload.get("alternative_titles")
    if isinstance(alt, dict):
        items = alt.get("results" if media_type == "tv" else "titles")
        for a in items if isinstance(items, list) else ():
            if isinstance(a, dict) and _str(a.get("title")):
                titles.append(_str(a.get("title")))
    tr = payload.get("translations")
    items = tr.get("translations") if isinstance(tr, dict) else None
    for t in items if isinstance(items, list) else ():
        data = t.get("data") if isinstance(t, dict) else None
        if isinstance(data, dict):
            value = _str(data.get(name_key)) or _str(data.get("title")) or _str(data.get("name"))
            if value:
                titles.append(value)
    return titles


def details(media_type: MediaType, payload: dict[str, Any], language: str = "") -> TitleDetails | None:
    rid = _int(payload.get("id"))
    if rid is None:
        return None
    name_key, orig_key, date_key = _keys(media_type)
    primary, original = _str(payload.get(name_key)), _str(payload.get(orig_key))
    seasons: list[SeasonInfo] = []
    raw_seasons = payload.get("seasons")
    for s in raw_seasons if media_type == "tv" and isinstance(raw_seasons, list) else ():
        if not isinstance(s, dict):
            continue
        n, count = _int(s.get("season_number")), _int(s.get("episode_count"))
        if n is not None and n >= 0:
            seasons.append(
                SeasonInfo(n, count if count is not None and count >= 0 else None, _str(s.get("name")),
                           _date(s.get("air_date")))
            )  # fmt: skip
    name = display_name(payload, media_type, language)
    uniq = list(dict.fromkeys(t for t in (primary, *_all_titles(payload, media_type)) if t))
    return TitleDetails(
        tmdb_id=rid,
        media_type=media_type,
        name=name,
        original_name=original,
        year=year_of(payload.get(date_key)),
        popularity=_float(payload.get("popularity")),
        alt_titles=tuple(uniq),
        seasons=tuple(sorted(seasons, key=lambda s: s.number)),
        name_en=primary or original,
        origin=_origin(payload),
        last_episode=episode(payload.get("last_episode_to_air")) if media_type == "tv" else None,
    )


def season(payload: dict[str, Any]) -> SeasonDetails | None:
    number = _int(payload.get("season_number"))
    raw = payload.get("episodes")
    if number is None or not isinstance(raw, list):
        return None
    eps = []
    for e in raw:
        if isinstance(e, dict) and _int(e.get("season_number")) is None:
            e = {**e, "season_number": number}
        info = episode(e)
        if info is not None:
            eps.append(info)
    return SeasonDetails(number, tuple(eps))


def episode_groups(payload: dict[str, Any]) -> list[EpisodeGroupInfo]:
    out = []
    results = payload.get("results")
    for g in results if isinstance(results, list) else ():
        if isinstance(g, dict) and _str(g.get("id")) and _int(g.get("type")) is not None:
            out.append(EpisodeGroupInfo(_str(g["id"]), _str(g.get("name")), g["type"],
                                        _int(g.get("episode_count")) or 0))  # fmt: skip
    return out


def episode_group(payload: dict[str, Any]) -> EpisodeGroup | None:
    """The group's episodes in its order: groups by `order`, episodes by `order` inside each."""
    gid, kind = _str(payload.get("id")), _int(payload.get("type"))
    groups = payload.get("groups")
    if not gid or kind is None or not isinstance(groups, list):
        return None
    ordered = sorted((g for g in groups if isinstance(g, dict)), key=lambda g: _int(g.get("order")) or 0)
    eps: list[EpisodeInfo] = []
    for g in ordered:
        raw = g.get("episodes")
        items = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
        for e in sorted(items, key=lambda e: _int(e.get("order")) or 0):
            info = episode(e)
            if info is not None:
                eps.append(info)
    return EpisodeGroup(gid, kind, tuple(eps))
