"""The house rules of the package's layout, checked on its source (docs/architecture.md):
pure layers import no front end, rooms stay small, and CLI flags stay in the CLI."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "grpoflaw_cli"
MODULES = sorted(PACKAGE.rglob("*.py"))

FRONT_ENDS = ("grpoflaw_cli.cli", "grpoflaw_cli.api", "grpoflaw_cli.render", "grpoflaw_cli.watch")
PURE = (
    "grpoflaw_cli.errors",
    "grpoflaw_cli.formatting",
    "grpoflaw_cli.progress",
    "grpoflaw_cli.estimators",
    "grpoflaw_cli.group_stats",
    "grpoflaw_cli.passes",
    "grpoflaw_cli.merge",
    "grpoflaw_cli.ray_engine",
    "grpoflaw_cli.analysis",
    "grpoflaw_cli.attribution",
    "grpoflaw_cli.magnitude",
    "grpoflaw_cli.diagnostics",
    "grpoflaw_cli.labels",
    "grpoflaw_cli.result",
    "grpoflaw_cli.verdict",
    "grpoflaw_cli.rollout_advantages",
    "grpoflaw_cli.ingest",
    "grpoflaw_cli.simulate",
    "grpoflaw_cli.safe_output",
    "grpoflaw_cli.textsafe",
)
"""Reading, computing and writing files safely: they know nothing of terminals, HTML or
the command line."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache  # every module is asked about by several tests
def imported(path: Path) -> frozenset[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(names)


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_every_module_has_a_layer() -> None:
    """A new module is placed in a layer here, so the rules below cover it."""
    top = ("grpoflaw_cli", "grpoflaw_cli.__main__")
    loose = [
        module_name(p)
        for p in MODULES
        if module_name(p) not in top and not within(module_name(p), PURE + FRONT_ENDS)
    ]
    assert not loose, loose


@pytest.mark.parametrize(
    "path", [p for p in MODULES if within(module_name(p), PURE)], ids=module_name
)
def test_pure_layers_import_no_front_end(path: Path) -> None:
    leaks = sorted(n for n in imported(path) if within(n, FRONT_ENDS))
    assert not leaks, f"{module_name(path)} imports {leaks}"


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in MODULES
        if not within(module_name(p), ("grpoflaw_cli.cli", "grpoflaw_cli.__main__"))
    ],
    ids=module_name,
)
def test_only_the_cli_imports_the_cli(path: Path) -> None:
    assert not [n for n in imported(path) if within(n, ("grpoflaw_cli.cli",))]


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_modules_and_functions_stay_small(path: Path) -> None:
    """At most 600 lines a module and 80 a function: a room a newcomer can hold."""
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= 600, f"{module_name(path)} has {text.count(chr(10))} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 80
    ]
    assert not long, f"{module_name(path)}: {', '.join(long)}"


def test_cli_flags_are_spelled_only_in_the_cli() -> None:
    """The library names a setting with errors.option(); a flag outside the CLI is text
    only the CLI shows (the screen's notes) or a docstring about the mechanism."""
    flag = re.compile(r"(?<![\w-])--[a-z][a-z-]+")
    outside = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in MODULES
        if not within(module_name(path), ("grpoflaw_cli.cli",))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if flag.search(line) and "--algo." not in line  # OpenRLHF's own flags, cited
    ]
    assert len(outside) <= 10, "\n".join(outside)


def test_nothing_cites_a_file_outside_the_repository() -> None:
    """A clone has only this repository: docstrings, comments, docs and data cite upstream
    sources, never the reference notes or paths of the machine they were written on."""
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    outside = re.compile(
        r"\.\./shared|shared/reference|ESTIMATORS\.md|LOG_FORMATS\.md|THE_FLAW\.md"
    )
    found = [
        name
        for name in tracked
        if name.endswith((".py", ".md", ".json", ".toml", ".txt"))
        and name not in ("tests/test_structure.py", "tests/test_docs.py")  # they look for it
        and outside.search((ROOT / name).read_text(encoding="utf-8", errors="replace"))
    ]
    assert not found, found


TRAINERS = "grpoflaw_cli.ingest.trainers"
SHARED_WITH_TRAINERS = (f"{TRAINERS}.registry", f"{TRAINERS}.preset")
"""What ingest outside ``trainers/`` may import from there: the registry (whose functions
call the trainers' hooks) and what a recognizer returns; never a trainer's own module."""


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in MODULES
        if within(module_name(p), ("grpoflaw_cli",)) and not within(module_name(p), (TRAINERS,))
    ],
    ids=module_name,
)
def test_no_module_outside_trainers_names_a_trainer(path: Path) -> None:
    """Adding a trainer is a file in ingest/trainers/ and a line in its registry: the rest
    of the package reaches a trainer's code only through the registry's hooks."""
    named = sorted(
        n
        for n in imported(path)
        if within(n, (TRAINERS,))
        and n != TRAINERS
        and not within(n, SHARED_WITH_TRAINERS)
        and n.count(".") == TRAINERS.count(".") + 1
        and n.rsplit(".", 1)[1][:1].islower()
        and n.rsplit(".", 1)[1] not in _TRAINERS_API
    )
    assert not named, f"{module_name(path)} imports {named}"


def _public_names(module: str) -> set[str]:
    tree = ast.parse((ROOT / (module.replace(".", "/") + "/__init__.py")).read_text())
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


_TRAINERS_API = _public_names(TRAINERS)
"""The names ``trainers/__init__.py`` re-exports (``from ...trainers import choose`` is
the registry's function, not a module)."""


def test_the_import_graph_has_no_cycle() -> None:
    """No module imports, at the top or inside a function, one that imports it back (a
    package's ``__init__`` re-exporting its own modules is no cycle)."""
    names = {module_name(p): p for p in MODULES}
    graph = {
        name: {
            n for n in imported(path) if n in names and n != name and not name.startswith(n + ".")
        }
        for name, path in names.items()
    }
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycle = " -> ".join([*path[path.index(dep) :], dep])
                raise AssertionError(f"import cycle: {cycle}")
            if dep not in state:
                visit(dep)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
