"""Templates (presets, specials, multi-episode, movies, errors) and companions' names."""

from __future__ import annotations

import pytest

from anivault.naming.template import (
    DEFAULT_MOVIE_TEMPLATE,
    DEFAULT_SERIES_TEMPLATE,
    PRESETS,
    EpisodeNumber,
    TemplateError,
    parse_template,
    resolve_templates,
)
from anivault.organize.companions import companion_name

FIELDS = {"title": "Frieren", "year": 2023, "tmdb_id": 209867, "season": 1, "ext": "mkv"}


def render(template: str, **values: object) -> str:
    return "/".join(parse_template(template).render({**FIELDS, **values}))


def test_plex_default_series_path() -> None:
    assert render(DEFAULT_SERIES_TEMPLATE, episode=EpisodeNumber(3, None)) == (
        "Frieren (2023) [tmdbid-209867]/Season 01/Frieren - S01E03.mkv"
    )


def test_specials_go_to_season_00_and_multi_episode_is_a_range() -> None:
    assert (
        render(DEFAULT_SERIES_TEMPLATE, season=0, episode=EpisodeNumber(1, None)).split("/")[1] == "Season 00"
    )
    assert render(DEFAULT_SERIES_TEMPLATE, episode=EpisodeNumber(1, 2)).endswith("S01E01-E02.mkv")


def test_movie_and_missing_year_leave_no_empty_brackets() -> None:
    expected = "Your Name. (2023) [tmdbid-209867]/Your Name. (2023).mkv"
    assert render(DEFAULT_MOVIE_TEMPLATE, title="Your Name.") == expected
    assert render(DEFAULT_MOVIE_TEMPLATE, year=None) == "Frieren [tmdbid-209867]/Frieren.mkv"


def test_every_field_and_format_specs() -> None:
    out = render(
        "{original_title}/{absolute:03} {episode_title} [{group}] [{resolution}] {episode_end}.{ext}",
        original_title="葬送のフリーレン", absolute=7, episode_title="Like Magic", group="SubsPlease",
        resolution="1080p", episode_end=8,
    )  # fmt: skip
    assert out == "葬送のフリーレン/007 Like Magic [SubsPlease] [1080p] 8.mkv"


@pytest.mark.parametrize(
    "bad",
    [
        "{title}/{nope}.{ext}",
        "/abs/{title}",
        "{title}/../{ext}",
        "{title!r}",
        "{title.__class__}",
        "{season:zz}",
        "",
    ],
)
def test_bad_templates_fail_at_plan_time_with_a_hint(bad: str) -> None:
    with pytest.raises(TemplateError) as exc:
        parse_template(bad)
    assert exc.value.hint


def test_presets_resolve() -> None:
    for name in PRESETS:
        series, movie = resolve_templates(name, "", "")
        assert series.source == PRESETS[name][0] and movie.source == PRESETS[name][1]


@pytest.mark.parametrize(
    ("companion", "expected"),
    [
        ("Show - 01 [1080p].en.ass", "New - S01E01.en.ass"),
        ("Show - 01 [1080p].ko.srt", "New - S01E01.ko.srt"),
        ("Show - 01 [1080p].en.forced.ass", "New - S01E01.en.forced.ass"),
        ("Show - 01 [1080p].[sc].ass", "New - S01E01.[sc].ass"),
        ("Show - 01 [1080p][tc].ass", "New - S01E01.[tc].ass"),
        ("Show - 01 [1080p].mka", "New - S01E01.mka"),
        ("Show - 01 [1080p]_jpn.mka", "New - S01E01.jpn.mka"),
        ("other name.ko.forced.srt", "New - S01E01.ko.forced.srt"),
        ("Fonts/Arial Bold.ttf", "Fonts/Arial Bold.ttf"),
    ],
)
def test_companions_keep_their_tags(companion: str, expected: str) -> None:
    assert companion_name("/src/Show - 01 [1080p].mkv", "/src/" + companion, "New - S01E01") == expected
