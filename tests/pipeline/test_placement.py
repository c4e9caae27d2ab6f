"""Seasons and episodes as TMDB numbers them, anime over live action, names in the user's language: the
real CLI on real files against the emulator (tests/fixtures/tmdb_catalog_small.json carries TMDB's season
names, air dates, absolutely numbered long-runners, an absolute episode group, live-action namesakes and
Korean names)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import RunCli, make_files
from sqlalchemy import text

from anivault.db.connect import open_db
from anivault.paths import resolve_db_path

# file → (TMDB id, season, episode, status) as TMDB files it
CASES: dict[str, tuple[int, int | None, int | None, str]] = {
    # a season folder is evidence; the year is the show's
    "Demon Slayer (2019)/Season 2/09.mkv": (85937, 2, 9, "matched"),
    # a sequel TMDB files as a later season, found by the season's name
    "[SubsPlease] Kaguya-sama wa Kokurasetai - Ultra Romantic - 01 (1080p).mkv": (83121, 3, 1, "matched"),
    "[SubsPlease] Kaguya-sama wa Kokurasetai - Ultra Romantic - 13 (1080p).mkv": (83121, 3, 13, "matched"),
    # the season in the show's folder name
    "Made in Abyss S2/Made in Abyss - 03.mkv": (72636, 2, 3, "matched"),
    # a long-runner numbered absolutely inside its seasons
    "[Erai] One Piece - 885 [1080p].mkv": (37854, 20, 885, "matched"),
    "[Erai] One Piece - 877 [1080p].mkv": (37854, 20, 877, "matched"),
    "[Erai] One Piece S20E03 [1080p].mkv": (37854, 20, 879, "matched"),  # the season's third
    "[G] Naruto - 120.mkv": (46260, 3, 120, "matched"),
    # an absolute number through TMDB's absolute episode group (season 5's count is unknown)
    "[G] Gintama - 230.mkv": (57911, 6, 29, "matched"),
    # an absolute number walked through the seasons' counts
    "[G] Shingeki no Kyojin - 30.mkv": (1429, 2, 5, "matched"),
    # a named final season and its second part, split where the air dates pause
    "[G] Shingeki no Kyojin The Final Season - 05.mkv": (1429, 4, 5, "matched"),
    "[G] Shingeki no Kyojin The Final Season Part 2 - 05.mkv": (1429, 4, 21, "matched"),
    "[G] Shingeki no Kyojin S3 Part 2 - 03.mkv": (1429, 3, 15, "matched"),
    # specials: sure when the name says season 0 or names the episode, else a person looks
    "Shingeki no Kyojin S00E03.mkv": (1429, 0, 3, "matched"),
    "[G] Shingeki no Kyojin OVA - Ilse's Notebook.mkv": (1429, 0, 1, "matched"),
    "[G] Shingeki no Kyojin OVA 05.mkv": (1429, 0, 5, "review"),
    # a season TMDB does not have: never placed automatically
    "[G] Made in Abyss S3 - 01.mkv": (72636, 3, 1, "review"),
    # anime over the live-action namesakes (more popular, in English, from the US)
    "[G] Cowboy Bebop - 05.mkv": (30991, 1, 5, "matched"),
    "[G] Death Note - 05.mkv": (13916, 1, 5, "matched"),
    "Ghost in the Shell.mkv": (9323, None, None, "matched"),
}


def _rows(run_cli: RunCli) -> dict[str, dict[str, Any]]:
    db = open_db(resolve_db_path(None))
    try:
        with db.read() as s:
            result = s.execute(
                text(
                    "SELECT f.path, m.tmdb_id, m.season, m.episode, m.status, m.reason, m.confidence, m.title,"
                    " m.title_original, m.title_en, m.year, m.episode_title, m.method"
                    " FROM files f JOIN matches m ON m.file_id = f.id"
                )
            )
            return {r.path: dict(r._mapping) for r in result}
    finally:
        db.close()


@pytest.fixture
def matched(emulator: Any, tmp_path: Path, run_cli: RunCli) -> tuple[Path, dict[str, dict[str, Any]]]:
    lib = tmp_path / "lib"
    make_files(lib, list(CASES))
    assert run_cli("index", lib).exit_code == 0
    res = run_cli("match", "--json")
    assert res.exit_code == 0, res.stderr
    rows = _rows(run_cli)
    return lib, {str(Path(p).relative_to(lib)): r for p, r in rows.items()}


def test_each_file_lands_where_tmdb_files_it(matched: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    _, rows = matched
    got = {name: (r["tmdb_id"], r["season"], r["episode"], r["status"]) for name, r in rows.items()}
    assert got == CASES


def test_a_doubtful_placement_waits_below_the_auto_threshold_with_its_reason(
    matched: tuple[Path, dict[str, dict[str, Any]]],
) -> None:
    _, rows = matched
    for name, (_id, _s, _e, status) in CASES.items():
        row = rows[name]
        if status == "review":
            assert row["confidence"] < 0.8 and row["reason"].startswith("review: "), row
    assert "no season 3" in rows["[G] Made in Abyss S3 - 01.mkv"]["reason"]
    assert "special" in rows["[G] Shingeki no Kyojin OVA 05.mkv"]["reason"]


def test_the_live_action_namesake_is_a_candidate_but_scores_below(
    matched: tuple[Path, dict[str, dict[str, Any]]], run_cli: RunCli
) -> None:
    res = run_cli("match", "--query", "Cowboy Bebop", "--json")
    assert res.exit_code == 0, res.stderr
    cands = json.loads(res.stdout)
    assert [c["tmdb_id"] for c in cands[:2]] == [30991, 90820]
    assert cands[0]["reasons"]["animation"] > 0 > cands[1]["reasons"]["live_action"]


def test_match_rows_carry_the_names_and_organize_reads_no_cache(
    matched: tuple[Path, dict[str, dict[str, Any]]], run_cli: RunCli, tmp_path: Path
) -> None:
    _, rows = matched
    aot = rows["[G] Shingeki no Kyojin - 30.mkv"]
    assert (aot["title"], aot["title_original"], aot["title_en"], aot["year"]) == (
        "Attack on Titan", "進撃の巨人", "Attack on Titan", 2013
    )  # fmt: skip
    plan = run_cli("organize", "--dest", tmp_path / "Vault", "--json")
    assert plan.exit_code == 0, plan.stderr
    assert run_cli("cache", "clear").exit_code == 0
    again = run_cli("organize", "--dest", tmp_path / "Vault", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout) == json.loads(plan.stdout)
    assert all("tmdb-" not in i["dst"] for i in json.loads(again.stdout)["items"])


def test_a_korean_user_gets_korean_names_and_the_original_where_tmdb_has_none(
    emulator: Any, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANIVAULT_TMDB_LANGUAGE", "ko-KR")
    lib = tmp_path / "lib"
    make_files(
        lib,
        [
            "[G] Shingeki no Kyojin - 30.mkv",
            "Made in Abyss S2/Made in Abyss - 03.mkv",
            "[SubsPlease] Sousou no Frieren - 05 (1080p).mkv",
        ],
    )
    assert run_cli("index", lib).exit_code == 0
    assert run_cli("match", "--episode-titles").exit_code == 0
    template = (
        "{title} ({year})/Season {season:02}/{title_en} - S{season:02}E{episode:02} - {episode_title}.{ext}"
    )
    res = run_cli("organize", "--dest", tmp_path / "Vault", "--template", template, "--json")
    assert res.exit_code == 0, res.stderr
    dst = sorted(str(Path(i["dst"]).relative_to(tmp_path / "Vault")) for i in json.loads(res.stdout)["items"])
    assert (
        dst
        == [
            "メイドインアビス (2017)/Season 02/Made in Abyss - S02E03 - Episode 3.mkv",  # no Korean name: the original
            "장송의 프리렌 (2023)/Season 01/Frieren - Beyond Journey's End - S01E05 - 죽은 자의 환영.mkv",
            "진격의 거인 (2013)/Season 02/Attack on Titan - S02E05 - Episode 5.mkv",
        ]
    )


def test_a_person_s_pick_is_placed_like_any_match(emulator: Any, tmp_path: Path, run_cli: RunCli) -> None:
    lib = tmp_path / "lib"
    make_files(lib, ["[A] Fruits Basket S2 - 03.mkv", "[A] Fruits Basket S9 - 01.mkv"])
    assert run_cli("index", lib).exit_code == 0
    assert run_cli("match").exit_code == 0  # two same-named shows: a person chooses
    res = run_cli("review", input="i\n86836\n")
    assert res.exit_code == 0, res.stderr
    rows = {Path(p).name: r for p, r in _rows(run_cli).items()}
    s2, s9 = rows["[A] Fruits Basket S2 - 03.mkv"], rows["[A] Fruits Basket S9 - 01.mkv"]
    assert (s2["tmdb_id"], s2["season"], s2["episode"], s2["status"]) == (86836, 2, 3, "matched")
    assert s2["title"] == "Fruits Basket" and s2["year"] == 2019
    assert (s9["status"], s9["season"]) == ("review", 9) and "no season 9" in s9["reason"]


def test_matches_from_before_names_are_completed_by_the_next_match(
    matched: tuple[Path, dict[str, dict[str, Any]]], run_cli: RunCli, tmp_path: Path
) -> None:
    """A library upgraded from before matches carried names: organize leaves those files out and says so;
    the next `anivault match` fills the names in (a person's pick stays the person's pick)."""
    db = open_db(resolve_db_path(None))
    try:
        with db.write() as s:
            s.execute(text("UPDATE matches SET method = 'manual' WHERE tmdb_id = 9323"))
            s.execute(
                text("UPDATE matches SET title = NULL, title_en = NULL, title_original = NULL, year = NULL")
            )
    finally:
        db.close()
    res = run_cli("organize", "--dest", tmp_path / "Vault", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["items"] == []
    assert "have no names yet" in res.stderr and "anivault match" in res.stderr
    again = json.loads(run_cli("match", "--json").stdout)
    assert again["http_requests"] == 0  # from the cache
    rows = _rows(run_cli)
    assert all(r["title"] for r in rows.values() if r["tmdb_id"] is not None)
    ghost = next(r for p, r in rows.items() if p.endswith("Ghost in the Shell.mkv"))
    assert (ghost["tmdb_id"], ghost["title"], ghost["year"], ghost["method"]) == (
        9323,
        "Ghost in the Shell",
        1995,
        "manual",
    )
    res = run_cli("organize", "--dest", tmp_path / "Vault", "--json")
    assert res.exit_code == 0 and len(json.loads(res.stdout)["items"]) > 0
