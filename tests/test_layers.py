"""The import graph: no cycles, and storage depends on values only.

Read from the source with :mod:`ast` (``TYPE_CHECKING`` imports and imports inside
functions included), so a cycle hidden behind either is caught too.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "avgkit"

# Modules that hold services (they do I/O through the storage protocols). Storage may
# import none of them, nor a concept package's __init__ (which re-exports its service).
SERVICES = {
    "avgkit.kit",
    "avgkit.permissions",
    "avgkit.consent",
    "avgkit.consent._ledger",
    "avgkit.audit",
    "avgkit.audit._log",
    "avgkit.breach",
    "avgkit.breach._register",
    "avgkit.pseudonym",
    "avgkit.pseudonym._service",
    "avgkit.consent_records",
    "avgkit.erasure",
    "avgkit.erasure._service",
    "avgkit.retention",
    "avgkit.retention._plan",
    "avgkit.retention._execute",
    "avgkit.dsar",
    "avgkit.dsar._service",
    "avgkit.dsar._export",
    "avgkit.feed",
    "avgkit.feed._service",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # "from avgkit.consent import _terms" imports a module, not a name; the
            # parent package runs either way, as it does for every submodule import
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return {target for target in found if target in known and target != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_cycle():
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("module", sorted(m for m in _modules() if m.startswith("avgkit.storage")))
def test_storage_imports_values_never_services(module):
    assert _graph()[module] & SERVICES == set()


def test_the_storage_protocols_import_no_adapter():
    adapters = {m for m in _modules() if m.startswith("avgkit.storage.") and m.count(".") >= 2}
    assert _graph()["avgkit.storage"] & adapters == set()


@pytest.mark.parametrize(
    "module", sorted(m for m in _modules() if m.endswith(("_values", "_chain", "_vocab")))
)
def test_values_modules_import_no_storage_and_no_service(module):
    imported = _graph()[module]
    assert not {m for m in imported if m.startswith("avgkit.storage")}
    assert imported & SERVICES == set()
