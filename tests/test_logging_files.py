"""Level-separated rotating UTF-8 log files, console levels, and the redaction filter on every record."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from anivault import redact
from anivault.logging_setup import ERRORS_LOG, MAIN_LOG, setup_logging, shutdown_logging

CANARY = "TMDBCANARY-1234567890-abcdef"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    redact.forget_secrets()
    yield
    shutdown_logging()
    redact.forget_secrets()


def read(path: Path) -> str:
    return path.read_text("utf-8") if path.exists() else ""


def test_level_separated_files(tmp_path: Path) -> None:
    files = setup_logging(tmp_path, console_level="CRITICAL")
    assert files == [tmp_path / MAIN_LOG, tmp_path / ERRORS_LOG]
    log = logging.getLogger("anivault.test")
    log.debug("debug line")
    log.info("indexed 進撃の巨人 S01E01")
    log.warning("a warning about 나 혼자만 레벨업")
    log.error("an error")
    main, errors = read(tmp_path / MAIN_LOG), read(tmp_path / ERRORS_LOG)
    assert "debug line" not in main
    assert "indexed 進撃の巨人 S01E01" in main and "a warning" in main and "an error" in main
    assert "indexed" not in errors
    assert "나 혼자만 레벨업" in errors and "an error" in errors


def test_debug_file_level(tmp_path: Path) -> None:
    setup_logging(tmp_path, console_level="CRITICAL", file_level="DEBUG", debug=True)
    logging.getLogger("anivault.x").debug("debug line")
    logging.getLogger("urllib3.connectionpool").debug("library debug line")
    main = read(tmp_path / MAIN_LOG)
    assert "debug line" in main and "library debug line" in main
    assert "debug line" not in read(tmp_path / ERRORS_LOG)


def test_libraries_quiet_without_debug(tmp_path: Path) -> None:
    setup_logging(tmp_path, console_level="CRITICAL", file_level="DEBUG")
    logging.getLogger("urllib3.connectionpool").info("starting connection")
    logging.getLogger("urllib3.connectionpool").warning("retrying")
    main = read(tmp_path / MAIN_LOG)
    assert "starting connection" not in main and "retrying" in main


def test_rotation(tmp_path: Path) -> None:
    setup_logging(tmp_path, console_level="CRITICAL", max_bytes=2_000, backups=2)
    log = logging.getLogger("anivault.rot")
    for i in range(200):
        log.info("line %d %s", i, "x" * 50)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [MAIN_LOG, MAIN_LOG + ".1", MAIN_LOG + ".2"]
    assert all(p.stat().st_size <= 2_100 for p in tmp_path.iterdir())


def _leak_everything(log: logging.Logger) -> None:
    log.info("key in args: %s", CANARY)
    log.info("url-encoded: %s", quote(CANARY, safe=""))
    log.info("base64: " + base64.b64encode(CANARY.encode()).decode())
    log.warning("GET https://api.themoviedb.org/3/search/tv?query=x&api_key=someotherkey999 failed")
    log.warning("headers: {'Authorization': 'Bearer someothertoken999'}")
    log.info("dict %(k)s", {"k": CANARY})
    try:
        raise RuntimeError(f"MaxRetryError: /3/tv/1?api_key={CANARY}")
    except RuntimeError:
        log.exception("request failed")
    log.error("with stack", stack_info=True, extra={"unused": CANARY})
    logging.getLogger("urllib3.connectionpool").warning("http://x/3/tv?api_key=%s", CANARY)


@pytest.mark.parametrize("debug", [False, True])
def test_redaction_in_files_and_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], debug: bool
) -> None:
    redact.register_secret(CANARY)
    setup_logging(tmp_path, console_level="DEBUG", file_level="DEBUG", debug=debug)
    _leak_everything(logging.getLogger("anivault.leak"))
    captured = capsys.readouterr()
    texts = {
        "anivault.log": read(tmp_path / MAIN_LOG),
        "errors.log": read(tmp_path / ERRORS_LOG),
        "console": captured.err + captured.out,
    }
    forbidden = [
        CANARY,
        quote(CANARY, safe=""),
        base64.b64encode(CANARY.encode()).decode(),
        "someotherkey999",
        "someothertoken999",
    ]
    for where, text in texts.items():
        assert "request failed" in text, where
        for needle in forbidden:
            assert needle not in text, f"{needle!r} leaked into {where}"
    assert "Traceback" in texts["anivault.log"]  # files keep the (redacted) traceback
    assert ("Traceback" in texts["console"]) is debug  # the console only with --debug


def test_broken_format_args_do_not_leak() -> None:
    from anivault.logging_setup import RedactSecrets

    redact.register_secret(CANARY)
    record = logging.LogRecord("anivault.x", logging.INFO, __file__, 1, "bad args %s %s", (CANARY,), None)
    assert RedactSecrets().filter(record)
    assert CANARY not in record.getMessage() and "could not be formatted" in record.getMessage()


def test_env_key_is_redacted_without_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIVAULT_TMDB_KEY", "envkey-abcdef123456")
    setup_logging(tmp_path, console_level="CRITICAL")
    logging.getLogger("anivault.env").warning("using envkey-abcdef123456")
    assert "envkey-abcdef123456" not in read(tmp_path / MAIN_LOG)


def test_console_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(tmp_path, console_level="WARNING")
    log = logging.getLogger("anivault.console")
    log.info("quiet info")
    log.warning("loud warning")
    err = capsys.readouterr().err
    assert "quiet info" not in err and "warning: loud warning" in err
    setup_logging(tmp_path, console_level="INFO")
    log.info("now visible")
    assert "info: now visible" in capsys.readouterr().err


def test_unwritable_log_dir_does_not_stop_the_command(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert setup_logging(blocker / "logs", console_level="CRITICAL") == []
    logging.getLogger("anivault.x").warning("still fine")
