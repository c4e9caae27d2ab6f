"""Matches carry the names organize writes; parses carry the part of a split season.

Revision ID: 0002_match_names
Revises: 0001_baseline
Create Date: 2026-12-08

A match now stores the name in the configured language, the original and English names, the year and
TMDB's episode name, so a plan never reads the TMDB cache (`cache clear` cannot change one). Rows decided
before this revision have no names: the next `anivault match` fills them in (from the cache when it has
them). v_library shows the match's name.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002_match_names"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

V_LIBRARY = """
CREATE VIEW v_library AS
SELECT f.id AS file_id, f.path, f.name, f.ext, f.kind, f.status, f.size, f.mtime_ns,
       r.path AS root, p.title, p.title_norm, p.season, p.episode, p.episode_end, p.year,
       p.kind AS media_kind, p.release_group, p.resolution, p.checksum, p.parser_version,
       m.tmdb_id, m.media_type, m.title AS tmdb_title, m.year AS tmdb_year,
       m.season AS tmdb_season, m.episode AS tmdb_episode,
       m.confidence, m.status AS match_status, m.method AS match_method,
       f.video_id, f.first_seen, f.last_seen
FROM files f
LEFT JOIN roots r ON r.id = f.root_id
LEFT JOIN parses p ON p.file_id = f.id
LEFT JOIN matches m ON m.file_id = f.id
"""

_NEW_MATCH_COLUMNS = (
    ("title", sa.Text()),
    ("title_original", sa.Text()),
    ("title_en", sa.Text()),
    ("year", sa.Integer()),
    ("episode_title", sa.Text()),
)


def _baseline() -> Any:
    from importlib import import_module

    return import_module("anivault.migrations.versions.0001_baseline")


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_unmatched")
    op.execute("DROP VIEW IF EXISTS v_library")
    for name, type_ in _NEW_MATCH_COLUMNS:
        op.add_column("matches", sa.Column(name, type_, nullable=True))
    op.add_column("parses", sa.Column("part", sa.Integer(), nullable=True))
    op.execute(V_LIBRARY)
    op.execute(_baseline().V_UNMATCHED)  # unchanged, recreated because it reads v_library


def downgrade() -> None:
    baseline = _baseline()
    op.execute("DROP VIEW IF EXISTS v_unmatched")
    op.execute("DROP VIEW IF EXISTS v_library")
    with op.batch_alter_table("parses") as batch:
        batch.drop_column("part")
    with op.batch_alter_table("matches") as batch:
        for name, _ in reversed(_NEW_MATCH_COLUMNS):
            batch.drop_column(name)
    op.execute(baseline.V_LIBRARY)
    op.execute(baseline.V_UNMATCHED)
