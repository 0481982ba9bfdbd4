"""The shape the README's "How it is built" promises, checked on the product's own source: small
modules and functions, the drill mode decided only in drtests/modes/, one reader of report folders."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PRODUCT = Path(__file__).resolve().parents[2] / "drtests"
SOURCES = sorted(PRODUCT.rglob("*.py"))
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 80
# Outside modes/, the mode is named (not branched on) only where a key's requirements are checked
# (config/checks.py) and where the evidence's "existing" section is shaped (record/drill.py).
MODE_NAMED = {"config/checks.py", "record/drill.py"}


def relative(path: Path) -> str:
    return path.relative_to(PRODUCT).as_posix()


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def test_the_product_has_sources() -> None:
    assert len(SOURCES) > 40 and (PRODUCT / "modes" / "base.py") in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=relative)
def test_no_module_over_400_lines_and_no_function_over_80(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(tree(path))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]  # fmt: skip
    assert long == []


def names_mode(node: ast.AST) -> bool:
    """`….mode` or a `Mode.X` word."""
    return (isinstance(node, ast.Attribute) and node.attr == "mode") or (
        isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Mode"
    )


def mode_comparisons(path: Path) -> list[str]:
    found = []
    for node in ast.walk(tree(path)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if any(isinstance(side, ast.Attribute) and side.attr == "mode" for side in sides) and any(
            (isinstance(side, ast.Constant) and isinstance(side.value, str)) or names_mode(side)
            or isinstance(side, ast.Tuple) for side in sides
        ):  # fmt: skip
            found.append(f"{relative(path)}:{node.lineno}")
    return found


def test_only_modes_compares_the_drill_mode() -> None:
    outside = [p for p in SOURCES if relative(p).split("/")[0] != "modes" and relative(p) not in MODE_NAMED]
    assert [hit for path in outside for hit in mode_comparisons(path)] == []
    assert mode_comparisons(PRODUCT / "config" / "checks.py"), "the check itself finds a comparison"


def test_one_scan_of_the_evidence_folders() -> None:
    def globs_evidence(node: ast.AST) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("glob", "rglob") and "evidence" in ast.unparse(node).lower())  # fmt: skip

    scans = [relative(p) for p in SOURCES for node in ast.walk(tree(p)) if globs_evidence(node)]
    assert scans == ["record/store.py"]


def test_the_import_contracts_hold() -> None:
    """No import cycles and no import from a lower layer to a higher one (pyproject.toml)."""
    lint = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], capture_output=True, text=True,
                          cwd=PRODUCT.parent)  # fmt: skip
    assert lint.returncode == 0, lint.stdout[-3000:]
    assert "6 kept, 0 broken" in lint.stdout
