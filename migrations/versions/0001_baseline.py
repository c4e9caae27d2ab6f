"""The baseline: every table, index and view of the library database.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-08

AniVault had no release before this revision, so the schema starts here. A database stamped with an
earlier revision (from a development build) is refused with a clear error by anivault.db.migrate.
Later revisions change the schema only where the schema really changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

# The views are the documented surface for people and scripts (docs/database.md); tables may change.
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

V_LEDGER = """
CREATE VIEW v_ledger AS
SELECT o.id AS op_id, o.kind AS op_kind, o.status AS op_status, o.created_at AS op_created_at,
       o.finished_at AS op_finished_at, o.dest, o.undo_of AS op_undo_of,
       i.seq, i.action, i.src, i.dst, i.state, i.note, i.size, i.file_id, i.undo_of AS item_undo_of,
       i.finished_at
FROM operation_items i
JOIN operations o ON o.id = i.op_id
"""


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dest", sa.Text(), nullable=True),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("undo_of", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["undo_of"], ["operations.id"], name=op.f("fk_operations_undo_of_operations"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
    )
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
        "roots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("last_scan_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roots")),
        sa.UniqueConstraint("path", name=op.f("uq_roots_path")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("scan_id", sa.Integer(), nullable=True),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("resumed_from", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index("ix_runs_state_started", "runs", ["state", "started_at"], unique=False)
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
        sa.Column("restored", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reparsed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("error_samples", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scans")),
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
    op.create_index(op.f("ix_tmdb_cache_expires_at"), "tmdb_cache", ["expires_at"], unique=False)
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
    op.create_index("ix_files_dev_inode", "files", ["dev", "inode"], unique=False)
    op.create_index("ix_files_size", "files", ["size"], unique=False)
    op.create_index("ix_files_video_id", "files", ["video_id"], unique=False)
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
    op.create_index(op.f("ix_matches_series_key"), "matches", ["series_key"], unique=False)
    op.create_table(
        "operation_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("op_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("src", sa.Text(), nullable=True),
        sa.Column("src_raw", sa.LargeBinary(), nullable=True),
        sa.Column("dst", sa.Text(), nullable=False),
        sa.Column("dst_raw", sa.LargeBinary(), nullable=True),
        sa.Column("tmp", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=True),
        sa.Column("dev", sa.BigInteger(), nullable=True),
        sa.Column("inode", sa.BigInteger(), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.Column("dst_dev", sa.BigInteger(), nullable=True),
        sa.Column("dst_inode", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("undo_of", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_operation_items_file_id_files"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["op_id"], ["operations.id"], name=op.f("fk_operation_items_op_id_operations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operation_items")),
    )
    op.create_index("ix_operation_items_file_id", "operation_items", ["file_id"], unique=False)
    op.create_index("uq_operation_items_op_id_seq", "operation_items", ["op_id", "seq"], unique=True)
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
    op.create_index(op.f("ix_parses_title_norm"), "parses", ["title_norm"], unique=False)
    op.execute(V_LIBRARY)
    op.execute(V_UNMATCHED)
    op.execute(V_LEDGER)


def downgrade() -> None:
    for view in ("v_ledger", "v_unmatched", "v_library"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for table in (
        "operation_items", "matches", "parses", "files", "tmdb_cache", "scans", "runs", "roots", "overrides",
        "operations",
    ):  # fmt: skip
        op.drop_table(table)
