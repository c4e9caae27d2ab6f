"""Plan files are user input (RELIABILITY G6, G10; issue 23): a hand-edited plan can only move the indexed
files its items name, from where the library has them, into the library. Everything else is refused with a
reason before anything moves, within seconds, and a malformed plan is a one-line error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import RunCli
from crash_organize import Library, cross_device_dir, ledger_rows, make_library, tree


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    return make_library(tmp_path / "lib", 8)


def cli(run_cli: RunCli, lib: Library, *args: object) -> Any:
    return run_cli("--db", str(lib.db), *map(str, args))


def write_plan(run_cli: RunCli, lib: Library, tmp_path: Path, **args: str) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "plan.json"
    extra = [a for k, v in args.items() for a in (f"--{k}", v)]
    assert cli(run_cli, lib, "organize", "--dest", lib.dest, "--plan", path, *extra).exit_code == 0
    return path, json.loads(path.read_text())


def nothing_moved(lib: Library, outside: dict[str, str] | None = None, where: Path | None = None) -> None:
    assert tree(lib.src) == lib.original and not lib.dest.exists()
    assert ledger_rows(lib.db, "SELECT count(*) FROM operations") == [(0,)]
    if where is not None:
        assert tree(where) == outside


def apply_edited(
    run_cli: RunCli, lib: Library, plan: Path, data: dict[str, Any], edit: Callable[[dict[str, Any]], None]
) -> Any:
    edit(data["items"][0])
    plan.write_text(json.dumps(data))
    started = time.monotonic()
    res = cli(run_cli, lib, "organize", "--from-plan", plan, "--apply")
    assert time.monotonic() - started < 10
    return res


def test_a_source_outside_every_indexed_folder_is_refused(
    run_cli: RunCli, lib: Library, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.mkv").write_text("not in the library")
    before = tree(outside)
    plan, data = write_plan(run_cli, lib, tmp_path)
    for file_id in (None, data["items"][0]["file_id"]):  # no library id, or a real one

        def edit(item: dict[str, Any], file_id: Any = file_id) -> None:
            st = (outside / "secret.mkv").stat()
            item.update(src=str(outside / "secret.mkv"), file_id=file_id)
            item["fingerprint"] = {
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "dev": st.st_dev,
                "inode": st.st_ino,
            }

        res = apply_edited(run_cli, lib, plan, data, edit)
        assert res.exit_code == 2, res.stderr
        assert res.stderr.startswith("error: the plan was refused, nothing was moved: item 1 (")
        assert ("names no library file" if file_id is None else "is another file") in res.stderr
        nothing_moved(lib, before, outside)


def test_a_real_id_with_another_indexed_files_path_is_refused(
    run_cli: RunCli, lib: Library, tmp_path: Path
) -> None:
    plan, data = write_plan(run_cli, lib, tmp_path)
    other = data["items"][1]

    def edit(item: dict[str, Any]) -> None:  # item 1 claims item 2's file under its own row
        item["src"], item["fingerprint"] = other["src"], dict(other["fingerprint"])

    res = apply_edited(run_cli, lib, plan, data, edit)
    assert res.exit_code == 2 and "is another file" in res.stderr, res.stderr
    nothing_moved(lib)


@pytest.mark.parametrize("kind", ["folder", "fifo", "device"])
@pytest.mark.parametrize("action", ["move", "copy"])
def test_a_folder_fifo_or_device_as_a_source_is_refused_without_waiting(
    run_cli: RunCli, lib: Library, tmp_path: Path, kind: str, action: str
) -> None:
    """The item's row is real and its path is swapped for something that is not a file (as an attacker or a
    stray mkfifo would): refused, never renamed, never opened (a FIFO would make a copy wait forever)."""
    shm = cross_device_dir()
    if action == "copy" and shm is not None:  # across devices, where a copy really reads the source
        lib.dest = Path(shm) / f"anivault-plan-{os.getpid()}-{kind}" / "vault"
    try:
        plan, data = write_plan(run_cli, lib, tmp_path, action=action)
        src = Path(data["items"][0]["src"])
        saved = src.read_bytes()
        src.unlink()
        if kind == "folder":
            src.mkdir()
            (src / "inside.mkv").write_text("a folder's content")
        elif kind == "fifo":
            os.mkfifo(src)
        else:
            if os.geteuid() != 0:
                pytest.skip("making a device node needs root")
            os.mknod(src, 0o600 | 0o020000, os.makedev(1, 3))  # a character device, like /dev/null

        res = apply_edited(run_cli, lib, plan, data, lambda item: None)
        assert res.exit_code == 2, res.stderr
        what = {"folder": "a folder", "fifo": "a FIFO", "device": "a character device"}[kind]
        assert f"the source is {what}, not a file" in res.stderr
        assert ledger_rows(lib.db, "SELECT count(*) FROM operations") == [(0,)]
        assert not lib.dest.exists() or tree(lib.dest) == {}
        if kind == "folder":
            assert (src / "inside.mkv").read_text() == "a folder's content"
            shutil.rmtree(src)
        else:
            src.unlink()
        src.write_bytes(saved)
    finally:
        if action == "copy" and shm is not None:
            shutil.rmtree(lib.dest.parent, ignore_errors=True)


def test_an_edited_dest_inside_a_source_folder_is_refused(
    run_cli: RunCli, lib: Library, tmp_path: Path
) -> None:
    plan, data = write_plan(run_cli, lib, tmp_path)
    data["dest"] = str(lib.src / "Vault")
    for item in data["items"]:
        item["dst"] = item["dst"].replace(str(lib.dest), data["dest"])
    plan.write_text(json.dumps(data))
    res = cli(run_cli, lib, "organize", "--from-plan", plan, "--apply")
    assert res.exit_code == 2 and "inside the source folder" in res.stderr, res.stderr
    nothing_moved(lib)


@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        pytest.param(lambda d: d.update(items=5), "items is not a list", id="items-5"),
        pytest.param(lambda d: d["items"][0]["fingerprint"].update(size=1e999), "size", id="size-1e999"),
        pytest.param(lambda d: d["items"][0].update(src="/tmp/a\x00b.mkv"), "NUL", id="nul"),
        pytest.param(
            lambda d: d["items"][0].update(dst="/tmp/\ud800.mkv"), "no file name can hold", id="surrogate"
        ),
        pytest.param(lambda d: d.update(dest="/tmp/\x00"), "NUL", id="dest-nul"),
        pytest.param(lambda d: d["items"].__setitem__(0, "x"), "not an object", id="item-not-object"),
    ],
)
def test_a_malformed_plan_is_a_one_line_error(
    run_cli: RunCli, lib: Library, tmp_path: Path, mutate: Callable[[dict[str, Any]], None], says: str
) -> None:
    plan, data = write_plan(run_cli, lib, tmp_path)
    mutate(data)
    plan.write_text(json.dumps(data))
    res = cli(run_cli, lib, "organize", "--from-plan", plan, "--apply")
    assert res.exit_code == 2 and says in res.stderr, res.stderr
    assert (
        len(res.stderr.splitlines()) == 2 and "Traceback" not in res.stderr and "unexpected" not in res.stderr
    )
    nothing_moved(lib)


def test_a_plan_nested_too_deeply_is_a_one_line_error(run_cli: RunCli, lib: Library, tmp_path: Path) -> None:
    plan = tmp_path / "deep.json"
    plan.write_text('{"anivault_plan": 1, "items": ' + "[" * 100_000 + "]" * 100_000 + "}")
    res = cli(run_cli, lib, "organize", "--from-plan", plan, "--apply")
    assert res.exit_code == 2 and "nested too deeply" in res.stderr and "Traceback" not in res.stderr


def test_a_library_file_replaced_by_a_fifo_since_indexing_is_refused_on_the_normal_path(
    run_cli: RunCli, lib: Library
) -> None:
    """No plan file: the planner and the executor both look at what the source is now."""
    victim = lib.src / sorted(lib.original)[0]
    victim.unlink()
    os.mkfifo(victim)
    script = (
        "import sys; from anivault.cli.app import main; "
        f"sys.exit(main(['--db', {str(lib.db)!r}, 'organize', '--dest', {str(lib.dest)!r}, '--apply',"
        " '--action', 'copy', '--json']))"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    out = json.loads(proc.stdout)
    refused = {r["src"]: r for r in out["refused"]}
    assert refused[str(victim)]["note"] == "source is a FIFO, not a file"
    assert out["status"] == "done"
