"""The import rules of DESIGN.md §1 that issue 13 asked to restore: the tools do not import the
model layer (`ToolSchema` lives in `protocol`), nothing outside the CLI imports `cli` (the demo
gets its renderer passed in), and the MCP server is a front end beside the app-server."""

from __future__ import annotations

import ast
from pathlib import Path

import lever

SRC = Path(lever.__file__).parent


def imported(package: str) -> dict[str, set[str]]:
    """The lever modules each file of `package` imports (at any depth, lazily too)."""
    found: dict[str, set[str]] = {}
    for path in (SRC / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(SRC))] = {n for n in names if n.startswith("lever.")}
    return found


def offenders(package: str, forbidden: str) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in imported(package).items()
        for name in sorted(names)
        if name == forbidden or name.startswith(forbidden + ".")
    ]


def test_tools_do_not_import_the_model_layer() -> None:
    assert offenders("tools", "lever.models") == []


def test_nothing_but_the_cli_imports_it() -> None:
    packages = [p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    found = [
        hit for package in packages if package != "cli" for hit in offenders(package, "lever.cli")
    ]
    assert found == []


def test_the_mcp_server_is_a_front_end_and_mcp_keeps_the_client() -> None:
    assert (SRC / "server" / "mcp_server.py").exists()
    assert not (SRC / "mcp" / "server.py").exists()
