"""Reading the library back: the `ls` query language, one file's details, and library statistics.

Everything here works on a plain `sqlite3.Connection` (the CLI opens it read-only) and on the documented
views (`v_library`, `v_unmatched`, `v_ledger`) where they cover what is asked, so scripts that use those
views and this module see the same thing. Nothing here prints; bad input raises `UsageError`.

The query language, in the spirit of `beet ls artist:foo year:2000..2009`:

    anivault ls frieren season:2 group:subsplease -ext:mp4 episode:1..6 resolution:1080p

* `field:value` filters on one field; `-field:value` (or `^field:value`) keeps what does not match;
* a bare word is a title word (`frieren` is `title:frieren`);
* numbers take ranges (`1..12`, `5..`, `..3`), lists (`1,3,5`) and `none` (no value);
* terms are ANDed; the comma ORs values inside one term.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from anivault.errors import UsageError

# --- Values ----------------------------------------------------------------------------------------

# A file-name parse with an episode number and no season is season 1 (the convention Plex and TMDB use
# for `Show - 12.mkv`), so `season:1` finds it; a movie (no episode either) has no season.
EFFECTIVE_SEASON = "COALESCE(v.season, CASE WHEN v.episode IS NOT NULL THEN 1 END)"

# Resolutions are written `1080p`, `1080P`, `1920x1080`, `1080i` or `4K`; they are compared by height so
# that `resolution:1080p` also finds `1920x1080`. CAST of '1080p' to INTEGER reads its leading digits.
HEIGHT = (
    "CASE WHEN v.resolution IS NULL THEN NULL"
    " WHEN lower(v.resolution) IN ('4k', 'uhd') THEN 2160"
    " WHEN lower(v.resolution) = '8k' THEN 4320"
    " WHEN instr(lower(v.resolution), 'x') > 0"
    " THEN CAST(substr(v.resolution, instr(lower(v.resolution), 'x') + 1) AS INTEGER)"
    " ELSE CAST(v.resolution AS INTEGER) END"
)

FILE_KINDS = ("video", "subtitle", "audio", "font")
MEDIA_KINDS = ("tv", "movie", "ova", "ona", "special")
STATUSES = ("present", "missing")
MATCH_STATUSES = ("matched", "review", "unmatched", "deferred", "new")

# Help for each filter field: what it matches and what values look like. Shown in hints and docs.
FIELD_HELP: dict[str, str] = {
    "title": "part of the parsed title, case and punctuation ignored (title:frieren)",
    "name": "text in the file name (name:[SubsPlease])",
    "season": "season number; no season in the name counts as 1 (season:2, season:1..3, season:none)",
    "episode": "episode number or range; a batch E01-E04 matches 1..4 (episode:12, episode:1..6)",
    "year": "year in the name (year:2023, year:2000..2009)",
    "group": "release group, case-insensitive substring (group:subsplease)",
    "resolution": "video height; 1080p = 1920x1080 (resolution:1080p, resolution:720..1080, resolution:4k)",
    "ext": "file extension (ext:mkv, ext:mkv,mp4)",
    "kind": "file kind video|subtitle|audio|font|companion|any, or media kind tv|movie|ova|ona|special",
    "status": "present|missing|any (default present)",
    "root": "indexed folder, substring of its path (root:/mnt/nas)",
    "tmdb": "TMDB id of the match (tmdb:209867, tmdb:none)",
    "match": "match status matched|review|unmatched|deferred|new",
    "id": "file id (id:120, id:100..200)",
}
ALIASES = {
    "t": "title",
    "s": "season",
    "e": "episode",
    "ep": "episode",
    "res": "resolution",
    "release_group": "group",
    "tmdb_id": "tmdb",
    "file_id": "id",
    "y": "year",
}

# `--sort` fields: the column (or expression) each sorts by.
SORT_FIELDS: dict[str, str] = {
    "id": "v.file_id",
    "path": "v.path",
    "name": "v.name",
    "title": "v.title_norm",
    "season": EFFECTIVE_SEASON,
    "episode": "v.episode",
    "year": "v.year",
    "group": "lower(v.release_group)",
    "resolution": HEIGHT,
    "ext": "v.ext",
    "kind": "v.kind",
    "status": "v.status",
    "root": "v.root",
    "tmdb": "v.tmdb_id",
    "match": "v.match_status",
    "size": "v.size",
    "mtime": "v.mtime_ns",
    "first_seen": "v.first_seen",
    "last_seen": "v.last_seen",
}

# The columns of an `ls` row, in order (`reason` is added with --unmatched).
LS_COLUMNS = (
    "id",
    "path",
    "title",
    "season",
    "episode",
    "episode_end",
    "year",
    "group",
    "resolution",
    "ext",
    "kind",
    "media_kind",
    "status",
    "size",
    "root",
    "tmdb_id",
    "match_status",
)
_LS_SELECT = (
    "v.file_id AS id, v.path, v.title, v.season, v.episode, v.episode_end, v.year,"
    ' v.release_group AS "group", v.resolution, v.ext, v.kind, v.media_kind, v.status, v.size,'
    " v.root, v.tmdb_id, v.match_status"
)


def fields_hint() -> str:
    return (
        "fields: "
        + ", ".join(FIELD_HELP)
        + "; prefix '-' to negate (-ext:mp4); numbers take ranges (episode:1..12); "
        "a bare word is a title word; a title with a colon: title:re:zero"
    )


def readable(value: Any) -> Any:
    """A value fit to print or put in JSON: bytes (raw path bytes, blobs) show bad bytes as \\xNN."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    return value


