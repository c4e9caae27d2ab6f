"""Matching tables: matches, overrides, tmdb_cache (owned by the matching stage)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from anivault.db.base import Base, utcnow


class Match(Base):
    """The decision for one file."""

    __tablename__ = "matches"
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True)
    series_key: Mapped[str] = mapped_column(Text, index=True)
    tmdb_id: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(8))  # tv|movie
    season: Mapped[int | None] = mapped_column(Integer)
    episode: Mapped[int | None] = mapped_column(Integer)
    episode_end: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    method: Mapped[str] = mapped_column(String(16))  # auto|manual|override|none
    status: Mapped[str] = mapped_column(String(16))  # matched|review|unmatched|deferred
    reason: Mapped[str | None] = mapped_column(Text)
    candidates: Mapped[str] = mapped_column(Text, default="[]")  # JSON: top 3 with scores and reasons
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # What organize names the file with, so a plan never depends on the TMDB cache: the name in the
    # configured language (TMDB's fallback to the original name included), the original and English names,
    # the year, and TMDB's name of the episode ('' when looked up and unnamed, NULL when not looked up).
    title: Mapped[str | None] = mapped_column(Text)
    title_original: Mapped[str | None] = mapped_column(Text)
    title_en: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    episode_title: Mapped[str | None] = mapped_column(Text)


class Override(Base):
    """A user's rule for a series key; it always wins and survives re-runs."""

    __tablename__ = "overrides"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title_norm: Mapped[str] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    tmdb_id: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(8))
    season_offset: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("title_norm", "year", name="uq_overrides_title_norm_year"),)


class TmdbCache(Base):
    """A cached TMDB response, keyed by endpoint + normalised parameters."""

    __tablename__ = "tmdb_cache"
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    endpoint: Mapped[str] = mapped_column(Text)
    q_norm: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(16))
    year_hint: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)  # HTTP status cached (200, or 404 as a negative entry)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    schema_version: Mapped[int] = mapped_column(Integer)
    hits: Mapped[int] = mapped_column(Integer, default=0)
