"""UTF-8 console streams on legacy code pages (issue 6 item 6)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anivault.cli.console_setup import ensure_utf8_streams

TITLE = "進撃の巨人 나 혼자만 레벨업 ★"
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("codepage", ["cp1252", "cp932", "cp949", "ascii"])
def test_legacy_code_page_streams_become_utf8(monkeypatch: pytest.MonkeyPatch, codepage: str) -> None:
    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding=codepage, errors="strict")
    err = io.TextIOWrapper(err_bytes, encoding=codepage, errors="strict")
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    ensure_utf8_streams()
    ensure_utf8_streams()  # twice is harmless
    print(TITLE)
    print("bad name: \udcff", file=sys.stderr)  # a surrogate-escaped byte from a Linux file name
    out.flush()
    err.flush()
    assert out_bytes.getvalue().decode("utf-8").strip() == TITLE
    assert err_bytes.getvalue().decode("utf-8").strip() == "bad name: ?"


def test_streams_that_cannot_be_reconfigured_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A StringIO (a test's capture) has no buffer to re-wrap and a pythonw process has no stderr: both
    stay exactly what they were, and writing to the first still works."""
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stdout", captured)
    monkeypatch.setattr(sys, "stderr", None)
    ensure_utf8_streams()
    assert sys.stdout is captured and sys.stderr is None
    print(TITLE)
    assert captured.getvalue() == TITLE + "\n"


def test_subprocess_with_cp1252_environment() -> None:
    """A real interpreter whose streams start as cp1252, as on a Western-European Windows console."""
    code = (
        f"from anivault.cli.console_setup import ensure_utf8_streams; ensure_utf8_streams(); print({TITLE!r})"
    )
    env = {**os.environ, "PYTHONIOENCODING": "cp1252:strict", "PYTHONUTF8": "0"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert proc.stdout.decode("utf-8").strip() == TITLE