# --- Terms -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """One `field:value` filter; `negate` for `-field:value`."""

    field: str
    value: str
    negate: bool = False

    def __str__(self) -> str:
        return f"{'-' if self.negate else ''}{self.field}:{self.value}"


@dataclass(frozen=True, slots=True)
class LibraryQuery:
    """What `anivault ls` asks for."""

    terms: tuple[Term, ...] = ()
    unmatched: bool = False
    missing: bool = False
    sort: str | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    sql: str
    params: tuple[Any, ...]
    columns: tuple[str, ...]


def parse_terms(words: str | Sequence[str]) -> tuple[Term, ...]:
    """Terms from command-line words (each word is one term) or from one string (split like a shell).

    >>> [str(t) for t in parse_terms("frieren season:2 -Group:Erai")]
    ['title:frieren', 'season:2', '-group:Erai']
    """
    if isinstance(words, str):
        words = shlex.split(words)
    terms: list[Term] = []
    for word in words:
        word = word.strip()
        if not word:
            continue
        if word.startswith("--"):
            # An option the command does not have reaches us as a word (ls passes unknown options
            # through so that `-field:value` works): say so rather than search titles for "--jsn".
            raise UsageError(f"no such option: {word}", hint="see `anivault ls --help`")
        if len(word) == 2 and word[0] == "-" and word[1].isalpha():
            # `anivault ls -q`: a short option, not "titles without a q". Global options go first.
            raise UsageError(
                f"no such option: {word}",
                hint=f"global options go before the command (anivault {word} ls); see `anivault ls --help`",
            )
        negate = word[0] in "-^" and len(word) > 1
        body = word[1:] if negate else word
        name, colon, value = body.partition(":")
        if not colon:
            terms.append(Term("title", body, negate))
            continue
        field = ALIASES.get(name.lower(), name.lower())
        if field not in FIELD_HELP:
            raise UsageError(f"unknown field {name!r} in {word!r}", hint=fields_hint())
        if not value.strip():
            raise UsageError(
                f"{word!r} has no value after the colon",
                hint=f"{field}: {FIELD_HELP[field]}; {fields_hint()}",
            )
        term = Term(field, value.strip(), negate)
        _condition(term)  # validate now, so a bad value fails before the database is opened
        terms.append(term)
    return tuple(terms)


# --- Conditions --------------------------------------------------------------------------------------

Condition = tuple[str, list[Any]]

_INT_ITEM = re.compile(r"^\s*(-?\d+)?\s*(\.\.)?\s*(-?\d+)?\s*$")


