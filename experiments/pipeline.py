"""The incremental build: run each stage whose dependencies changed, like DVC.

A stage's hash covers the content of its code files, its parameters and the recorded hashes of
its upstream stages. After a stage succeeds its record (hash, parts, wall time, provenance) is written
atomically to `results/.pipeline/<stage>.json`; a stage runs again when that record is missing,
holds another hash, or an output it declares is missing. Stages write their own files
atomically and training resumes from checkpoints, so a killed build just reruns the stage that
was interrupted. The stage table itself lives in `experiments/stages.py`.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from experiments.errors import UserError
from experiments.io import read_json, write_json

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Stage:
    """One step of the build: what it runs, reads and writes."""
    name: str
    run: Callable[["Context"], None]
    code: tuple[str, ...]                     # files (repo-relative; globs allowed) whose content counts
    params: Callable[["Context"], dict]       # the slice of configuration it uses
    upstream: tuple[str, ...] = ()            # stages whose results it reads
    outs: tuple[str, ...] = ()                # "{results}/..." or "{report}/..." paths it must leave


@dataclass
class Context:
    """What a stage may use: the profile, where things are, and the data loaded on demand."""
    profile_name: str
    profile: dict
    data_dir: str | None
    device: str
    results: Path
    report_dir: Path
    settings: dict = field(default_factory=dict)
    _prepared: tuple | None = None  # (split.json's stat, the data it describes)

    @property
    def prepared(self):
        """The data stage's split, loaded once and again whenever the data stage rewrites it."""
        split = self.results / "data" / "split.json"
        stamp = (split.stat().st_mtime_ns, split.stat().st_size) if split.exists() else None
        if self._prepared is None or self._prepared[0] != stamp:
            from experiments.data import load_prepared
            self._prepared = (stamp, load_prepared(self.results / "data"))
        return self._prepared[1]

    def out(self, template: str) -> Path:
        return Path(template.format(results=self.results, report=self.report_dir))

    @property
    def meta(self) -> Path:
        return self.results / ".pipeline"


# ---------------------------------------------------------------- hashing

def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def code_digests(patterns: tuple[str, ...]) -> dict[str, str]:
    files = sorted({p for pat in patterns for p in REPO.glob(pat) if p.is_file()})
    return {str(p.relative_to(REPO)): file_digest(p) for p in files}


def stage_parts(stage: Stage, ctx: Context, upstream_hashes: dict[str, str]) -> dict:
    return {"code": code_digests(stage.code), "params": stage.params(ctx),
            "upstream": {u: upstream_hashes.get(u) for u in stage.upstream}}


