"""The tree is the architecture: no import cycles, no stage swallowing the package.

Imports inside functions count — a cycle hidden in a function is still a cycle,
only a slower one to find. ``TYPE_CHECKING`` imports do not run, so they don't.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gpuplan"
MAX_MODULE_LINES = 600
MAX_SUBPACKAGE_SHARE = 0.30


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """gpuplan modules ``name`` imports anywhere in its body (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(module: str | None, level: int) -> str | None:
        if level == 0:
            return module
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (level - 1)]
        return ".".join([*base, module] if module else base)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = resolve(node.module, node.level)
            if target:
                # `from pkg import submodule` needs the submodule; the parent package
                # is imported first by any submodule import, so it is not an edge.
                submodules = {f"{target}.{alias.name}" for alias in node.names}
                named = submodules & known
                found.update(named)
                if len(named) < len(submodules):
                    found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_no_module_too_long():
    long = {
        name: lines
        for name, path in _modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_subpackage_holds_too_much():
    lines: defaultdict[str, int] = defaultdict(int)
    for name, path in _modules().items():
        parts = name.split(".")
        is_stage = len(parts) > 2 or (len(parts) == 2 and path.name == "__init__.py")
        stage = parts[1] if is_stage else "(top)"
        lines[stage] += len(path.read_text(encoding="utf-8").splitlines())
    total = sum(lines.values())
    heavy = {stage: round(n / total, 3) for stage, n in lines.items() if n / total > 0.30}
    assert heavy == {}


def _banned(config: dict[str, object], *keys: str) -> dict[str, object]:
    node: object = config
    for key in keys:
        assert isinstance(node, dict)
        node = node.get(key, {})
    assert isinstance(node, dict)
    return node


def test_stage_ruff_configs_repeat_the_project_bans():
    """Nested ruff configs replace banned-api, so each must carry the global bans."""
    import tomllib

    root = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    project = _banned(root, "tool", "ruff", "lint", "flake8-tidy-imports", "banned-api")
    configs = sorted(PACKAGE.glob("*/ruff.toml"))
    assert {c.parent.name for c in configs} >= {"hardware", "models", "memory", "selection"}
    for config in configs:
        stage = tomllib.loads(config.read_text(encoding="utf-8"))
        banned = _banned(stage, "lint", "flake8-tidy-imports", "banned-api")
        missing = {name for name in project if banned.get(name) != project[name]}
        assert missing == set(), f"{config}: lacks {missing}"
        assert {"gpuplan.cli", "gpuplan.api", "gpuplan.web"} <= set(banned), config
