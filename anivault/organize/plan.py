"""Planning: from matched files to an ordered list of steps, checked against the disk and each other.

Pure functions over plain dataclasses; the only I/O is reading the disk (stat, listdir, comparing content of
an existing target). Nothing here writes.

    build_moves   PlanInput (a matched video and its companions) -> Move (src, dst, fingerprint)
    check_moves   sources still as planned? target free? two sources to one target? identical content?
    expand_steps  mkdir steps for new folders, moves ordered so a vacated name is reused only after it is
                  vacated, cycles (E01 <-> E02) and case-only renames broken through a temp name
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from anivault.errors import AniVaultError, UsageError
from anivault.naming.safename import confined_join, safe_component
from anivault.naming.template import EpisodeNumber, Template
from anivault.organize.companions import companion_name
from anivault.organize.fileops import Fingerprint, lstat_or_none, not_a_file, same_content

ACTIONS = ("move", "copy", "hardlink", "symlink")
CONFLICTS = ("skip", "rename", "fail")


class PlanConflict(AniVaultError):
    """--conflict fail found a conflict while planning."""


@dataclass(slots=True)
class Companion:
    file_id: int | None
    path: str
    kind: str
    fp: Fingerprint


@dataclass(slots=True)
class PlanInput:
    """One matched video, with everything a template can name."""

    file_id: int | None
    path: str
    fp: Fingerprint
    title: str
    tmdb_id: int
    media_type: str  # tv|movie
    ext: str
    original_title: str | None = None
    title_en: str | None = None
    year: int | None = None
    season: int | None = None
    episode: int | None = None
    episode_end: int | None = None
    absolute: int | None = None
    episode_title: str | None = None
    group: str | None = None
    resolution: str | None = None
    root: str | None = None  # the indexed folder it came from
    companions: list[Companion] = field(default_factory=list)

    def fields(self) -> dict[str, object]:
        episode: object = None
        if self.episode is not None:
            episode = EpisodeNumber(self.episode, self.episode_end)
        return {
            "title": self.title,
            "title_en": self.title_en or self.title,
            "title_original": self.original_title or self.title,
            "original_title": self.original_title or self.title,
            "year": self.year,
            "tmdb_id": self.tmdb_id,
            # Specials (episodes TMDB puts in season 0) land in "Season 00".
            "season": self.season if self.season is not None else 1,
            "episode": episode,
            "episode_end": self.episode_end,
            "absolute": self.absolute,
            "episode_title": self.episode_title,
            "group": self.group,
            "resolution": self.resolution,
            "ext": self.ext.lower().lstrip("."),
        }


@dataclass(slots=True)
class Move:
    """One file to place: the user-level unit of a plan (what a plan file lists and can edit)."""

    src: str
    dst: str
    action: str
    kind: str
    file_id: int | None
    fp: Fingerprint
    # todo|noop|identical|skip|stale — todo is the only one that becomes a step
    status: str = "todo"
    note: str | None = None
    occupied: bool = False  # the target exists now: another move of this plan vacates it first


@dataclass(slots=True)
class Step:
    """One ledger item: an action the executor performs."""

    seq: int
    action: str  # move|copy|hardlink|symlink|mkdir (organize); move|unlink|rmdir (rollback)
    src: str | None
    dst: str
    fp: Fingerprint | None
    file_id: int | None = None
    kind: str = "video"
    undo_of: int | None = None


def nfc_key(path: str) -> str:
    """How two target names collide on the strictest filesystem: NFC and case-insensitive."""
    return unicodedata.normalize("NFC", path).casefold()


def same_key(a: str, b: str) -> bool:
    """nfc_key(a) == nfc_key(b), without normalizing when both are ASCII (NFC leaves ASCII alone and
    casefold is lower there): most paths, checked once per move of a plan."""
    if a.isascii() and b.isascii():
        return len(a) == len(b) and a.lower() == b.lower()
    return nfc_key(a) == nfc_key(b)


class _DirProbe:
    """Cached listings of existing folders, so a planned `Re-Zero` reuses an existing `RE-ZERO` (or an NFD
    spelling) instead of creating a second folder that collides on case-insensitive filesystems."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, str] | None] = {}

    def existing_name(self, parent: str, name: str) -> str:
        entries = self._entries.get(parent, ...)
        if entries is ...:
            try:
                listing = {nfc_key(e): e for e in sorted(os.listdir(parent))}
            except OSError:
                listing = None
            self._entries[parent] = entries = listing
        if not entries:
            return name
        return entries.get(nfc_key(name), name) if isinstance(entries, dict) else name


