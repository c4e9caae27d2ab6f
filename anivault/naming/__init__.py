"""Names of things in the library: safe path components and naming templates (pure functions, used by the
settings and by organize)."""
