"""Time parse_name against plain anitopy on generated, realistic anime file names.

    python scripts/bench_parse.py [--count N] [--seed S]

Prints microseconds per name for ``anitopy.parse`` alone and for ``parse_name`` (anitopy plus the
fallback rules), and their ratio. The budget is a ratio of at most 1.30: the index parses up to
200k names per scan, and the rules may not add more than 30% to anitopy's own time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable

_TITLES = [
    "Sousou no Frieren", "Kimetsu no Yaiba", "Shingeki no Kyojin", "One Piece", "Spy x Family",
    "Boku no Hero Academia", "Jujutsu Kaisen", "Mushoku Tensei", "Re Zero kara Hajimeru Isekai Seikatsu",
    "Kaguya-sama wa Kokurasetai", "Dungeon Meshi", "Oshi no Ko", "Bocchi the Rock!", "Made in Abyss",
    "Vinland Saga", "Chainsaw Man", "Cowboy Bebop", "Steins;Gate", "Fate/Zero", "Mob Psycho 100",
    "葬送のフリーレン", "呪術廻戦", "鬼滅の刃", "귀멸의 칼날", "나 혼자만 레벨업", "进击的巨人", "间谍过家家",
]  # fmt: skip
_GROUPS = [
    "SubsPlease",
    "Erai-raws",
    "HorribleSubs",
    "Judas",
    "LoliHouse",
    "Ohys-Raws",
    "NC-Raws",
    "桜都字幕组",
]
_TAGS = ["[1080p]", "(1080p)", "[720p]", "[BD 1080p HEVC FLAC]", "(WEB 1080p x264 AAC)", "[1920x1080 x265]"]
_EXTS = ["mkv", "mp4", "ass", "en.ass", "avi"]


def _name(rng: random.Random) -> str:
    title = rng.choice(_TITLES)
    group = rng.choice(_GROUPS)
    ep = rng.randint(1, 28)
    season = rng.randint(1, 4)
    tag = rng.choice(_TAGS)
    crc = f"[{rng.getrandbits(32):08X}]" if rng.random() < 0.5 else ""
    ext = rng.choice(_EXTS)
    style = rng.randrange(10)
    if style == 0:
        return f"[{group}] {title} - {ep:02d} {tag}{crc}.{ext}"
    if style == 1:
        return f"[{group}] {title} S{season} - {ep:02d}v2 {tag}{crc}.{ext}"
    if style == 2:
        return f"{title.replace(' ', '.')}.S{season:02d}E{ep:02d}.1080p.WEB-DL.x264-{group}.{ext}"
    if style == 3:
        return f"[{group}] {title} {season}nd Season - {ep:02d} {tag}.{ext}"
    if style == 4:
        return f"{title} 第{season}期 第{ep:02d}話 {tag}.{ext}"
    if style == 5:
        return f"[{group}] {title} {season}기 {ep:02d}화 {tag}.{ext}"
    if style == 6:
        return f"【{group}】[{title}][{ep:02d}][1080P][简体][MP4]"
    if style == 7:
        return f"[{group}]_{title.replace(' ', '_')}_-_{ep:02d}-{ep + 2:02d}_{tag}.{ext}"
    if style == 8:
        return f"[{group}] {title} OVA - {ep:02d} {tag}{crc}.{ext}"
    return f"{title} - Episode {ep} - Some Episode Title {tag}.{ext}"


def _time(func: Callable[[str], object], names: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for name in names:
            func(name)
        best = min(best, time.perf_counter() - start)
    return best / len(names) * 1e6


def _plain_anitopy(name: str) -> object:
    import anitopy

    try:
        return anitopy.parse(name)
    except Exception:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=4000, help="names to generate (default 4000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=5, help="best of N runs (default 5)")
    args = ap.parse_args(argv)

    from anivault.parsing import parse_name

    rng = random.Random(args.seed)
    names = [_name(rng) for _ in range(args.count)]
    for name in names[:200]:  # warm caches and imports before timing either side
        _plain_anitopy(name)
        parse_name(name)

    # The two sides alternate chunk by chunk and each chunk keeps its best of N runs, so load from
    # other processes (which comes and goes in bursts) lands on both sides alike.
    chunks = [names[i : i + 50] for i in range(0, len(names), 50)]
    best_base = [float("inf")] * len(chunks)
    best_ours = [float("inf")] * len(chunks)
    for _ in range(args.repeat):
        for index, chunk in enumerate(chunks):
            best_base[index] = min(best_base[index], _time(_plain_anitopy, chunk, 1) * len(chunk))
            best_ours[index] = min(best_ours[index], _time(parse_name, chunk, 1) * len(chunk))
    base = sum(best_base) / len(names)
    ours = sum(best_ours) / len(names)
    ratio = ours / base
    print(f"{len(names)} generated names, best of {args.repeat}")
    print(f"anitopy.parse   {base:8.1f} us/name")
    print(f"parse_name      {ours:8.1f} us/name")
    print(f"ratio           {ratio:8.2f}  (budget 1.30: {'ok' if ratio <= 1.30 else 'OVER'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