def _int_items(term: Term) -> list[tuple[int | None, int | None] | None]:
    """`1,3..5,none` -> [(1, 1), (3, 5), None]; an open end is None."""
    items: list[tuple[int | None, int | None] | None] = []
    for part in term.value.split(","):
        part = part.strip()
        if part.lower() in ("none", "null"):
            items.append(None)
            continue
        m = _INT_ITEM.match(part)
        if not part or not m or (m.group(1) is None and m.group(3) is None):
            raise _bad_value(term, "a number, a range like 1..12, a list like 1,3 or none")
        lo = _sql_int(term, m.group(1)) if m.group(1) is not None else None
        hi = _sql_int(term, m.group(3)) if m.group(3) is not None else None
        if m.group(2) is None:
            if lo is None or hi is not None:  # "1 2" or similar
                raise _bad_value(term, "a number, a range like 1..12, a list like 1,3 or none")
            hi = lo
        if lo is not None and hi is not None and lo > hi:
            raise _bad_value(term, f"a range from low to high (did you mean {hi}..{lo}?)")
        items.append((lo, hi))
    return items


def _sql_int(term: Term, digits: str) -> int:
    value = int(digits)
    if not -(2**63) <= value < 2**63:  # SQLite integers are 64-bit; a bigger one cannot be bound
        raise _bad_value(term, "a number SQLite can hold")
    return value


def _bad_value(term: Term, wanted: str) -> UsageError:
    return UsageError(
        f"{term.field}:{term.value}: {term.value!r} is not {wanted}",
        hint=f"{term.field}: {FIELD_HELP[term.field]}; {fields_hint()}",
    )


def _int_condition(term: Term, column: str) -> Condition:
    parts: list[str] = []
    params: list[Any] = []
    for item in _int_items(term):
        if item is None:
            parts.append(f"{column} IS NULL")
            continue
        lo, hi = item
        if lo is not None and lo == hi:
            parts.append(f"{column} = ?")
            params.append(lo)
            continue
        bounds = []
        if lo is not None:
            bounds.append(f"{column} >= ?")
            params.append(lo)
        if hi is not None:
            bounds.append(f"{column} <= ?")
            params.append(hi)
        parts.append("(" + " AND ".join(bounds) + ")")
    return "(" + " OR ".join(parts) + ")", params


def _episode_condition(term: Term) -> Condition:
    # A batch file `E01-E04` covers episodes 1..4: a wanted range matches when the two ranges overlap.
    parts: list[str] = []
    params: list[Any] = []
    for item in _int_items(term):
        if item is None:
            parts.append("v.episode IS NULL")
            continue
        lo, hi = item
        bounds = ["v.episode IS NOT NULL"]
        if lo is not None:
            bounds.append("COALESCE(v.episode_end, v.episode) >= ?")
            params.append(lo)
        if hi is not None:
            bounds.append("v.episode <= ?")
            params.append(hi)
        parts.append("(" + " AND ".join(bounds) + ")")
    return "(" + " OR ".join(parts) + ")", params


def _height_of(term: Term, text: str) -> int:
    t = text.strip().lower()
    if t in ("4k", "uhd"):
        return 2160
    if t == "8k":
        return 4320
    m = re.fullmatch(r"(?:\d+\s*x\s*)?(\d+)\s*[pi]?", t)
    if not m:
        raise _bad_value(term, "a resolution like 1080p, 1920x1080, 720..1080 or 4k")
    return _sql_int(term, m.group(1))


def _resolution_condition(term: Term) -> Condition:
    parts: list[str] = []
    params: list[Any] = []
    for part in term.value.split(","):
        part = part.strip()
        if part.lower() in ("none", "null"):
            parts.append("v.resolution IS NULL")
            continue
        lo_text, dots, hi_text = part.partition("..")
        if not dots:
            parts.append(f"({HEIGHT}) = ?")
            params.append(_height_of(term, part))
            continue
        bounds = []
        if lo_text.strip():
            bounds.append(f"({HEIGHT}) >= ?")
            params.append(_height_of(term, lo_text))
        if hi_text.strip():
            bounds.append(f"({HEIGHT}) <= ?")
            params.append(_height_of(term, hi_text))
        if not bounds:
            raise _bad_value(term, "a resolution like 1080p, 1920x1080, 720..1080 or 4k")
        parts.append("(" + " AND ".join(bounds) + ")")
    return "(" + " OR ".join(parts) + ")", params


