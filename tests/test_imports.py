"""The package's import graph has no cycle (imports inside functions count too); validation.py is a leaf."""
from __future__ import annotations

import ast
from pathlib import Path

import cluster_eval

PACKAGE = Path(cluster_eval.__file__).resolve().parent
NAME = "cluster_eval"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(mod: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".") if is_package else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(mod: str, path: Path, modules: dict) -> set[str]:
    """Every package module that ``mod`` imports, anywhere in its body (also inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(mod, is_package, node)
            # `from pkg import sub` imports the submodule pkg.sub when it is one
            targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names]
        else:
            continue
        for t in targets:
            if not (t == NAME or t.startswith(NAME + ".")):
                continue
            while t not in modules and "." in t:   # `import a.b.c` names a function or class: keep the module
                t = t.rsplit(".", 1)[0]
            if t in modules and t != mod:
                out.add(t)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def _is_ancestor(pkg: str, mod: str) -> bool:
    return mod.startswith(pkg + ".")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or None.

    A package's ``__init__`` importing its own submodules (and a submodule importing a sibling, which
    Python runs after the parent package) is not a cycle: edges from a module to one of its ancestor
    packages are left out, since the ancestor is always imported first.
    """
    edges = {m: {t for t in ts if not _is_ancestor(t, m)} for m, ts in graph.items()}
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_graph_is_read():
    graph = import_graph()
    assert "cluster_eval.impact.did" in graph
    assert "cluster_eval.errors" in graph["cluster_eval.validation"]
    # an import inside a function is seen
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_validation_imports_nothing_of_the_package_but_errors():
    assert import_graph()["cluster_eval.validation"] == {"cluster_eval.errors"}
