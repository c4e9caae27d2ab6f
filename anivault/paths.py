"""Where AniVault keeps its files.

`ANIVAULT_HOME` moves config, data, cache and logs under one folder (tests point it at a temp dir, and
portable installs can use it); otherwise platformdirs gives each OS its usual places.
`ANIVAULT_DB` or `--db` picks another library database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "anivault"


@dataclass(frozen=True, slots=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path
    log_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "anivault.toml"

    @property
    def default_db(self) -> Path:
        return self.data_dir / "library.db"

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def secret_file(self) -> Path:
        return self.config_dir / "tmdb-key.enc"


def app_paths() -> AppPaths:
    home = os.environ.get("ANIVAULT_HOME")
    if home:
        root = Path(home).expanduser()
        return AppPaths(root / "config", root / "data", root / "cache", root / "logs")
    import platformdirs

    return AppPaths(
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )


def resolve_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--db` wins over `ANIVAULT_DB`, which wins over the data dir's library.db."""
    if explicit:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get("ANIVAULT_DB")
    if env:
        return Path(env).expanduser().absolute()
    return app_paths().default_db


def damaged_database_hint(db: Path) -> str:
    """What to do about a damaged library database, naming only what exists: the newest backup AniVault
    made (before an upgrade, `sql --write`, `db compact`, or `anivault db backup`), else how to rebuild."""
    folder = app_paths().backup_dir
    try:
        backups = sorted(
            (p for p in folder.iterdir() if p.suffix == ".db" and p.is_file()),
            key=lambda p: p.stat().st_mtime,
        )
    except OSError:
        backups = []
    if backups:
        return f"restore the newest backup: copy {backups[-1]} over {db} (with no AniVault running)"
    return (
        f"no backup exists yet: move {db} aside and run `anivault index` on your folders again to rebuild it"
        " (`anivault match` then refills it from TMDB)"
    )