def _like_contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _title_condition(term: Term) -> Condition:
    from anivault.parsing.normalize import normalize_title

    words = normalize_title(term.value)
    if not words:
        raise _bad_value(term, "a title word (it has no letters or digits)")
    # title_norm is already NFKC + casefolded + punctuation-folded, so a plain substring test is exact
    # for every script (LIKE would only fold ASCII case).
    return "instr(COALESCE(v.title_norm, ''), ?) > 0", [words]


def _choice_condition(
    term: Term, column: str, choices: Sequence[str], *, null_as: str | None = None
) -> Condition:
    values = [v.strip().lower().lstrip(".") for v in term.value.split(",") if v.strip()]
    for v in values:
        if choices and v not in choices:
            raise _bad_value(term, "one of " + "|".join(choices))
    expr = f"COALESCE({column}, '{null_as}')" if null_as else column
    return f"{expr} IN ({', '.join('?' for _ in values)})", list(values)


def _kind_condition(term: Term) -> Condition:
    parts: list[str] = []
    params: list[Any] = []
    allowed = (*FILE_KINDS, "companion", "any", *MEDIA_KINDS)
    for v in (x.strip().lower() for x in term.value.split(",") if x.strip()):
        if v not in allowed:
            raise _bad_value(term, "one of " + "|".join(allowed))
        if v == "any":
            parts.append("1")
        elif v == "companion":
            parts.append("v.kind <> 'video'")
        elif v in FILE_KINDS:
            parts.append("v.kind = ?")
            params.append(v)
        else:
            parts.append("v.media_kind = ?")
            params.append(v)
    return "(" + " OR ".join(parts) + ")", params


def _status_condition(term: Term) -> Condition:
    values = [x.strip().lower() for x in term.value.split(",") if x.strip()]
    for v in values:
        if v not in (*STATUSES, "any"):
            raise _bad_value(term, "one of present|missing|any")
    if "any" in values:
        return "1", []
    return f"v.status IN ({', '.join('?' for _ in values)})", values


def _root_condition(term: Term) -> Condition:
    value = term.value
    if value.startswith(("~", ".")):
        value = os.path.abspath(os.path.expanduser(value))
    return "instr(COALESCE(v.root, ''), ?) > 0", [value]


_BUILDERS: dict[str, Callable[[Term], Condition]] = {
    "title": _title_condition,
    "name": lambda t: ("v.name LIKE ? ESCAPE '\\'", [_like_contains(t.value)]),
    "season": lambda t: _int_condition(t, EFFECTIVE_SEASON),
    "episode": _episode_condition,
    "year": lambda t: _int_condition(t, "v.year"),
    "group": lambda t: ("v.release_group LIKE ? ESCAPE '\\'", [_like_contains(t.value)]),
    "resolution": _resolution_condition,
    "ext": lambda t: _choice_condition(t, "lower(v.ext)", ()),
    "kind": _kind_condition,
    "status": _status_condition,
    "root": _root_condition,
    "tmdb": lambda t: _int_condition(t, "v.tmdb_id"),
    "match": lambda t: _choice_condition(t, "v.match_status", MATCH_STATUSES, null_as="new"),
    "id": lambda t: _int_condition(t, "v.file_id"),
}


def _condition(term: Term) -> Condition:
    sql, params = _BUILDERS[term.field](term)
    if term.negate:
        # NOT of a comparison with NULL is NULL (row dropped); `-group:x` must keep files with no group.
        sql = f"NOT COALESCE(({sql}), 0)"
    return sql, params


def _names_file_kind(term: Term) -> bool:
    values = {v.strip().lower() for v in term.value.split(",")}
    return bool(values & {*FILE_KINDS, "companion", "any"})


