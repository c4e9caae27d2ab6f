"""Core library tables: roots, scans, files, parses; views v_library and v_unmatched.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

V_LIBRARY = """
CREATE VIEW v_library AS
SELECT f.id AS file_id, f.path, f.name, f.ext, f.kind, f.status, f.size, f.mtime_ns,
       r.path AS root, p.title, p.title_norm, p.season, p.episode, p.episode_end, p.year,
       p.kind AS media_kind, p.release_group, p.resolution, p.checksum, p.parser_version,
       f.video_id, f.first_seen, f.last_seen
FROM files f
LEFT JOIN roots r ON r.id = f.root_id
LEFT JOIN parses p ON p.file_id = f.id
"""

V_UNMATCHED = """
CREATE VIEW v_unmatched AS
SELECT file_id, path, title, title_norm, season, episode, year, 'not matched yet' AS reason
FROM v_library WHERE kind = 'video' AND status = 'present'
"""


def upgrade() -> None:
    op.create_table(
        "roots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("last_scan_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roots")),
        sa.UniqueConstraint("path", name=op.f("uq_roots_path")),
    )
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("roots", sa.Text(), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("restored", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reparsed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("error_samples", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
    )
    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("path_raw", sa.LargeBinary(), nullable=True),
        sa.Column("dir", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("ext", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("dev", sa.BigInteger(), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("first_scan_id", sa.Integer(), nullable=True),
        sa.Column("last_scan_id", sa.Integer(), nullable=True),
        sa.Column("video_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["root_id"], ["roots.id"], name=op.f("fk_files_root_id_roots"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["files.id"], name=op.f("fk_files_video_id_files"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
        sa.UniqueConstraint("path", name=op.f("uq_files_path")),
    )
    op.create_index("ix_files_dev_inode", "files", ["dev", "inode"])
    op.create_index("ix_files_size_name", "files", ["size", "name"])
    op.create_index("ix_files_root_status", "files", ["root_id", "status"])
    op.create_index("ix_files_video_id", "files", ["video_id"])
    op.create_index("ix_files_dir", "files", ["dir"])
    op.create_table(
        "parses",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("parser", sa.String(length=32), nullable=False),
        sa.Column("parser_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("title_norm", sa.Text(), nullable=True),
        sa.Column("season", sa.Integer(), nullable=True),
        sa.Column("episode", sa.Integer(), nullable=True),
        sa.Column("episode_end", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("release_group", sa.Text(), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("checksum", sa.String(length=16), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("episode_title", sa.Text(), nullable=True),
        sa.Column("languages", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("parsed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_parses_file_id_files"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_parses")),
    )
    op.create_index(op.f("ix_parses_title_norm"), "parses", ["title_norm"])
    op.execute(V_LIBRARY)
    op.execute(V_UNMATCHED)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_unmatched")
    op.execute("DROP VIEW IF EXISTS v_library")
    op.drop_index(op.f("ix_parses_title_norm"), table_name="parses")
    op.drop_table("parses")
    for ix in (
        "ix_files_dir",
        "ix_files_video_id",
        "ix_files_root_status",
        "ix_files_size_name",
        "ix_files_dev_inode",
    ):
        op.drop_index(ix, table_name="files")
    op.drop_table("files")
    op.drop_table("scans")
    op.drop_table("roots")
