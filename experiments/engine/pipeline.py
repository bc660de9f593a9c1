"""The incremental build, like DVC: run each stage whose inputs changed (experiments/engine/cache.py
decides), one after another here or as tasks elsewhere (experiments/engine/executors.py).

After a stage succeeds its record (hash, parts, wall time, provenance) is written atomically to
`<results>/.pipeline/<stage>.json`. Stages write their own files atomically and training resumes
from checkpoints, so a killed build just reruns the stage that was interrupted. The engine knows
stages only by this interface; the stage table is experiments/build/stages.py.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from experiments.engine.cache import read_record, record_stage, stage_parts, why_run
from experiments.engine.errors import UserError
from experiments.engine.executors import LocalExecutor
from experiments.engine.io import write_json
from experiments.engine.paths import build_file, lock_file


@dataclass(frozen=True)
class Stage:
    """One step of the build: what it runs, reads and writes. The code it depends on is computed
    from `run` (its import closure); `extra` names other files whose content counts (templates)."""
    name: str
    run: Callable[["Context"], None]
    params: Callable[["Context"], dict]       # the slice of configuration it uses
    upstream: tuple[str, ...] = ()            # stages whose results it reads
    outs: tuple[str, ...] = ()                # "{results}/..." or "{report}/..." paths it must leave
    wants_gpu: bool = False                   # runs a model itself: an executor gives it a GPU where there is one
    extra: tuple[str, ...] = ()               # repository-relative files or globs beside the code


@dataclass
class Context:
    """What a stage may use: the configuration and where things are."""
    profile_name: str
    profile: dict
    device: str
    results: Path
    report_dir: Path
    settings: dict = field(default_factory=dict)

    def estimate(self, stage: str) -> float | None:
        """Seconds a stage never timed here may take (None: no estimate); see BuildContext's."""
        return None

    def settled(self, stage: str, seconds: float | None) -> None:
        """Called as each stage is settled: found up to date (None) or finished (its seconds). A
        context that plans to a time budget redoes its plan here; this one does nothing."""

    def out(self, template: str) -> Path:
        return Path(template.format(results=self.results, report=self.report_dir))

    def remembered(self) -> dict:
        """What the next `invoke status` or `invoke report` needs to know of this build."""
        return {"profile": self.profile_name, "device": self.device, "settings": self.settings}


