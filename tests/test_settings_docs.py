"""docs/configuration.md documents every setting and environment variable (generated section is current)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from anivault import config

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"


def test_generated_reference_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_config_docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr + "\nrun: python scripts/gen_config_docs.py"


def test_every_setting_and_variable_is_documented() -> None:
    text = DOC.read_text("utf-8")
    for dotted in config.all_keys():
        assert config.env_name(dotted) in text, dotted
    for name in (
        "ANIVAULT_HOME",
        "ANIVAULT_DB",
        "ANIVAULT_TMDB_KEY",
        "ANIVAULT_PIN",
        "ANIVAULT_TMDB_URL",
        *config.ENV_ALIASES,
    ):
        assert f"`{name}`" in text, name
    for command in ("settings show", "settings set-key", "settings path", "logs path", "run --profile"):
        assert command in text, command
