"""`anivault index`: walk (scan.py) → classify against the database and parse in a process pool (run.py) →
one writer thread (writer.py)."""

from anivault.pipeline.index.run import CHUNK, IndexOptions, normalise_roots, run_index
from anivault.pipeline.index.writer import IndexReport

__all__ = ["CHUNK", "IndexOptions", "IndexReport", "normalise_roots", "run_index"]
