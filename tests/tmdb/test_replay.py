"""Recorded real TMDB answers (../shared/data/tmdb_real/, see its SOURCES.md) replayed by a loopback HTTP
server through the real client path: PoliteSession, tmdbv3api, the schema checks, the cache. What we read
from them is what TMDB really says: relevance order, empty dates, absolutely numbered long-runners, the
original name when a translation is missing, and TMDB's own error bodies."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from anivault.db.engine import Database
from anivault.tmdb.cached import CachedTmdb
from anivault.tmdb.client import ApiKey, TmdbHttpClient
from anivault.tmdb.port import TmdbAuthError, TmdbBadResponse
from anivault.tmdb.ratelimit import PolitenessPolicy

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "tmdb_real"
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/tmdb_real is not on this machine")


def _load(name: str) -> Any:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def _movie_550_with_translations() -> Any:
    # what `append_to_response=translations` adds to the details, from the recorded translations answer
    return {
        **_load("movie_550.json"),
        "translations": {"translations": _load("movie_550_translations.json")["translations"]},
    }


ROUTES: dict[tuple[str, str], tuple[int, Any]] = {
    ("/3/search/tv", "game of thrones"): (200, "search_tv__game_of_thrones.json"),
    ("/3/search/tv", "rick and morty"): (200, "search_tv__rick_and_morty.json"),
    ("/3/search/movie", "game of thrones"): (200, "search_movie__game_of_thrones__empty_release_date.json"),
    ("/3/search/tv", ""): (422, "error_422_search_missing_query.json"),
    ("/3/tv/37854", ""): (200, "tv_37854__seenit_2019.json"),
    ("/3/tv/46260", ""): (200, "tv_46260__seenit_2019.json"),
    ("/3/tv/1429", ""): (200, "tv_1429__seenit_2019.json"),
    ("/3/tv/2", ""): (200, "tv_2__season0_null_air_date.json"),
    ("/3/tv/1399", ""): (200, "tv_1399.json"),
    ("/3/tv/1399/season/1", ""): (200, "tv_1399_season_1.json"),
    ("/3/tv/1399/episode_groups", ""): (200, "docs_example__tv_1399_episode_groups.json"),
    ("/3/tv/episode_group/5acf93e60e0a26346d0000ce", ""): (200, "docs_example__tv_episode_group_5acf93e60e0a26346d0000ce.json"),
    ("/3/movie/550", ""): (200, _movie_550_with_translations),
    ("/3/tv/999999", ""): (404, "error_404_resource_not_found.json"),
}  # fmt: skip


class _Replay(BaseHTTPRequestHandler):
    too_many = 0  # answer this many requests with the recorded CloudFront 429 (no Retry-After) first
    seen: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        type(self).seen.append(self.path)
        if query.get("api_key") != "replay-key":
            return self._send(401, _load("error_401_invalid_api_key.json"))
        if type(self).too_many > 0:
            type(self).too_many -= 1
            recorded = _load("error_429_cloudfront__headers_transcribed.json")
            return self._send(429, {"status_code": 25}, {"x-cache": recorded["headers"]["x-cache"]})
        route = ROUTES.get((parts.path, query.get("query", "")))
        if route is None:
            return self._send(404, _load("error_404_resource_not_found.json"))
        status, source = route
        self._send(status, source() if callable(source) else _load(source))

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def replay() -> Iterator[str]:
    _Replay.too_many, _Replay.seen = 0, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/3"
    finally:
        server.shutdown()
        server.server_close()


def _port(url: str, db: Database, key: str = "replay-key", language: str = "en-US") -> CachedTmdb:
    policy = PolitenessPolicy(retry_after_default=0.05, retries=1)
    return CachedTmdb(
        db, TmdbHttpClient(url, ApiKey(key), language=language, policy=policy), language=language
    )


def test_search_results_keep_tmdb_s_relevance_order_and_empty_dates(replay: str, db: Database) -> None:
    port = _port(replay, db)
    recorded = [r["id"] for r in _load("search_tv__game_of_thrones.json")["results"]]
    by_popularity = [
        r["id"]
        for r in sorted(_load("search_tv__game_of_thrones.json")["results"], key=lambda r: -r["popularity"])
    ]
    assert recorded != by_popularity  # TMDB orders by relevance: popularity only breaks ties
    hits = port.search("tv", "Game of Thrones")
    assert [h.tmdb_id for h in hits] == recorded
    assert hits[-1].year is None  # "first_air_date": ""
    assert hits[0].origin.original_language == "en"
    films = port.search("movie", "game of thrones")
    assert films and any(h.year is None for h in films)  # "release_date": ""


def test_a_long_runner_numbers_its_seasons_absolutely(replay: str, db: Database) -> None:
    port = _port(replay, db)
    one_piece = port.details("tv", 37854)
    assert one_piece is not None
    assert (one_piece.name, one_piece.original_name) == ("One Piece", "ワンピース")
    assert one_piece.origin.animation and one_piece.origin.original_language == "ja"
    assert one_piece.origin.origin_country == ("JP",)
    assert one_piece.last_episode is not None
    assert (one_piece.last_episode.season, one_piece.last_episode.number) == (20, 885)
    season_20 = one_piece.season(20)
    assert season_20 is not None and season_20.episode_count == 9 and season_20.name == "Season 20"
    assert one_piece.numbers_absolutely
    naruto = port.details("tv", 46260)
    assert naruto is not None and naruto.numbers_absolutely  # S4E220 in a season of 62
    titan = port.details("tv", 1429)
    assert titan is not None and not titan.numbers_absolutely  # S4E1


def test_names_fall_back_to_the_original_not_to_an_alias(replay: str, db: Database) -> None:
    ko = _port(replay, db, language="ko-KR").details("tv", 37854)
    assert ko is not None and ko.name == "ワンピース" and ko.name_en == "One Piece"
    es = _port(replay, db, language="es-ES").details("movie", 550)
    assert es is not None and es.name == "El club de la lucha"
    de = _port(replay, db, language="de-DE").details("movie", 550)  # the German title is ""
    assert de is not None and de.name == "Fight Club"


def test_seasons_with_null_dates_and_season_details(replay: str, db: Database) -> None:
    port = _port(replay, db)
    clerks = port.details("tv", 2)
    assert clerks is not None and clerks.season(0) is not None and clerks.season(0).air_date is None  # type: ignore[union-attr]
    season = port.season_details(1399, 1)
    assert season is not None and [e.number for e in season.episodes][:3] == [1, 2, 3]
    assert all(e.season == 1 and e.name for e in season.episodes)


def test_episode_groups_are_read_and_placeholders_refused(replay: str, db: Database) -> None:
    port = _port(replay, db)
    groups = port.episode_groups(1399)
    assert [(g.name, g.type, g.episode_count) for g in groups] == [("Aired Order", 1, 102)]
    # the documentation's group lists `{}` where numbers go: not an answer we can believe
    with pytest.raises(TmdbBadResponse):
        port.episode_group("5acf93e60e0a26346d0000ce")


def test_tmdb_s_error_bodies(replay: str, db: Database) -> None:
    port = _port(replay, db)
    assert port.details("tv", 999999) is None  # 404 without `success`
    with pytest.raises(TmdbBadResponse):
        port.http.search("tv", "")  # type: ignore[union-attr]  # 422 {"errors": [...]}
    with pytest.raises(TmdbAuthError):
        _port(replay, db, key="not-the-replay-key-7f3a").search("tv", "rick and morty")


def test_a_429_without_retry_after_pauses_and_retries(replay: str, db: Database) -> None:
    _Replay.too_many = 1
    port = _port(replay, db)
    hits = port.search("tv", "rick and morty")
    assert [h.tmdb_id for h in hits] == [60625, 202282]
    assert sum("rick" in p for p in _Replay.seen) == 2


def test_no_request_touches_the_process_environment(
    replay: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tmdbv3api writes page/total_results/total_pages into os.environ after every answer, from whatever
    thread asked: a getenv/setenv race with threads resolving host names. Our requests never do."""
    import os

    for name in ("page", "total_results", "total_pages"):
        monkeypatch.delenv(name, raising=False)
    port = _port(replay, db)
    before = dict(os.environ)
    port.search("tv", "game of thrones")
    port.details("tv", 1429)
    assert dict(os.environ) == before
