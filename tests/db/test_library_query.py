"""The read model (anivault.db.query, anivault.db.library): the `ls` language, file details and statistics, over a library
database at the real schema with rows written directly, so every case (batches, missing files, matches,
no parse) is there on purpose."""

from __future__ import annotations

import inspect
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anivault.db.library import file_detail, library_stats, row_counts
from anivault.db.query import FIELD_HELP, LibraryQuery, Term, compile_query, list_files, parse_terms, readable
from anivault.errors import UsageError
from anivault.parsing import normalize_title

NOW = "2026-11-21 10:00:00"

# id, root, relative path, kind, status, video_id, size,
# parse: (title, season, episode, episode_end, year, media kind, group, resolution) or None
FILES: list[tuple[Any, ...]] = [
    (1, 1, "Frieren/[SubsPlease] Sousou no Frieren - 12 (1080p).mkv", "video", "present", None, 1000,
     ("Sousou no Frieren", None, 12, None, None, "tv", "SubsPlease", "1080p")),
    (2, 1, "Frieren/[SubsPlease] Sousou no Frieren - 12 (1080p).en.ass", "subtitle", "present", 1, 10,
     ("Sousou no Frieren", None, 12, None, None, "tv", "SubsPlease", "1080p")),
    (3, 1, "Frieren S2/[Erai-raws] Sousou no Frieren S2 - 03 [1920x1080].mkv", "video", "present", None, 2000,
     ("Sousou no Frieren", 2, 3, None, None, "tv", "Erai-raws", "1920x1080")),
    (4, 1, "Frieren/[Judas] Sousou no Frieren - 01-04 (720p).mp4", "video", "present", None, 4000,
     ("Sousou no Frieren", None, 1, 4, None, "tv", "Judas", "720p")),
    (5, 1, "Movies/Kimi no Na wa (2016) [4K].mkv", "video", "present", None, 9000,
     ("Kimi no Na wa", None, None, None, 2016, "movie", None, "4K")),
    (6, 1, "Vinland/Vinland Saga S01E05.mkv", "video", "missing", None, 500,
     ("Vinland Saga", 1, 5, None, None, "tv", None, None)),
    (7, 1, "Misc/random.mkv", "video", "present", None, 1, None),
    (8, 2, "Re Zero/[SubsPlease] Re:Zero kara Hajimeru Isekai Seikatsu S3 - 01 (1080p).mkv", "video", "present",
     None, 3000, ("Re:Zero kara Hajimeru Isekai Seikatsu", 3, 1, None, None, "tv", "SubsPlease", "1080p")),
    (9, 2, "장송의 프리렌/장송의 프리렌 02화.mkv", "video", "present", None, 700,
     ("장송의 프리렌", None, 2, None, None, "tv", None, None)),
]  # fmt: skip
ROOTS = {1: "/lib/a", 2: "/lib/b"}
PRESENT_VIDEOS = {1, 3, 4, 5, 7, 8, 9}


def _build(path: Path) -> Path:
    from anivault.db.connect import open_db

    open_db(path, backup_dir=path.parent / "backups").close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO scans (id, started_at, finished_at, status, roots, seen, new, changed, moved, missing,"
            " unchanged, restored, reparsed, errors, error_samples)"
            " VALUES (1, ?, ?, 'done', ?, 9, 9, 0, 0, 0, 0, 0, 0, 0, '[]'),"
            " (2, '2026-11-22 10:00:00', '2026-11-22 10:00:01', 'done', ?, 8, 0, 0, 0, 1, 8, 0, 0, 0, '[]')",
            (NOW, NOW, json.dumps(list(ROOTS.values())), json.dumps(list(ROOTS.values()))),
        )
        for rid, rpath in ROOTS.items():
            conn.execute(
                "INSERT INTO roots (id, path, added_at, last_scan_id) VALUES (?, ?, ?, 2)", (rid, rpath, NOW)
            )
        for fid, rid, rel, kind, status, video_id, size, parse in FILES:
            full = f"{ROOTS[rid]}/{rel}"
            name = full.rsplit("/", 1)[1]
            last_scan = 1 if status == "missing" else 2
            conn.execute(
                "INSERT INTO files (id, root_id, path, dir, name, ext, size, mtime_ns, dev, inode, kind, status,"
                " first_seen, last_seen, first_scan_id, last_scan_id, video_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 0, 1, ?, ?, ?, ?, ?, 1, ?, ?)",
                (fid, rid, full, full.rsplit("/", 1)[0], name, name.rsplit(".", 1)[1], size, fid, kind, status,
                 NOW, NOW, last_scan, video_id),
            )  # fmt: skip
            if parse:
                title, season, episode, end, year, mkind, group, res = parse
                conn.execute(
                    "INSERT INTO parses (file_id, parser, parser_version, title, title_norm, season, episode,"
                    " episode_end, year, kind, release_group, resolution, raw, parsed_at)"
                    " VALUES (?, 'anitopy', 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (fid, title, normalize_title(title), season, episode, end, year, mkind, group, res,
                     json.dumps({"title": title}), NOW),
                )  # fmt: skip
        conn.execute(
            "INSERT INTO matches (file_id, series_key, tmdb_id, media_type, season, episode, confidence, method,"
            " status, reason, candidates, decided_at) VALUES"
            " (8, 're zero', 65942, 'tv', 3, 1, 0.97, 'auto', 'matched', NULL, ?, ?),"
            " (3, 'sousou no frieren', 209867, 'tv', 2, 3, 0.55, 'auto', 'review', 'low confidence', '[]', ?)",
            (json.dumps([{"tmdb_id": 65942, "name": "Re:ZERO", "score": 0.97}]), NOW, NOW),
        )
        conn.execute(
            "INSERT INTO operations (id, kind, status, dest, args, total, created_at)"
            " VALUES (1, 'organize', 'done', '/dest', '{}', 1, ?)",
            (NOW,),
        )
        conn.execute(
            "INSERT INTO operation_items (op_id, seq, file_id, action, src, dst, state)"
            " VALUES (1, 1, 1, 'move', '/lib/a/old.mkv', '/lib/a/Frieren/x.mkv', 'done')"
        )
    conn.close()
    return path


