"""The TMDB emulator keeps its contract (../shared/tmdb-emulator.md): it is what every TMDB test relies on."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tmdb_emulator  # scripts/ is on sys.path (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "tests" / "fixtures" / "tmdb_catalog_small.json"


emu = tmdb_emulator


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


@pytest.fixture
def server() -> Iterator[Any]:
    running = emu.start_emulator(CATALOG)
    yield running
    running.stop()


def test_catalog_fixture_is_rich_enough() -> None:
    data = json.loads(CATALOG.read_text(encoding="utf-8"))
    assert data["format"] == "anivault-tmdb-catalog/1"
    assert len(data["tv"]) + len(data["movie"]) >= 30
    longest = max(sum(s["episode_count"] or 0 for s in t["seasons"]) for t in data["tv"])
    assert longest >= 1000
    assert any(s["episode_count"] is None for t in data["tv"] for s in t["seasons"])


def test_search_tv_and_year_filter(server: Any) -> None:
    base = server.base_url
    st, _, body = get(f"{base}/search/tv?api_key=test-key&query=Hunter%20x%20Hunter")
    assert st == 200
    assert [r["id"] for r in body["results"]] == [46298, 2361]  # by popularity
    assert body["total_results"] == 2 and body["total_pages"] == 1
    st, _, body = get(f"{base}/search/tv?api_key=test-key&query=hunter+hunter&first_air_date_year=1999")
    assert [r["id"] for r in body["results"]] == [2361]
    # alternative titles, Japanese and Korean titles all match; punctuation folds to spaces
    for q in ("shingeki no kyojin", "進撃の巨人", "진격의 거인", "ATTACK-ON.TITAN"):
        _, _, body = get(f"{base}/search/tv?api_key=test-key&query={urllib.request.quote(q)}")
        assert 1429 in [r["id"] for r in body["results"]], q


def test_search_movie_multi_and_paging(server: Any) -> None:
    base = server.base_url
    _, _, body = get(f"{base}/search/movie?api_key=test-key&query=kimi+no+na+wa&primary_release_year=2016")
    assert [r["id"] for r in body["results"]] == [372058]
    assert body["results"][0]["title"] == "Your Name."
    _, _, body = get(f"{base}/search/multi?api_key=test-key&query=cowboy+bebop")
    # the live-action series of the same name is found too, as on TMDB
    assert {(r["id"], r["media_type"]) for r in body["results"]} == {
        (30991, "tv"),
        (90820, "tv"),
        (11299, "movie"),
    }
    # words match from their start, in one title: "on" is not found inside "attack"
    _, _, body = get(f"{base}/search/tv?api_key=test-key&query=k+on")
    assert [r["id"] for r in body["results"]] == [34220]


def test_paging() -> None:
    shows = [
        {
            "id": i,
            "name": f"Magical Show {i}",
            "original_name": "",
            "popularity": i,
            "first_air_date": "2020-01-01",
        }
        for i in range(1, 46)
    ]
    with emu.start_emulator({"format": "anivault-tmdb-catalog/1", "tv": shows, "movie": []}) as running:
        _, _, body = get(f"{running.base_url}/search/tv?api_key=test-key&query=magical")
        assert body["total_results"] == 45 and body["total_pages"] == 3 and len(body["results"]) == 20
        assert body["results"][0]["id"] == 45  # most popular first
        _, _, body3 = get(f"{running.base_url}/search/tv?api_key=test-key&query=magical&page=3")
        assert [r["id"] for r in body3["results"]] == [5, 4, 3, 2, 1]


def test_details_append_and_seasons(server: Any) -> None:
    base = server.base_url
    url = f"{base}/tv/37854?append_to_response=alternative_titles,translations,external_ids"
    st, _, body = get(url, {"Authorization": "Bearer test-key"})
    assert st == 200
    assert body["number_of_episodes"] >= 1000
    assert body["seasons"][0]["season_number"] == 0
    assert body["alternative_titles"]["results"][0]["title"] == "One Piece"
    assert body["translations"]["translations"][0]["iso_639_1"] == "ko"
    assert "external_ids" in body
    st, _, season = get(f"{base}/tv/37854/season/1?api_key=test-key")
    assert st == 200 and len(season["episodes"]) == 61
    assert season["episodes"][0] == {
        "episode_number": 1,
        "name": "Episode 1",
        "air_date": None,
        "season_number": 1,
        "id": season["episodes"][0]["id"],
    }
    st, _, movie = get(
        f"{base}/movie/129?api_key=test-key&append_to_response=alternative_titles,translations"
    )
    assert st == 200 and movie["alternative_titles"]["titles"]
    assert movie["translations"]["translations"][0]["data"]["title"]
    st, _, alt = get(f"{base}/tv/1429/alternative_titles?api_key=test-key")
    assert alt["results"][0]["title"] == "Shingeki no Kyojin"
    st, _, conf = get(f"{base}/configuration?api_key=test-key")
    assert st == 200 and "images" in conf


def test_errors(server: Any) -> None:
    base = server.base_url
    st, _, body = get(f"{base}/search/tv?query=naruto&api_key=wrong")
    assert st == 401 and body["status_code"] == 7
    st, _, body = get(f"{base}/search/tv?query=naruto", {"Authorization": "Bearer wrong"})
    assert st == 401
    st, _, body = get(f"{base}/tv/999999999?api_key=test-key")
    assert st == 404 and body["status_code"] == 34
    st, _, body = get(f"{base}/tv/1429/season/99?api_key=test-key")
    assert st == 404
    st, _, body = get(f"{base}/search/tv?api_key=test-key")
    assert st == 422
    stats = server.stats()
    assert (
        stats["by_status"]["401"] == 2 and stats["by_status"]["404"] == 2 and stats["by_status"]["422"] == 1
    )


def test_rate_limit_429_and_stats() -> None:
    # seed 2: of the three 429s, the last comes without Retry-After (TMDB's CDN sends some so)
    with emu.start_emulator(CATALOG, rate_limit=5, seed=2) as running:
        codes, waits = [], []
        for _ in range(8):
            st, headers, body = get(f"{running.base_url}/configuration?api_key=test-key")
            codes.append(st)
            if st == 429:
                assert body["status_code"] == 25 and "(5)" in body["status_message"]
                waits.append(headers.get("Retry-After"))
        assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
        assert waits[2] is None and all(int(w) >= 1 for w in waits[:2])
        stats = running.stats()
        assert stats["max_per_second"] == 8 and stats["by_status"]["429"] == 3
        req = urllib.request.Request(f"{running.base_url[:-2]}/__reset", data=b"", method="POST")
        urllib.request.urlopen(req, timeout=5).read()
        assert running.stats()["total_requests"] == 0


def test_latency_and_max_in_flight() -> None:
    with emu.start_emulator(CATALOG, latency_ms=150) as running:
        threads = [
            threading.Thread(target=get, args=(f"{running.base_url}/configuration?api_key=test-key",))
            for _ in range(3)
        ]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - t0 >= 0.15
        assert running.stats()["max_in_flight"] == 3


def test_fail_rate_is_seeded() -> None:
    def run() -> list[object]:
        out: list[object] = []
        with emu.start_emulator(CATALOG, fail_rate=0.5, seed=7) as running:
            for _ in range(20):
                try:
                    out.append(get(f"{running.base_url}/configuration?api_key=test-key")[0])
                except (urllib.error.URLError, ConnectionError, OSError):
                    out.append("drop")
        return out

    first = run()
    assert first == run()
    assert any(x != 200 for x in first) and 200 in first


def test_script_cli_prints_base_url_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "tmdb_emulator.py"),
            "--catalog",
            str(CATALOG),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:") and line.endswith("/3")
        st, _, body = get(f"{line}/search/tv?query=frieren", {"Authorization": "Bearer test-key"})
        assert st == 200 and body["results"][0]["id"] == 209867
        st, _, stats = get(line[:-2] + "/__stats")
        assert stats["total_requests"] == 1
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