def parts_hash(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def read_record(ctx: Context, name: str) -> dict | None:
    try:
        return read_json(ctx.meta / f"{name}.json")
    except (OSError, ValueError):
        return None


def why_run(stage: Stage, ctx: Context, parts: dict, record: dict | None, pending: set[str]) -> str | None:
    """The reason this stage must run, or None when it is up to date."""
    if record is None:
        return "never built"
    rerun_up = [u for u in stage.upstream if u in pending]
    if rerun_up:
        return f"upstream {_listing(rerun_up)} will rerun"
    old = record.get("parts", {})
    changed = _changed_keys(old.get("code", {}), parts["code"])
    if changed:
        return f"code changed: {_listing(changed)}"
    changed = _changed_keys(_flat(old.get("params", {})), _flat(json.loads(json.dumps(parts["params"], default=str))))
    if changed:
        return f"params changed: {_listing(changed)}"
    changed = _changed_keys(old.get("upstream", {}), parts["upstream"])
    if changed:
        return f"upstream {_listing(changed)} changed"
    missing = [o for o in stage.outs if not ctx.out(o).exists()]
    if missing:
        return f"output missing: {missing[0]}"
    return None


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


# ---------------------------------------------------------------- running

@contextlib.contextmanager
def build_lock(ctx: Context):
    """Refuse a second build on the same results folder while one runs."""
    ctx.meta.mkdir(parents=True, exist_ok=True)
    path = ctx.meta / "lock"
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise UserError(f"another build (pid {holder}) is running on {ctx.results}/; "
                        "wait for it to finish or stop it") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


class _Tee(io.TextIOBase):
    """Write to the console and to a stage's log file."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for s in self.streams:
            s.write(text)
            s.flush()
        return len(text)


def plan(stages: list[Stage], ctx: Context) -> list[tuple[Stage, str | None, dict]]:
    """For each stage in order: (stage, reason to run or None, its hash parts)."""
    hashes, pending, out = {}, set(), []
    for stage in stages:
        record = read_record(ctx, stage.name)
        parts = stage_parts(stage, ctx, hashes)
        reason = why_run(stage, ctx, parts, record, pending)
        if reason:
            pending.add(stage.name)
        else:
            hashes[stage.name] = record["hash"]
        out.append((stage, reason, parts))
    return out


def run_stage(stage: Stage, ctx: Context, parts: dict, provenance: dict | None = None) -> float:
    """Run one stage, log it, record it on success; a failure becomes one UserError line."""
    log_path = ctx.meta / "logs" / f"{stage.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(log_path, "w") as log:
        try:
            with contextlib.redirect_stdout(_Tee(sys.stdout, log)):
                stage.run(ctx)
        except KeyboardInterrupt:  # no record: the next build reruns (and resumes) this stage
            log.write("interrupted\n")
            raise
        except UserError as err:
            traceback.print_exc(file=log)
            raise UserError(f"stage {stage.name}: {_one_line(err)} (log: {log_path})") from None
        except Exception as err:  # any other failure: one line here, the traceback in the log
            traceback.print_exc(file=log)
            raise UserError(f"stage {stage.name} failed: {type(err).__name__}: {_one_line(err)} "
                            f"(log: {log_path})") from None
    missing = [o for o in stage.outs if not ctx.out(o).exists()]
    if missing:
        raise UserError(f"stage {stage.name} finished without writing {missing[0]} (log: {log_path})")
    seconds = round(time.time() - t0, 2)
    write_json(ctx.meta / f"{stage.name}.json", {"hash": parts_hash(parts), "parts": parts, "seconds": seconds,
                                                 "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                                                 "provenance": provenance})
    return seconds


def _one_line(err: BaseException, limit: int = 300) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def build(stages: list[Stage], ctx: Context, only: set[str] | None = None, force: bool = False) -> list[str]:
    """Bring every stage up to date (or only the stages in `only`; `force` runs them even when
    up to date); returns the names of the stages run."""
    ran = []
    with build_lock(ctx):
        # remembered so that `invoke status` and `invoke report` need no options
        write_json(ctx.meta / "build.json", {"profile": ctx.profile_name, "data_dir": ctx.data_dir,
                                             "device": ctx.device, "settings": ctx.settings})
        hashes, provenance = {}, None
        total = len(stages)
        for i, stage in enumerate(stages, 1):
            record = read_record(ctx, stage.name)
            if only is not None and stage.name not in only:
                # not built now: a stage in `only` builds on what this one last recorded
                hashes[stage.name] = record["hash"] if record else None
                continue
            parts = stage_parts(stage, ctx, hashes)
            reason = "forced" if force else why_run(stage, ctx, parts, record, set())
            if reason is None:
                hashes[stage.name] = record["hash"]
                print(f"[{i}/{total}] {stage.name}: up to date", flush=True)
                continue
            print(f"[{i}/{total}] {stage.name}: running ({reason})", flush=True)
            if provenance is None:  # once per build, and only when something runs
                from experiments.provenance import collect
                provenance = collect(ctx.device)
            seconds = run_stage(stage, ctx, parts, provenance)
            hashes[stage.name] = parts_hash(parts)
            ran.append(stage.name)
            print(f"[{i}/{total}] {stage.name}: done in {seconds:.0f} s", flush=True)
    return ran

