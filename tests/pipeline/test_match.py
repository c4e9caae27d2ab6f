"""`anivault match`, `review` and `cache` end to end: real files, the real CLI, the emulator as a real server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import SMALL_CATALOG, RunCli, StalledServer, closed_port_url, make_files
from sqlalchemy import text
from tmdb_emulator import start_emulator

from anivault.db.base import utcnow
from anivault.db.connect import open_db
from anivault.db.engine import Database
from anivault.pipeline.match import title_similarity

LIBRARY = [
    "Frieren/[SubsPlease] Sousou no Frieren - 05 (1080p).mkv",
    "[Erai] One Piece - 1050 [1080p].mkv",
    "[X] Hunter x Hunter (2011) - 120.mkv",
    "[Group] Shingeki no Kyojin S2 - 05 [720p].mkv",
    "[G] Shingeki no Kyojin - 30.mkv",
    "[Group] Shingeki no Kyojin - OVA 02.mkv",
    "Kimi no Na wa (2016) [BD 1080p].mkv",
    "[Sub] 나 혼자만 레벨업 - 03 [1080p].mkv",
    "Zzzqqq Unknown - 01.mkv",
]


def db_of(run_cli: RunCli) -> Database:
    from anivault.paths import resolve_db_path

    return open_db(resolve_db_path(None))


def rows(run_cli: RunCli) -> dict[str, dict[str, Any]]:
    db = db_of(run_cli)
    try:
        with db.read() as s:
            result = s.execute(
                text(
                    "SELECT f.name, m.tmdb_id, m.media_type, m.season, m.episode, m.status, m.method, m.reason,"
                    " m.confidence, m.candidates FROM files f JOIN matches m ON m.file_id = f.id"
                )
            )
            return {r.name: dict(r._mapping) for r in result}
    finally:
        db.close()


def match_json(run_cli: RunCli, *args: str) -> dict[str, Any]:
    res = run_cli("match", "--json", *args)
    assert res.exit_code == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


@pytest.fixture
def library(tmp_path: Path, run_cli: RunCli) -> Path:
    lib = tmp_path / "lib"
    make_files(lib, LIBRARY)
    assert run_cli("index", lib).exit_code == 0
    return lib


def test_match_decides_every_file_and_a_second_run_sends_nothing(
    emulator: Any, library: Path, run_cli: RunCli
) -> None:
    report = match_json(run_cli)
    assert report["keys"] == 8 and report["files"] == len(LIBRARY)
    r = rows(run_cli)
    got = {n: (v["tmdb_id"], v["media_type"], v["season"], v["episode"], v["status"]) for n, v in r.items()}
    assert got["[SubsPlease] Sousou no Frieren - 05 (1080p).mkv"] == (209867, "tv", 1, 5, "matched")
    # TMDB numbers One Piece absolutely inside its seasons: episode 1050 is S21E1050, not S21E159
    assert got["[Erai] One Piece - 1050 [1080p].mkv"] == (37854, "tv", 21, 1050, "matched")
    assert got["[X] Hunter x Hunter (2011) - 120.mkv"] == (46298, "tv", 1, 120, "matched")  # not the 1999 one
    assert got["[Group] Shingeki no Kyojin S2 - 05 [720p].mkv"] == (1429, "tv", 2, 5, "matched")
    assert got["[G] Shingeki no Kyojin - 30.mkv"] == (1429, "tv", 2, 5, "matched")  # 25 in S1
    # specials: season 0, where TMDB's order may not be the release's, so a person looks first
    assert got["[Group] Shingeki no Kyojin - OVA 02.mkv"] == (1429, "tv", 0, 2, "review")
    assert "special" in r["[Group] Shingeki no Kyojin - OVA 02.mkv"]["reason"]
    assert got["Kimi no Na wa (2016) [BD 1080p].mkv"] == (372058, "movie", None, None, "matched")
    assert got["[Sub] 나 혼자만 레벨업 - 03 [1080p].mkv"][:2] == (127532, "tv")
    unknown = r["Zzzqqq Unknown - 01.mkv"]
    assert unknown["status"] == "unmatched" and unknown["reason"].startswith("no_result")
    frieren = r["[SubsPlease] Sousou no Frieren - 05 (1080p).mkv"]
    cands = json.loads(frieren["candidates"])
    assert cands[0]["tmdb_id"] == 209867 and cands[0]["reasons"]["title"] == 1.0
    assert report["http_requests"] == emulator.stats()["total_requests"]
    assert report["http_requests"] <= 3 * report["keys"]
    # one search per series key, not per file (the three AoT files share one key)
    searches = sum(n for p, n in emulator.stats()["by_path"].items() if "/search/" in p)
    assert searches <= 2 * report["keys"]

    before = emulator.stats()["total_requests"]
    again = match_json(run_cli)
    assert again["http_requests"] == 0
    assert emulator.stats()["total_requests"] == before

    # a newly indexed file of a known series is matched from the cache
    make_files(library, ["Frieren/[SubsPlease] Sousou no Frieren - 06 (1080p).mkv"])
    assert run_cli("index", library).exit_code == 0
    third = match_json(run_cli)
    assert third["matched"] == 1 and third["http_requests"] == 0
    assert emulator.stats()["total_requests"] == before
    assert rows(run_cli)["[SubsPlease] Sousou no Frieren - 06 (1080p).mkv"]["episode"] == 6


def test_episode_names_come_from_tmdb_when_the_template_names_episodes(
    emulator: Any, library: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    """Presets do not name episodes, and match asks only for the seasons placement needs (One Piece numbers
    its episodes absolutely: season 21 confirms episode 1050). `match --episode-titles` (or a series template
    in settings with `{episode_title}`) looks up each matched season's episode names once (cached after) into
    the matches rows, and organize names files with them; where TMDB has no name the file name's own title
    stays."""
    first = match_json(run_cli)
    assert first["title_seasons"] == 0
    assert [p for p in emulator.stats()["by_path"] if "/season/" in p] == ["/3/tv/37854/season/21"]
    template = "{title}/Season {season:02}/S{season:02}E{episode:02} - {episode_title}.{ext}"
    res = run_cli("organize", "--dest", tmp_path / "Vault", "--template", template, "--json")
    assert res.exit_code == 0 and "anivault match --episode-titles" in res.stderr  # names not looked up yet

    second = match_json(run_cli, "--episode-titles")  # nothing new to match: only the seasons' names
    seasons = [p for p in emulator.stats()["by_path"] if "/season/" in p]
    assert second["title_seasons"] == len(seasons) > 0 and second["title_seasons_deferred"] == 0
    assert "/3/tv/209867/season/1" in seasons
    assert match_json(run_cli, "--episode-titles")["http_requests"] == 0  # cached

    # with the template in settings, match keeps the names of newly matched seasons up to date by itself
    assert run_cli("settings", "set", "organize.series_template", template).exit_code == 0
    make_files(
        library,
        [
            "Frieren/[SubsPlease] Sousou no Frieren - 02 (1080p).mkv",
            "[Group] Shingeki no Kyojin S2 - 06 - Warrior [720p].mkv",
        ],
    )
    assert run_cli("index", library).exit_code == 0
    assert match_json(run_cli)["http_requests"] == 0  # known seasons: their names are cached already
    res = run_cli("organize", "--dest", tmp_path / "Vault", "--json")
    assert res.exit_code == 0 and "episode names" not in res.stderr, res.stderr
    targets = {Path(i["src"]).name: Path(i["dst"]).name for i in json.loads(res.stdout)["items"]}
    assert targets["[SubsPlease] Sousou no Frieren - 05 (1080p).mkv"] == "S01E05 - Phantoms of the Dead.mkv"
    # TMDB's placeholder for an untitled episode, where the file name has no title either ...
    assert targets["[Group] Shingeki no Kyojin S2 - 05 [720p].mkv"] == "S02E05 - Episode 5.mkv"
    # ... but a title in the file name wins over that placeholder
    assert targets["[Group] Shingeki no Kyojin S2 - 06 - Warrior [720p].mkv"] == "S02E06 - Warrior.mkv"
    # a TMDB name goes through safe naming like any value (its dots are not trailing: they stay)
    assert (
        targets["[SubsPlease] Sousou no Frieren - 02 (1080p).mkv"]
        == "S01E02 - It Didn't Have to Be Magic....mkv"
    )


def test_episode_names_tmdb_cannot_give_now_are_asked_for_next_time(
    library: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TMDB down while the seasons' names are looked up: the matches stand, the run says how many seasons
    wait, and the next run asks for exactly those."""
    monkeypatch.setenv("ANIVAULT_TMDB_KEY", "test-key")
    with start_emulator(SMALL_CATALOG) as emu:
        monkeypatch.setenv("ANIVAULT_TMDB_URL", emu.base_url)
        assert match_json(run_cli)["deferred"] == 0
    monkeypatch.setenv("ANIVAULT_TMDB_URL", closed_port_url())
    monkeypatch.setenv("ANIVAULT_TMDB_RETRIES", "0")
    res = run_cli("match", "--episode-titles")
    assert res.exit_code == 0, res.stderr
    # only the season placement already asked for (cached) is answered; the others wait
    found = re.search(r"episode names looked up for (\d+) season\(s\), (\d+) to retry later", res.stderr)
    assert found is not None and int(found[1]) == 1 and int(found[2]) > 0, res.stderr
    waiting = int(found[2])
    assert {v["status"] for v in rows(run_cli).values()} <= {"matched", "unmatched", "review"}
    with start_emulator(SMALL_CATALOG) as emu:
        monkeypatch.setenv("ANIVAULT_TMDB_URL", emu.base_url)
        again = match_json(run_cli, "--episode-titles")
        asked = [p for p in emu.stats()["by_path"] if "/season/" in p]
    assert again["title_seasons"] == waiting == len(asked) and again["title_seasons_deferred"] == 0