def compile_query(query: LibraryQuery) -> CompiledQuery:
    """The SQL (over v_library, alias v) and parameters for a query."""
    if query.unmatched and query.missing:
        raise UsageError(
            "--unmatched and --missing cannot be combined",
            hint="--unmatched lists present videos without a match; --missing lists files gone from disk",
        )
    where: list[str] = []
    params: list[Any] = []
    columns: tuple[str, ...] = LS_COLUMNS
    select = _LS_SELECT
    source = "v_library v"
    if query.unmatched:
        # v_unmatched is the documented definition (present videos whose match is not 'matched') and
        # carries the reason; joining it keeps one definition of "unmatched".
        source += " JOIN v_unmatched u ON u.file_id = v.file_id"
        select += ", u.reason"
        columns = (*LS_COLUMNS, "reason")
    if not any(t.field == "kind" and _names_file_kind(t) for t in query.terms):
        where.append("v.kind = 'video'")
    if query.missing:
        where.append("v.status = 'missing'")
    elif not any(t.field == "status" for t in query.terms):
        where.append("v.status = 'present'")
    for term in query.terms:
        sql, p = _condition(term)
        where.append(sql)
        params.extend(p)
    order = _order_by(query.sort)
    text = f"SELECT {select} FROM {source}"
    if where:
        text += " WHERE " + " AND ".join(where)
    text += f" ORDER BY {order}"
    if query.limit is not None:
        if not 0 <= query.limit < 2**63:
            raise UsageError(
                f"--limit {query.limit} is not a row count", hint="give a count of rows, like --limit 20"
            )
        text += " LIMIT ?"
        params.append(query.limit)
    return CompiledQuery(text, tuple(params), columns)


def _order_by(sort: str | None) -> str:
    if not sort:
        return "v.path, v.file_id"
    keys: list[str] = []
    for part in sort.split(","):
        part = part.strip()
        desc = part.startswith("-")
        name = ALIASES.get(part.lstrip("-+").lower(), part.lstrip("-+").lower())
        if name not in SORT_FIELDS:
            raise UsageError(
                f"cannot sort by {part!r}",
                hint="sort fields: " + ", ".join(SORT_FIELDS) + " (prefix '-' for descending: --sort -size)",
            )
        expr = SORT_FIELDS[name]
        # Empty values last in both directions: a missing season should not lead a listing.
        keys.append(f"({expr}) IS NULL, {expr}{' DESC' if desc else ''}")
    return ", ".join([*keys, "v.path", "v.file_id"])


def iter_rows(
    cursor: sqlite3.Cursor, batch: int = 512, stop: Callable[[], bool] | None = None
) -> Iterator[dict[str, Any]]:
    """Rows as dicts, a batch at a time (a listing of 200k files never sits in memory); ``stop`` ends the
    stream early when it returns True (Ctrl-C)."""
    names = [d[0] for d in cursor.description or ()]
    while (stop is None or not stop()) and (rows := cursor.fetchmany(batch)):
        for row in rows:
            # Only BLOBs (raw path bytes) need turning into text; testing the row's types in C keeps the
            # common all-text row cheap.
            if bytes in map(type, row):
                row = tuple(readable(v) for v in row)
            yield dict(zip(names, row, strict=True))


def list_files(
    conn: sqlite3.Connection, query: LibraryQuery
) -> tuple[tuple[str, ...], Iterator[dict[str, Any]]]:
    """(columns, rows) for `anivault ls`; rows stream from the cursor."""
    compiled = compile_query(query)
    cursor = conn.execute(compiled.sql, compiled.params)
    return compiled.columns, iter_rows(cursor)


