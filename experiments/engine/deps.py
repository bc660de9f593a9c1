"""What code a stage depends on, computed from the code itself: the import closure, within the
project, of the function the stage runs (function-local imports included), so the stage table
lists no files by hand and cannot drift from what the code imports."""
from __future__ import annotations

import ast
import dis
import functools
import inspect
from pathlib import Path
from typing import Callable, Iterable

from experiments.engine.paths import REPO

PACKAGES = ("experiments", "mytorch")  # the project's own top-level packages


def module_file(module: str) -> Path | None:
    """The source file of a project module (a package's __init__.py), None if it is not one."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = REPO.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(tree: ast.AST, importer: str = "") -> set[str]:
    """The project modules an AST imports anywhere in it; `importer` resolves relative imports."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = importer.rsplit(".", node.level)[0]
                base = f"{parent}.{base}" if base else parent
            names = [base] + [f"{base}.{a.name}" for a in node.names]  # a name may be a submodule
        else:
            continue
        found.update(n for n in names if module_file(n))
    return found


@functools.lru_cache(maxsize=None)
def _module_imports(module: str, stamp: tuple) -> frozenset[str]:
    path = module_file(module)
    return frozenset(imported_modules(ast.parse(path.read_text()), module))


def module_imports(module: str) -> frozenset[str]:
    stat = module_file(module).stat()
    return _module_imports(module, (stat.st_mtime_ns, stat.st_size))


def closure(modules: Iterable[str], exclude: Iterable[str] = ()) -> set[str]:
    """The modules given, every project module they import transitively, and their packages;
    modules in `exclude` are neither included nor followed."""
    seen, todo = set(exclude), list(modules)
    while todo:
        module = todo.pop()
        if module in seen or not module_file(module):
            continue
        seen.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # importing a.b runs a/__init__
        todo.extend(module_imports(module))
    return seen - set(exclude)


def function_imports(fn: Callable) -> set[str]:
    """The project modules a function imports in its body (a stage wrapper imports lazily), and
    those of the project functions and modules it names from its module's globals. Helpers of its
    own module are not followed: that module is the table that calls them, not the work. Read from
    the bytecode, so a lambda or a nested function works as well as a module-level one."""
    found = set()
    for code in _code_objects(fn.__code__):
        module = ""
        for ins in dis.get_instructions(code):
            if ins.opname == "IMPORT_NAME":
                module = ins.argval
                found.add(module)
            elif ins.opname == "IMPORT_FROM":
                found.add(f"{module}.{ins.argval}")  # the name may be a submodule
        for name in code.co_names:
            value = fn.__globals__.get(name)
            owner = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
            if owner and owner != fn.__module__:
                found.add(owner)
    return {m for m in found if module_file(m)}


def _code_objects(code):
    """A code object and every code object nested in it (inner functions, lambdas)."""
    yield code
    for const in code.co_consts:
        if inspect.iscode(const):
            yield from _code_objects(const)


def code_files(fn: Callable) -> tuple[str, ...]:
    """Repository-relative source files of everything `fn` runs: its imports' closure."""
    return files_of(closure(function_imports(fn)))


def files_of(modules: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(str(module_file(m).relative_to(REPO)) for m in modules))


def import_graph() -> dict[str, frozenset[str]]:
    """Every project module and the project modules it imports (for the no-cycles test)."""
    modules = {}
    for package in PACKAGES:
        for path in REPO.joinpath(package).rglob("*.py"):
            rel = path.relative_to(REPO).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            modules[name] = module_imports(name)
    return modules