@pytest.fixture(scope="module")
def db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("libq") / "library.db")


@pytest.fixture
def conn(db_file: Path) -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(f"{db_file.as_uri()}?mode=ro", uri=True)
    yield c
    c.close()


def ids(conn: sqlite3.Connection, query: str = "", **kw: Any) -> list[int]:
    """Matching ids: in sorted order when the query has a --sort, else as a sorted list of ids."""
    _, rows = list_files(conn, LibraryQuery(parse_terms(query), **kw))
    got = [r["id"] for r in rows]
    return got if kw.get("sort") else sorted(got)


# --- parsing terms -------------------------------------------------------------------------------------


def test_terms_fields_bare_words_negation_and_aliases() -> None:
    terms = parse_terms(["frieren", "S:2", "-group:Erai", "^ext:mp4", "title:re:zero", "res:1080p"])
    assert terms == (
        Term("title", "frieren"),
        Term("season", "2"),
        Term("group", "Erai", negate=True),
        Term("ext", "mp4", negate=True),
        Term("title", "re:zero"),
        Term("resolution", "1080p"),
    )
    assert parse_terms('title:"sousou no" season:1') == (Term("title", "sousou no"), Term("season", "1"))


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["foo:bar"], "unknown field 'foo'"),
        (["re:zero"], "unknown field 're'"),
        (["season:abc"], "'abc' is not a number"),
        (["episode:5..2"], "did you mean 2..5"),
        (["episode:1..2..3"], "is not a number"),
        (["year:"], "has no value"),
        (["resolution:huge"], "is not a resolution"),
        (["kind:book"], "is not one of"),
        (["status:gone"], "is not one of"),
        (["match:maybe"], "is not one of"),
        (["title:!!!"], "has no letters"),
        (["--jsn"], "no such option"),
        (["-q"], "no such option"),
        (["id:99999999999999999999"], "a number SQLite can hold"),
        (["resolution:99999999999999999999p"], "a number SQLite can hold"),
    ],
)
def test_bad_terms_are_usage_errors_with_a_hint(words: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_terms(words)
    assert message in info.value.message
    assert (info.value.hint and "fields:" in info.value.hint) or "--help" in (info.value.hint or "")


def test_unknown_field_hint_lists_every_field() -> None:
    with pytest.raises(UsageError) as info:
        parse_terms(["colour:red"])
    for field in FIELD_HELP:
        assert field in (info.value.hint or "")


# --- filtering -----------------------------------------------------------------------------------------


def test_default_is_present_videos_sorted_by_path(conn: sqlite3.Connection) -> None:
    got = ids(conn)
    assert set(got) == PRESENT_VIDEOS
    _, rows = list_files(conn, LibraryQuery())
    paths = [r["path"] for r in rows]
    assert paths == sorted(paths)


def test_title_words_are_normalised_substrings(conn: sqlite3.Connection) -> None:
    assert ids(conn, "frieren") == ids(conn, "title:FRIEREN") == [1, 3, 4]
    assert ids(conn, "sousou frieren") == [1, 3, 4]  # words are ANDed
    assert ids(conn, "title:re:zero") == [8]
    assert ids(conn, "title:Re:Zero-kara") == [8]  # punctuation folds like title_norm
    assert ids(conn, "프리렌") == [9]
    assert ids(conn, "-frieren") == [5, 7, 8, 9]  # no title at all (7) is kept by a negation


def test_season_defaults_to_one_when_only_an_episode_is_named(conn: sqlite3.Connection) -> None:
    assert ids(conn, "season:1") == [1, 4, 9]
    assert ids(conn, "season:2") == [3]
    assert ids(conn, "season:2..3") == [3, 8]
    assert ids(conn, "season:2,3") == [3, 8]
    assert ids(conn, "season:none") == [5, 7]
    assert ids(conn, "-season:1") == [3, 5, 7, 8]


def test_episode_numbers_ranges_and_batches(conn: sqlite3.Connection) -> None:
    assert ids(conn, "episode:12") == [1]
    assert ids(conn, "episode:2") == [4, 9]  # the batch 01-04 holds episode 2
    assert ids(conn, "episode:1..3") == [3, 4, 8, 9]
    assert ids(conn, "episode:10..") == [1]
    assert ids(conn, "episode:..1") == [4, 8]
    assert ids(conn, "ep:none") == [5, 7]


def test_resolution_by_height(conn: sqlite3.Connection) -> None:
    assert ids(conn, "resolution:1080p") == [1, 3, 8]  # 1920x1080 is 1080p
    assert ids(conn, "resolution:1920x1080") == [1, 3, 8]
    assert ids(conn, "resolution:4k") == ids(conn, "resolution:2160p") == [5]
    assert ids(conn, "resolution:720..1080") == [1, 3, 4, 8]
    assert ids(conn, "resolution:none") == [7, 9]


def test_group_ext_kind_status_root_year_tmdb_match_name_id(conn: sqlite3.Connection) -> None:
    assert ids(conn, "group:subsplease") == [1, 8]
    assert ids(conn, "-group:subsplease") == [3, 4, 5, 7, 9]  # no group counts as "not SubsPlease"
    assert ids(conn, "ext:mp4") == [4]
    assert ids(conn, "ext:.MP4,mkv") == ids(conn)
    assert ids(conn, "kind:subtitle") == [2]
    assert ids(conn, "kind:companion") == [2]
    assert set(ids(conn, "kind:any")) == PRESENT_VIDEOS | {2}
    assert ids(conn, "kind:movie") == [5]
    assert ids(conn, "status:missing") == [6]
    assert set(ids(conn, "status:any")) == PRESENT_VIDEOS | {6}
    assert ids(conn, "root:/lib/b") == [8, 9]
    assert ids(conn, "year:2016") == [5]
    assert ids(conn, "year:2000..2010") == []
    assert ids(conn, "tmdb:65942") == [8]
    assert 8 not in ids(conn, "tmdb:none")
    assert ids(conn, "match:review") == [3]
    assert ids(conn, "match:new") == [1, 4, 5, 7, 9]
    assert ids(conn, "name:kimi") == [5]
    assert ids(conn, "name:100%") == []  # LIKE wildcards in the value are literal
    assert ids(conn, "id:3..5") == [3, 4, 5]


def test_unmatched_and_missing(conn: sqlite3.Connection) -> None:
    _, rows = list_files(conn, LibraryQuery(unmatched=True))
    got = {r["id"]: r["reason"] for r in rows}
    assert set(got) == PRESENT_VIDEOS - {8}
    assert got[3] == "low confidence"
    assert got[1] == "not matched yet"
    assert ids(conn, "frieren", unmatched=True) == [1, 3, 4]
    assert ids(conn, missing=True) == [6]
    with pytest.raises(UsageError):
        compile_query(LibraryQuery(unmatched=True, missing=True))


def test_sort_and_limit(conn: sqlite3.Connection) -> None:
    assert ids(conn, "frieren", sort="episode") == [4, 3, 1]
    assert ids(conn, "frieren", sort="-episode") == [1, 3, 4]
    assert ids(conn, sort="-size", limit=2) == [5, 4]
    assert ids(conn, sort="year")[0] == 5  # empty values last, both ways
    assert ids(conn, sort="-year")[0] == 5
    assert ids(conn, "frieren", sort="season,-episode") == [1, 4, 3]
    assert ids(conn, limit=0) == []
    with pytest.raises(UsageError) as info:
        compile_query(LibraryQuery(sort="colour"))
    assert "sort fields" in (info.value.hint or "")
    with pytest.raises(UsageError):
        compile_query(LibraryQuery(limit=-1))
    with pytest.raises(UsageError):
        compile_query(LibraryQuery(limit=2**64))


def test_rows_stream_from_the_cursor(conn: sqlite3.Connection) -> None:
    columns, rows = list_files(conn, LibraryQuery())
    assert inspect.isgenerator(rows)
    first = next(rows)
    assert list(first) == list(columns)
    assert "reason" not in columns
    columns, _ = list_files(conn, LibraryQuery(unmatched=True))
    assert columns[-1] == "reason"


def test_compiled_sql_binds_values_never_splices_them() -> None:
    q = compile_query(LibraryQuery(parse_terms(["group:x' OR 1=1 --", "root:'; drop table files"])))
    assert "drop table" not in q.sql and "OR 1=1" not in q.sql
    assert "x' OR 1=1 --" in str(q.params)


_FIELDS = [*FIELD_HELP, "s", "res", "nope"]


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(
        st.one_of(
            st.text(max_size=12),
            st.builds(
                lambda neg, f, v: f"{neg}{f}:{v}",
                st.sampled_from(["", "-", "^"]),
                st.sampled_from(_FIELDS),
                st.one_of(
                    st.text(max_size=10),
                    st.from_regex(r"-?\d{0,22}(\.\.-?\d{0,3})?(,\d{1,2})?", fullmatch=True),
                ),
            ),
        ),
        max_size=4,
    )
)
def test_any_query_is_a_usage_error_or_valid_sql(db_file: Path, words: list[str]) -> None:
    try:
        query = LibraryQuery(parse_terms(words))
        compiled = compile_query(query)
    except UsageError:
        return
    c = sqlite3.connect(f"{db_file.as_uri()}?mode=ro", uri=True)
    try:
        rows = c.execute(compiled.sql, compiled.params).fetchall()
    finally:
        c.close()
    assert all(r[0] in {*PRESENT_VIDEOS, 2, 6} for r in rows)


