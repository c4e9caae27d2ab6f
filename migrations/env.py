"""Alembic environment for AniVault.

It never calls logging.fileConfig (that would reset the application's logging), and it prefers a live
connection handed over through config.attributes, so upgrades run inside the caller's transaction.
"""

from __future__ import annotations

from pathlib import Path

from alembic import context

from anivault.db.base import Base
from anivault.db.models import all_models

all_models()
target_metadata = Base.metadata
config = context.config


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from anivault.db.engine import make_engine

        url = config.get_main_option("sqlalchemy.url") or ""
        engine = make_engine(Path(url.removeprefix("sqlite:///")))
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        engine.dispose()
        return
    # SQLite needs batch mode to ALTER tables (it rebuilds them); the naming convention on Base lets
    # batch mode find constraints by name.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
