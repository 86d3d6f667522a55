"""The code stays small enough to read: no module in ``allocator/`` or ``api/`` over 400
lines, no function over 80 (the generated migration aside). The import contract (one-way
layers) is checked by ``lint-imports`` in ``make lint``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "api" / "migrations" / "versions"


def sources() -> list[Path]:
    files = [p for pkg in ("allocator", "api") for p in sorted((ROOT / pkg).rglob("*.py"))]
    return [p for p in files if GENERATED not in p.parents]


def test_modules_and_functions_stay_short():
    long = []
    for path in sources():
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT)
        if len(text.splitlines()) > 400:
            long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > 80:
                    long.append(f"{name}:{node.lineno} {node.name}: {size} lines")
    assert sources() and not long, long