def test_override_wins_and_survives_refresh(emulator: Any, library: Path, run_cli: RunCli) -> None:
    match_json(run_cli)
    res = run_cli("match", "--set", "Zzzqqq Unknown", "209867", "--season-offset", "1")
    assert res.exit_code == 0, res.stderr
    row = rows(run_cli)["Zzzqqq Unknown - 01.mkv"]
    assert (row["tmdb_id"], row["method"], row["status"], row["season"]) == (209867, "override", "matched", 1)
    # an override also beats a confident automatic answer
    assert run_cli("match", "--set", "kimi no na wa", "129", "--movie").exit_code == 0
    match_json(run_cli, "--refresh")
    r = rows(run_cli)
    assert r["Zzzqqq Unknown - 01.mkv"]["method"] == "override"
    assert r["Kimi no Na wa (2016) [BD 1080p].mkv"]["tmdb_id"] == 129
    assert run_cli("match", "--set", "x", "0").exit_code == 2
    assert run_cli("match", "--movie").exit_code == 2


def test_review_with_scripted_answers(emulator: Any, tmp_path: Path, run_cli: RunCli) -> None:
    lib = tmp_path / "lib"
    # two same-named shows each (remakes, no year in the names): doubtful, so they wait for a person
    make_files(
        lib, ["[A] Fruits Basket - 01.mkv", "[A] Fruits Basket - 02.mkv", "[B] Hunter x Hunter - 05.mkv"]
    )
    assert run_cli("index", lib).exit_code == 0
    report = match_json(run_cli)
    assert report["review"] == 3
    res = run_cli("review", input="x\n2\ni\n2361\n")
    assert res.exit_code == 0, res.stderr
    assert "score" in res.stderr and "2 series decided" in res.stderr
    r = rows(run_cli)
    assert {r[n]["tmdb_id"] for n in ("[A] Fruits Basket - 01.mkv", "[A] Fruits Basket - 02.mkv")} == {1730}
    assert r["[B] Hunter x Hunter - 05.mkv"]["tmdb_id"] == 2361
    assert {v["method"] for v in r.values()} == {"manual"}
    # the picks are overrides now: they survive a refresh
    match_json(run_cli, "--refresh")
    assert rows(run_cli)["[B] Hunter x Hunter - 05.mkv"]["tmdb_id"] == 2361
    assert run_cli("review").stderr.strip().endswith("nothing to review")


