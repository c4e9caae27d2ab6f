"""AniVault: a queryable, TMDB-matched library of anime video files."""

__version__ = "0.1.0"
