"""Property tests where input is unbounded: TMDB's JSON (any shape must parse or be skipped, never raise),
cache keys (spelling variants share one key), title similarity and placement (sure only where TMDB's seasons
say so)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from anivault.pipeline.match import FileNumbers, Placer, title_similarity
from anivault.tmdb.cached import cache_key, norm_query
from anivault.tmdb.port import EpisodeGroupInfo, EpisodeInfo, SeasonDetails, SeasonInfo, TitleDetails
from anivault.tmdb.read import details as _details
from anivault.tmdb.read import hits as _hits

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=15,
)
tmdb_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.integers() | st.text(max_size=5) | st.none(),
        "name": json_values,
        "title": json_values,
        "original_name": json_values,
        "first_air_date": json_values,
        "release_date": json_values,
        "popularity": json_values,
        "results": st.lists(
            json_values | st.dictionaries(st.sampled_from(["id", "name", "title"]), json_values)
        ),
        "seasons": st.lists(
            st.dictionaries(st.sampled_from(["season_number", "episode_count", "name"]), json_values),
            max_size=5,
        )
        | json_values,
        "alternative_titles": json_values,
        "translations": json_values,
    },
)


@settings(max_examples=50, deadline=None)
@given(tmdb_like, st.sampled_from(["tv", "movie"]), st.sampled_from(["", "en-US", "ko-KR"]))
def test_any_json_parses_or_is_skipped(payload: dict[str, Any], media_type: Any, lang: str) -> None:
    hits = _hits(media_type, payload)
    assert all(isinstance(h.tmdb_id, int) and isinstance(h.name, str) for h in hits)
    d = _details(media_type, payload, lang)
    if d is not None:
        assert isinstance(d.tmdb_id, int)
        assert all(isinstance(t, str) for t in d.all_titles)
        assert all(s.number >= 0 and (s.episode_count is None or s.episode_count >= 0) for s in d.seasons)


@given(st.text(max_size=40), st.integers(1900, 2100) | st.none())
def test_cache_keys_ignore_case_and_spacing(query: str, year: int | None) -> None:
    variant = "  " + query.upper().replace(" ", "   ") + " "
    assert norm_query(norm_query(query)) == norm_query(query)
    if norm_query(variant) == norm_query(query):  # upper() is not always a case-fold inverse
        assert cache_key("search/tv", {"query": norm_query(variant), "year": year}) == cache_key(
            "search/tv", {"year": year, "query": norm_query(query)}
        )


@given(st.text(max_size=30), st.text(max_size=30))
def test_title_similarity_is_a_score(a: str, b: str) -> None:
    from anivault.title_key import normalize_title

    s = title_similarity(normalize_title(a), b)
    assert 0.0 <= s <= 1.0
    if normalize_title(a) and normalize_title(a) == normalize_title(b):
        assert s == 1.0


class _Seasons:
    """TMDB's answers for one generated show, from memory: each season lists its episodes numbered from
    ``first`` (1, or an absolute number as long-runners have)."""

    def __init__(self, seasons: dict[int, tuple[int, int]]) -> None:
        self.seasons = seasons

    def season_details(self, tmdb_id: int, number: int) -> SeasonDetails | None:
        if number not in self.seasons:
            return None
        first, count = self.seasons[number]
        return SeasonDetails(number, tuple(EpisodeInfo(number, first + i) for i in range(count)))

    def episode_groups(self, tmdb_id: int) -> list[EpisodeGroupInfo]:
        return []


@given(
    st.dictionaries(st.integers(0, 25), st.tuples(st.integers(1, 900), st.integers(0, 120)), max_size=8),
    st.integers(0, 40) | st.none(),
    st.integers(0, 3000) | st.none(),
    st.booleans(),
    st.integers(1, 3) | st.none(),
    st.integers(-2, 3),
    st.booleans(),
)
def test_placement_is_sure_only_where_tmdb_lists_it(
    seasons: dict[int, tuple[int, int]],
    season: int | None,
    episode: int | None,
    special: bool,
    part: int | None,
    offset: int,
    absolute: bool,
) -> None:
    info = tuple(SeasonInfo(n, c) for n, (_f, c) in sorted(seasons.items()))
    numbered = {n: (f if absolute else 1, c) for n, (f, c) in seasons.items()}
    regular = [n for n in sorted(numbered) if n > 0 and numbered[n][1] > 0]
    last = None
    if absolute and regular:
        f, c = numbered[regular[-1]]
        last = EpisodeInfo(regular[-1], f + c - 1 + (1 if c else 0))
    d = TitleDetails(1, "tv", "Show", "Show", 2000, 1.0, (), info, "Show", last_episode=last)
    placer = Placer(_Seasons(numbered), d, "show", offset=offset)  # type: ignore[arg-type]
    p = placer.place(FileNumbers(season, episode, None, special or season == 0, part))
    if p.doubt is not None:
        return
    if special or season == 0:
        assert p.season == 0
    if episode is None:
        assert p.episode is None
        return
    assert p.season is not None and p.episode is not None and p.episode >= 0
    s = d.season(p.season)
    assert s is not None, "a sure placement names a season TMDB has"
    listed = {
        e.number for e in (_Seasons(numbered).season_details(1, p.season) or SeasonDetails(0, ())).episodes
    }
    assert s.episode_count is None or p.episode in listed or p.season == 0