def test_review_search_again_and_skip(emulator: Any, tmp_path: Path, run_cli: RunCli) -> None:
    lib = tmp_path / "lib"
    make_files(lib, ["[A] Fruits Basket - 01.mkv"])
    assert run_cli("index", lib).exit_code == 0
    match_json(run_cli)
    res = run_cli("review", input="k\n")
    assert "0 series decided, 1 skipped" in res.stderr
    res = run_cli("review", input="s\nfuruba\n1\n")
    assert res.exit_code == 0, res.stderr
    assert rows(run_cli)["[A] Fruits Basket - 01.mkv"]["tmdb_id"] == 1730  # "Furuba" is the 2001 show's alias
    assert run_cli("review", input="").exit_code == 0  # EOF is a quiet quit


def test_tmdb_down_defers_then_the_next_run_resumes(
    library: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANIVAULT_TMDB_KEY", "test-key")
    monkeypatch.setenv("ANIVAULT_TMDB_URL", closed_port_url())
    monkeypatch.setenv("ANIVAULT_TMDB_RETRIES", "0")
    res = run_cli("match")
    assert res.exit_code == 5
    assert "could not answer now" in res.stderr and "Traceback" not in res.stderr
    r = rows(run_cli)
    assert {v["status"] for v in r.values()} == {"deferred"}
    assert all("deferred" in v["reason"] for v in r.values())
    db = db_of(run_cli)
    assert db.integrity_check() == []
    db.close()
    with start_emulator(SMALL_CATALOG) as emu:
        monkeypatch.setenv("ANIVAULT_TMDB_URL", emu.base_url)
        report = match_json(run_cli)
    assert report["keys"] == 8 and report["deferred"] == 0
    assert rows(run_cli)["[SubsPlease] Sousou no Frieren - 05 (1080p).mkv"]["status"] == "matched"


def test_5xx_storm_defers_with_bounded_requests(
    library: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_emulator(SMALL_CATALOG, fail_rate=1.0, seed=3) as emu:
        monkeypatch.setenv("ANIVAULT_TMDB_KEY", "test-key")
        monkeypatch.setenv("ANIVAULT_TMDB_URL", emu.base_url)
        monkeypatch.setenv("ANIVAULT_TMDB_RETRIES", "1")
        res = run_cli("match")
        sent = emu.stats()["total_requests"]
    assert res.exit_code == 5 and "could not answer now" in res.stderr
    assert sent <= 16  # one retry per series, then deferred (no retry storm)
    assert {v["status"] for v in rows(run_cli).values()} == {"deferred"}


def test_no_key_and_wrong_key_are_clear(
    library: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_emulator(SMALL_CATALOG) as emu:
        monkeypatch.setenv("ANIVAULT_TMDB_URL", emu.base_url)
        monkeypatch.delenv("ANIVAULT_TMDB_KEY", raising=False)
        res = run_cli("match")
        assert res.exit_code == 3 and "key" in res.stderr.lower()
        assert emu.stats()["total_requests"] == 0
        offline = match_json(run_cli, "--offline")  # no key needed: the cache (empty) answers
        assert offline["deferred"] == len(LIBRARY)
        monkeypatch.setenv("ANIVAULT_TMDB_KEY", "wrong-key-canary-123")
        res = run_cli("match")
        assert res.exit_code == 5 and "check your key" in res.stderr
        assert "wrong-key-canary-123" not in res.stderr + res.stdout
        assert emu.stats()["by_status"].get("401", 0) <= 8  # stopped, not retried per file


def test_cache_ttl_expiry_and_commands(emulator: Any, tmp_path: Path, run_cli: RunCli) -> None:
    from anivault.config import load_settings
    from anivault.tmdb.cached import open_tmdb

    db = open_db(tmp_path / "cache.db")
    settings = load_settings()
    t0 = utcnow()

    def port_at(hours: float) -> Any:
        return open_tmdb(db, settings, now=lambda: t0 + timedelta(hours=hours))

    p1 = port_at(0)
    assert p1.search("tv", "Frieren")[0].tmdb_id == 209867
    assert p1.details("tv", 209867) is not None and p1.details("tv", 99999999) is None
    with db.write() as s:
        assert p1.flush(s) == 3
    sent = emulator.stats()["total_requests"]
    p2 = port_at(12)  # within every TTL; "frieren " is the same key as "Frieren"
    assert p2.search("tv", "frieren ")[0].tmdb_id == 209867 and p2.details("tv", 99999999) is None
    assert emulator.stats()["total_requests"] == sent and p2.counters.hits == 2
    p3 = port_at(100)  # the search (72 h) and the 404 (24 h) expired, the details (720 h) did not
    p3.search("tv", "frieren")
    p3.details("tv", 209867)
    p3.details("tv", 99999999)
    assert emulator.stats()["total_requests"] == sent + 2
    with db.write() as s:
        p3.flush(s)
    db.close()

    res = run_cli("--db", tmp_path / "cache.db", "cache", "stats", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["entries"] == 3
    assert "removed" in run_cli("--db", tmp_path / "cache.db", "cache", "prune").stderr
    res = run_cli("--db", tmp_path / "cache.db", "cache", "clear")
    assert "3 entries removed" in res.stderr


def test_title_similarity_prefers_the_exact_title() -> None:
    assert title_similarity("attack on titan", "Attack on Titan") == 1.0
    assert title_similarity("attack on titan", "Attack on Titan Season 2") > 0.9
    sequel = title_similarity("darker than black", "Darker than Black: Gemini of the Meteor")
    assert sequel < title_similarity("darker than black", "Darker Than Black")
    assert title_similarity("", "x") == 0.0


@pytest.fixture(autouse=True)
def _quiet_breaker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # short waits so fault tests stay fast; the defaults are for real TMDB
    monkeypatch.setenv("ANIVAULT_TMDB_TIMEOUT", "1")
    monkeypatch.setenv("ANIVAULT_TMDB_DEADLINE", "5")
    yield


def test_ctrl_c_saves_what_was_decided_and_the_next_run_finishes(
    emulator: Any, library: Path, run_cli: RunCli
) -> None:
    from anivault.config import load_settings
    from anivault.errors import Interrupted
    from anivault.pipeline.match import match_library

    calls = 0

    def progress(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt

    db = db_of(run_cli)
    try:
        with pytest.raises(Interrupted, match="series decided and saved"):
            match_library(db, load_settings(), progress=progress)
        assert db.integrity_check() == []
    finally:
        db.close()
    saved = rows(run_cli)
    assert 2 <= len(saved) < len(LIBRARY)
    report = match_json(run_cli)
    assert report["keys"] < 8 and len(rows(run_cli)) == len(LIBRARY)


def test_the_deferred_error_counts_files_in_the_right_number() -> None:
    from anivault.cli.cmd_match import deferred_error
    from anivault.pipeline.match import series_key

    keys = [series_key("frieren", None, "tv"), series_key("bocchi", 2022, "tv")]
    one, many, unnamed = deferred_error(1, keys[:1]), deferred_error(3, keys), deferred_error(2, [])
    assert (
        str(one)
        == "1 file was not matched because TMDB could not answer now (e.g. frieren); everything else is saved"
    )
    assert str(many).startswith("3 files were not matched") and "(e.g. frieren, bocchi:2022);" in str(many)
    assert (
        str(unnamed) == "2 files were not matched because TMDB could not answer now; everything else is saved"
    )


@pytest.mark.parametrize("ignored_by_parent", [False, True], ids=["sigint", "sigint-ignored-by-the-parent"])
def test_sigint_stops_a_match_against_a_hung_tmdb_within_two_seconds(
    installed_cli: Path, library: Path, stalled_server: StalledServer, ignored_by_parent: bool
) -> None:
    """A shell script's background job starts with SIGINT ignored; `kill -INT` must still stop the run."""
    env = dict(os.environ, ANIVAULT_TMDB_URL=stalled_server.url, ANIVAULT_TMDB_KEY="test-key")
    proc = subprocess.Popen(
        [str(installed_cli), "match"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignored_by_parent else None,
    )  # fmt: skip
    try:
        assert stalled_server.accepted.wait(20), "match never asked TMDB"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert time.monotonic() - sent < 2.0
    assert proc.returncode == 130, err
    assert "interrupted" in err and "run `anivault match` again" in err and "Traceback" not in err


class _Poisoning(BaseHTTPRequestHandler):
    """Forwards to the emulator, but answers searches whose query contains ``poison`` with a 200 whose
    fields are null or of the wrong type (a broken CDN node, a half-deployed API)."""

    upstream = ""
    poison = ""
    body = b""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.poison and self.poison in self.path.replace("+", " ").replace("%20", " "):
            data, status = self.body, 200
        else:
            try:
                with urllib.request.urlopen(self.upstream + self.path.removeprefix("/3")) as r:
                    data, status = r.read(), r.status
            except urllib.error.HTTPError as exc:
                data, status = exc.read(), exc.code
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def poisoning(emulator: Any) -> Iterator[type[_Poisoning]]:
    handler = type("P", (_Poisoning,), {"upstream": emulator.base_url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mp = pytest.MonkeyPatch()
    mp.setenv("ANIVAULT_TMDB_URL", f"http://127.0.0.1:{server.server_address[1]}/3")
    try:
        yield handler
    finally:
        mp.undo()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b'{"page": 1, "results": null}', id="null-results"),
        pytest.param(b'{"page": 1, "results": [{"id": null, "name": null}]}', id="null-fields"),
        pytest.param(b'{"page": 1, "results": [{"id": "209867", "name": 5}]}', id="wrong-types"),
        pytest.param(b'{"page": 1, "results": ' + b"[" * 5000 + b"]" * 5000 + b"}", id="deeply-nested"),
    ],
)
def test_a_malformed_answer_defers_its_series_only_and_is_asked_again(
    poisoning: type[_Poisoning], library: Path, run_cli: RunCli, emulator: Any, bad: bytes
) -> None:
    poisoning.poison, poisoning.body = "frieren", bad
    res = run_cli("match", "--json")
    assert res.exit_code == 5, res.stderr  # the deferred series, said once at the end
    report = json.loads(res.stdout)
    assert report["deferred"] == 1 and report["matched"] >= 5
    frieren = rows(run_cli)["[SubsPlease] Sousou no Frieren - 05 (1080p).mkv"]
    assert frieren["status"] == "deferred" and frieren["reason"].startswith("deferred: TMDB sent "), frieren
    db = db_of(run_cli)
    try:
        with db.read() as s:
            cached = s.execute(text("SELECT count(*) FROM tmdb_cache WHERE q_norm LIKE '%frieren%'")).scalar()
    finally:
        db.close()
    assert cached == 0, "a malformed answer was cached"
    poisoning.poison = ""  # TMDB is healthy again
    again = match_json(run_cli)
    assert again["http_requests"] > 0 and again["matched"] == 1
    assert rows(run_cli)["[SubsPlease] Sousou no Frieren - 05 (1080p).mkv"]["tmdb_id"] == 209867


def test_a_malformed_row_already_in_the_cache_is_a_miss(
    emulator: Any, library: Path, run_cli: RunCli
) -> None:
    match_json(run_cli)
    db = db_of(run_cli)
    try:
        with db.write() as s:
            s.execute(text("UPDATE tmdb_cache SET payload = '{\"results\": [{\"id\": null}]}'"
                           " WHERE endpoint = 'search/tv'"))  # fmt: skip
            s.execute(text("DELETE FROM matches"))
    finally:
        db.close()
    report = match_json(run_cli)
    assert report["http_requests"] > 0 and report["deferred"] == 0
    assert rows(run_cli)["[SubsPlease] Sousou no Frieren - 05 (1080p).mkv"]["tmdb_id"] == 209867