# --- one file ------------------------------------------------------------------------------------------


def test_file_detail_of_a_video(conn: sqlite3.Connection) -> None:
    d = file_detail(conn, 1)
    assert d is not None
    assert d["file"]["path"].endswith("Sousou no Frieren - 12 (1080p).mkv")
    assert d["file"]["root"] == "/lib/a"
    assert d["file"]["path_has_raw_bytes"] is False
    assert d["parse"]["title"] == "Sousou no Frieren" and d["parse"]["raw"] == {"title": "Sousou no Frieren"}
    assert [c["id"] for c in d["companions"]] == [2]
    assert d["video"] is None
    assert d["match"] is None
    assert d["scans"]["first"]["id"] == 1 and d["scans"]["last"]["id"] == 2
    assert d["scans"]["since_last_seen"] == 0
    assert d["ledger"]["total"] == 1 and d["ledger"]["items"][0]["action"] == "move"
    json.dumps(d)  # JSON-ready as it is


def test_file_history_over_many_runs_newest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file's ledger history: the items of every run that moved it, organize and rollback, newest first,
    other files' items left out, at most LEDGER_LIMIT items with the total beside them; an organize item
    its rollback reversed reads `undone`."""
    import anivault.db.library as library

    path = _build(tmp_path / "library.db")
    conn = sqlite3.connect(path)
    with conn:
        for op, kind in ((2, "organize"), (4, "organize"), (5, "organize")):
            conn.execute(
                "INSERT INTO operations (id, kind, status, dest, args, total, created_at)"
                " VALUES (?, ?, 'done', '/dest', '{}', 2, ?)",
                (op, kind, NOW),
            )
            for seq, fid in ((1, 3), (2, 1 if op != 5 else 3)):
                conn.execute(
                    "INSERT INTO operation_items (op_id, seq, file_id, action, src, dst, state)"
                    " VALUES (?, ?, ?, 'move', ?, ?, 'done')",
                    (op, seq, fid, f"/s/{op}-{seq}", f"/d/{op}-{seq}"),
                )
        # Run 3 rolls back run 2: its item k reverses item 3 - k (file 3's first, then file 1's).
        conn.execute(
            "INSERT INTO operations (id, kind, status, args, undo_of, total, created_at)"
            " VALUES (3, 'rollback', 'done', '{}', 2, 2, ?)",
            (NOW,),
        )
        for seq, of_seq, fid in ((1, 2, 1), (2, 1, 3)):
            conn.execute(
                "INSERT INTO operation_items (op_id, seq, file_id, action, src, dst, state, undo_of)"
                " SELECT 3, ?, ?, 'move', dst, src, 'done', id FROM operation_items WHERE op_id=2 AND seq=?",
                (seq, fid, of_seq),
            )
            conn.execute("UPDATE operation_items SET state='undone' WHERE op_id=2 AND seq=?", (of_seq,))
    try:
        d = file_detail(conn, 1)
        assert d is not None
        assert d["ledger"]["total"] == 4
        assert [(i["op_id"], i["op_kind"], i["seq"], i["src"], i["state"]) for i in d["ledger"]["items"]] == [
            (4, "organize", 2, "/s/4-2", "done"),
            (3, "rollback", 1, "/d/2-2", "done"),
            (2, "organize", 2, "/s/2-2", "undone"),
            (1, "organize", 1, "/lib/a/old.mkv", "done"),
        ]
        monkeypatch.setattr(library, "LEDGER_LIMIT", 2)
        d = file_detail(conn, 1)
        assert d is not None and d["ledger"]["total"] == 4
        assert [i["op_id"] for i in d["ledger"]["items"]] == [4, 3]
    finally:
        conn.close()


def test_file_detail_companion_match_and_missing(conn: sqlite3.Connection) -> None:
    sub = file_detail(conn, 2)
    assert sub is not None and sub["video"]["id"] == 1
    matched = file_detail(conn, 8)
    assert matched is not None
    assert matched["match"]["tmdb_id"] == 65942
    assert matched["match"]["candidates"][0]["name"] == "Re:ZERO"
    gone = file_detail(conn, 6)
    assert gone is not None and gone["file"]["status"] == "missing"
    assert gone["scans"]["since_last_seen"] == 1  # scan 2 did not see it
    unparsed = file_detail(conn, 7)
    assert unparsed is not None and unparsed["parse"] is None
    assert file_detail(conn, 12345) is None
    assert file_detail(conn, 10**30) is None


# --- statistics ----------------------------------------------------------------------------------------


def test_library_stats(conn: sqlite3.Connection) -> None:
    s = library_stats(conn)
    t = s["totals"]
    assert (t["files"], t["present"], t["missing"], t["videos"], t["companions"]) == (9, 8, 1, 7, 1)
    assert t["present_bytes"] == sum(f[6] for f in FILES if f[4] == "present")
    assert t["series"] == 4 and t["roots"] == 2 and t["scans"] == 2
    assert {(r["kind"], r["status"]): r["files"] for r in s["by_kind"]} == {
        ("video", "present"): 7,
        ("video", "missing"): 1,
        ("subtitle", "present"): 1,
    }
    assert {r["root"]: r["videos"] for r in s["by_root"]} == {"/lib/a": 5, "/lib/b": 2}
    assert {r["ext"]: r["files"] for r in s["by_extension"]} == {"mkv": 6, "mp4": 1, "ass": 1}
    assert {r["match_status"]: r["videos"] for r in s["by_match_status"]} == {
        "new": 5,
        "matched": 1,
        "review": 1,
    }
    assert {r["resolution"]: r["videos"] for r in s["by_resolution"]}["1080p"] == 3
    top = s["top_series"][0]
    assert (top["title_norm"], top["videos"], top["seasons"], top["groups"]) == ("sousou no frieren", 3, 2, 3)
    assert s["parser_versions"] == [{"parser": "anitopy", "parser_version": 1, "files": 8}]
    assert s["last_scan"]["id"] == 2


def test_row_counts_and_readable(conn: sqlite3.Connection) -> None:
    counts = row_counts(conn)
    assert counts["files"] == 9 and counts["parses"] == 8 and counts["matches"] == 2
    assert readable(b"caf\xe9.mkv") == "caf\\xe9.mkv"
    assert readable(5) == 5


# --- the schema reference ------------------------------------------------------------------------------


def test_database_doc_names_every_table_view_and_column(db_file: Path) -> None:
    """docs/database.md has a `### name` section for every table and view of the head schema, and each
    section names every column in backticks: a migration that adds a column fails here until it is
    documented."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "database.md").read_text("utf-8")
    sections = {}
    for chunk in doc.split("\n### ")[1:]:
        title, _, body = chunk.partition("\n")
        sections[title.strip()] = body.split("\n## ")[0]
    c = sqlite3.connect(db_file)
    try:
        names = [
            r[0]
            for r in c.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
            )
        ]
        undocumented = []
        for name in names:
            if name not in sections:
                undocumented.append(name)
                continue
            for (column,) in c.execute("SELECT name FROM pragma_table_info(?)", (name,)):
                if f"`{column}`" not in sections[name]:
                    undocumented.append(f"{name}.{column}")
    finally:
        c.close()
    assert undocumented == [], f"document these in docs/database.md: {undocumented}"
