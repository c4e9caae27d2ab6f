"""Organize end to end: dry run, plans, apply, log, rollback, resume, actions, conflicts, odd names."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from conftest import RunCli
from crash_organize import episode_input, files_under, ledger_rows, make_library, tree, write

from anivault.db.connect import open_db
from anivault.db.engine import Database
from anivault.errors import AniVaultError, UsageError
from anivault.organize import service
from anivault.organize.ledger import Ledger
from anivault.organize.plan import PlanConflict


@pytest.fixture
def lib(tmp_path: Path) -> object:
    return make_library(tmp_path / "lib", 12)


def cli(run_cli: RunCli, lib: object, *args: object) -> object:
    return run_cli("--db", str(lib.db), *map(str, args))  # type: ignore[attr-defined]


def test_dry_run_shows_a_tree_and_changes_nothing(run_cli: RunCli, lib: object) -> None:
    res = cli(run_cli, lib, "organize", "--dest", lib.dest)  # type: ignore[attr-defined]
    assert res.exit_code == 0, res.stderr
    assert "Season 01" in res.stdout and "Frieren - S01E001.mkv".replace("E001", "E01") in res.stdout
    assert "dry run" in res.stderr and "16 to move" in res.stderr
    assert not lib.dest.exists()  # type: ignore[attr-defined]
    assert tree(lib.src) == lib.original  # type: ignore[attr-defined]
    assert ledger_rows(lib.db, "SELECT count(*) FROM operations") == [(0,)]  # type: ignore[attr-defined]


def test_apply_log_show_rollback_via_cli(run_cli: RunCli, lib: object) -> None:
    res = cli(run_cli, lib, "organize", "--dest", lib.dest, "--apply", "--json")  # type: ignore[attr-defined]
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "done" and out["counts"]["done"] > 16
    assert tree(lib.src) == {}  # type: ignore[attr-defined]
    # files.path follows every move, companions included
    paths = [r[0] for r in ledger_rows(lib.db, "SELECT path FROM files")]  # type: ignore[attr-defined]
    assert paths and all(p.startswith(str(lib.dest)) for p in paths)  # type: ignore[attr-defined]
    assert any(p.endswith(".en.ass") for p in paths)
    log = json.loads(cli(run_cli, lib, "log", "--json").stdout)
    assert log[0]["kind"] == "organize" and log[0]["status"] == "done"
    show = json.loads(cli(run_cli, lib, "log", "show", "1", "--json").stdout)
    assert {i["state"] for i in show["items"]} == {"done"}
    assert ledger_rows(lib.db, "SELECT count(*) FROM v_ledger WHERE op_id=1")[0][0] == len(show["items"])  # type: ignore[attr-defined]
    # re-running plans nothing (G7)
    again = cli(run_cli, lib, "organize", "--dest", lib.dest, "--apply", "--json")  # type: ignore[attr-defined]
    assert json.loads(again.stdout)["status"] == "nothing to do"
    dry = cli(run_cli, lib, "rollback", "1", "--dry-run", "--json")
    assert len(json.loads(dry.stdout)) == len(show["items"])
    assert tree(lib.src) == {}  # type: ignore[attr-defined]
    back = cli(run_cli, lib, "rollback", "1", "--json")
    assert back.exit_code == 0, back.stderr
    assert tree(lib.src) == lib.original and not lib.dest.exists()  # type: ignore[attr-defined]
    paths = [r[0] for r in ledger_rows(lib.db, "SELECT path FROM files")]  # type: ignore[attr-defined]
    assert all(p.startswith(str(lib.src)) for p in paths)  # type: ignore[attr-defined]
    log = json.loads(cli(run_cli, lib, "log", "--json").stdout)
    assert [o["status"] for o in log] == ["rolled_back", "done"]
    assert {
        i["state"] for i in json.loads(cli(run_cli, lib, "log", "show", "1", "--json").stdout)["items"]
    } == {"undone"}
    status = json.loads(cli(run_cli, lib, "status", "--json").stdout)["last_organize"]
    assert status["status"] == "rolled_back" and status["items"] == {"undone": len(show["items"])}
    second = cli(run_cli, lib, "rollback", "1")  # a second rollback is a no-op
    assert second.exit_code == 0, second.stderr
    assert tree(lib.src) == lib.original  # type: ignore[attr-defined]
    assert len(json.loads(cli(run_cli, lib, "log", "--json").stdout)) == 2


def test_plan_file_edit_and_stale_items(run_cli: RunCli, lib: object, tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    res = cli(run_cli, lib, "organize", "--dest", lib.dest, "--plan", plan_path)  # type: ignore[attr-defined]
    assert res.exit_code == 0, res.stderr
    data = json.loads(plan_path.read_text())
    assert data["anivault_plan"] == 1 and all("fingerprint" in i for i in data["items"])
    edited = data["items"][0]
    edited["dst"] = str(Path(edited["dst"]).with_name("Edited by hand.mkv"))
    stale_src = Path(data["items"][1]["src"])
    stale_src.write_bytes(b"changed after planning")
    escaping = data["items"][2]
    escaping["dst"] = str(lib.dest.parent / "outside.mkv")  # type: ignore[attr-defined]
    plan_path.write_text(json.dumps(data))
    res = cli(run_cli, lib, "organize", "--from-plan", plan_path, "--apply", "--json")
    out = json.loads(res.stdout)
    assert out["status"] == "done", out
    refused = {r["src"]: r for r in out["refused"]}  # the applied run names what it left alone, and why
    assert refused[str(stale_src)]["status"] == "stale" and "changed since" in refused[str(stale_src)]["note"]
    assert "outside dest" in refused[escaping["src"]]["note"]
    assert Path(edited["dst"]).exists()
    assert stale_src.exists() and not (lib.dest.parent / "outside.mkv").exists()  # type: ignore[attr-defined]
    # a dry run of the same plan names the stale items and why
    dry = cli(run_cli, lib, "organize", "--from-plan", plan_path, "--json")
    items = {i["src"]: i for i in json.loads(dry.stdout)["items"]}
    assert "changed since" in items[str(stale_src)]["note"]
    assert "outside dest" in items[escaping["src"]]["note"]
    assert items[edited["src"]]["note"] == f"source missing; the library has this file at {edited['dst']} now"


def test_plan_file_with_a_bad_library_id_is_refused(run_cli: RunCli, lib: object, tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    res = cli(run_cli, lib, "organize", "--dest", lib.dest, "--plan", plan_path)  # type: ignore[attr-defined]
    assert res.exit_code == 0, res.stderr
    original = plan_path.read_text()
    data = json.loads(original)
    sources = [Path(i["src"]) for i in data["items"]]
    for bad, message in (("7", "is not a whole number"), (987654, "library file 987654 does not exist")):
        data["items"][0]["file_id"] = bad
        plan_path.write_text(json.dumps(data))
        res = cli(run_cli, lib, "organize", "--from-plan", plan_path, "--apply")
        assert res.exit_code == 2 and message in res.stderr and "hint:" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr and all(p.exists() for p in sources)
    assert ledger_rows(lib.db, "SELECT count(*) FROM operations") == [(0,)]  # type: ignore[attr-defined]
    # Every item stale: the apply says so, item by item, instead of "every file is already in place".
    data = json.loads(original)
    for item in data["items"]:
        item["fingerprint"]["inode"] = 1
    plan_path.write_text(json.dumps(data))
    res = cli(run_cli, lib, "organize", "--from-plan", plan_path, "--apply")
    assert res.exit_code == 0 and "already in place" not in res.stdout + res.stderr
    assert "item(s) left alone" in res.stdout + res.stderr and "stale: " in res.stdout + res.stderr


def test_destination_inside_source_is_refused(run_cli: RunCli, lib: object) -> None:
    res = cli(run_cli, lib, "organize", "--dest", lib.src / "Vault", "--apply")  # type: ignore[attr-defined]
    assert res.exit_code == 2 and "inside the source folder" in res.stderr
    res = cli(run_cli, lib, "organize", "--dest", lib.src)  # type: ignore[attr-defined]
    assert res.exit_code == 2
    assert ledger_rows(lib.db, "SELECT count(*) FROM operations") == [(0,)]  # type: ignore[attr-defined]


def test_bad_option_values_are_one_line_errors(run_cli: RunCli, lib: object) -> None:
    for args in (("--action", "teleport"), ("--conflict", "clobber"), ("--template", "{title}/{nope}")):
        res = cli(run_cli, lib, "organize", "--dest", lib.dest, *args)  # type: ignore[attr-defined]
        assert res.exit_code == 2 and res.stderr.startswith("error:") and "hint:" in res.stderr
        assert "Traceback" not in res.stderr


def test_a_bad_template_in_the_settings_file_is_a_settings_error(run_cli: RunCli, lib: object) -> None:
    """A template in anivault.toml is checked when the settings load: exit 3 (settings), naming the key,
    before anything is planned, not halfway into organizing."""
    from anivault.config import app_paths

    settings_file = app_paths().config_file
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text('[organize]\nseries_template = "{title}/{nope}"\n', "utf-8")
    res = cli(run_cli, lib, "organize", "--dest", lib.dest, "--apply")  # type: ignore[attr-defined]
    assert res.exit_code == 3, res.stderr
    assert res.stderr.startswith("error: setting 'organize.series_template'") and "{nope}" in res.stderr
    assert "Traceback" not in res.stderr
    assert tree(lib.src) == lib.original  # type: ignore[attr-defined]


@pytest.mark.parametrize("action", ["copy", "hardlink", "symlink"])
def test_other_actions_and_their_rollback(db: Database, tmp_path: Path, action: str) -> None:
    src = write(tmp_path / "src" / "[G] Frieren - 01.mkv", b"video")
    sub = write(tmp_path / "src" / "[G] Frieren - 01.en.ass", b"sub")
    plan = service.plan_from_inputs(
        [episode_input(src, 1, companions=[sub])], str(tmp_path / "vault"), action=action
    )
    res = service.apply_plan(db, plan)
    assert res.status == "done", res
    placed = tmp_path / "vault" / "Frieren (2023) [tmdbid-209867]" / "Season 01" / "Frieren - S01E01.mkv"
    assert placed.read_bytes() == b"video" and src.exists()
    assert placed.with_name("Frieren - S01E01.en.ass").exists()
    if action == "hardlink":
        assert placed.stat().st_ino == src.stat().st_ino
    if action == "symlink":
        assert placed.is_symlink() and os.readlink(placed) == str(src)
    back = service.rollback(db, res.op_id)
    assert back.status == "done"  # type: ignore[union-attr]
    assert not (tmp_path / "vault").exists() and src.read_bytes() == b"video"


@pytest.mark.parametrize("policy", ["skip", "rename", "fail"])
def test_conflict_policies_never_overwrite(db: Database, tmp_path: Path, policy: str) -> None:
    src = write(tmp_path / "src" / "a.mkv", b"new")
    target = write(
        tmp_path / "vault" / "Frieren (2023) [tmdbid-209867]" / "Season 01" / "Frieren - S01E01.mkv", b"old"
    )
    if policy == "fail":
        with pytest.raises(PlanConflict):
            service.plan_from_inputs([episode_input(src, 1)], str(tmp_path / "vault"), conflict=policy)
        return
    plan = service.plan_from_inputs([episode_input(src, 1)], str(tmp_path / "vault"), conflict=policy)
    res = service.apply_plan(db, plan)
    assert target.read_bytes() == b"old"
    if policy == "skip":
        assert plan.moves[0].status == "skip" and src.exists()
    else:
        assert target.with_name("Frieren - S01E01 (2).mkv").read_bytes() == b"new" and not src.exists()
        assert res.status == "done"


def test_identical_content_at_target_counts_as_done(db: Database, tmp_path: Path) -> None:
    src = write(tmp_path / "src" / "a.mkv", b"same")
    write(
        tmp_path / "vault" / "Frieren (2023) [tmdbid-209867]" / "Season 01" / "Frieren - S01E01.mkv", b"same"
    )
    plan = service.plan_from_inputs([episode_input(src, 1)], str(tmp_path / "vault"))
    assert plan.moves[0].status == "identical"
    assert service.apply_plan(db, plan).status == "nothing to do" and src.exists()


def test_two_sources_to_one_target_detected_at_plan_time(db: Database, tmp_path: Path) -> None:
    a = write(tmp_path / "src" / "[SubsPlease] Frieren - 01.mkv", b"a")
    b = write(tmp_path / "src" / "[Erai-raws] Frieren - 01.mkv", b"b")
    plan = service.plan_from_inputs([episode_input(b, 1), episode_input(a, 1)], str(tmp_path / "vault"))
    assert [m.status for m in plan.moves] == ["todo", "skip"]
    assert str(b) in (plan.moves[1].note or "")
    with pytest.raises(PlanConflict) as exc:
        service.plan_from_inputs(
            [episode_input(b, 1), episode_input(a, 1)], str(tmp_path / "vault"), conflict="fail"
        )
    assert str(a) in exc.value.message
    plan = service.plan_from_inputs(
        [episode_input(b, 1), episode_input(a, 1)], str(tmp_path / "vault"), conflict="rename"
    )
    assert service.apply_plan(db, plan).status == "done"
    season = tmp_path / "vault" / "Frieren (2023) [tmdbid-209867]" / "Season 01"
    assert sorted(p.read_bytes() for p in season.iterdir()) == [b"a", b"b"]


def test_swap_and_cycle_go_through_temp_names_and_roll_back(db: Database, tmp_path: Path) -> None:
    season = tmp_path / "vault" / "Frieren (2023) [tmdbid-209867]" / "Season 01"
    names = {n: write(season / f"Frieren - S01E0{n}.mkv", f"episode {n}") for n in (1, 2, 3, 4, 5)}
    # E01 <-> E02 swap, and a cycle E03 -> E04 -> E05 -> E03 (the files were numbered wrongly)
    wanted = {1: 2, 2: 1, 3: 4, 4: 5, 5: 3}
    inputs = [episode_input(names[n], wanted[n]) for n in names]
    before = files_under(tmp_path / "vault")
    plan = service.plan_from_inputs(inputs, str(tmp_path / "vault"))
    assert [m.status for m in plan.moves] == ["todo"] * 5
    res = service.apply_plan(db, plan)
    assert res.status == "done", res
    for n, to in wanted.items():
        assert (season / f"Frieren - S01E0{to}.mkv").read_text() == f"episode {n}"
    assert not [p for p in season.iterdir() if p.name.startswith(".anivault")]
    service.rollback(db, res.op_id)
    assert files_under(tmp_path / "vault") == before


def test_case_only_rename(db: Database, tmp_path: Path) -> None:
    season = tmp_path / "vault" / "Frieren (2023) [tmdbid-209867]" / "Season 01"
    old = write(season / "frieren - s01e01.mkv", b"v")
    plan = service.plan_from_inputs([episode_input(old, 1)], str(tmp_path / "vault"))
    res = service.apply_plan(db, plan)
    assert res.status == "done" and [p.name for p in season.iterdir()] == ["Frieren - S01E01.mkv"]
    service.rollback(db, res.op_id)
    assert [p.name for p in season.iterdir()] == ["frieren - s01e01.mkv"]


def test_japanese_korean_and_nfd_names_roll_back_to_the_exact_bytes(db: Database, tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "[Group] がっこうぐらし！ 第01話.mkv")
    ko = "[Group] 나 혼자만 레벨업 01화.mkv"
    a = write(tmp_path / "src" / unicodedata.normalize("NFD", "ぱ") / nfd, b"ja")
    b = write(tmp_path / "src" / ko, b"ko")
    before = {os.fsencode(p) for p in (a, b)}
    # an existing library folder spelled in NFD is reused, not duplicated
    write(
        tmp_path / "vault" / unicodedata.normalize("NFD", "がっこうぐらし！ (2023) [tmdbid-1]") / "keep.txt",
        b"",
    )
    plan = service.plan_from_inputs(
        [
            episode_input(a, 1, title="がっこうぐらし！", tmdb_id=1),
            episode_input(b, 1, title="나 혼자만 레벨업", tmdb_id=2),
        ],
        str(tmp_path / "vault"),
    )
    res = service.apply_plan(db, plan)
    assert res.status == "done"
    assert len(os.listdir(tmp_path / "vault")) == 2
    service.rollback(db, res.op_id)
    assert {os.fsencode(p) for p in (a, b) if p.exists()} == before


def test_rollback_after_user_edits_skips_with_reasons(db: Database, tmp_path: Path) -> None:
    srcs = [write(tmp_path / "src" / f"ep{n}.mkv", f"episode {n}") for n in range(1, 6)]
    plan = service.plan_from_inputs(
        [episode_input(p, n) for n, p in enumerate(srcs, 1)], str(tmp_path / "vault")
    )
    res = service.apply_plan(db, plan)
    dsts = {m.src: Path(m.dst) for m in plan.moves}
    dsts[str(srcs[0])].rename(dsts[str(srcs[0])].with_name("renamed.mkv"))  # user renamed one
    dsts[str(srcs[1])].unlink()  # deleted one
    dsts[str(srcs[2])].write_text("replaced with other content")  # replaced one
    write(srcs[3], "a new file at the original path")  # occupied an original path
    back = service.rollback(db, res.op_id)
    assert back.status == "partial"  # type: ignore[union-attr]
    notes = {p[1]: p[2] for p in back.problems}  # type: ignore[union-attr]
    assert "target missing" in notes[str(srcs[0])]
    assert "target missing" in notes[str(srcs[1])]
    assert "changed since organize" in notes[str(srcs[2])]
    assert "occupied" in notes[str(srcs[3])]
    assert srcs[4].read_text() == "episode 5"  # the untouched one came back
    assert srcs[3].read_text() == "a new file at the original path"
    assert dsts[str(srcs[3])].read_text() == "episode 4"
    assert dsts[str(srcs[2])].read_text() == "replaced with other content"


def test_a_second_rollback_undoes_what_the_first_left_and_nothing_twice(db: Database, tmp_path: Path) -> None:
    """A rollback writes nothing into the run it reverses: an item is reported `undone` because a done item
    of a rollback reverses it (anivault/organize/itemstate.py). So a second rollback, after the user cleared
    what stopped the first, must still find exactly the items the first left, and the counts and v_ledger
    must say what happened to each."""
    srcs = [write(tmp_path / "src" / f"ep{n}.mkv", f"episode {n}") for n in range(1, 5)]
    plan = service.plan_from_inputs(
        [episode_input(p, n) for n, p in enumerate(srcs, 1)], str(tmp_path / "vault")
    )
    res = service.apply_plan(db, plan)
    dsts = {m.src: Path(m.dst) for m in plan.moves}
    folders = res.counts["done"] - len(srcs)  # the run's mkdirs
    write(srcs[0], "the user's file at an original path")
    aside = dsts[str(srcs[1])].with_name("renamed.mkv")
    dsts[str(srcs[1])].rename(aside)
    first = service.rollback(db, res.op_id)
    assert not isinstance(first, list) and first.status == "partial"
    assert first.counts == {"done": 2, "skipped": 2 + folders}  # two files back; their folders still full

    with Ledger(db) as led:
        op = led.operation(res.op_id)
        assert op is not None and op.status == "partial_rolled_back"
        assert op.counts == {"undone": 2, "done": 2 + folders}
        assert [i.state for i in led.items(res.op_id, ["undone"])] == ["undone", "undone"]
    states = dict(
        ledger_rows(db.path, "SELECT src, state FROM v_ledger WHERE op_id=? AND action='move'", res.op_id)
    )
    assert states == {
        str(srcs[0]): "done",
        str(srcs[1]): "done",
        str(srcs[2]): "undone",
        str(srcs[3]): "undone",
    }

    srcs[0].unlink()  # the user clears the way
    aside.rename(dsts[str(srcs[1])])
    again = service.rollback(db, res.op_id, dry_run=True)
    assert isinstance(again, list)
    assert sorted(s.dst for s, _ in again if s.action == "move") == [str(srcs[0]), str(srcs[1])]
    assert {u.do for s, u in again if s.action == "move"} == {"move-back"}
    assert len(again) == 2 + folders  # not the two files the first rollback brought back
    second = service.rollback(db, res.op_id)
    assert not isinstance(second, list) and second.status == "done", second
    assert second.counts == {"done": 2 + folders}
    assert [p.read_text() for p in srcs] == [f"episode {n}" for n in range(1, 5)]
    assert not (tmp_path / "vault").exists()
    with Ledger(db) as led:
        op = led.operation(res.op_id)
        assert op is not None and op.status == "rolled_back" and op.counts == {"undone": len(srcs) + folders}
    assert ledger_rows(db.path, "SELECT DISTINCT state FROM v_ledger WHERE op_id=?", res.op_id) == [
        ("undone",)
    ]
    third = service.rollback(db, res.op_id)  # nothing left to undo: the last rollback is reported again
    assert not isinstance(third, list) and third.op_id == second.op_id and third.status == "done"
    assert [p.read_text() for p in srcs] == [f"episode {n}" for n in range(1, 5)]


def test_interrupted_run_resumes(db: Database, tmp_path: Path) -> None:
    srcs = [write(tmp_path / "src" / f"ep{n}.mkv", f"episode {n}") for n in range(1, 9)]
    plan = service.plan_from_inputs(
        [episode_input(p, n) for n, p in enumerate(srcs, 1)], str(tmp_path / "vault")
    )
    seen = []

    def ctrl_c_after_three(n: int) -> None:
        seen.append(n)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(AniVaultError) as exc:
        service.apply_plan(db, plan, progress=ctrl_c_after_three)
    assert "--resume" in (exc.value.hint or "")
    assert sum(p.exists() for p in srcs) == 8 - 3 + 3 - 3 + 3  # three mkdirs, then files
    res = service.resume(db)
    assert res.status == "done" and not any(p.exists() for p in srcs)
    with pytest.raises(UsageError):
        service.resume(db)


@pytest.mark.parametrize("cmd", [["organize"], ["log"], ["log", "show"], ["rollback"], ["recover"]])
def test_every_command_has_help_with_an_example(run_cli: RunCli, cmd: list[str]) -> None:
    res = run_cli(*cmd, "--help")
    assert res.exit_code == 0 and "Example:" in res.stdout


def test_recover_command_reports_nothing_to_do_as_json(run_cli: RunCli, lib: object) -> None:
    res = cli(run_cli, lib, "recover", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout) == {"runs": [], "resolved": {}, "alerts": []}


def test_real_index_then_organize_moves_videos_with_their_subtitles(
    run_cli: RunCli, tmp_path: Path, anivault_home: Path
) -> None:
    """Through the real indexer (files, video_id for companions) and a match row with its names."""
    from conftest import make_files
    from sqlalchemy import text

    from anivault.db.models_match import Match

    root = tmp_path / "Anime"
    name = "[SubsPlease] Sousou no Frieren - {:02d} (1080p) [A1B2C3D4]"
    make_files(
        root, [f"Frieren/{name.format(e)}.mkv" for e in (1, 2)] + [f"Frieren/{name.format(1)}.en.ass"], size=5
    )
    dbp = tmp_path / "library.db"
    res = run_cli("--db", dbp, "index", root, "--json")
    assert res.exit_code == 0, res.stderr
    db = open_db(dbp)
    try:
        with db.write() as s:
            videos = s.execute(text("SELECT id, name FROM files WHERE kind='video' ORDER BY name")).all()
            for fid, vname in videos:
                ep = 1 if " - 01 " in vname else 2
                s.add(Match(file_id=fid, series_key="frieren", tmdb_id=209867, media_type="tv", season=1,
                            episode=ep, confidence=1.0, method="auto", status="matched",
                            title="Frieren: Beyond Journey's End", year=2023))  # fmt: skip
    finally:
        db.close()
    res = run_cli("--db", dbp, "organize", "--dest", tmp_path / "Vault", "--apply", "--json")
    assert res.exit_code == 0, res.stderr
    season = tmp_path / "Vault" / "Frieren - Beyond Journey's End (2023) [tmdbid-209867]" / "Season 01"
    assert sorted(p.name for p in season.iterdir()) == [
        "Frieren - Beyond Journey's End - S01E01.en.ass",
        "Frieren - Beyond Journey's End - S01E01.mkv",
        "Frieren - Beyond Journey's End - S01E02.mkv",
    ]
    # the index sees the moved files where they are now
    paths = {r[0] for r in ledger_rows(dbp, "SELECT path FROM files")}
    assert paths == {str(p) for p in season.iterdir()}


def test_an_unnumbered_extra_is_left_in_place_not_named_S00E(tmp_path: Path) -> None:
    ncop = write(tmp_path / "src" / "[G] Frieren - NCOP [1080p].mkv")
    ep1 = write(tmp_path / "src" / "[G] Frieren - 01 [1080p].mkv", b"e1")
    extra = episode_input(ncop, 1, season=0)
    extra.episode = None
    plan = service.plan_from_inputs([extra, episode_input(ep1, 1)], str(tmp_path / "vault"))
    by_src = {m.src: m for m in plan.moves}
    assert by_src[str(ncop)].status == "skip" and "no episode number" in (by_src[str(ncop)].note or "")
    assert by_src[str(ep1)].status == "todo" and by_src[str(ep1)].dst.endswith("Frieren - S01E01.mkv")
    assert not any("S00E." in m.dst for m in plan.moves)


def test_destination_inside_an_indexed_folder_is_refused_even_with_nothing_matched(
    run_cli: RunCli, tmp_path: Path
) -> None:
    src = write(tmp_path / "anime" / "葬送のフリーレン" / "[G] 葬送のフリーレン 第12話.mkv")
    assert run_cli("index", str(tmp_path / "anime")).exit_code == 0  # indexed, never matched
    res = run_cli("organize", "--dest", str(tmp_path / "anime" / "Vault"))
    assert res.exit_code == 2 and "inside the source folder" in res.stderr
    assert src.exists() and not (tmp_path / "anime" / "Vault").exists()


def test_progress_bar_hears_of_every_item_and_ends_complete(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib
    import io
    from collections.abc import Iterator

    from rich.console import Console
    from rich.progress import Progress

    from anivault.cli import cmd_organize, common

    advances: list[float] = []

    class CountingProgress(Progress):
        def advance(self, task_id: Any, advance: float = 1) -> None:
            advances.append(advance)
            super().advance(task_id, advance)

    bars: list[Progress] = []

    @contextlib.contextmanager
    def terminal_bar(_label: str, total: int | None = None) -> Iterator[Progress]:
        with CountingProgress(console=Console(file=io.StringIO(), force_terminal=True)) as bar:
            bar.add_task("organizing", total=total)
            bars.append(bar)
            yield bar

    monkeypatch.setattr(common, "progress_bar", terminal_bar)
    srcs = [write(tmp_path / "src" / f"ep{n}.mkv", f"episode {n}") for n in range(1, 6)]
    plan = service.plan_from_inputs(
        [episode_input(p, n) for n, p in enumerate(srcs, 1)], str(tmp_path / "vault")
    )
    summary = cmd_organize._with_progress(lambda p: service.apply_plan(db, plan, progress=p), "organizing")
    assert summary.status == "done"
    items = summary.counts["done"]  # the five files and the folders made for them
    assert items > 5 and bars[0].tasks[0].completed == items
    assert sum(advances) == items
