"""The one compiled part: anivault/organize/_lean.c, the executor's lean same-device moves (Linux).

Everything else is in pyproject.toml. The extension is optional: where it cannot be built (no C compiler,
another OS), pip installs AniVault without it and the executor uses its Python path (fileops.fast_move),
which does the same checks and system calls, only slower (docs/organize.md, "Benchmark").
"""

import sys

from setuptools import Extension, setup

ext_modules = []
if sys.platform.startswith("linux"):
    ext_modules.append(Extension("anivault.organize._lean", ["anivault/organize/_lean.c"], optional=True))

setup(ext_modules=ext_modules)
