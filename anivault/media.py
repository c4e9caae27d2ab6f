"""What kind of file a name is: a video, or a companion that travels with one."""

from __future__ import annotations

VIDEO_EXTENSIONS = frozenset(
    "mkv mp4 m4v avi m2ts mts ts webm wmv flv mov ogm ogv rmvb rm mpg mpeg vob divx 3gp asf".split()
)
SUBTITLE_EXTENSIONS = frozenset("ass ssa srt sup idx sub vtt smi".split())
AUDIO_EXTENSIONS = frozenset("mka".split())  # external audio tracks released beside a video
FONT_EXTENSIONS = frozenset("ttf otf ttc woff woff2".split())  # fonts that .ass subtitles need

COMPANION_KINDS = ("subtitle", "audio", "font")


def kind_for(name: str) -> tuple[str, str] | None:
    """(kind, lower-case extension) for a file AniVault keeps, else None."""
    dot = name.rfind(".")
    if dot <= 0:
        return None
    ext = name[dot + 1 :].lower()
    if ext in VIDEO_EXTENSIONS:
        return "video", ext
    if ext in SUBTITLE_EXTENSIONS:
        return "subtitle", ext
    if ext in AUDIO_EXTENSIONS:
        return "audio", ext
    if ext in FONT_EXTENSIONS:
        return "font", ext
    return None


def stem(name: str) -> str:
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def companion_video(companion: str, video_stems: dict[str, str]) -> str | None:
    """The video a subtitle or audio file belongs to: the longest video stem that starts its name
    (`Show - 01.en.forced.ass` belongs to `Show - 01.mkv`). `video_stems` maps stem -> video name for
    the videos of the same folder."""
    cstem = stem(companion)
    if cstem in video_stems:
        return video_stems[cstem]
    best: str | None = None
    for vstem, video in video_stems.items():
        if (
            len(cstem) > len(vstem)
            and cstem.startswith(vstem)
            and cstem[len(vstem)] in ". _[("
            and (best is None or len(vstem) > len(stem(best)))
        ):
            best = video
    if best is None and len(video_stems) == 1:
        return next(iter(video_stems.values()))  # one video in the folder: its subtitles are its own
    return best
