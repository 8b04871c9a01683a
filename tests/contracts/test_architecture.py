"""The layering of ARCHITECTURE.md, checked on the source: dependencies point down only.

* a domain reads another domain through its service and schemas, never its models (tables);
* routers (``domains/*/api.py``, the portal's views) never touch the database: no SQLAlchemy, no
  models, no sessions; they call services;
* the platform knows no domain, page or command;
* a domain knows no page, command or demo (the demo builds through the domains, not the reverse);
* nothing is built at import time: no settings, engines or apps at module level.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src" / "townhall"
BUILT_AT_IMPORT = {"Settings", "create_engine", "create_app", "Database", "FastAPI"}


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. townhall.domains.addresses.api
    tree: ast.Module


def load_modules(root: Path) -> list[Module]:
    modules = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).with_suffix("")
        parts = [p for p in relative.parts if p != "__init__"]
        modules.append(Module(".".join(parts), ast.parse(path.read_text(), str(path))))
    return modules


def imported_names(module: Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _domain_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "domains" else None


def _is_router(name: str) -> bool:
    parts = name.split(".")
    in_domain_api = len(parts) == 4 and parts[1] == "domains" and parts[3] == "api"
    in_portal_views = len(parts) >= 3 and parts[1] == "portal" and parts[2].startswith("views")
    return in_domain_api or in_portal_views


def architecture_violations(root: Path) -> list[str]:
    found = []
    for module in load_modules(root):
        imports = imported_names(module)
        own_domain = _domain_of(module.name)
        for name in sorted(imports):
            target_domain = _domain_of(name)
            if (
                target_domain
                and own_domain
                and target_domain != own_domain
                and name.split(".")[3:4] == ["models"]
            ):
                found.append(f"{module.name} imports {name}: use that domain's service")
            if _is_router(module.name) and (
                name.split(".")[0] == "sqlalchemy" or name.endswith(".models") or ".models." in name
            ):
                found.append(f"{module.name} (a router) imports {name}: call a service")
            if module.name.startswith("townhall.platform") and name.startswith(
                ("townhall.domains", "townhall.portal", "townhall.cli", "townhall.demo")
            ):
                found.append(f"{module.name} imports {name}: the platform knows no domain")
            if own_domain and name.startswith(("townhall.portal", "townhall.cli", "townhall.demo")):
                found.append(
                    f"{module.name} imports {name}: a domain knows no page, command or demo"
                )
        if _is_router(module.name):
            found.extend(_opens_units_of_work(module))
        found.extend(_built_at_import(module))
    return found


def _opens_units_of_work(module: Module) -> list[str]:
    """A router may hold the Database handle to pass on, but never open a unit of work."""
    found = []
    for node in ast.walk(module.tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"read", "write", "execute", "scalar", "scalars"}
        ):
            found.append(f"{module.name} (a router) calls .{node.func.attr}(): call a service")
    return found


def _built_at_import(module: Module) -> list[str]:
    found = []
    for node in module.tree.body:
        value = getattr(node, "value", None)
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.Expr) and isinstance(value, ast.Call):
            func = value.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called in BUILT_AT_IMPORT:
                found.append(f"{module.name} calls {called}() at import time")
    return found


def test_townhall_keeps_its_layers() -> None:
    assert architecture_violations(SOURCE) == []


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        (
            "domains/parking/service.py",
            "from townhall.domains.people.models import Resident\n",
            "use that domain's service",
        ),
        (
            "domains/parking/api.py",
            "from sqlalchemy import select\n",
            "(a router) imports sqlalchemy",
        ),
        (
            "domains/parking/api.py",
            "from townhall.domains.parking.models import Permit\n",
            "(a router) imports townhall.domains.parking.models",
        ),
        (
            "portal/views.py",
            "def page(database):\n    with database.read() as session:\n        pass\n",
            "(a router) calls .read()",
        ),
        (
            "platform/audit.py",
            "import townhall.domains.people.service\n",
            "the platform knows no domain",
        ),
        (
            "domains/parking/service.py",
            "from townhall.demo.geography import grid_to_wgs84\n",
            "a domain knows no page, command or demo",
        ),
        (
            "domains/parking/service.py",
            "from townhall.settings import Settings\nsettings = Settings()\n",
            "calls Settings() at import time",
        ),
    ],
)
def test_the_check_finds_each_kind_of_violation(
    tmp_path: Path, path: str, source: str, expected: str
) -> None:
    root = tmp_path / "townhall"
    target = root / path
    target.parent.mkdir(parents=True)
    target.write_text(source)
    violations = architecture_violations(root)
    assert any(expected in v for v in violations), violations
