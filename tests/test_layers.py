"""core/ stays pure: no storage, HTTP, CLI or I/O imports (DESIGN.md, "The shape")."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

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


# -- the allow-list: what each layer may import of mailfiler (DESIGN.md, "The shape") --------

SHARED = {"clock", "config", "errors", "logs"}  # the top level, shared by every layer
FACES = {"service", "core", *SHARED}
ALLOWED: dict[str, set[str]] = {
    "clock": set(),
    "errors": set(),
    "logs": set(),
    "config": {"clock", "errors"},
    "core": {"errors"},
    "storage": {"core", *SHARED},
    "connectors": {"core", *SHARED},  # and storage for the built-in CRM only (below)
    "accounts": {"storage", "connectors", "core", *SHARED},  # connectors' base only (below)
    "service": {"accounts", "connectors", "storage", "core", *SHARED},
    "api": FACES,
    "demo": FACES,
    "cli": FACES | {"api", "demo"},  # serve starts the API; demo runs the demo
}
# The connectors that may keep their records in mailfiler's database: the built-in CRM, and
# the kinds' table that hands it its units of work.
STORAGE_IN_CONNECTORS = ("connectors/builtin/",)


def _layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "mailfiler" and len(parts) > 1 else None


def _mailfiler_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "mailfiler" and node.level == 0:
            names.extend(f"mailfiler.{alias.name}" for alias in node.names)
    return names + [n for n in _imports(path) if n != "mailfiler"]


def _may_import(module: str, name: str) -> bool:
    own, layer = module.split("/")[0].removesuffix(".py"), _layer(name)
    if layer is None or layer == own:
        return True
    if own == "accounts" and layer == "connectors":
        return name == "mailfiler.connectors.base"
    if own == "connectors" and layer == "storage":
        return module.startswith(STORAGE_IN_CONNECTORS)
    return layer in ALLOWED[own]


def _breaches() -> set[str]:
    found = set()
    for path in SRC.rglob("*.py"):
        module = str(path.relative_to(SRC))
        own = module.split("/")[0].removesuffix(".py")
        if own == "__init__" or "/migrations/" in module:
            continue
        assert own in ALLOWED, f"{module} is in no layer of the allow-list"
        found |= {f"{module}: {n}" for n in _mailfiler_imports(path) if not _may_import(module, n)}
    return found


def test_each_layer_imports_only_what_its_allow_list_names() -> None:
    assert not _breaches()


def test_no_face_opens_a_unit_of_work_or_picks_a_connector() -> None:
    faces = [
        p
        for p in SRC.rglob("*.py")
        if str(p.relative_to(SRC)).startswith(("api/", "cli/", "demo/"))
    ]
    assert len(faces) > 5
    offenders = {
        str(path.relative_to(SRC))
        for path in faces
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in {"unit", "connector"}
        and isinstance(node.value, ast.Name) and node.value.id in {"service", "registry"}
    }  # fmt: skip
    assert not offenders


def test_the_allow_list_catches_an_upward_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "mailfiler"
    (fake / "core").mkdir(parents=True)
    (fake / "accounts").mkdir()
    (fake / "core" / "bad.py").write_text("from mailfiler import service\n")
    (fake / "accounts" / "worse.py").write_text("from mailfiler.connectors.imis import kind\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    assert _breaches() == {
        "core/bad.py: mailfiler.service",
        "accounts/worse.py: mailfiler.connectors.imis",
    }


def test_no_face_calls_the_crm_or_its_records_itself() -> None:
    """``caller.crm.search(...)`` in a route is a use case the service does not see."""
    faces = [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] in {"api", "cli", "demo"}]
    offenders = {
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in faces
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr in {"crm", "records"}
    }  # fmt: skip
    assert not offenders
