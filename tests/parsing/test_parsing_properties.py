"""Properties of parse_name and normalize_title over unbounded input.

File names come from anywhere (old CDs, zip files from other systems, broken encodings), so these run
on arbitrary text, lone surrogates and control characters included, and on random splices of the
pieces real release names are made of, which reach the fallback rules far more often.
"""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anivault.parsing import ParsedName, normalize_title, parse_name

KINDS = {"tv", "movie", "ova", "ona", "special"}

# Every code point, surrogates (Cs) and controls (Cc) included: hypothesis leaves surrogates out
# unless told otherwise.
ANY_CHAR = st.characters(exclude_categories=())

PIECES = [
    "[SubsPlease]", "【喵萌奶茶屋】", "「", "」", "[", "]", "(", ")", " - ", " ", "_", ".", "-", "~", "~ ",
    "S2", "S01E05", "E05", "EP05", "#05", "第2期", "第05話", "第三季", "2기", "12화", "시즌2", "2nd Season",
    "Season 2", "Part 2", "Cour 2", " II", "05v2", "05.5", "01-03", "01~03", "1017-1088", "OVA", "OAD",
    "ONA", "SP", "Special", "NCOP1", "Movie", "劇場版", "극장판", "(2019)", "2019", "1080p", "1920x1080",
    "[ABCDEF12]", "Batch", "END", "完", "集", "Sousou no Frieren", "呪術廻戦", "귀멸의 칼날", "间谍过家家",
    " / ", "_", "★", "新番", ".mkv", ".en.ass", ".zh-Hans.srt", "0", "00", "9999", "\x00", "\ud800", "\u3000",
]  # fmt: skip

realistic = st.lists(st.sampled_from(PIECES) | st.text(ANY_CHAR, max_size=4), max_size=25).map("".join)
names = st.text(ANY_CHAR, max_size=300) | realistic
folders = st.lists(st.text(ANY_CHAR, max_size=40) | realistic, max_size=4)

# Far above the real cost (well under a millisecond per name): the bound catches runaway regex
# backtracking or loops, not ordinary slowness on a busy test machine.
TIME_BOUND_S = 0.5


def _check(parsed: ParsedName) -> None:
    assert isinstance(parsed, ParsedName)
    assert parsed.kind in KINDS
    if parsed.title is not None:
        assert parsed.title.strip() == parsed.title and parsed.title
        assert parsed.title_norm == (normalize_title(parsed.title) or None)
    if parsed.episode_end is not None:
        assert parsed.episode is not None and parsed.episode_end > parsed.episode
    for number in (parsed.season, parsed.episode, parsed.year, parsed.version, parsed.part):
        assert number is None or (isinstance(number, int) and number >= 0)
    json.dumps(parsed.to_dict())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names, folders)
def test_never_raises_and_is_bounded(name: str, parents: list[str]) -> None:
    start = time.perf_counter()
    parsed = parse_name(name, parents)
    assert time.perf_counter() - start < TIME_BOUND_S
    _check(parsed)


@settings(max_examples=100, deadline=None)
@given(names)
def test_deterministic(name: str) -> None:
    assert parse_name(name) == parse_name(name)


# A long name is a random piece repeated to 2,000-6,000 characters, then a random tail of up to 200. Drawing
# each of 2,000+ characters at random could run past Hypothesis's data budget: in one full-suite run 20 of
# 29 tries did, and its health check failed the test (FailedHealthCheck, data_too_large).
long_names = st.builds(
    lambda piece, times, tail: (piece * times)[:6000] + tail,
    st.text(ANY_CHAR, min_size=20, max_size=120),
    st.integers(100, 300),
    st.text(ANY_CHAR, max_size=200),
)


@settings(max_examples=50, deadline=None)
@given(long_names)
def test_long_names_are_bounded(name: str) -> None:
    assert len(name) >= 2000
    start = time.perf_counter()
    _check(parse_name(name))
    assert time.perf_counter() - start < TIME_BOUND_S


@settings(max_examples=400, deadline=None)
@given(st.text(ANY_CHAR, max_size=200))
def test_title_norm_is_idempotent(text: str) -> None:
    once = normalize_title(text)
    assert normalize_title(once) == once
    assert once == once.strip()
    assert "  " not in once