@contextlib.contextmanager
def build_lock(results: Path):
    """Refuse a second build on the same results folder while one runs."""
    path = lock_file(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise UserError(f"another build (pid {holder}) is running on {results}/; "
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


def plan(stages: list[Stage], ctx: Context) -> list[tuple[Stage, str | None, dict]]:
    """For each stage in order: (stage, reason to run or None, its hash parts)."""
    hashes, pending, out = {}, set(), []
    for stage in stages:
        record = read_record(ctx.results, stage.name)
        parts = stage_parts(stage, ctx, hashes)
        reason = why_run(stage, ctx, parts, record, pending)
        if reason:
            pending.add(stage.name)
        else:
            hashes[stage.name] = record["hash"]
        out.append((stage, reason, parts))
    return out


def _stages(count: int) -> str:
    return f"{count} stage{'s' if count != 1 else ''}"


class _Build:
    """One build's bookkeeping: the hashes settled so far, what runs, what failed."""

    def __init__(self, stages: list[Stage], ctx: Context, executor, only, force):
        self.stages, self.ctx, self.executor, self.only, self.force = stages, ctx, executor, only, force
        self.number = {s.name: i for i, s in enumerate(stages, 1)}
        self.hashes, self.provenance = {}, None
        self.waiting, self.running = list(stages), {}
        self.ran, self.failures = [], []
        self.left = expected_seconds(stages, ctx, only, force)  # stage -> recorded seconds (None: never timed)

    def eta(self) -> str:
        """The build's time left, from the stages' last recorded times on this results folder, and
        for a stage never timed here the context's estimate (`Context.estimate`)."""
        estimated = {name: self.ctx.estimate(name) for name, s in self.left.items() if s is None}
        known = [s for s in self.left.values() if s is not None] + [s for s in estimated.values() if s is not None]
        unknown = sum(s is None for s in estimated.values())
        guessed = sum(s is not None for s in estimated.values())
        text = f"about {format_duration(sum(known))} left" if known else "time left unknown"
        notes = ([f"{_stages(guessed)} estimated from this machine's speed"] if guessed and known else []) + \
            ([f"+{_stages(unknown)} never timed"] if unknown and known else [])
        return text + (f" ({'; '.join(notes)})" if notes else "")

    def start_ready(self) -> None:
        """Decide every waiting stage whose upstream is settled: skip it or hand it to the executor."""
        for stage in list(self.waiting):
            if self.failures or len(self.running) >= self.executor.capacity:
                return
            if ({s.name for s in self.waiting} | set(self.running)) & set(stage.upstream):
                continue
            self.waiting.remove(stage)
            self.decide(stage)

    def decide(self, stage: Stage) -> None:
        tag = f"[{self.number[stage.name]}/{len(self.stages)}] {stage.name}"
        record = read_record(self.ctx.results, stage.name)
        if self.only is not None and stage.name not in self.only:
            # not built now: a stage in `only` builds on what this one last recorded
            self.hashes[stage.name] = record["hash"] if record else None
            return
        parts = stage_parts(stage, self.ctx, self.hashes)
        reason = "forced" if self.force else why_run(stage, self.ctx, parts, record, set())
        if reason is None:
            self.hashes[stage.name] = record["hash"]
            self.left.pop(stage.name, None)
            print(f"{tag}: up to date", flush=True)
            self.ctx.settled(stage.name, None)
            return
        print(f"{tag}: running ({reason}); {self.eta()}", flush=True)
        if self.provenance is None:  # once per build, and only when something runs
            from experiments.engine.provenance import collect
            self.provenance = collect(self.ctx.device)
        self.running[stage.name] = (stage, parts, tag)
        self.executor.submit(stage, self.ctx)

    def finish_one(self) -> None:
        name, outcome = self.executor.wait_one()
        stage, parts, tag = self.running.pop(name)
        if isinstance(outcome, BaseException):
            self.failures.append(outcome)
            return
        self.hashes[name] = record_stage(stage, self.ctx, parts, outcome, self.provenance)
        self.left.pop(name, None)
        self.ran.append(name)
        print(f"{tag}: done in {outcome:.0f} s", flush=True)
        self.ctx.settled(name, outcome)


def expected_seconds(stages: list[Stage], ctx: Context, only, force) -> dict[str, float | None]:
    """For each stage this build will (probably) run, the wall time its last run took here."""
    runs = {stage.name for stage, reason, _ in plan(stages, ctx) if reason or force}
    if only is not None:
        runs &= set(only)
    return {name: (read_record(ctx.results, name) or {}).get("seconds") for name in runs}


def format_duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def build(stages: list[Stage], ctx: Context, only: set[str] | None = None, force: bool = False,
          executor=None) -> list[str]:
    """Bring every stage up to date (or only the stages in `only`; `force` runs them even when
    up to date); returns the names of the stages run, in the order they finished.

    A stage is decided once its upstream stages are settled, and handed to the executor: the
    local one runs it here and now, one at a time, in table order; Ray runs every ready stage at
    once. After a failure nothing new starts, the stages still running finish (and are recorded),
    then the first failure is raised."""
    run = _Build(stages, ctx, executor or LocalExecutor(), only, force)
    with build_lock(ctx.results):
        write_json(build_file(ctx.results), {**ctx.remembered(), "executor": run.executor.name})
        try:
            while run.waiting or run.running:
                run.start_ready()
                if not run.running:
                    break
                run.finish_one()
        finally:
            run.executor.close()
        if run.failures:
            raise run.failures[0]
    return run.ran
