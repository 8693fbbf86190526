"""Imports point one way (DESIGN.md §1): evals and reports never reach a provider, and
reports never reach the engine. Read from the source, function-level imports included."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "cascadectl"


def imported_modules(path: Path, root: Path = REPO) -> set[str]:
    """Every module a file imports, absolute, wherever in the file the import stands."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def offending(room: str, forbidden: tuple[str, ...], root: Path = REPO) -> list[str]:
    out = []
    for path in sorted((root / "cascadectl" / room).rglob("*.py")):
        for module in sorted(imported_modules(path, root)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(root)} imports {module}")
    return out


@pytest.mark.parametrize(
    ("room", "forbidden"),
    [
        ("evals", ("cascadectl.providers", "cascadectl.cli", "cascadectl.serve")),
        ("reports", ("cascadectl.providers", "cascadectl.cascade", "cascadectl.cli", "cascadectl.serve")),
        ("pricing", ("cascadectl.providers", "cascadectl.cascade")),
        ("quality", ("cascadectl.providers", "cascadectl.cascade")),
        ("traces", ("cascadectl.providers", "cascadectl.cascade", "cascadectl.evals", "cascadectl.reports")),
        ("providers", ("cascadectl.cascade", "cascadectl.evals", "cascadectl.reports", "cascadectl.cli")),
    ],
)
def test_imports_point_one_way(room: str, forbidden: tuple[str, ...]) -> None:
    assert offending(room, forbidden) == []


def test_nothing_in_the_library_imports_the_cli_or_the_server() -> None:
    rooms = [p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name not in ("cli", "serve", "__pycache__")]
    assert [o for room in rooms for o in offending(room, ("cascadectl.cli", "cascadectl.serve"))] == []
    assert offending("serve", ("cascadectl.cli",)) == []


def test_the_walker_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    sample = tmp_path / "cascadectl" / "reports" / "probe.py"
    sample.parent.mkdir(parents=True)
    sample.write_text("def f():\n    from cascadectl.cascade.engine import Engine\nfrom . import scan\n")
    assert {"cascadectl.cascade.engine", "cascadectl.reports.scan"} <= imported_modules(sample, tmp_path)
    assert offending("reports", ("cascadectl.cascade",), tmp_path) == [
        "cascadectl/reports/probe.py imports cascadectl.cascade.engine",
        "cascadectl/reports/probe.py imports cascadectl.cascade.engine.Engine",
    ]
