"""The incremental build: run each stage whose dependencies changed, like DVC.

A stage's hash covers the content of its code files, its parameters, the recorded hashes of
its upstream stages and the content of the outputs it declares (so a rerun that writes something
else reruns what reads it). After a stage succeeds its record (hash, parts, wall time, provenance) is written
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
    trains: bool = False                      # runs a model itself (an executor gives it a GPU if there is one)


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

    def __getstate__(self):
        """Sent to a worker without the cached split (it reloads it from the results folder)."""
        return {**self.__dict__, "_prepared": None}

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
    seconds = execute_stage(stage, ctx)
    record_stage(stage, ctx, parts, seconds, provenance)
    return seconds


def execute_stage(stage: Stage, ctx: Context) -> float:
    """Run one stage with its output teed to its log; check its outputs; return its wall time. Any
    failure becomes one UserError line naming the stage and the log (the traceback goes to the log).
    This is the part an executor may run elsewhere (experiments/executors.py)."""
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
    return round(time.time() - t0, 2)


def record_stage(stage: Stage, ctx: Context, parts: dict, seconds: float, provenance: dict | None) -> str:
    """The stage's record: what the cache compares next time (the driver alone writes these).
    Its hash covers the content of the outputs as well as the inputs, as DVC's does: a stage whose
    rerun writes something else (a choice that depends on measured speed, say) reruns what reads
    it, and one that writes the same leaves it alone. Returns the hash."""
    outputs = {out: file_digest(ctx.out(out)) for out in stage.outs}
    digest = parts_hash({**parts, "outputs": outputs})
    write_json(ctx.meta / f"{stage.name}.json", {"hash": digest, "parts": parts, "outputs": outputs,
                                                 "seconds": seconds, "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                                                 "provenance": provenance})
    return digest


def _one_line(err: BaseException, limit: int = 300) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def build(stages: list[Stage], ctx: Context, only: set[str] | None = None, force: bool = False,
          executor=None) -> list[str]:
    """Bring every stage up to date (or only the stages in `only`; `force` runs them even when
    up to date); returns the names of the stages run, in the order they finished.

    A stage is decided once its upstream stages are settled, and handed to the executor
    (experiments/executors.py): the local one runs it here and now, one at a time, in table
    order; Ray runs every ready stage at once. After a failure nothing new starts, the stages
    still running finish (and are recorded), then the first failure is raised."""
    from experiments.executors import LocalExecutor
    executor = executor or LocalExecutor()
    ran, failures = [], []
    number = {s.name: i for i, s in enumerate(stages, 1)}
    with build_lock(ctx):
        # remembered so that `invoke status` and `invoke report` need no options
        write_json(ctx.meta / "build.json", {"profile": ctx.profile_name, "data_dir": ctx.data_dir,
                                             "device": ctx.device, "settings": ctx.settings,
                                             "executor": executor.name})
        hashes, provenance = {}, None
        waiting, running = list(stages), {}
        try:
            while waiting or running:
                for stage in list(waiting):
                    if failures or len(running) >= executor.capacity:
                        break
                    unsettled = {s.name for s in waiting} | set(running)
                    if unsettled & set(stage.upstream):
                        continue
                    waiting.remove(stage)
                    tag = f"[{number[stage.name]}/{len(stages)}] {stage.name}"
                    record = read_record(ctx, stage.name)
                    if only is not None and stage.name not in only:
                        # not built now: a stage in `only` builds on what this one last recorded
                        hashes[stage.name] = record["hash"] if record else None
                        continue
                    parts = stage_parts(stage, ctx, hashes)
                    reason = "forced" if force else why_run(stage, ctx, parts, record, set())
                    if reason is None:
                        hashes[stage.name] = record["hash"]
                        print(f"{tag}: up to date", flush=True)
                        continue
                    print(f"{tag}: running ({reason})", flush=True)
                    if provenance is None:  # once per build, and only when something runs
                        from experiments.provenance import collect
                        provenance = collect(ctx.device)
                    running[stage.name] = (stage, parts, tag)
                    executor.submit(stage, ctx)
                if not running:
                    break
                name, outcome = executor.wait_one()
                stage, parts, tag = running.pop(name)
                if isinstance(outcome, BaseException):
                    failures.append(outcome)
                    continue
                hashes[name] = record_stage(stage, ctx, parts, outcome, provenance)
                ran.append(name)
                print(f"{tag}: done in {outcome:.0f} s", flush=True)
        finally:
            executor.close()
        if failures:
            raise failures[0]
    return ran
