"""parse_name on a table of real-world-style names (written for these tests, one per rule or more).

Each row: the file name, its parent folders (nearest last) and the fields the parse must have; fields
not listed are not checked. Titles are compared verbatim, so a row also pins down how clean they are.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from anivault.media import VIDEO_EXTENSIONS
from anivault.parsing import PARSER_VERSION, ParsedName, normalize_title, parse_name

Case = tuple[str, tuple[str, ...], dict[str, Any]]

CASES: list[Case] = [
    # --- plain fansub names: anitopy alone gets these right ---------------------------------------
    (
        "[SubsPlease] Dungeon Meshi - 05 (1080p) [A1B2C3D4].mkv",
        (),
        {"title": "Dungeon Meshi", "episode": 5, "release_group": "SubsPlease", "resolution": "1080p",
         "checksum": "A1B2C3D4", "kind": "tv", "season": None},
    ),
    (
        "[Group] Spy x Family - 05 (BD 1920x1080 HEVC FLAC) [ABCD1234].mkv",
        (),
        {"title": "Spy x Family", "episode": 5, "resolution": "1920x1080", "source": "BD",
         "video_terms": ("HEVC",), "audio_terms": ("FLAC",)},
    ),
    # --- seasons ------------------------------------------------------------------------------------
    ("[SubsPlease] Sousou no Frieren S2 - 03 (1080p).mkv", (), {"title": "Sousou no Frieren", "season": 2, "episode": 3}),
    ("[Erai-raws] Kimetsu no Yaiba S03 - 05 [1080p].mkv", (), {"title": "Kimetsu no Yaiba", "season": 3, "episode": 5}),
    ("[Judas] Mushoku Tensei 2nd Season - 12 [1080p].mkv", (), {"title": "Mushoku Tensei", "season": 2, "episode": 12}),
    ("[Group] Kaguya-sama wa Kokurasetai Second Season - 05 [1080p].mkv", (), {"title": "Kaguya-sama wa Kokurasetai", "season": 2}),
    ("[Judas] Vinland Saga Season 2 - 24 [1080p].mkv", (), {"title": "Vinland Saga", "season": 2, "episode": 24}),
    ("[Group] Bleach Sennen Kessen-hen Part 2 - 14 [1080p].mkv", (), {"title": "Bleach Sennen Kessen-hen", "season": None, "part": 2, "episode": 14}),
    ("[LoliHouse] Dr. Stone New World Cour 2 - 18 [WebRip 1080p].mkv", (), {"title": "Dr. Stone New World", "season": None, "part": 2, "episode": 18}),
    ("[Group] Mushoku Tensei S2 Part 2 - 03 [1080p].mkv", (), {"title": "Mushoku Tensei", "season": 2, "part": 2, "episode": 3, "episode_title": None}),
    ("[Group] Oshi no Ko 2nd Cour - 03 [1080p].mkv", (), {"title": "Oshi no Ko", "season": None, "part": 2, "episode": 3}),
    ("Made in Abyss - 03.mkv", ("Made in Abyss S2",), {"title": "Made in Abyss", "season": 2, "episode": 3}),
    ("Berserk - S01E02.mkv", ("Berserk (1997)", "Season 01"), {"title": "Berserk", "season": 1, "episode": 2, "year": 1997}),
    ("[Group] Kaguya-sama wa Kokurasetai - Ultra Romantic - 05 [1080p].mkv", ("Kaguya-sama",), {"title": "Kaguya-sama wa Kokurasetai - Ultra Romantic", "season": None, "episode": 5}),
    ("[Ohys-Raws] 呪術廻戦 第2期 第13話 (MBS 1280x720 x264 AAC).mp4", (), {"title": "呪術廻戦", "season": 2, "episode": 13}),
    ("[Group] 鬼灭之刃 第三季 第05集 [1080p].mp4", (), {"title": "鬼灭之刃", "season": 3, "episode": 5}),
    ("[Ohys-Raws] 귀멸의 칼날 3기 12화 (1080p).mp4", (), {"title": "귀멸의 칼날", "season": 3, "episode": 12}),
    ("나 혼자만 레벨업 시즌2 05화 [1080p].mkv", (), {"title": "나 혼자만 레벨업", "season": 2, "episode": 5}),
    ("[HorribleSubs] Overlord II - 05 [720p].mkv", (), {"title": "Overlord II", "season": 2, "episode": 5}),
    ("[Group] Mob Psycho 100 III - 05 [1080p].mkv", (), {"title": "Mob Psycho 100 III", "season": 3, "episode": 5}),
    # --- episodes -----------------------------------------------------------------------------------
    (
        "Cowboy.Bebop.S01E05.Ballad.of.Fallen.Angels.1080p.BluRay.x264-GRP.mkv",
        (),
        {"title": "Cowboy Bebop", "season": 1, "episode": 5, "release_group": "GRP",
         "episode_title": "Ballad of Fallen Angels"},
    ),
    ("Sousou.no.Frieren.E05.1080p.WEB.mkv", (), {"title": "Sousou no Frieren", "episode": 5, "episode_title": None}),
    ("[Group] Made in Abyss EP05 [720p].mkv", (), {"title": "Made in Abyss", "episode": 5}),
    ("[Group] Made in Abyss #05 [720p].mkv", (), {"title": "Made in Abyss", "episode": 5}),
    ("[Group] 間諜家家酒 第05集 [1080p].mp4", (), {"title": "間諜家家酒", "episode": 5}),
    ("[Group] 원피스 1089화 [1080p].mp4", (), {"title": "원피스", "episode": 1089}),
    (
        "[Group] Sousou no Frieren - 05 - The Hero's Grave [1080p].mkv",
        (),
        {"title": "Sousou no Frieren", "episode": 5, "episode_title": "The Hero's Grave"},
    ),
    ("[Judas] One Piece - 1009v2.mkv", (), {"title": "One Piece", "episode": 1009, "version": 2}),
    ("[Group] Made in Abyss - 05v2 [720p].mkv", (), {"title": "Made in Abyss", "episode": 5, "version": 2}),
    (
        "[HorribleSubs] Goblin Slayer - 10.5 [1080p].mkv",
        (),
        {"title": "Goblin Slayer", "episode": None, "episode_decimal": "10.5", "kind": "special"},
    ),
    ("[Group] Bocchi the Rock! - 01-03 [1080p].mkv", (), {"title": "Bocchi the Rock!", "episode": 1, "episode_end": 3}),
    ("[Group] Bocchi the Rock! 01~03 [1080p].mkv", (), {"title": "Bocchi the Rock!", "episode": 1, "episode_end": 3}),
    ("[Group] Bocchi the Rock! - E01-E03 [1080p].mkv", (), {"title": "Bocchi the Rock!", "episode": 1, "episode_end": 3}),
    ("[Erai-raws] Chainsaw Man - 01 ~ 12 [1080p][Batch]", (), {"title": "Chainsaw Man", "episode": 1, "episode_end": 12}),
    ("[HorribleSubs] Black Clover 01 - 170 [1080p] [Batch]", (), {"title": "Black Clover", "episode": 1, "episode_end": 170}),
    ("[Group] Detective Conan (1100-1120) (WEB 1080p)", (), {"title": "Detective Conan", "episode": 1100, "episode_end": 1120}),
    ("[Group] One Piece S21E03 1058 [1080p]", (), {"title": "One Piece", "season": 21, "episode": 1058}),
    ("[Group] Dungeon Meshi - 05 (S01E05) [1080p]", (), {"title": "Dungeon Meshi", "episode": 5, "season": 1}),
    ("[Group] Memories Off 3.5 - 04 (DVD 10-bit).mkv", (), {"title": "Memories Off 3.5", "episode": 4}),
    ("[Group] Nier Automata Ver1.1a - 07 [1080p].mkv", (), {"title": "Nier Automata Ver1.1a", "episode": 7}),
    ("[DeadFish] 03 - Hyouka [BD][720p].mp4", (), {"title": "Hyouka", "episode": 3}),
    ("kimi-ni-todoke-episode-12-720p.mp4", (), {"title": "kimi ni todoke", "episode": 12}),
    ("Gintama+Episode+201.mp4", (), {"title": "Gintama", "episode": 201}),
    ("Sword_Art_Online-ep7.mkv", (), {"title": "Sword Art Online", "episode": 7}),
    ("Shingeki no Kyojin 2. Bölüm (1080p).mkv", (), {"title": "Shingeki no Kyojin", "episode": 2}),
    ("Byousoku 5 Centimeter [BD 1080p].mkv", (), {"title": "Byousoku 5 Centimeter", "episode": None}),
    ("[BakeSubs] 86 - 05 [1080p][D40A9E55].mkv", (), {"title": "86", "episode": 5, "release_group": "BakeSubs"}),
    ("[Group] 22-7 - 05 [1080p].mkv", (), {"title": "22-7", "episode": 5}),
    ("[ANBU-AonE]_SaiUnKoku_Monogatari_2_-_01_[7F0AC2A7].avi", (), {"title": "SaiUnKoku Monogatari 2", "episode": 1}),
    ("Tokyo Magnitude 8.0 - 01 [HD][x264][RAW].mkv", (), {"title": "Tokyo Magnitude 8.0", "episode": 1}),
    ("[Group] Higurashi no Naku Koro ni Gou - 03 [1080p] (1).mkv", (), {"title": "Higurashi no Naku Koro ni Gou", "episode": 3}),
    # --- kinds --------------------------------------------------------------------------------------
    ("[Group] Fate Zero OVA - 02 [BD 720p].mkv", (), {"title": "Fate Zero OVA", "episode": 2, "kind": "ova"}),
    (
        "[Underwater] Toaru Kagaku no Railgun OVA - Misaka-san wa Ima Chuumoku no Mato Desukara [BD 1080p].mkv",
        (),
        {"title": "Toaru Kagaku no Railgun", "kind": "ova",
         "episode_title": "Misaka-san wa Ima Chuumoku no Mato Desukara"},
    ),
    ("[Group] Made in Abyss OAD [BD 1080p].mkv", (), {"kind": "ova"}),
    ("[Group] Kanojo Okarishimasu ONA - 03 [1080p].mkv", (), {"kind": "ona", "episode": 3}),
    ("[Group] Made in Abyss SP 02 [1080p].mkv", (), {"kind": "special", "episode": 2}),
    ("[Group] Fate Zero - Special 02 [BD 720p].mkv", (), {"kind": "special", "episode": 2}),
    ("[Group] Oshi no Ko - NCOP1 [BD 1080p].mkv", (), {"kind": "special", "episode": 1}),
    ("[Group] Oshi no Ko - NCED [BD 1080p].mkv", (), {"kind": "special"}),
    ("[FFF] Seirei Tsukai no Blade Dance - SP01 [BD][720p].mkv", (), {"kind": "special", "episode": 1}),
    ("[Group] Some Show With Special Guests - 04 [1080p].mkv", (), {"title": "Some Show With Special Guests", "kind": "tv"}),
    ("[Group] Kimi no Na wa Movie [BD 1080p].mkv", (), {"title": "Kimi no Na wa Movie", "kind": "movie", "episode": None}),
    ("[Group] One Piece Movie 14 Stampede [BD 1080p].mkv", (), {"kind": "movie"}),
    ("劇場版 呪術廻戦 0 [1080p].mkv", (), {"title": "呪術廻戦 0", "kind": "movie", "episode": None}),
    ("극장판 귀멸의 칼날 무한열차편 [1080p].mp4", (), {"title": "귀멸의 칼날 무한열차편", "kind": "movie"}),
    ("[Group] 剧场版 名侦探柯南 黑铁的鱼影 [1080p].mp4", (), {"kind": "movie"}),
    # --- years --------------------------------------------------------------------------------------
    ("[Group] Hunter x Hunter (2011) - 148 [1080p].mkv", (), {"title": "Hunter x Hunter", "year": 2011, "episode": 148}),
    ("[Group] Kimi no Na wa. (2016) [BD 1080p].mkv", (), {"title": "Kimi no Na wa", "year": 2016}),
    ("[Group] Mobile Suit Gundam Unicorn RE 0096 - 14 [720p].mkv", (), {"title": "Mobile Suit Gundam Unicorn RE 0096", "year": None}),
    # --- CJK brackets and mixed-script titles -------------------------------------------------------
    (
        "【喵萌奶茶屋】★04月新番★[间谍过家家 / SPY×FAMILY][05][1080p][简体][招募翻译校对]",
        (),
        {"title": "SPY×FAMILY", "episode": 5, "release_group": "喵萌奶茶屋"},
    ),
    (
        "【悠哈璃羽字幕社】[鬼灭之刃_Kimetsu no Yaiba][05][1080p][CHS]",
        (),
        {"title": "Kimetsu no Yaiba", "episode": 5, "release_group": "悠哈璃羽字幕社"},
    ),
    (
        "[桜都字幕组][盾之勇者成名录/Tate no Yuusha no Nariagari][12][BIG5][720P]",
        (),
        {"title": "Tate no Yuusha no Nariagari", "episode": 12, "release_group": "桜都字幕组"},
    ),
    (
        "[Nekomoe kissaten&LoliHouse] 药屋少女的呢喃 / Kusuriya no Hitorigoto - 03 [WebRip 1080p HEVC-10bit AAC].mkv",
        (),
        {"title": "Kusuriya no Hitorigoto", "episode": 3, "release_group": "Nekomoe kissaten&LoliHouse"},
    ),
    ("[风车字幕组][名侦探柯南][1120集][简体][MP4][1080P]", (), {"title": "名侦探柯南", "episode": 1120}),
    ("[DBD-Raws][Overlord II][01-13TV全集][1080P][BDRip][HEVC-10bit][FLAC][MKV]", (), {"title": "Overlord II", "episode": 1, "episode_end": 13}),
    ("【DHR动研字幕组】[进击的巨人_Shingeki no Kyojin][13完][繁体][720P][MP4]", (), {"title": "Shingeki no Kyojin", "episode": 13}),
    ("[Mahou Shoujo Madoka Magica HD REMASTER][07][Big5][720p][AVC_AAC]", (), {"title": "Mahou Shoujo Madoka Magica", "episode": 7}),
    (
        "[POPGO] Kidou Senshi Gundam Suisei no Majo 機動戦士ガンダム 水星の魔女 第05話 「Title」 1080p",
        (),
        # no separator between the two scripts: the whole name stays
        {"title": "Kidou Senshi Gundam Suisei no Majo 機動戦士ガンダム 水星の魔女", "episode": 5, "release_group": "POPGO"},
    ),
    ("「SSSS.GRIDMAN」 第05話 [1080p].mkv", (), {"title": "SSSS GRIDMAN", "episode": 5}),
    ("[Subz] Boruto - １５８ [1080p].mkv", (), {"title": "Boruto", "episode": 158}),
    ("[Group] 進撃の巨人 The Final Season Part 2 - 05 [1080p].mkv", (), {"title": "進撃の巨人 The Final Season", "season": None, "part": 2}),
    ("[Group] DARK MOON: 달의 제단 - 05 [1080p].mkv", (), {"title": "DARK MOON: 달의 제단", "episode": 5}),
    ("[Group] Mahou Shoujo Madoka☆Magica - 05 [1080p].mkv", (), {"title": "Mahou Shoujo Madoka☆Magica", "episode": 5}),
    ("[Group] Kidou Senshi Gundam SEED C.E.73 Stargazer - 02 [1080p].mkv", (), {"title": "Kidou Senshi Gundam SEED C.E.73 Stargazer", "episode": 2}),
    # --- release groups -----------------------------------------------------------------------------
    ("[M-L-Stuffs] Futari wa Precure (Pretty Cure) 01", (), {"title": "Futari wa Precure (Pretty Cure)", "episode": 1, "release_group": "M-L-Stuffs"}),
    ("[&] Shomin Sample - 10 [720p].mkv", (), {"release_group": "&", "episode": 10}),
    ("Clannad_-_03_[ru_jp]_[Shiza_&_Friends_Project].mkv", (), {"release_group": "Shiza & Friends Project"}),
    ("Macross Frontier - Itsuwari no Utahime (Central Anime, 720p) [46B35E25].mkv", (), {"release_group": "Central Anime"}),
    ("[[Zero-Raws] Shingeki no Kyojin - 05 (MBS 1280x720 x264 AAC).mp4", (), {"release_group": "Zero-Raws", "episode": 5}),
    ("37 [Ruberia]_Death_Note_-_37v2_[FINAL]_[XviD][6FA7D273].avi", (), {"title": "Death Note", "release_group": "Ruberia"}),
    # --- subtitle companions --------------------------------------------------------------------------
    ("[SubsPlease] Sousou no Frieren - 03 (1080p).en.ass", (), {"title": "Sousou no Frieren", "episode": 3, "languages": ("en",)}),
    ("[SubsPlease] Sousou no Frieren - 03 (1080p).zh-Hans.forced.ass", (), {"languages": ("zh-Hans",)}),
    ("[Group] Jujutsu Kaisen - 05 [1080p].chs.ass", (), {"languages": ("chs",), "episode": 5}),
    ("[Group] Jujutsu Kaisen - 05 [1080p].mkv", (), {"languages": ()}),
    # --- folder context -----------------------------------------------------------------------------
    ("03.mkv", ("Frieren", "Season 2"), {"title": "Frieren", "season": 2, "episode": 3}),
    ("S01E03.mkv", ("Vinland Saga (2019)", "S01"), {"title": "Vinland Saga", "year": 2019, "season": 1, "episode": 3}),
    ("Episode 07.mkv", ("Vinland Saga (2019)", "Season 2"), {"title": "Vinland Saga", "season": 2, "episode": 7}),
    ("第03話.mp4", ("葬送のフリーレン", "第2期"), {"title": "葬送のフリーレン", "season": 2, "episode": 3}),
    ("03화.mp4", ("나 혼자만 레벨업", "시즌 2"), {"title": "나 혼자만 레벨업", "season": 2, "episode": 3}),
    ("E05.mkv", ("Dungeon Meshi", "Specials"), {"title": "Dungeon Meshi", "season": 0, "kind": "special", "episode": 5}),
    ("[Group] 05 [1080p].mkv", ("[Group] Dungeon Meshi (2024) [1080p]",), {"title": "Dungeon Meshi", "year": 2024, "episode": 5}),
    ("[Group] Dungeon Meshi - 05 [1080p].mkv", ("Something Else", "Season 3"), {"title": "Dungeon Meshi", "season": 3}),
    ("05.mkv", (), {"title": None, "episode": 5}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "folders", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_parse_table(name: str, folders: tuple[str, ...], expected: dict[str, Any]) -> None:
    parsed = parse_name(name, folders)
    got = {field: getattr(parsed, field) for field in expected}
    assert got == expected


def test_every_row_exercises_a_rule_or_anitopy() -> None:
    """Sanity: the table is not only anitopy's easy cases."""
    fired = {rule for name, folders, _ in CASES for rule in parse_name(name, folders).rules}
    for rule in (
        "season_cjk", "season_korean", "season_korean_word", "season_part", "roman_season", "cjk_episode",
        "bracket_layout", "alt_title", "folder_season", "folder_title", "movie_number", "episode_range",
        "absolute_episode", "dash_episode_preferred", "leading_bracket_group", "group_not_language",
    ):  # fmt: skip
        assert rule in fired, rule


