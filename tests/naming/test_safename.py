"""Safe path components (RELIABILITY B13–B15): properties over all of Unicode plus real titles."""

from __future__ import annotations

import os
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anivault.naming.safename import confined_join, is_safe_component, safe_component
from anivault.naming.template import parse_template

RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"} | {
    f"{d}{n}" for d in ("COM", "LPT") for n in (*"0123456789", "¹", "²", "³")
}
HOSTILE = ["../../x", "/etc", "..", ".", "CON", "con.mkv", "C:\\Windows", "\\\\server\\share\\x", "foo\0bar",
           "%2e%2e%2f", "a\u202eb\u200b", "", " ", "...", "x. . ", "COM0", "CLOCK$", "lpt¹.txt"]  # fmt: skip

names = st.one_of(
    st.text(max_size=300), st.sampled_from(HOSTILE), st.text(alphabet="./\\: ?*CONAUX", max_size=12)
)


def check_component(out: str) -> None:
    assert out and out not in (".", "..")
    assert not set('<>:"/\\|?*') & set(out)
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Cs") for c in out)
    assert not out.endswith((".", " ")) and not out.startswith(".")
    assert out.split(".")[0].rstrip(" ").upper() not in RESERVED
    assert len(out.encode("utf-8")) <= 255 and len(out.encode("utf-16-le")) // 2 <= 255
    assert unicodedata.normalize("NFC", out) == out


@settings(max_examples=600, deadline=None)
@given(names)
def test_component_properties_and_idempotence(text: str) -> None:
    out = safe_component(text)
    check_component(out)
    assert safe_component(out) == out  # idempotent (G7)
    assert is_safe_component(out)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=200), st.sampled_from(["mkv", "en.forced.ass", "ko.srt"]))
def test_long_names_keep_their_extension(stem: str, ext: str) -> None:
    out = safe_component(stem * 3 + "." + ext)
    check_component(out)
    assert out.endswith("." + ext) or len((stem * 3).strip(" .")) == 0 or out.endswith(ext)


@settings(max_examples=300, deadline=None)
@given(st.lists(names, min_size=1, max_size=4))
def test_hostile_template_values_never_leave_the_root(
    tmp_path_factory: pytest.TempPathFactory, values: list[str]
) -> None:
    root = os.path.realpath(tmp_path_factory.getbasetemp())
    tpl = parse_template("{title} ({year})/Season {season:02}/{title} - {episode_title}.{ext}")
    comps = tpl.render(
        {"title": values[0], "year": 2000, "season": -3, "episode_title": values[-1], "ext": "mkv"}
    )
    path = confined_join(root, comps)
    assert os.path.commonpath([root, os.path.realpath(path)]) == root
    assert len(comps) == 3


GOLDEN = {
    ".hack//SIGN": "hack--SIGN",
    "Fate/Zero": "Fate-Zero",
    "Re:ゼロから始める異世界生活": "Re-ゼロから始める異世界生活",
    "Re: Zero": "Re - Zero",
    "Steins;Gate": "Steins;Gate",
    "22/7": "22-7",
    "ID:INVADED": "ID-INVADED",
    "Is the Order a Rabbit??": "Is the Order a Rabbit",
    "K-On!!": "K-On!!",
    "Working!!": "Working!!",
    "魔法少女まどか★マギカ": "魔法少女まどか★マギカ",
    "나 혼자만 레벨업": "나 혼자만 레벨업",
    "CON": "CON_",
    "Aux": "Aux_",
    "..": "_",
    "COM0.mkv": "COM0_.mkv",
    "CLOCK$": "CLOCK$_",
    'He said "hi"': "He said 'hi'",
}


@pytest.mark.parametrize(("title", "expected"), GOLDEN.items())
def test_real_titles_golden(title: str, expected: str) -> None:
    assert safe_component(title) == expected


def test_nfd_input_becomes_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "がっこうぐらし")
    assert safe_component(nfd) == unicodedata.normalize("NFC", nfd)


def test_150_char_japanese_title_is_cut_on_a_character_with_the_extension_kept() -> None:
    title = "異世界" * 50 + " - S01E01.mkv"
    out = safe_component(title)
    assert len(out.encode()) <= 255 and out.endswith(".mkv")
    out.encode("utf-8").decode("utf-8")


def test_confined_join_refuses_unsafe_components(tmp_path: os.PathLike[str]) -> None:
    root = os.path.realpath(tmp_path)
    for bad in ("..", "a/b", "", "CON"):
        with pytest.raises(ValueError):
            confined_join(root, [bad])
