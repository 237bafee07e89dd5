"""The import graph keeps its layers: kit <- domains <- pipeline/runtime <- api/cli.

``lint-imports`` checks the contracts in pyproject's ``[tool.importlinter]``; the cycle
check below reads every import statement (inside functions and ``TYPE_CHECKING`` blocks
too) and groups modules by package, so a cycle between two packages fails even where the
module graph has none. docs/architecture.md explains the layers and the allow-lists.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = SRC / "newstalk"

# Domain modules that belong to a layer above their domain: endpoints are the API layer,
# stage handlers the pipeline layer. They may import newstalk.deps / runtime / pipeline.
API_MODULES = {"endpoints", "live_endpoints", "push_endpoints"}
PIPELINE_MODULES = {"tasks", "live", "webhooks", "websub", "collect"}
UPPER = {"cli", "main", "web", "demo", "ops", "deps", "runtime", "pipeline", "models", "migrations"}

# Package cycles still allowed, each with the reason; this list only ever shrinks.
ALLOWED_DOMAIN_CYCLES: set[frozenset[str]] = set()
ALLOWED_LAYER_CYCLES: set[frozenset[str]] = set()
# Single imports that point up a layer, left out of both graphs.
ALLOWED_UPWARD_IMPORTS: set[tuple[str, str]] = {
    # config validates the verifier name against factcheck/providers.py's table (a module
    # with no run-time imports); the table belongs below config (or in providers/).
    ("newstalk.config", "newstalk.factcheck.providers"),
    # websub.py is the hub's callback endpoint and the websub stage in one module.
    ("newstalk.sources.websub", "newstalk.deps"),
}


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """Every ``newstalk.*`` module a file imports, wherever the import statement is."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "newstalk" or node.module.startswith("newstalk."):
                for alias in node.names:
                    # ``from newstalk.pipeline import topics`` imports the module pipeline.topics.
                    sub = f"{node.module}.{alias.name}"
                    out.add(sub if _is_module(sub) else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("newstalk."))
    return out


def module_imports() -> dict[str, set[str]]:
    """Every module of the package -> the ``newstalk.*`` modules it imports."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__")
        if name != "newstalk":  # the root package holds only the version
            out[name] = imported_modules(path)
    return out


def package_graph(
    owner: dict[str, str] | None = None, skip: set[tuple[str, str]] | None = None
) -> dict[str, set[str]]:
    """Top-level package -> packages it imports; ``owner`` reassigns modules to another group."""
    owner, skip = owner or {}, skip or set()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, modules in module_imports().items():
        source = owner.get(name, name.split(".")[1])
        for module in modules:
            if (name, module) in skip:
                continue
            if module == "newstalk":
                continue
            target = owner.get(module, module.split(".")[1])
            if target != source:
                graph[source].add(target)
    return graph


def package_cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected groups of more than one package (Tarjan), each one cycle or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(frozenset(group))

    for node in sorted(set(graph) | {n for targets in graph.values() for n in targets}):
        if node not in index:
            visit(node)
    return found


def _layer_owner() -> dict[str, str]:
    owner = {}
    for path in PACKAGE.glob("*/*.py"):
        package, module = path.parent.name, path.stem
        if package in UPPER:
            continue
        if module in API_MODULES:
            owner[f"newstalk.{package}.{module}"] = "api"
        elif module in PIPELINE_MODULES:
            owner[f"newstalk.{package}.{module}"] = "pipeline"
    for name in ("cli", "main", "demo", "ops", "deps"):
        owner[f"newstalk.{name}"] = "api"
    # The web app is a top layer beside main (it mounts on main's app and calls the API).
    owner["newstalk.web"] = "api"
    for path in (PACKAGE / "web").glob("*.py"):
        owner[f"newstalk.web.{path.stem}"] = "api"
    owner["newstalk.pipeline.endpoints"] = "api"
    # What handlers and emitters use sits below the domains (stages names handlers as strings).
    # bus builds the transport settings choose (runtime and runner use it; no domain does).
    for name in ("topics", "context", "worker", "stages", "bus"):
        owner[f"newstalk.pipeline.{name}"] = "pipeline_base"
    return owner


def test_package_cycles_finds_a_cycle_through_three_packages() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert package_cycles(graph) == [frozenset({"a", "b", "c"})]
    assert package_cycles({"a": {"b"}, "b": set()}) == []


def test_domain_packages_form_a_dag() -> None:
    """Counting every module of a package (endpoints and stage handlers too)."""
    graph = package_graph(skip=ALLOWED_UPWARD_IMPORTS)
    domains = {p for p in graph if p not in UPPER}
    cycles = package_cycles({p: graph[p] & domains for p in domains})
    assert set(cycles) <= ALLOWED_DOMAIN_CYCLES, sorted(map(sorted, set(cycles) - ALLOWED_DOMAIN_CYCLES))
    assert set(cycles) == ALLOWED_DOMAIN_CYCLES, "an allowed cycle is gone: delete it from the list"


def test_layers_have_no_cycles_once_endpoints_and_stages_count_as_their_layer() -> None:
    cycles = set(package_cycles(package_graph(_layer_owner(), ALLOWED_UPWARD_IMPORTS)))
    assert cycles <= ALLOWED_DOMAIN_CYCLES | ALLOWED_LAYER_CYCLES, sorted(map(sorted, cycles))
    imports = module_imports()
    gone = {(a, b) for a, b in ALLOWED_UPWARD_IMPORTS if b not in imports.get(a, set())}
    assert not gone, f"no longer imported, delete from ALLOWED_UPWARD_IMPORTS: {sorted(gone)}"


def test_lint_imports_keeps_every_contract() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [str(exe), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
