"""Whether a stage is up to date, like DVC's `changed()`: a stage's hash covers the meaning of
its code (computed: experiments/engine/deps.py), its parameters, the recorded hashes of its
upstream stages and the content of the outputs it declares. `why_run` names what changed."""
from __future__ import annotations

import ast
import hashlib
import json
import time
from pathlib import Path

from experiments.engine.deps import code_files
from experiments.engine.io import read_json, write_json
from experiments.engine.paths import REPO, meta_dir, record_path


def file_digest(path: str | Path) -> str:
    """A file's content digest (16 hex digits of SHA-256): stage outputs, a reflection, a notebook
    (code: `source_digest`)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def source_digest(path: str | Path) -> str:
    """A code file's digest by meaning (16 hex digits of SHA-256): a .py file's syntax tree without
    its docstrings, so a comment, a docstring or a reflow changes nothing (joblib#1074 asked the
    same of joblib); any other file (a template) by content, as `file_digest`. Every digest of
    code goes through here: a stage's code and a run's training code."""
    path = Path(path)
    if path.suffix != ".py":
        return file_digest(path)
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError:  # cannot run either: its bytes, and the import names the error
        return file_digest(path)
    return hashlib.sha256(ast.dump(_without_docstrings(tree)).encode()).hexdigest()[:16]


_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """The tree less the docstring (a first statement that is a string) of its module, classes
    and functions; a body that held only its docstring reads as `pass`. ast.dump leaves out line
    numbers; comments never reach the tree."""
    for node in ast.walk(tree):
        if not isinstance(node, _DOCUMENTED) or not node.body:
            continue  # a lambda's body is one expression, not a list
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                and isinstance(first.value.value, str):
            node.body = node.body[1:] or ([] if isinstance(node, ast.Module) else [ast.Pass()])
    return tree


def code_digests(files: tuple[str, ...]) -> dict[str, str]:
    """{repo-relative path: digest by meaning} for files or globs under the repository."""
    paths = sorted({p for pat in files for p in REPO.glob(pat) if p.is_file()})
    return {str(p.relative_to(REPO)): source_digest(p) for p in paths}


def stage_code(stage) -> tuple[str, ...]:
    """The files a stage's result depends on: its function's import closure, plus its extra
    files."""
    return code_files(stage.run) + tuple(stage.extra)


def stage_parts(stage, ctx, upstream_hashes: dict[str, str]) -> dict:
    return {"code": code_digests(stage_code(stage)), "params": stage.params(ctx),
            "upstream": {u: upstream_hashes.get(u) for u in stage.upstream}}


def parts_hash(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def read_record(results: Path, name: str) -> dict | None:
    try:
        return read_json(record_path(results, name))
    except (OSError, ValueError):
        return None


def read_records(results: Path) -> dict[str, dict]:
    """Every stage record under a results folder, by stage name."""
    return {p.stem: rec for p in sorted(meta_dir(results).glob("*.json")) if p.stem != "build"
            for rec in [read_record(results, p.stem)] if rec and "hash" in rec}


def why_run(stage, ctx, parts: dict, record: dict | None, pending: set[str]) -> str | None:
    """The reason this stage must run, or None when it is up to date. A change of its own (code,
    parameters) is named before an upstream stage that will rerun: it says what was edited."""
    if record is None:
        return "never built"
    old = record.get("parts", {})
    changed = _changed_keys(old.get("code", {}), parts["code"])
    if changed:
        return f"code changed: {_listing(changed)}"
    params = json.loads(json.dumps(parts["params"], default=str))
    changed = _changed_keys(_flat(old.get("params", {})), _flat(params))
    if changed:
        return f"params changed: {_listing(changed)}"
    rerun_up = [u for u in stage.upstream if u in pending]
    if rerun_up:
        return f"upstream {_listing(rerun_up)} will rerun"
    changed = _changed_keys(old.get("upstream", {}), parts["upstream"])
    if changed:
        return f"upstream {_listing(changed)} changed"
    missing = [o for o in stage.outs if not ctx.out(o).exists()]
    if missing:
        return f"output missing: {missing[0]}"
    return None


def record_stage(stage, ctx, parts: dict, seconds: float, provenance: dict | None) -> str:
    """The stage's record: what the cache compares next time (the driver alone writes these).
    Its hash covers the content of the outputs as well as the inputs, as DVC's does: a stage whose
    rerun writes something else (a choice that depends on measured speed, say) reruns what reads
    it, and one that writes the same leaves it alone. Returns the hash."""
    outputs = {out: file_digest(ctx.out(out)) for out in stage.outs}
    digest = parts_hash({**parts, "outputs": outputs})
    write_json(record_path(ctx.results, stage.name),
               {"hash": digest, "parts": parts, "outputs": outputs, "seconds": seconds,
                "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "provenance": provenance})
    return digest


def _listing(names: list[str], most: int = 3) -> str:
    return ", ".join(names[:most]) + (f" (+{len(names) - most} more)" if len(names) > most else "")


def _flat(tree, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}, so a reason can name the parameter that changed."""
    if not isinstance(tree, dict) or not tree:
        return {prefix: tree} if prefix else {}
    out = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


_MISSING = object()


def _changed_keys(old: dict, new: dict) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k, _MISSING) != new.get(k, _MISSING))