@pytest.mark.parametrize(
    "names",
    [
        (
            "[SubsPlease] Sousou no Frieren - 03 (1080p) [A1B2C3D4].mkv",
            "[Erai-raws] Sousou no Frieren - 04 [1080p][Multiple Subtitle].mkv",
            "Sousou.no.Frieren.S01E05.1080p.WEB.x264-GRP.mkv",
            "[Judas] Sousou no Frieren S2 - 01 [1080p].mkv",
            "【喵萌奶茶屋】★10月新番★[葬送的芙莉莲 / Sousou no Frieren][06][1080p][简日双语]",
        ),
        (
            "[Ohys-Raws] 呪術廻戦 第2期 第13話 (MBS 1280x720 x264 AAC).mp4",
            "呪術廻戦 第14話 [1080p].mkv",
        ),
        ("[Ohys-Raws] 귀멸의 칼날 3기 12화 (1080p).mp4", "귀멸의 칼날 13화.mp4"),
    ],
)
def test_title_norm_groups_releases_of_one_show(names: tuple[str, ...]) -> None:
    keys = {parse_name(name).title_norm for name in names}
    assert len(keys) == 1, keys


@pytest.mark.parametrize(
    ("text", "norm"),
    [
        ("Re:Zero kara Hajimeru Isekai Seikatsu", "re zero kara hajimeru isekai seikatsu"),
        ("  Steins;Gate  0 ", "steins gate 0"),
        ("ＳＰＹ×ＦＡＭＩＬＹ", "spy family"),
        ("Kaguya-sama wa Kokurasetai!?", "kaguya sama wa kokurasetai"),
        ("Fate/Zero", "fate zero"),
        ("進撃の巨人", "進撃の巨人"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
        ("___", ""),
    ],
)
def test_normalize_title(text: str, norm: str) -> None:
    assert normalize_title(text) == norm
    assert normalize_title(norm) == norm


def test_anitopy_crash_falls_back_to_rules() -> None:
    # anitopy raises AttributeError on this real name; the rules still read it.
    parsed = parse_name("[M-L-Stuffs] Futari wa Precure (Pretty Cure) 01")
    assert parsed.parser == "rules"
    assert "anitopy_failed" in parsed.rules


def test_parser_field_says_who_produced_the_result() -> None:
    assert parse_name("[SubsPlease] Dungeon Meshi - 05 (1080p).mkv").parser == "anitopy"
    assert parse_name("[Ohys-Raws] 귀멸의 칼날 3기 12화 (1080p).mp4").parser == "anitopy+rules"


@pytest.mark.parametrize(
    "name", ["", " ", ".mkv", "[]", "[][][]", "\x00\x01", "\ud800abc", "-" * 5000, "第話", "[" * 300]
)
def test_degenerate_names_do_not_raise(name: str) -> None:
    parsed = parse_name(name)
    assert isinstance(parsed, ParsedName)
    assert parsed.kind in ("tv", "movie", "ova", "ona", "special")


def test_not_a_string_does_not_raise() -> None:
    assert parse_name(None).title is None  # type: ignore[arg-type]
    assert parse_name("[G] Show - 01.mkv", folders=[None, 3]).episode == 1  # type: ignore[list-item]


def test_to_dict_is_json_ready_and_versioned() -> None:
    data = parse_name("[SubsPlease] Sousou no Frieren S2 - 03 (1080p).en.ass").to_dict()
    assert data["parser_version"] == PARSER_VERSION
    assert data["languages"] == ["en"]
    assert isinstance(data["rules"], list)
    assert json.loads(json.dumps(data)) == data


def test_parsed_name_is_frozen() -> None:
    parsed = parse_name("[SubsPlease] Dungeon Meshi - 05 (1080p).mkv")
    with pytest.raises(AttributeError):
        parsed.title = "x"  # type: ignore[misc]


def test_deterministic() -> None:
    name = "【喵萌奶茶屋】★04月新番★[间谍过家家 / SPY×FAMILY][05][1080p][简体][招募翻译校对]"
    assert parse_name(name) == parse_name(name) == parse_name(name)


def _parse_cli() -> Any:
    import typer

    from anivault.cli import cmd_parse

    app = typer.Typer()

    @app.callback()
    def _root() -> None:  # a callback keeps `parse` a named subcommand
        pass

    cmd_parse.register(app)
    return app


def test_cli_json_in_input_order_with_stdin_and_folders() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(
        _parse_cli(),
        ["parse", "Frieren/Season 2/03.mkv", "-", "--json"],
        input="[Ohys-Raws] 귀멸의 칼날 3기 12화 (1080p).mp4\n\n[SubsPlease] Dungeon Meshi - 05 (1080p).mkv\n",
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["input"] for r in rows] == [
        "Frieren/Season 2/03.mkv",
        "[Ohys-Raws] 귀멸의 칼날 3기 12화 (1080p).mp4",
        "[SubsPlease] Dungeon Meshi - 05 (1080p).mkv",
    ]
    assert (rows[0]["title"], rows[0]["season"], rows[0]["episode"]) == ("Frieren", 2, 3)
    assert rows[1]["season"] == 3 and rows[2]["episode"] == 5
    assert all(r["parser_version"] == PARSER_VERSION for r in rows)


def test_cli_table_shows_brackets_verbatim() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(_parse_cli(), ["parse", "[SubsPlease] Dungeon Meshi - 05 (1080p).mkv"])
    assert result.exit_code == 0, result.output
    assert "[SubsPlease]" in result.stdout
    assert "Dungeon Meshi" in result.stdout


def test_threads_do_not_mix_results() -> None:
    # anitopy keeps its state in module globals; parse_name serialises it so threads stay correct.
    import threading

    names = [f"[SubsPlease] Sousou no Frieren S2 - {i:02d} (1080p).mkv" for i in range(1, 13)]
    names += [f"[Ohys-Raws] 귀멸의 칼날 3기 {i}화 (1080p).mp4" for i in range(1, 13)]
    expected = {name: parse_name(name) for name in names}
    mismatches: list[str] = []

    def work() -> None:
        for _ in range(5):
            mismatches.extend(n for n in names if parse_name(n) != expected[n])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == []


@pytest.mark.parametrize(
    "name", ["Title 01 -", "Show - 01 -.mkv", "Show S01E01 -_", "NCOP1 -&|~", "Show 01 –"]
)
def test_names_that_hang_plain_anitopy_return(name: str) -> None:
    # anitopy 2.1 loops forever on these (a lone dash after the episode); a daemon thread lets the
    # test fail instead of hanging if that ever comes back.
    import threading

    from anivault.parsing import anitopy_safe

    results: list[object] = []
    worker = threading.Thread(
        target=lambda: results.append((anitopy_safe.parse(name, {}), parse_name(name))), daemon=True
    )
    worker.start()
    worker.join(timeout=10)
    assert results, f"parsing {name!r} did not return"


@pytest.mark.parametrize("ext", sorted(VIDEO_EXTENSIONS))
def test_every_video_extension_the_index_keeps_is_stripped(ext: str) -> None:
    p = parse_name(f"[SubsPlease] Sousou no Frieren - 05 (1080p).{ext}")
    assert (p.title, p.episode, p.episode_title) == ("Sousou no Frieren", 5, None)
