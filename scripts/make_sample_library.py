#!/usr/bin/env python3
"""Build a deterministic sample anime library (empty or small files) for the demo and the benchmarks.

    python scripts/make_sample_library.py DEST              # the curated demo set (~400 files)
    python scripts/make_sample_library.py DEST --files 100000 --series 2000   # synthetic, for benchmarks

The demo set has several release groups, seasons, specials, OVAs, movies, subtitles and fonts, and
Korean and Japanese names. The synthetic set spreads realistic names over N invented series, about 50
files to a folder, the same for a given seed.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from collections.abc import Iterator
from pathlib import Path


def crc(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:8].upper()


def demo_names() -> list[str]:
    """The curated demo library, as paths relative to the library root."""
    out: list[str] = []
    add = out.append
    for ep in range(1, 29):  # one season, with English subtitles beside some episodes
        name = f"[SubsPlease] Sousou no Frieren - {ep:02d} (1080p) [{crc('fr', ep)}].mkv"
        add(f"Sousou no Frieren/{name}")
        if ep <= 10:
            add(f"Sousou no Frieren/{name[:-4]}.en.ass")
    add("Sousou no Frieren/Fonts/FOT-RodinPro-DB.otf")
    for ep in range(1, 13):
        add(f"葬送のフリーレン/[Nekomoe kissaten] 葬送のフリーレン 第{ep:02d}話 [1080p][JPSC].mp4")
    for season, count in ((1, 25), (2, 12), (3, 22)):
        for ep in range(1, count + 1):
            add(
                f"Shingeki no Kyojin/Season {season}/[Erai-raws] Shingeki no Kyojin S{season} - {ep:02d} [1080p].mkv"
            )
    for ep in range(1, 13):
        add(f"진격의 거인/진격의 거인 3기 {ep:02d}화.mp4")
        add(f"진격의 거인/진격의 거인 3기 {ep:02d}화.ko.srt")
    for ep in range(1071, 1086):  # absolute numbering of a 1000+ episode show
        add(f"One Piece/[HorribleSubs] One Piece - {ep} [720p].mkv")
    for ep in range(1, 13):
        add(f"SPY x FAMILY/Season 2/SPY.x.FAMILY.S02E{ep:02d}.1080p.WEB-DL.x264-VARYG.mkv")
    for ep in range(1, 27):
        add(f"Cowboy Bebop/[Anime Time] Cowboy Bebop - {ep:02d} [BD 1080p HEVC][Dual Audio].mkv")
    add("Cowboy Bebop/Specials/[Anime Time] Cowboy Bebop - SP1 [BD 1080p].mkv")
    add("Cowboy Bebop/Extras/[Anime Time] Cowboy Bebop - NCOP [BD 1080p].mkv")
    for ep in range(1, 24):
        add(f"Jujutsu Kaisen/[SubsPlease] Jujutsu Kaisen S2 - {ep:02d} (1080p) [{crc('jjk', ep)}].mkv")
    for ep in range(1, 65):
        v2 = "v2" if ep in (7, 19) else ""
        add(
            f"Fullmetal Alchemist Brotherhood/[Coalgirls] Fullmetal Alchemist Brotherhood - {ep:02d}{v2} (1280x720 Blu-ray FLAC) [{crc('fmab', ep)}].mkv"
        )
    for ep in range(1, 13):
        add(f"나 혼자만 레벨업/[Ohys-Raws] 나 혼자만 레벨업 - {ep:02d} (1920x1080 x264 AAC).mp4")
    for ep in range(1, 14):
        add(f"Tower of God/신의 탑 2기 {ep:02d}화 1080p.mkv")
    for ep in range(1, 27):
        add(f"Demon Slayer/[Judas] Kimetsu no Yaiba - S01E{ep:02d} [1080p][HEVC x265 10bit].mkv")
    for ep in range(1, 13):
        add(f"Made in Abyss/[Cleo] Made in Abyss - {ep:02d} [Dual Audio 10bit BD1080p][HEVC-x265].mkv")
    add("Made in Abyss/[Cleo] Made in Abyss - OVA [Dual Audio 10bit BD1080p].mkv")
    for ep in range(1, 13):
        add(f"Bocchi the Rock!/[SubsPlease] Bocchi the Rock! - {ep:02d} (1080p) [{crc('btr', ep)}].mkv")
        add(f"Bocchi the Rock!/[SubsPlease] Bocchi the Rock! - {ep:02d} (1080p) [{crc('btr', ep)}].mka")
    movies = [
        "Your Name (2016) [BD 1080p].mkv",
        "[Beatrice-Raws] Kimi no Na wa. (2016) [BDRip 1920x1080 HEVC TrueHD].mkv",
        "Spirited Away (2001) [1080p BluRay x264].mkv",
        "劇場版 呪術廻戦 0 (2021) [1080p].mkv",
        "Akira (1988) [BD 1080p].mkv",
        "[UTW] Evangelion 1.11 You Are (Not) Alone [BD 1080p].mkv",
        "Weathering With You (2019) 1080p.mkv",
        "극장판 귀멸의 칼날 무한열차편 (2020).mp4",
    ]
    for m in movies:
        add(f"Movies/{m}")
    add("Movies/Spirited Away (2001) [1080p BluRay x264].en.srt")
    add("Movies/Spirited Away (2001) [1080p BluRay x264].ja.forced.srt")
    return out


GROUPS = ["SubsPlease", "Erai-raws", "HorribleSubs", "Judas", "ASW", "EMBER", "Anime Time", "Cleo",
          "Coalgirls", "Commie", "FFF", "GJM", "Kametsu", "Ohys-Raws", "Nekomoe kissaten", "LoliHouse"]  # fmt: skip
WORDS = ["Sora", "no", "Kimi", "Hoshi", "Yume", "Monogatari", "Kaze", "Tenshi", "Kage", "Hikari", "Shoujo",
         "Senki", "Densetsu", "Mahou", "Gakuen", "Ken", "Tsuki", "Umi", "Mirai", "Kokoro", "Sekai", "Ou",
         "Shinobi", "Ryuu", "Majo", "Tabi", "Kuro", "Shiro", "Hana", "Yoru", "Honoo", "Koori", "Seishun",
         "Boukensha", "Isekai", "Tensei", "Kyojin", "Hunter", "Knight", "Academy", "Chronicle", "Saga"]  # fmt: skip
KO = ["하늘", "별", "그림자", "전설", "마법", "학원", "검", "바다", "세계", "용", "기사", "여행"]
JA = ["空", "星", "影", "伝説", "魔法", "学園", "剣", "海", "世界", "竜", "騎士", "旅"]


def synthetic_names(files: int, series: int, seed: int = 7) -> Iterator[str]:
    """`files` realistic relative paths over `series` invented series (streamed, deterministic)."""
    rng = random.Random(seed)
    per = max(1, files // max(1, series))
    made = 0
    s = 0
    while made < files:
        r = random.Random(seed * 1_000_003 + s)
        title = " ".join(r.sample(WORDS, r.randint(2, 4)))
        group = r.choice(GROUPS)
        season = r.choice([1, 1, 1, 2, 3])
        style = r.randrange(8)
        folder = f"{title}/Season {season}" if style in (2, 3) else title
        if style == 6:
            title = " ".join(r.sample(KO, 2))
            folder = title
        elif style == 7:
            title = "".join(r.sample(JA, 2))
            folder = title
        n = min(per, files - made)
        for ep in range(1, n + 1):
            res = r.choice(["1080p", "720p", "1920x1080", "480p"])
            c = crc(s, ep, seed)
            if style == 0:
                name = f"[{group}] {title} - {ep:02d} ({res}) [{c}].mkv"
            elif style == 1:
                name = f"[{group}] {title} S{season} - {ep:02d} [{res}].mkv"
            elif style == 2:
                name = f"{title.replace(' ', '.')}.S{season:02d}E{ep:02d}.{res}.WEB-DL.x264-{group.replace(' ', '')}.mkv"
            elif style == 3:
                name = f"[{group}] {title} - {ep:02d}v2 [BD {res} HEVC FLAC][{c}].mkv"
            elif style == 4:
                name = f"[{group}]_{title.replace(' ', '_')}_-_{ep:02d}_[{res}][{c}].mp4"
            elif style == 5:
                name = f"{title} - {ep:03d} [{group}][{res}].avi"
            elif style == 6:
                name = f"{title} {season}기 {ep:02d}화 {res}.mp4"
            else:
                name = f"[{group}] {title} 第{ep:02d}話 ({res}).mkv"
            yield f"{folder}/{name}"
            made += 1
            if rng.random() < 0.08 and made < files:  # some subtitles beside their video
                yield f"{folder}/{name.rsplit('.', 1)[0]}.en.ass"
                made += 1
        s += 1


def write_tree(dest: Path, names: Iterator[str] | list[str], size: int = 0) -> int:
    count = 0
    made_dirs: set[Path] = set()
    payload = b"\0" * size
    for rel in names:
        p = dest / rel
        if p.parent not in made_dirs:
            p.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(p.parent)
        with open(p, "wb") as fh:
            if size:
                fh.write(payload + rel.encode()[:64])  # distinct contents
        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--files", type=int, default=0, help="synthetic files to write (0 = the demo set)")
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--size", type=int, default=0, help="bytes of content per file (default: empty)")
    args = ap.parse_args(argv)
    names = synthetic_names(args.files, args.series, args.seed) if args.files else demo_names()
    n = write_tree(args.dest, names, args.size)
    print(f"wrote {n} files under {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
