"""The `ls` query language, read against the library's documented view `v_library`.

Works on a plain `sqlite3.Connection` (the CLI opens it read-only); nothing here prints; bad input raises
`UsageError`. In the spirit of `beet ls artist:foo year:2000..2009`:

    anivault ls frieren season:2 group:subsplease -ext:mp4 episode:1..6 resolution:1080p

* `field:value` filters on one field; `-field:value` (or `^field:value`) keeps what does not match;
* a bare word is a title word (`frieren` is `title:frieren`);
* numbers take ranges (`1..12`, `5..`, `..3`), lists (`1,3,5`) and `none` (no value);
* terms are ANDed; the comma ORs values inside one term.
"""

from __future__ import annotations

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
    from anivault.title_key import normalize_title

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
