"""Matching: matches, overrides, tmdb_cache; v_library and v_unmatched gain match columns.

Revision ID: 0002_matching
Revises: 0001_core
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_matching"
down_revision = "0001_core"
branch_labels = None
depends_on = None

V_LIBRARY = """
CREATE VIEW v_library AS
SELECT f.id AS file_id, f.path, f.name, f.ext, f.kind, f.status, f.size, f.mtime_ns,
       r.path AS root, p.title, p.title_norm, p.season, p.episode, p.episode_end, p.year,
       p.kind AS media_kind, p.release_group, p.resolution, p.checksum, p.parser_version,
       m.tmdb_id, m.media_type, m.season AS tmdb_season, m.episode AS tmdb_episode,
       m.confidence, m.status AS match_status, m.method AS match_method,
       f.video_id, f.first_seen, f.last_seen
FROM files f
LEFT JOIN roots r ON r.id = f.root_id
LEFT JOIN parses p ON p.file_id = f.id
LEFT JOIN matches m ON m.file_id = f.id
"""

V_UNMATCHED = """
CREATE VIEW v_unmatched AS
SELECT file_id, path, title, title_norm, season, episode, year,
       COALESCE(match_status, 'new') AS match_status,
       CASE WHEN match_status IS NULL THEN 'not matched yet'
            ELSE COALESCE((SELECT reason FROM matches WHERE matches.file_id = v_library.file_id), match_status)
       END AS reason
FROM v_library
WHERE kind = 'video' AND status = 'present' AND COALESCE(match_status, '') <> 'matched'
"""

OLD_V_LIBRARY = """
CREATE VIEW v_library AS
SELECT f.id AS file_id, f.path, f.name, f.ext, f.kind, f.status, f.size, f.mtime_ns,
       r.path AS root, p.title, p.title_norm, p.season, p.episode, p.episode_end, p.year,
       p.kind AS media_kind, p.release_group, p.resolution, p.checksum, p.parser_version,
       f.video_id, f.first_seen, f.last_seen
FROM files f
LEFT JOIN roots r ON r.id = f.root_id
LEFT JOIN parses p ON p.file_id = f.id
"""

OLD_V_UNMATCHED = """
CREATE VIEW v_unmatched AS
SELECT file_id, path, title, title_norm, season, episode, year, 'not matched yet' AS reason
FROM v_library WHERE kind = 'video' AND status = 'present'
"""


def upgrade() -> None:
    op.create_table(
        "matches",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("series_key", sa.Text(), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(length=8), nullable=True),
        sa.Column("season", sa.Integer(), nullable=True),
        sa.Column("episode", sa.Integer(), nullable=True),
        sa.Column("episode_end", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("candidates", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_matches_file_id_files"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_matches")),
    )
    op.create_index(op.f("ix_matches_series_key"), "matches", ["series_key"])
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title_norm", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("tmdb_id", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=8), nullable=False),
        sa.Column("season_offset", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overrides")),
        sa.UniqueConstraint("title_norm", "year", name="uq_overrides_title_norm_year"),
    )
    op.create_table(
        "tmdb_cache",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("q_norm", sa.Text(), nullable=True),
        sa.Column("lang", sa.String(length=16), nullable=True),
        sa.Column("year_hint", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_tmdb_cache")),
    )
    op.create_index(op.f("ix_tmdb_cache_expires_at"), "tmdb_cache", ["expires_at"])
    op.execute("DROP VIEW IF EXISTS v_unmatched")
    op.execute("DROP VIEW IF EXISTS v_library")
    op.execute(V_LIBRARY)
    op.execute(V_UNMATCHED)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_unmatched")
    op.execute("DROP VIEW IF EXISTS v_library")
    op.execute(OLD_V_LIBRARY)
    op.execute(OLD_V_UNMATCHED)
    op.drop_index(op.f("ix_tmdb_cache_expires_at"), table_name="tmdb_cache")
    op.drop_table("tmdb_cache")
    op.drop_table("overrides")
    op.drop_index(op.f("ix_matches_series_key"), table_name="matches")
    op.drop_table("matches")
