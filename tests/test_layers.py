"""core/ stays pure: no storage, HTTP, CLI or I/O imports (DESIGN.md, "The shape")."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "src" / "mailfiler" / "core"

FORBIDDEN = (
    "mailfiler.connectors", "mailfiler.api", "mailfiler.cli", "mailfiler.service",
    "mailfiler.service.sandbox", "mailfiler.accounts", "mailfiler.config", "mailfiler.web",
    "sqlalchemy", "alembic", "psycopg", "fastapi", "starlette", "httpx", "uvicorn", "typer",
    "rich", "imapclient", "os", "io", "pathlib", "socket", "subprocess", "sqlite3", "urllib",
    "http", "shutil", "tempfile", "resource", "select", "multiprocessing", "threading", "requests",
)  # fmt: skip


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _calls_open(path: Path) -> bool:
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open"
        for node in ast.walk(ast.parse(path.read_text()))
    )


def test_core_imports_nothing_from_outer_layers_or_io() -> None:
    modules = sorted(CORE.glob("*.py"))
    assert len(modules) > 10
    offenders = {
        f"{path.name}: {name}"
        for path in modules
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not offenders
    assert not [p.name for p in modules if _calls_open(p)]


def test_the_check_itself_catches_an_offender(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sqlalchemy\nfrom mailfiler.connectors.base import Connector\nopen('x')\n"
    )
    assert _imports(bad) == ["sqlalchemy", "mailfiler.connectors.base"]
    assert _calls_open(bad)


SRC = CORE.parent


def _modules_importing(prefix: str) -> set[str]:
    return {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if any(name == prefix or name.startswith(prefix + ".") for name in _imports(path))
    }


def test_only_the_registry_knows_the_connectors_behind_the_protocol() -> None:
    for connector in ("mailfiler.connectors.builtin", "mailfiler.connectors.imis"):
        inside = connector.replace("mailfiler.", "").replace(".", "/") + "/"
        outside = {m for m in _modules_importing(connector) if not m.startswith(inside)}
        assert outside <= {"connectors/registry.py"}, outside


def test_the_api_and_the_cli_never_reach_into_storage_tables() -> None:
    offenders = {
        m
        for m in _modules_importing("mailfiler.storage.tables")
        | _modules_importing("mailfiler.connectors.builtin")
        if m.startswith(("api/", "cli")) or m == "cli.py"
    }
    assert not offenders