def check_dest(dest: str, roots: Iterable[str]) -> str:
    """Resolve --dest and refuse a destination inside (or equal to) a source folder."""
    real = os.path.realpath(os.path.expanduser(dest))
    if os.path.exists(real) and not os.path.isdir(real):
        raise UsageError(f"--dest {dest} is a file, not a folder", hint="give a folder for the library")
    for root in roots:
        rroot = os.path.realpath(root)
        if real == rroot or real.startswith(rroot.rstrip(os.sep) + os.sep):
            raise UsageError(
                f"--dest {dest} is inside the source folder {root}",
                hint="choose a library folder outside the folders you index (organizing into a scanned "
                "folder would re-organize its own output)",
            )
    return real


def build_moves(
    inputs: Iterable[PlanInput], dest: str, series: Template, movie: Template, action: str
) -> list[Move]:
    """Render each video's target and its companions' targets. ``dest`` is a resolved folder."""
    probe = _DirProbe()
    existing: set[str] = set()  # folder names found on disk: trusted as they are (an NFD spelling)
    moves: list[Move] = []
    claimed_fonts: set[str] = set()
    series_needs_episode = "episode" in series.fields()
    for item in inputs:
        template = movie if item.media_type == "movie" else series
        if template is series and series_needs_episode and item.episode is None:
            # An opening/ending (NCOP/NCED) or an unnumbered extra: the episode template cannot name it,
            # and inventing "S00E" would be worse than leaving it (and its companions) where it is.
            note = "no episode number (an extra such as NCOP/NCED?): left in place; set one with `anivault match --set`"
            moves.append(Move(item.path, item.path, action, "video", item.file_id, item.fp, "skip", note))
            continue
        comps = template.render(item.fields())
        comps = _reuse_existing(dest, comps, probe, existing)
        dst = confined_join(dest, comps, existing)
        moves.append(Move(item.path, dst, action, "video", item.file_id, item.fp))
        stem = comps[-1][: -(len(item.ext.lstrip(".")) + 1)] if "." in comps[-1] else comps[-1]
        folder = comps[:-1]
        for comp in item.companions:
            if comp.path in claimed_fonts:
                continue
            rel = companion_name(item.path, comp.path, stem).split("/")
            if len(rel) > 1:
                claimed_fonts.add(comp.path)
            cparts = _reuse_existing(dest, folder + [safe_component(p) for p in rel], probe, existing)
            cdst = confined_join(dest, cparts, existing)
            moves.append(Move(comp.path, cdst, action, comp.kind, comp.file_id, comp.fp))
    return moves


def _reuse_existing(dest: str, comps: list[str], probe: _DirProbe, existing: set[str]) -> list[str]:
    """Folders reuse an existing spelling (case, NFD); the file name itself is never changed."""
    out: list[str] = []
    parent = dest
    for comp in comps[:-1]:
        name = probe.existing_name(parent, comp)
        if name != comp:
            existing.add(name)
        out.append(name)
        parent = os.path.join(parent, name)
    return [*out, comps[-1]]


def check_moves(moves: list[Move], conflict: str, *, compare_identical: bool = True) -> list[Move]:
    """Mark each move against the disk and the rest of the plan (in place; returns ``moves``).

    Order decides who wins a contested target: the first move (sources sorted by path) is placed, later
    ones follow --conflict. Nothing is ever planned over an existing file unless that file is itself a source
    that this plan moves away (a swap or a chain).
    """
    moving_away: dict[tuple[int, int], Move] = {}
    for m in moves:
        if m.status != "todo":
            continue
        st = lstat_or_none(m.src)
        if st is None:
            m.status, m.note = "stale", "source missing"
            continue
        what = not_a_file(st)
        if what is not None:
            m.status, m.note = "stale", f"source is {what}, not a file"
            continue
        diff = m.fp.differences(st)
        if diff:
            m.status, m.note = "stale", "source changed since it was planned: " + ", ".join(diff)
            continue
        if m.action == "move":
            moving_away[(st.st_dev, st.st_ino)] = m
    taken: dict[str, Move] = {}
    for m in moves:
        if m.status != "todo":
            continue
        if m.src == m.dst:
            m.status, m.note = "noop", "already in place"
            continue
        key = nfc_key(m.dst)
        first = taken.get(key)
        if first is not None:
            _resolve(m, conflict, f"another source is planned to the same target: {first.src}", taken)
            continue
        st = lstat_or_none(m.dst)
        if st is not None and (st.st_dev, st.st_ino) == (m.fp.dev, m.fp.inode) and not same_key(m.src, m.dst):
            # The target is a hard link of this very source (an earlier `--action hardlink` run): a move
            # only has to drop the source's name (the executor does), a link or a copy is already there.
            if m.action != "move":
                m.status, m.note = "identical", "already linked: the target is this file"
            taken[key] = m
            continue
        if st is not None:
            vacated = moving_away.get((st.st_dev, st.st_ino))
            if vacated is not None and (vacated is m or vacated.status == "todo"):
                m.occupied = True
                taken[key] = m  # a swap, a chain, or a case-only rename: expand_steps orders it
                continue
            if compare_identical and stat.S_ISREG(st.st_mode) and same_content(m.src, m.dst):
                m.status, m.note = "identical", "identical content already at the target"
                continue
            _resolve(m, conflict, "target exists", taken)
            continue
        taken[key] = m
    return moves


