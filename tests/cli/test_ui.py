"""`anivault ui`: scripted sessions end to end against the TMDB emulator (index → match → plan → apply →
rollback, checked in the database and on disk), bad answers asked again with the reason, Ctrl-C, wide
(CJK) titles at 80 columns, and one session in a real pseudo-terminal."""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunCli, make_files
from rich.cells import cell_len
from rich.console import Console

from anivault.cli.cmd_ui import run_ui
from anivault.cli.common import STATE, CliState
from anivault.cli.tui.term import Terminal

CTRL_C = object()  # in a script: the user presses Ctrl-C at this prompt

NAMES = [
    "[SubsPlease] Sousou no Frieren - 01 (1080p).mkv",
    "[SubsPlease] Sousou no Frieren - 02 (1080p).mkv",
    "[SubsPlease] Sousou no Frieren - 02 (1080p).ass",
    "進撃の巨人 第01話.mkv",
    "진격의 거인 02화.mkv",
    "Your Name (2016).mkv",
]


class Script:
    """Answers for the prompts, in order; running out is end of input (EOFError)."""

    def __init__(self, answers: list[object]) -> None:
        self.answers = list(answers)

    def __call__(self) -> str:
        if not self.answers:
            raise EOFError
        answer = self.answers.pop(0)
        if answer is CTRL_C:
            raise KeyboardInterrupt
        assert isinstance(answer, str)
        return answer


def session(answers: list[object], width: int = 80, height: int = 24) -> tuple[int, str, Script]:
    console = Console(file=io.StringIO(), width=width, height=height, color_system=None, force_terminal=False)
    script = Script(answers)
    term = Terminal(console, script)
    term.echo = True  # answers appear after their prompts, as on a terminal
    code = run_ui(term)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return code, out, script


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    from anivault.cli.tui import wizard as ui_wizard

    STATE.__dict__.update(CliState().__dict__)
    ui_wizard._last.clear()  # each test is a new session
    yield
    STATE.__dict__.update(CliState().__dict__)
    ui_wizard._last.clear()


def _db(home: Path) -> sqlite3.Connection:
    from anivault.paths import resolve_db_path

    return sqlite3.connect(resolve_db_path(None))


def _video_paths(home: Path) -> set[str]:
    with _db(home) as conn:
        return {r[0] for r in conn.execute("SELECT path FROM files WHERE status='present'")}