# --- One file ---------------------------------------------------------------------------------------


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _one(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
    return next(iter_rows(conn.execute(sql, tuple(params))), None)


def _all(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    return list(iter_rows(conn.execute(sql, tuple(params))))


def _json_field(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


LEDGER_LIMIT = 50  # a file moved back and forth many times: show the latest steps, say how many in all
# A file's ledger rows (v_ledger's): the items of every run, organize and rollback, that moved this file.
LEDGER_HISTORY = (
    "SELECT o.id AS op_id, o.kind AS op_kind, o.status AS op_status, o.created_at AS op_created_at,"
    " i.seq, i.action, i.src, i.dst, i.state, i.note, i.finished_at"
    " FROM operation_items i JOIN operations o ON o.id = i.op_id WHERE i.file_id = ?1"
)


def file_detail(conn: sqlite3.Connection, file_id: int) -> dict[str, Any] | None:
    """Everything the library knows about one file, or None when there is no such id."""
    if not -(2**63) <= file_id < 2**63:  # cannot be an SQLite rowid (and cannot be bound)
        return None
    file = _one(
        conn,
        "SELECT f.id, f.path, f.path_raw IS NOT NULL AS path_has_raw_bytes, f.dir, f.name, f.ext, f.kind,"
        " f.status, f.size, f.mtime_ns, f.dev, f.inode, f.first_seen, f.last_seen, f.first_scan_id,"
        " f.last_scan_id, f.video_id, f.root_id, r.path AS root"
        " FROM files f LEFT JOIN roots r ON r.id = f.root_id WHERE f.id = ?",
        (file_id,),
    )
    if file is None:
        return None
    file["path_has_raw_bytes"] = bool(file["path_has_raw_bytes"])
    detail: dict[str, Any] = {"file": file}

    parse = _one(conn, "SELECT * FROM parses WHERE file_id = ?", (file_id,))
    if parse is not None:
        parse.pop("file_id", None)
        parse["raw"] = _json_field(parse.get("raw"))
    detail["parse"] = parse

    companion_sql = (
        "SELECT f.id, f.path, f.kind, f.ext, f.status, f.size, p.languages"
        " FROM files f LEFT JOIN parses p ON p.file_id = f.id WHERE f.video_id = ? ORDER BY f.path"
    )
    detail["companions"] = _all(conn, companion_sql, (file_id,))
    detail["video"] = (
        _one(conn, "SELECT id, path, status FROM files WHERE id = ?", (file["video_id"],))
        if file["video_id"] is not None
        else None
    )

    match = None
    if table_exists(conn, "matches"):
        match = _one(conn, "SELECT * FROM matches WHERE file_id = ?", (file_id,))
        if match is not None:
            match.pop("file_id", None)
            match["candidates"] = _json_field(match.get("candidates"))
    detail["match"] = match

    detail["scans"] = _scan_history(conn, file)

    ledger: dict[str, Any] | None = None
    if table_exists(conn, "v_ledger"):
        total = conn.execute(f"SELECT count(*) FROM ({LEDGER_HISTORY})", (file_id,)).fetchone()[0]
        items = _all(
            conn,
            f"SELECT * FROM ({LEDGER_HISTORY}) ORDER BY op_id DESC, seq DESC LIMIT ?2",
            (file_id, LEDGER_LIMIT),
        )
        ledger = {"total": total, "items": items}
    detail["ledger"] = ledger
    return detail


def _scan_history(conn: sqlite3.Connection, file: dict[str, Any]) -> dict[str, Any]:
    def scan(scan_id: Any) -> dict[str, Any] | None:
        if scan_id is None:
            return None
        return _one(conn, "SELECT id, started_at, finished_at, status FROM scans WHERE id = ?", (scan_id,))

    last_id = file["last_scan_id"]
    since: list[dict[str, Any]] = []
    since_count = 0
    if last_id is not None:
        # Scans after the last one that saw the file. For a present file this is usually none; for a
        # missing file it says how long it has been gone. Only scans of the file's root count when the
        # scan recorded its roots (a scan of another folder says nothing about this file).
        for row in iter_rows(
            conn.execute(
                "SELECT id, started_at, finished_at, status, roots FROM scans WHERE id > ? ORDER BY id",
                (last_id,),
            )
        ):
            roots = _json_field(row.pop("roots"))
            if file["root"] and isinstance(roots, list) and roots and file["root"] not in roots:
                continue
            since_count += 1
            if len(since) < 10:
                since.append(row)
    return {
        "first": scan(file["first_scan_id"]),
        "last": scan(last_id),
        "since_last_seen": since_count,
        "since_last_seen_sample": since,
    }


# --- Statistics ------------------------------------------------------------------------------------

TOP_SERIES = 15


def library_stats(conn: sqlite3.Connection) -> dict[str, Any]:
    """Totals and breakdowns of the whole library (each one GROUP BY in SQLite, nothing held in Python)."""
    stats: dict[str, Any] = {}
    totals = _one(
        conn,
        "SELECT count(*) AS files,"
        " COALESCE(sum(status = 'present'), 0) AS present,"
        " COALESCE(sum(status = 'missing'), 0) AS missing,"
        " COALESCE(sum(CASE WHEN status = 'present' THEN size END), 0) AS present_bytes,"
        " COALESCE(sum(kind = 'video' AND status = 'present'), 0) AS videos,"
        " COALESCE(sum(kind <> 'video' AND status = 'present'), 0) AS companions,"
        " COALESCE(sum(kind = 'video' AND status = 'present' AND video_id IS NULL"
        "   AND NOT EXISTS (SELECT 1 FROM files c WHERE c.video_id = files.id)), 0) AS videos_without_companions"
        " FROM files",
    )
    assert totals is not None
    totals["series"] = conn.execute(
        "SELECT count(DISTINCT title_norm) FROM v_library"
        " WHERE kind = 'video' AND status = 'present' AND title_norm IS NOT NULL"
    ).fetchone()[0]
    totals["roots"] = conn.execute("SELECT count(*) FROM roots").fetchone()[0]
    totals["scans"] = conn.execute("SELECT count(*) FROM scans").fetchone()[0]
    stats["totals"] = totals
    stats["by_kind"] = _all(
        conn,
        "SELECT kind, status, count(*) AS files, COALESCE(sum(size), 0) AS bytes"
        " FROM files GROUP BY kind, status ORDER BY kind = 'video' DESC, kind, status",
    )
    stats["by_root"] = _all(
        conn,
        # One pass over `files`, grouped by root, joined to the roots afterwards (no index on root_id).
        "SELECT r.path AS root, COALESCE(f.present, 0) AS present, COALESCE(f.videos, 0) AS videos,"
        " COALESCE(f.missing, 0) AS missing, COALESCE(f.bytes, 0) AS bytes,"
        " substr(s.finished_at, 1, 19) AS last_scan_at"
        " FROM roots r LEFT JOIN (SELECT root_id, sum(status = 'present') AS present,"
        " sum(status = 'present' AND kind = 'video') AS videos, sum(status = 'missing') AS missing,"
        " sum(CASE WHEN status = 'present' THEN size END) AS bytes FROM files GROUP BY root_id) f"
        " ON f.root_id = r.id LEFT JOIN scans s ON s.id = r.last_scan_id ORDER BY r.path",
    )
    stats["by_extension"] = _all(
        conn,
        "SELECT ext, kind, count(*) AS files, COALESCE(sum(size), 0) AS bytes FROM files"
        " WHERE status = 'present' GROUP BY ext, kind ORDER BY files DESC, ext",
    )
    stats["by_match_status"] = _all(
        conn,
        "SELECT COALESCE(match_status, 'new') AS match_status, count(*) AS videos FROM v_library"
        " WHERE kind = 'video' AND status = 'present' GROUP BY 1 ORDER BY videos DESC, 1",
    )
    stats["by_media_kind"] = _all(
        conn,
        "SELECT COALESCE(media_kind, 'unparsed') AS media_kind, count(*) AS videos FROM v_library"
        " WHERE kind = 'video' AND status = 'present' GROUP BY 1 ORDER BY videos DESC, 1",
    )
    stats["by_resolution"] = _all(
        conn,
        f"SELECT CASE WHEN ({HEIGHT}) > 0 THEN ({HEIGHT}) || 'p' ELSE 'unknown' END AS resolution,"
        " count(*) AS videos FROM v_library v"
        " WHERE v.kind = 'video' AND v.status = 'present' GROUP BY 1 ORDER BY videos DESC, 1",
    )
    stats["top_series"] = _all(
        conn,
        "SELECT max(title) AS title, title_norm, count(*) AS videos,"
        f" count(DISTINCT {EFFECTIVE_SEASON}) AS seasons, count(DISTINCT release_group) AS groups,"
        " COALESCE(sum(size), 0) AS bytes"
        " FROM v_library v WHERE v.kind = 'video' AND v.status = 'present' AND v.title_norm IS NOT NULL"
        " GROUP BY title_norm ORDER BY videos DESC, title_norm LIMIT ?",
        (TOP_SERIES,),
    )
    stats["parser_versions"] = _all(
        conn,
        "SELECT parser, parser_version, count(*) AS files FROM parses"
        " GROUP BY parser, parser_version ORDER BY parser_version DESC, files DESC",
    )
    stats["last_scan"] = _one(
        conn,
        "SELECT id, started_at, finished_at, status, seen, new, changed, moved, missing, restored,"
        " unchanged, reparsed, errors FROM scans ORDER BY id DESC LIMIT 1",
    )
    return stats


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows in every table (for `db status`)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    # Table names come from sqlite_master itself, quoted as identifiers: nothing user-typed reaches here.
    return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
