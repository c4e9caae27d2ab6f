"""The shape of the code (docs/architecture.md): every import in anivault/ (function-level ones included)
goes down the layers or stays within one, no import cycle, and no module over 600 lines."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "anivault"
# Lower ranks may never import higher ones; within a rank, imports are free (but acyclic).
RANKS = [
    ("anivault.cli", 4),
    ("anivault.__main__", 4),
    ("anivault.pipeline", 3),
    ("anivault.organize", 2),
    ("anivault.tmdb", 2),
    ("anivault.parsing", 2),
    ("anivault.db", 1),
    ("anivault", 0),  # the small shared modules and naming/
]


def rank(module: str) -> int:
    return next(r for prefix, r in RANKS if module == prefix or module.startswith(prefix + "."))


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def imports() -> dict[str, set[str]]:
    """Every module of anivault/ and the anivault modules it imports, anywhere in its body."""
    mods = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                subs = [f"{base}.{a.name}" for a in node.names]
                targets = [t for t in subs if t in mods] + (
                    [base] if any(t not in mods for t in subs) else []
                )
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t.startswith("anivault") and t != name:
                    graph[name].add(t)
    return graph


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{m} -> {t}"
        for m, targets in imports().items()
        for t in targets
        if rank(t) > rank(m) and t != "anivault"
    ]
    assert upward == []


def test_no_import_cycle() -> None:
    graph = imports()
    seen: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for t in sorted(graph[m]):
            if seen.get(t) == 1:
                cycles.append([*path[path.index(t) :], t])
            elif t not in seen:
                visit(t, [*path, t])
        seen[m] = 2

    for m in sorted(modules()):
        if m not in seen:
            visit(m, [m])
    assert cycles == []


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text("utf-8").splitlines())) > 600
    }
    assert long == {}
