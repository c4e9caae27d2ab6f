"""Settings: precedence, validation, writing anivault.toml, profiles."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from anivault import config
from anivault.errors import ConfigError


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANIVAULT_HOME", str(tmp_path / "home"))
    for name in list(os.environ):
        if name.startswith("ANIVAULT_") and name != "ANIVAULT_HOME":
            monkeypatch.delenv(name)
    return config.app_paths().config_file


def test_precedence_flag_env_profile_toml_default(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        '[tmdb]\nrate = 20\nconcurrency = 2\nlanguage = "ja-JP"\n'
        '[profiles.nas]\nsources = ["/in"]\ndest = "/lib"\n[profiles.nas.tmdb]\nconcurrency = 3\ntimeout = 4\n',
        "utf-8",
    )
    monkeypatch.setenv("ANIVAULT_TMDB_RATE", "10")
    monkeypatch.setenv("ANIVAULT_TMDB_TIMEOUT", "9")
    s = config.load_settings({"tmdb.rate": 5}, profile="nas")
    assert (s.tmdb.rate, s.sources["tmdb.rate"]) == (5.0, "flag")
    assert (s.tmdb.timeout, s.sources["tmdb.timeout"]) == (4.0, "profile:nas")
    assert (s.tmdb.concurrency, s.sources["tmdb.concurrency"]) == (3, "profile:nas")
    assert (s.tmdb.language, s.sources["tmdb.language"]) == ("ja-JP", "toml")
    assert s.sources.get("tmdb.retry_after_cap", "default") == "default"
    assert s.organize.dest == "/lib"
    p = s.profile("nas")
    assert p.sources == ("/in",) and p.dest == "/lib"
    without = config.load_settings()
    assert (without.tmdb.rate, without.sources["tmdb.rate"]) == (10.0, "env")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("tmdb.rate", "0", "tmdb.rate"),
        ("tmdb.rate", "fast", "tmdb.rate"),
        ("match.auto_threshold", "1.5", "between 0 and 1"),
        ("organize.action", "teleport", "move, copy"),
        ("organize.conflict", "overwrite", "skip, rename or fail"),
        ("organize.template", "{title}/{nope}", "unknown template field {nope}"),
        ("organize.template", "Plex", "a preset (plex, jellyfin, kodi)"),
        ("organize.series_template", "../{title}/{title}.{ext}", "'..' folder"),
        ("organize.movie_template", "{title}/{year:zz}.{ext}", "cannot format"),
        ("logging.level", "LOUD", "DEBUG, INFO"),
        ("tmdb.base_url", "ftp://x", "http(s)"),
        ("nope.key", "1", "unknown setting 'nope.key'"),
        ("tmdb.nope", "1", "unknown setting 'tmdb.nope'"),
    ],
)
def test_set_rejects_bad_values_and_names_the_key(cfg: Path, key: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.set_value(key, value)
    assert fragment in str(info.value)
    assert not cfg.exists(), "a rejected value writes nothing"


def test_set_writes_typed_utf8_toml(cfg: Path) -> None:
    config.set_value("tmdb.rate", "12.5")
    config.set_value("index.ignore", "*.tmp, サンプル*")
    config.set_value("logging.level", "debug")
    result = config.set_value("organize.dest", "/動画/ライブラリ")
    assert result.path == cfg and result.previous is None
    data = tomllib.loads(cfg.read_text("utf-8"))
    assert data["tmdb"]["rate"] == 12.5
    assert data["index"]["ignore"] == ["*.tmp", "サンプル*"]
    assert data["logging"]["level"] == "DEBUG"
    assert data["organize"]["dest"] == "/動画/ライブラリ"
    s = config.load_settings()
    assert s.sources["tmdb.rate"] == "toml" and s.organize.dest == "/動画/ライブラリ"
    again = config.set_value("tmdb.rate", "3")
    assert again.previous == 12.5
    config.set_value("tmdb.rate", None, unset=True)
    assert "tmdb" not in tomllib.loads(cfg.read_text("utf-8"))
    assert [p.name for p in cfg.parent.iterdir()] == [cfg.name], "no temp files left"


def test_set_keeps_other_content_and_backs_up_comments(cfg: Path) -> None:
    cfg.parent.mkdir(parents=True)
    cfg.write_text("# my notes\n[match]\nauto_threshold = 0.9\n", "utf-8")
    result = config.set_value("tmdb.language", "ko-KR")
    assert result.backup is not None and "# my notes" in result.backup.read_text("utf-8")
    data = tomllib.loads(cfg.read_text("utf-8"))
    assert data == {"match": {"auto_threshold": 0.9}, "tmdb": {"language": "ko-KR"}}


def test_set_reports_env_override(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIVAULT_TMDB_URL", "http://127.0.0.1:1/3")
    assert config.set_value("tmdb.base_url", "http://example.org/3").overridden_by == "ANIVAULT_TMDB_URL"
    assert config.set_value("tmdb.rate", "3").overridden_by is None


def test_set_profile_keys(cfg: Path) -> None:
    config.set_value("profiles.nas.sources", "/mnt/a, /mnt/b")
    config.set_value("profiles.nas.dest", "/mnt/lib")
    config.set_value("profiles.nas.organize.action", "hardlink")
    with pytest.raises(ConfigError, match=r"organize\.action"):
        config.set_value("profiles.nas.organize.action", "teleport")
    with pytest.raises(ConfigError, match="unknown setting"):
        config.set_value("profiles.nas.colour", "red")
    p = config.load_settings().profile("nas")
    assert p.sources == ("/mnt/a", "/mnt/b") and p.dest == "/mnt/lib"
    assert dict(p.overrides) == {"organize.action": "hardlink"}
    s = config.load_settings(profile="nas")
    assert s.organize.action == "hardlink" and s.sources["organize.action"] == "profile:nas"


def test_bad_profiles_are_errors_at_load(cfg: Path) -> None:
    cfg.parent.mkdir(parents=True)
    cfg.write_text('[profiles.nas]\nsources = "/one"\n[profiles.nas.match]\nauto_threshold = 7\n', "utf-8")
    with pytest.raises(ConfigError, match=r"profile 'nas'.*match.auto_threshold"):
        config.load_settings()
    cfg.write_text("[profiles.nas]\nwhatever = 1\n", "utf-8")
    with pytest.raises(ConfigError, match=r"profiles\.nas\.whatever"):
        config.load_settings()


def test_unknown_profile(cfg: Path) -> None:
    with pytest.raises(ConfigError, match="unknown profile 'x'"):
        config.load_settings(profile="x")


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_config_file_is_not_world_writable(cfg: Path) -> None:
    config.set_value("tmdb.rate", "3")
    assert not stat.S_IMODE(cfg.stat().st_mode) & 0o022


def test_empty_or_preset_templates_are_accepted(cfg: Path) -> None:
    """An empty template setting means the default (the preset's template), as planning reads it."""
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        '[organize]\ntemplate = ""\nseries_template = ""\nmovie_template = "{title}.{ext}"\n', "utf-8"
    )
    s = config.load_settings()
    assert (s.organize.template, s.organize.movie_template) == ("", "{title}.{ext}")
    config.set_value("organize.template", "kodi")
    assert config.load_settings().organize.template == "kodi"


def test_every_numeric_setting_has_a_range_check() -> None:
    import dataclasses
    import typing

    numeric = [
        f"{section}.{f.name}"
        for section, cls in config.SECTIONS.items()
        for f in dataclasses.fields(cls)
        if typing.get_type_hints(cls)[f.name] in (int, float)
    ]
    assert [key for key in numeric if key not in config.VALIDATORS] == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("tmdb.retries", "-1"),
        ("tmdb.breaker_ratio", "0"),
        ("match.max_details", "99"),
        ("db.lock_wait_seconds", "-2"),
    ],
)
def test_new_keys_are_range_checked(cfg: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.set_value(key, value)
