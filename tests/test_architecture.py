"""The house's architecture as tests: the layers import-linter checks, no import cycles, rooms
of a readable size, and stage dependencies computed from the code (an edit to a module a stage
imports reruns that stage, an edit elsewhere does not)."""
import ast
import shutil
import subprocess

import pytest

from experiments.engine.deps import import_graph
from experiments.engine.paths import REPO

MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is a test dependency")
def test_the_layer_contracts_hold():
    done = subprocess.run(["lint-imports"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "2 kept, 0 broken" in done.stdout


def _cycle(graph: dict) -> list[str] | None:
    """One import cycle among the project's modules, or None."""
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for other in sorted(graph.get(module, ())):
            if state.get(other) == "open":
                return stack[stack.index(other):] + [other]
            if other in graph and other not in state:
                found = visit(other)
                if found:
                    return found
        stack.pop()
        state[module] = "done"
        return None
    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_no_import_cycle_among_the_projects_modules_function_local_imports_included():
    assert _cycle(import_graph()) is None, " -> ".join(_cycle(import_graph()))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _sources():
    return sorted(p for pkg in ("experiments", "mytorch") for p in (REPO / pkg).rglob("*.py"))


def test_no_module_is_over_300_lines():
    long = {str(p.relative_to(REPO)): n for p in _sources() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these where the split has a name: {long}"


def test_no_function_is_over_60_lines():
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(REPO)}:{node.name}"] = n
    assert not long, long
