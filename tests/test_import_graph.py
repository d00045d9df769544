"""Issue 21: the import graph of every module (imports inside functions included, read from the
source) has no circle, and no app imports a higher one. The layers, lowest first:
mutual/core and the project's own utilities in mutual/ (they import no app), notifications
(stores and delivers notices), members, claims, billing, office (the dashboard, demo and
benchmarks). Only the wiring (mutual/urls.py, mutual/celery.py, mutual/gunicorn_conf.py)
reaches across."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mutual", "notifications", "members", "claims", "billing", "office")
LAYERS = {"notifications": 1, "members": 2, "claims": 3, "billing": 4, "office": 5}
WIRING = {"mutual.urls", "mutual.celery", "mutual.gunicorn_conf"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target and target != module:
                targets.add(target)
    return targets


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _layer(module: str) -> int:
    return LAYERS.get(module.split(".")[0], 0)


def _circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    sys.setrecursionlimit(10_000)
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in GRAPH:
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read():
    assert len(MODULES) > 100
    assert "claims.services" in GRAPH["claims.api"]
    assert (
        "members.services" in GRAPH["claims.services"]
        or "members.households" in GRAPH["claims.services"]
    )


def test_no_import_circle():
    assert _circles() == []


def test_no_app_imports_a_higher_one():
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if module not in WIRING
        for target in targets
        if _layer(target) > _layer(module)
    )
    assert upward == []


def test_notifications_imports_no_domain_app():
    domain = {"members", "claims", "billing", "office"}
    reached = {
        target
        for module, targets in GRAPH.items()
        if module.startswith("notifications")
        for target in targets
        if target.split(".")[0] in domain
    }
    assert reached == set()