def _resolve(m: Move, conflict: str, reason: str, taken: dict[str, Move]) -> None:
    if conflict == "fail":
        raise PlanConflict(
            f"{reason}: {m.dst} (from {m.src})",
            hint="use --conflict skip or --conflict rename, or move the existing file away",
        )
    if conflict == "skip":
        m.status, m.note = "skip", reason
        return
    n = 2
    while True:
        candidate = numbered(m.dst, n)
        if nfc_key(candidate) not in taken and lstat_or_none(candidate) is None:
            break
        n += 1
    m.dst, m.note = candidate, f"renamed: {reason}"
    taken[nfc_key(candidate)] = m


_EXTENSIONS = re.compile(r"(?:\.[A-Za-z0-9_-]{1,12}){1,4}$")


def numbered(path: str, n: int) -> str:
    """`Show - S01E01.en.ass` -> `Show - S01E01 (2).en.ass` (--conflict rename)."""
    folder, name = os.path.split(path)
    m = _EXTENSIONS.search(name)
    cut = m.start() if m and m.start() > 0 else len(name)
    return os.path.join(folder, f"{name[:cut]} ({n}){name[cut:]}")


def expand_steps(moves: Sequence[Move], token: str) -> list[Step]:
    """Turn the `todo` moves into ordered steps (mkdir first). ``token`` makes temp names unique per run."""
    todo = [m for m in moves if m.status == "todo"]
    steps: list[Step] = []
    made: set[str] = set()
    for m in todo:
        _mkdirs(os.path.dirname(m.dst), made, steps)
    by_src = {m.src: m for m in todo if m.action == "move"}
    # A move whose target is another move's source waits for that one (chains); cycles need a temp name.
    order: list[Move] = []
    state: dict[int, int] = {}  # id(move) -> 1 visiting, 2 done
    temp_first: list[tuple[Move, str]] = []
    for m in todo:
        _visit(m, by_src, state, order, temp_first, token)
    # Parked moves first leave their name, then the ordered moves run, then the parked ones land.
    n = len(steps)
    for m, tmp in temp_first:
        n += 1
        steps.append(Step(n, "move", m.src, tmp, m.fp, m.file_id, m.kind))
    steps.extend(Step(k, m.action, m.src, m.dst, m.fp, m.file_id, m.kind) for k, m in enumerate(order, n + 1))
    n += len(order)
    for m, tmp in temp_first:
        n += 1
        steps.append(Step(n, "move", tmp, m.dst, m.fp, m.file_id, m.kind))
    return steps


def _visit(
    m: Move,
    by_src: dict[str, Move],
    state: dict[int, int],
    order: list[Move],
    temp_first: list[tuple[Move, str]],
    token: str,
) -> None:
    if state.get(id(m)) == 2:
        return
    blocker = _blocker(m, by_src)
    if blocker is not None:
        state[id(m)] = 1
        if blocker is m or state.get(id(blocker)) == 1:
            # A cycle (or a case-only rename): park this one under a temp name first.
            folder = os.path.dirname(m.src)
            temp_first.append((m, os.path.join(folder, f".anivault-{token}-{len(temp_first) + 1}.swap")))
            state[id(m)] = 2
            return
        _visit(blocker, by_src, state, order, temp_first, token)
    state[id(m)] = 2
    order.append(m)


def _blocker(m: Move, by_src: dict[str, Move]) -> Move | None:
    """The move that must leave ``m``'s target first (``m`` itself for a case-only rename), if any."""
    if m.action != "move":
        return None
    blocker = by_src.get(m.dst)
    if blocker is None and same_key(m.src, m.dst):
        blocker = m  # case-only rename: on a case-insensitive filesystem the target "exists"
    if blocker is None and m.occupied:
        st = lstat_or_none(m.dst)
        if st is not None:
            blocker = next(
                (b for b in by_src.values() if (b.fp.dev, b.fp.inode) == (st.st_dev, st.st_ino)), None
            )
    return blocker


def _mkdirs(folder: str, made: set[str], steps: list[Step]) -> None:
    if folder in made:
        return
    if os.path.isdir(folder):
        made.add(folder)
        return
    parent = os.path.dirname(folder)
    if parent != folder:
        _mkdirs(parent, made, steps)
    made.add(folder)
    steps.append(Step(len(steps) + 1, "mkdir", None, folder, None, None, "dir"))
