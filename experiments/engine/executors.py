"""Where the work runs: in this process, one stage after another (`local`, the default), or as Ray
tasks (`ray`) on a local Ray instance or a cluster (`--address`).

With Ray, every stage whose upstream stages are settled is submitted at once, and inside a stage
the independent units (search candidates, ablation rates and seeds, the full split's cells) are
Ray tasks too (experiments/engine/units.py). The driver keeps what makes the build incremental and safe: the
stage records, the content-hash cache, the lock and the progress lines (experiments/engine/pipeline.py).

The rule for a cluster: every node sees the repository and the results folder at the same paths
(a shared filesystem). Tasks write their files there directly, atomically, as a local build does;
only the stage records are written by the driver.

Resources: a task that trains asks for one GPU when the cluster has GPUs, otherwise TRAIN_CPUS
CPUs; torch in a task uses as many threads as it was given CPUs, so on a CPU the numbers equal a
local build's whenever the thread counts match (a local build uses every core).
"""
from __future__ import annotations

import contextlib
import math
import os
import warnings
from typing import Callable

from experiments.engine.errors import UserError
from experiments.engine.paths import REPO, log_path
from experiments.engine.running import execute_stage
from experiments.engine.units import units_mapped_by

TRAIN_CPUS = 2  # CPUs a training task asks for when the cluster has no GPU


# ---------------------------------------------------------------- units inside a stage

def _ray_map(fn: Callable, calls: list[tuple]) -> list:
    import ray
    task = _remote(_unit).options(**task_resources(gpu=True))
    stored: dict[int, object] = {}  # an argument shared by several calls (the data) is stored once

    def shared(arg):
        if isinstance(arg, (str, int, float, bool, type(None))):
            return arg
        if id(arg) not in stored:
            stored[id(arg)] = ray.put(arg)
        return stored[id(arg)]
    refs = [task.remote(fn, *map(shared, args)) for args in calls]
    return [_unwrap(ray.get(ref)) for ref in refs]


def _unit(fn: Callable, *args):
    """A unit on a worker: the threads it was given, and any UserError returned as a value (Ray
    would otherwise wrap it into a long multi-line error)."""
    _on_worker()
    try:
        return fn(*args)
    except UserError as err:
        return err


def _unwrap(value):
    if isinstance(value, UserError):
        raise value
    return value


# ---------------------------------------------------------------- stages

class LocalExecutor:
    """Today's build: the stage runs in this process when submitted."""
    name, capacity = "local", 1

    def __init__(self):
        self._done: list[tuple[str, object]] = []

    def submit(self, stage, ctx) -> None:
        try:
            self._done.append((stage.name, execute_stage(stage, ctx)))
        except UserError as err:
            self._done.append((stage.name, err))

    def wait_one(self) -> tuple[str, object]:
        """(stage name, its wall seconds or the UserError that ended it)."""
        return self._done.pop(0)

    def close(self) -> None:
        pass


class RayExecutor:
    """Stages as Ray tasks; without an address a local Ray instance is started (and stopped)."""
    name, capacity = "ray", math.inf

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise UserError("--executor ray needs Ray: pip install -e '.[cluster]'") from None
        # workers import this repository's code (a cluster's nodes have it at the same path)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        try:
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     configure_logging=False, log_to_driver=True)
        except Exception as err:  # a wrong address, a cluster that is down
            raise UserError(f"cannot start or join Ray{f' at {address}' if address else ''}: {err}") from None
        self._pending: dict = {}
        self._spread_units = parallel_slots() > 1

    def submit(self, stage, ctx) -> None:
        task = _remote(_stage_task).options(**task_resources(gpu=stage.wants_gpu))
        self._pending[task.remote(stage, ctx, self._spread_units)] = (stage.name, log_path(ctx.results, stage.name))

    def wait_one(self) -> tuple[str, object]:
        import ray
        [ref], _ = ray.wait(list(self._pending), num_returns=1)
        name, log = self._pending.pop(ref)
        try:
            return name, ray.get(ref)
        except ray.exceptions.RayError as err:  # the worker died (killed, out of memory) or Ray failed
            return name, UserError(f"stage {name} failed on its Ray worker: {type(err).__name__}: "
                                   f"{_first_line(err)} (log: {log})")

    def close(self) -> None:
        import ray
        if self._pending:  # an interrupted build: stop what still runs (checkpoints keep its progress)
            for ref in self._pending:
                ray.cancel(ref, force=True)
        ray.shutdown()  # disconnects from a cluster; stops a local instance


def _stage_task(stage, ctx, spread_units: bool = True):
    """A stage on a worker: its units become Ray tasks too (or, where the cluster can run only one
    at a time, run here: see `parallel_slots`); a failure comes back as a value."""
    _on_worker()
    try:
        with units_mapped_by(_ray_map) if spread_units else contextlib.nullcontext():
            return execute_stage(stage, ctx)
    except UserError as err:
        return err


def parallel_slots() -> int:
    """How many training tasks the cluster runs at once: its GPUs, or its CPUs in TRAIN_CPUS. With
    one slot, units sent as tasks of their own would only queue behind each other, each paying a
    task's dispatch and its worker's start (torch's import): they run in their stage's task."""
    import ray
    resources = ray.cluster_resources()
    return int(resources.get("GPU", 0)) or int(resources.get("CPU", 1) // TRAIN_CPUS)


def make_executor(name: str, address: str | None = None):
    if name == "local":
        if address:
            raise UserError("--address joins a Ray cluster: use it with --executor ray")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address)
    raise UserError(f"unknown executor {name!r}; use local or ray")


# ---------------------------------------------------------------- resources

def task_resources(gpu: bool) -> dict:
    """One GPU (and a CPU) for work that trains, when the cluster has GPUs; otherwise TRAIN_CPUS
    CPUs, or fewer when no node has that many."""
    import ray
    if gpu and ray.cluster_resources().get("GPU", 0) >= 1:
        return {"num_gpus": 1, "num_cpus": 1}
    largest = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=1)
    return {"num_cpus": max(1, min(TRAIN_CPUS, int(largest)))}


def _on_worker() -> None:
    """torch uses the CPUs this task was given. Arguments arrive zero-copy from Ray's object store,
    hence read-only; training only reads its images (each batch is a fresh tensor), so torch's
    warning about non-writable arrays is noise."""
    import ray
    import torch
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    from experiments.engine.threads import pin
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    pin(max(1, int(cpus)))  # Ray shares the cores out: each run uses what its task was given
    torch.set_num_threads(max(1, int(cpus)))


_REMOTES: dict = {}


def _remote(fn: Callable):
    """fn as a Ray remote function, made once (Ray is imported only when it is used)."""
    if fn not in _REMOTES:
        import ray
        _REMOTES[fn] = ray.remote(max_retries=0)(fn)
    return _REMOTES[fn]


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [""])[0][:300]