def _files_under(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*") if p.is_file()}


WIZARD_TO_PLAN = [
    "1",  # home → Run wizard
    "{src}",  # source folder 1
    "",  # done with sources
    "{dest}",  # destination
    "",  # language: default en-US
    "",  # rate: default
    "move",  # action
    "plex",  # template
    "",  # run now? (default yes)
]


def _fill(script: list[str], **values: str) -> list[object]:
    return [s.format(**values) for s in script]


def test_wizard_apply_then_history_rollback(tmp_path: Path, emulator: object, anivault_home: Path) -> None:
    src, dest = tmp_path / "incoming", tmp_path / "Library"
    make_files(src, NAMES, size=64)
    before = _files_under(src)

    # 1: index → match → plan (dry run, nothing moves) → apply after an explicit yes.
    answers = _fill(WIZARD_TO_PLAN, src=str(src), dest=str(dest))
    answers += ["a", "n"]  # apply? no: nothing changes, back at the plan's menu
    answers += ["a", "y", ""]  # apply, yes, Enter to continue
    answers += ["0"]  # exit
    code, out, script = session(answers)
    assert code == 0, out
    assert not script.answers
    assert "Plan (dry run: nothing has changed)" in out
    assert "6 to move" in out
    assert "Nothing changed." in out
    assert "run 1 (organize): done" in out
    moved = _files_under(dest)
    assert len(moved) == 6 and not _files_under(src)
    assert f"{dest}/Attack on Titan (2013) [tmdbid-1429]/Season 01/Attack on Titan - S01E01.mkv" in moved
    assert f"{dest}/Attack on Titan (2013) [tmdbid-1429]/Season 01/Attack on Titan - S01E02.mkv" in moved
    assert _video_paths(anivault_home) == moved  # files.path followed every move
    with _db(anivault_home) as conn:
        assert conn.execute("SELECT kind, status FROM operations").fetchall() == [("organize", "done")]
        assert conn.execute("SELECT count(*) FROM matches WHERE status='matched'").fetchone()[0] == 5

    # 2: History → run 1 → roll back (the steps are shown first) → yes.
    code, out, script = session(["3", "1", "r", "y", "b", "0"])
    assert code == 0, out
    assert "What the rollback will do" in out
    assert "move back Attack on Titan - S01E02.mkv → " in out
    assert "run 2 (rollback): done" in out
    assert _files_under(src) == before
    assert not dest.exists()  # the folders the run created are gone too
    assert _video_paths(anivault_home) == before
    with _db(anivault_home) as conn:
        assert conn.execute("SELECT id, kind, status, undo_of FROM operations ORDER BY id").fetchall() == [
            (1, "organize", "rolled_back", None),
            (2, "rollback", "done", 1),
        ]


def test_ctrl_c_during_apply_comes_home_and_history_finishes_the_run(
    tmp_path: Path, emulator: object, anivault_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anivault.cli.tui.term as ui_term

    src, dest = tmp_path / "incoming", tmp_path / "Library"
    make_files(src, NAMES, size=64)

    armed = [True]

    def ctrl_c_after_two(**fields: object) -> None:
        # the apply stage's bar (index and match pass other fields too)
        if armed[0] and fields == {"completed": 2}:
            raise KeyboardInterrupt

    monkeypatch.setattr(ui_term, "_ignore", ctrl_c_after_two)  # the progress callback of a piped session
    answers = [*_fill(WIZARD_TO_PLAN, src=str(src), dest=str(dest)), "a", "y", "0"]
    code, out, script = session(answers)
    assert code == 0, out
    assert not script.answers
    assert "interrupted: run 1 interrupted; finished items are recorded" in " ".join(out.split())
    assert len(_files_under(dest)) < 6
    armed[0] = False  # (not monkeypatch.undo(): that would also undo the fixture's ANIVAULT_HOME)

    code, out, script = session(["3", "1", "c", "y", "b", "0"])
    assert code == 0, out
    assert "Finish this run" in out
    assert "(organize): done" in out
    assert len(_files_under(dest)) == 6 and not _files_under(src)
    assert _video_paths(anivault_home) == _files_under(dest)


def test_ctrl_c_in_a_stage_keeps_what_it_finished(
    tmp_path: Path, emulator: object, anivault_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anivault.pipeline.match as match

    src = tmp_path / "incoming"
    make_files(src, NAMES)

    def interrupted(*_args: object, **_kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(match, "match_library", interrupted)
    code, out, _ = session([*_fill(WIZARD_TO_PLAN, src=str(src), dest=str(tmp_path / "L")), "0"])
    assert code == 0, out
    assert "interrupted: what finished is saved" in out
    assert len(_video_paths(anivault_home)) == len(NAMES)  # the index stage was committed
    # the wizard again in the same session: the last answers are the defaults
    code, out, script = session(["1", "", "", "", "", "", "", "n", CTRL_C, "0"])
    assert code == 0 and not script.answers, out
    assert "Use these source folders?" in out
    assert f"Destination [{tmp_path / 'L'}]" in " ".join(out.split())


def test_bad_answers_are_asked_again_with_the_reason(tmp_path: Path) -> None:
    src = tmp_path / "incoming"
    make_files(src, ["a.mkv"])
    a_file = src / "a.mkv"
    answers: list[object] = [
        "1",
        str(tmp_path / "nope"),  # does not exist
        str(a_file),  # a file, not a folder
        str(src),
        str(src),  # twice
        "",
        str(src / "Library"),  # inside the source
        str(tmp_path / "Library"),
        "japanese",  # not a language code
        "ja-JP",
        "0",  # rate out of range
        "fast",  # not a number
        "10",
        "teleport",  # not an action
        "copy",
        "custom",
        "{title}/{nope}.{ext}",  # unknown field
        "b",  # back: the template choice again
        "b",  # back: the action again
        CTRL_C,  # Ctrl-C inside a screen: home
        "0",
    ]
    code, out, script = session(answers)
    assert code == 0, out
    assert not script.answers
    flat = " ".join(out.split())
    assert f"{tmp_path / 'nope'} does not exist" in flat
    assert f"{a_file} is not a folder" in flat
    assert "is already in the list" in flat
    assert f"{src / 'Library'} is inside the source folder {src}" in flat
    assert "'japanese' is not a language code" in flat
    assert "setting 'tmdb.rate' must be more than 0" in flat
    assert "setting 'tmdb.rate' must be a number" in flat
    assert "'teleport' is not one of move, copy, hardlink, symlink" in flat
    assert "unknown template field {nope}" in flat
    assert flat.count("Run wizard 5/6: action") == 2  # `b` went back one question
    assert "interrupted" in flat
    assert flat.count("AniVault ─") == 2  # home, then home again after Ctrl-C


def test_no_at_ready_goes_back_to_the_last_question(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    answers = _fill(WIZARD_TO_PLAN[:-1], src=str(src), dest=str(tmp_path / "Vault"))
    code, out, script = session([*answers, "n", "kodi", "n", "b", "b", CTRL_C, "0"])
    assert code == 0, out
    assert not script.answers
    assert out.count("Ready ─") == 2
    assert "template     kodi" in out
    assert out.count("Run wizard 5/6: action") == 2  # b from the template question
    assert not (tmp_path / "Vault").exists()


def test_ctrl_c_at_home_exits_130_and_end_of_input_exits_0() -> None:
    code, out, _ = session([CTRL_C])
    assert code == 130
    assert "Traceback" not in out
    # Ctrl-C inside a screen returns home; the second one, at home, exits
    code, out, _ = session(["5", CTRL_C, CTRL_C])
    assert code == 130
    assert "interrupted" in out
    code, _out, _ = session(["6"])  # input ends inside a screen: a clean exit
    assert code == 0


def test_menus_reject_unknown_keys_and_go_back() -> None:
    code, out, script = session(["9", "", "6", "x", "1", "", "5", "", "4", "n", "", "6", "0", "0"])
    assert code == 0, out
    assert not script.answers
    assert "'9' is not on the menu" in out
    assert "'x' is not on the menu" in out
    assert "0 entries" in out  # Tools → cache statistics on an empty library
    assert "integrity check passed" in out  # Tools → database
    assert "TMDB reachable: --offline" in out  # Tools → verify, without contacting TMDB
    assert "backed up to " in out


def test_settings_stores_the_tmdb_key_under_a_pin(anivault_home: Path) -> None:
    from anivault import secrets_store as ss

    key = "0123456789abcdef0123456789abcdef"
    answers = ["5", "k", "1", "not a key", key, "1234", "4321", "1234", "1234", "0", "0"]
    code, out, script = session(answers)
    assert code == 0, out
    assert not script.answers
    assert "the TMDB key contains spaces" in out
    assert "the two PINs differ" in out
    assert "stored the TMDB v3 API key encrypted" in out
    assert key not in out and "1234" not in out  # secrets are never echoed
    assert ss.unlock("1234").key == key


def test_settings_screen_changes_a_value_and_rejects_a_bad_one(anivault_home: Path) -> None:
    from anivault.config import load_settings

    # Settings → tmdb → #3 rate: "-1" is refused with the reason, "12" is written
    code, out, script = session(["5", "2", "3", "-1", "12", "b", "0", "0"])
    assert code == 0, out
    assert not script.answers
    assert "setting 'tmdb.rate' must be more than 0" in " ".join(out.split())
    assert load_settings().tmdb.rate == 12.0


def test_profile_saved_from_the_wizard_prefills_it(tmp_path: Path, emulator: object) -> None:
    src, dest = tmp_path / "in", tmp_path / "Vault"
    make_files(src, ["Your Name (2016).mkv"])
    answers = _fill(WIZARD_TO_PLAN, src=str(src), dest=str(dest))
    answers += ["s", "nas", "0", "0"]  # save as profile "nas", back home, exit
    code, out, _ = session(answers)
    assert code == 0, out
    assert "saved profile nas" in out
    # Profiles → run with it: the sources are offered, the destination is the default
    code, out, script = session(["4", "r", "", "", "", "", "", "", "n", "0", "0"])
    assert code == 0, out
    assert not script.answers
    assert f"Destination [{dest}]" in " ".join(out.split())
    assert not dest.exists()  # only asked, nothing ran


def test_profiles_new_and_delete(tmp_path: Path) -> None:
    from anivault.config import load_settings

    src = tmp_path / "seed"
    src.mkdir()
    answers = ["4", "n", "bad name!", "nas", str(src), "", str(src / "x"), str(tmp_path / "Vault"), "0", "0"]
    code, out, script = session(answers)
    assert code == 0, out
    assert not script.answers
    assert "a profile name is letters, digits" in out
    profile = load_settings().profile("nas")
    assert profile.sources == (str(src),) and profile.dest == str(tmp_path / "Vault")
    code, out, script = session(["4", "d", "y", "0", "0"])
    assert code == 0, out
    assert "deleted profile nas" in out
    assert load_settings().profiles == {}


def test_review_screen_picks_a_candidate(tmp_path: Path, emulator: object, anivault_home: Path) -> None:
    src = tmp_path / "in"
    make_files(src, ["Fruits Basket - 01.mkv", "Hunter x Hunter - 01.mkv"])  # two shows of each name
    answers = _fill(WIZARD_TO_PLAN, src=str(src), dest=str(tmp_path / "Vault"))
    answers += ["0"]  # leave the plan: nothing to apply yet
    answers += ["2", "1", "x", "2", "b", "0"]  # Review → Fruits Basket → bad key → the 2001 show
    code, out, script = session(answers)
    assert code == 0, out
    assert not script.answers
    flat = " ".join(out.split())
    assert "2 wait for review" in flat
    assert "'x' is not 1-2, i or k" in flat
    assert "Fruits Basket → Fruits Basket (2001): 1 file(s) decided" in flat
    with _db(anivault_home) as conn:
        rows = conn.execute(
            "SELECT m.tmdb_id, m.method, m.status FROM matches m JOIN files f ON f.id = m.file_id "
            "WHERE f.name LIKE 'Fruits%'"
        ).fetchall()
        assert rows == [(1730, "manual", "matched")]
        assert conn.execute("SELECT title_norm, tmdb_id FROM overrides").fetchall() == [
            ("fruits basket", 1730)
        ]


def test_plan_screen_fits_80_by_24(tmp_path: Path, emulator: object) -> None:
    src = tmp_path / "in"
    names = [f"[SubsPlease] Sousou no Frieren - {n:02} (1080p).mkv" for n in range(1, 29)]
    names += [f"進撃の巨人 第{n:02}話.mkv" for n in range(1, 6)]
    make_files(src, names)
    answers = _fill(WIZARD_TO_PLAN, src=str(src), dest=str(tmp_path / "Vault"))
    code, out, _ = session([*answers, "0", "0"])
    assert code == 0, out
    lines = out.splitlines()
    top = next(i for i, ln in enumerate(lines) if ln.startswith("Plan (dry run"))
    bottom = next(i for i, ln in enumerate(lines) if i > top and ln.startswith("Choose:"))
    screen = lines[top : bottom + 1]
    assert len(screen) <= 24, "\n".join(screen)
    assert all(cell_len(ln) <= 80 for ln in screen), "\n".join(screen)
    # too many files for the tree: one line per show, biggest first; `l` lists every file
    assert "   28 Frieren - Beyond Journey's End (2023) [tmdbid-209867]" in screen
    assert "    5 Attack on Titan (2013) [tmdbid-1429]" in screen
    assert "33 to move" in out
    code, out, _ = session([*answers, "l", "0", "0"])
    assert "Attack on Titan - S01E05.mkv ← 進撃の巨人 第05話.mkv" in out


def test_cjk_titles_line_up_at_80_columns() -> None:
    from anivault.cli.tui.review import show_candidates

    console = Console(file=io.StringIO(), width=80, color_system=None, force_terminal=False)
    cands = [
        {
            "name": "進撃の巨人 The Final Season 完結編",
            "year": 2013,
            "media_type": "tv",
            "tmdb_id": 1429,
            "score": 0.71,
        },
        {"name": "진격의 거인", "year": 2014, "media_type": "tv", "tmdb_id": 99, "score": 0.6},
        {"name": "Attack on Titan", "year": 2015, "media_type": "movie", "tmdb_id": 7, "score": 0.5},
    ]
    show_candidates(Terminal(console, Script([])), cands)
    lines = [ln for ln in console.file.getvalue().splitlines() if ln.strip()]  # type: ignore[attr-defined]
    assert all(cell_len(ln) <= 80 for ln in lines)
    rows = lines[1:]
    assert len(rows) == 3
    # the year column starts at the same cell in every row, wide characters or not
    starts = {
        cell_len(row[: row.index(str(year))]) for row, year in zip(rows, (2013, 2014, 2015), strict=True)
    }
    assert len(starts) == 1


def test_docs_show_the_home_screen_as_it_is() -> None:
    _code, out, _ = session(["0"])
    home = "\n".join(line.rstrip() for line in out.splitlines()[:-1])
    docs = (Path(__file__).resolve().parents[2] / "docs" / "usage.md").read_text("utf-8")
    assert "## anivault ui" in docs
    assert home + "\nChoose:" in docs


def test_ui_command_reads_piped_stdin(run_cli: RunCli) -> None:
    result = run_cli("ui", input="6\n1\n\n0\n0\n")
    assert result.exit_code == 0, result.stderr
    assert "TMDB cache" in result.stdout
    help_text = run_cli("ui", "--help").stdout
    assert "Examples:" in help_text and "anivault ui" in help_text


# ------------------------------------------------------------------------------------ pseudo-terminal

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]")


class PtySession:
    def __init__(self, fd: int, pid: int) -> None:
        self.fd, self.pid, self.seen, self.log = fd, pid, "", ""

    def expect(self, text: str, timeout: float = 20.0) -> str:
        end = time.monotonic() + timeout
        while text not in self.seen:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {text!r}; screen so far:\n{self.seen[-2000:]}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"the program ended before {text!r}:\n{self.seen[-2000:]}")
                got = _ANSI.sub("", chunk.decode("utf-8", "replace")).replace("\r", "")
                self.seen += got
                self.log += got
        at = self.seen.index(text) + len(text)
        before, self.seen = self.seen[:at], self.seen[at:]
        return before

    def send(self, data: str) -> None:
        if data == "\x03":
            # A Ctrl-C in the instant between the prompt being printed and input() reading is only seen at
            # the next key (the signal lands before the read, which then blocks); a person is never that
            # fast, a test is: wait until the program is blocked reading its terminal.
            self.wait_reading()
        os.write(self.fd, data.encode())

    def wait_reading(self, timeout: float = 20.0) -> None:
        """Until the child is blocked in read(0, …) (Linux: /proc/PID/syscall), draining its output."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                call = Path(f"/proc/{self.pid}/syscall").read_text().split()
            except OSError:
                return  # no /proc: send at once
            if call[:2] in (["0", "0x0"], ["63", "0x0"]):  # read on fd 0 (x86-64, arm64)
                return
            if select.select([self.fd], [], [], 0.01)[0]:
                with contextlib.suppress(OSError):
                    got = _ANSI.sub("", os.read(self.fd, 65536).decode("utf-8", "replace")).replace("\r", "")
                    self.seen += got
                    self.log += got
        raise AssertionError("the program never waited for input")

    def wait(self, timeout: float = 20.0) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with_status = os.waitpid(self.pid, os.WNOHANG)
            if with_status[0]:
                return os.waitstatus_to_exitcode(with_status[1])
            try:  # keep draining so the child never blocks on a full terminal buffer
                if select.select([self.fd], [], [], 0.1)[0]:
                    os.read(self.fd, 65536)
            except OSError:
                pass
        raise AssertionError("the program did not exit")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_bare_anivault_on_a_terminal_opens_the_ui(installed_cli: Path, anivault_home: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIVAULT_")}
    env.update(ANIVAULT_HOME=str(anivault_home), TERM="xterm-256color", COLUMNS="80", LINES="24")
    pid, fd = pty.fork()
    if pid == 0:  # the child: an 80×24 terminal, then `anivault` with no arguments
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.execve(str(installed_cli), [str(installed_cli)], env)
    tty = PtySession(fd, pid)
    try:
        screen = tty.expect("Choose:")
        assert "Run wizard" in screen and "History & rollback" in screen
        tty.send("6\r")  # Tools
        tty.expect("Choose:")
        tty.send("1\r")  # cache statistics
        tty.expect("Enter to continue")
        tty.send("\r")
        tty.expect("Choose:")
        tty.send("\x03")  # Ctrl-C in a screen: home
        assert "interrupted" in tty.expect("Choose:"), tty.log
        tty.send("\x03")  # Ctrl-C at home: exit
        tty.expect("bye")
        code = tty.wait()
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    assert code == 130
