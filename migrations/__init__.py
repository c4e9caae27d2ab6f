"""Alembic migrations, shipped inside the package as anivault.migrations."""
