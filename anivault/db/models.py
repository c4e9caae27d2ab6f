"""Core tables of the library database: roots, scans, files, parses.

Other stages keep their models in their own modules (models_match, models_ledger, models_run);
`all_models()` imports them all so `Base.metadata` is complete for Alembic and the schema test.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from anivault.db.base import Base, utcnow

# Tables that only the indexer's plain SQL reads and writes: declared for the schema (Alembic, the
# models-equal-migrations test), with no ORM class nobody queries.
roots = Table(
    "roots",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("path", Text, nullable=False, unique=True),
    Column("added_at", DateTime, nullable=False, default=utcnow),
    Column("last_scan_id", Integer),
)
"""A folder given to `anivault index`."""

scans = Table(
    "scans",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", DateTime, nullable=False, default=utcnow),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False, default="running"),  # running|done|interrupted|failed
    Column("roots", Text, nullable=False, default="[]"),  # JSON list of root paths
    Column("seen", Integer, nullable=False, default=0),
    Column("new", Integer, nullable=False, default=0),
    Column("changed", Integer, nullable=False, default=0),
    Column("moved", Integer, nullable=False, default=0),
    Column("missing", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column(
        "restored", Integer, nullable=False, default=0, server_default="0"
    ),  # missing files that came back
    Column("reparsed", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("error_samples", Text, nullable=False, default="[]"),  # JSON: first few errors, for the report
)
"""One run of `anivault index`, with what it found."""


class File(Base):
    """A video or companion file ever seen. Missing files keep their row and history."""

    __tablename__ = "files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_id: Mapped[int | None] = mapped_column(ForeignKey("roots.id", ondelete="SET NULL"))
    # `path` is readable text. A name that is not valid UTF-8 (Linux bytes) shows its bad bytes as \xNN
    # there, and its exact bytes live in `path_raw`, so nothing is lost (see anivault.pathcodec).
    path: Mapped[str] = mapped_column(Text, unique=True)
    path_raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    dir: Mapped[str] = mapped_column(Text)  # parent folder, readable form: the index walks by folder
    name: Mapped[str] = mapped_column(Text)
    ext: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    dev: Mapped[int] = mapped_column(BigInteger)
    inode: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # video|subtitle|audio|font
    status: Mapped[str] = mapped_column(String(16), default="present")  # present|missing
    first_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    first_scan_id: Mapped[int | None] = mapped_column(Integer)
    last_scan_id: Mapped[int | None] = mapped_column(Integer)
    video_id: Mapped[int | None] = mapped_column(ForeignKey("files.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_files_dev_inode", "dev", "inode"),
        Index("ix_files_size", "size"),  # move detection: a file with the same size and name
        Index("ix_files_video_id", "video_id"),
        # No `dir` index: a folder's files are a range of the path index (pipeline/index/writer.py).
    )


class Parse(Base):
    """The parser's reading of a file name (one current parse per file)."""

    __tablename__ = "parses"
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True)
    parser: Mapped[str] = mapped_column(String(32))
    parser_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    title_norm: Mapped[str | None] = mapped_column(Text, index=True)
    season: Mapped[int | None] = mapped_column(Integer)
    episode: Mapped[int | None] = mapped_column(Integer)
    episode_end: Mapped[int | None] = mapped_column(Integer)
    part: Mapped[int | None] = mapped_column(Integer)  # "Part 2" / "2nd Cour" of a split season
    year: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str | None] = mapped_column(String(16))  # tv|movie|ova|ona|special
    release_group: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(32))
    checksum: Mapped[str | None] = mapped_column(String(16))
    version: Mapped[int | None] = mapped_column(Integer)
    episode_title: Mapped[str | None] = mapped_column(Text)
    languages: Mapped[str | None] = mapped_column(Text)  # comma-separated subtitle language tags
    confidence: Mapped[float | None] = mapped_column(Float)
    raw: Mapped[str] = mapped_column(Text, default="{}")  # full parse as JSON
    parsed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def all_models() -> None:
    """Import every model module so Base.metadata knows every table."""
    import anivault.db.models_ledger
    import anivault.db.models_match
    import anivault.db.models_run  # noqa: F401
