"""Running a NumPy computation's parts side by side, one per core, each with one BLAS thread.

NumPy releases the GIL in BLAS calls and in array copies, so Python threads run them in parallel.
Holding the BLAS to one thread while they do keeps the parts from oversubscribing the cores; and
unlike one caller with a multi-threaded BLAS, the copies between products use every core too.
"""
from __future__ import annotations

import contextlib
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

try:  # sets the BLAS's thread count at run time; without it a batch runs as one part
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - a declared dependency
    ThreadpoolController = None


@functools.cache
def blas_threads() -> int:
    """Threads NumPy's BLAS uses: the parts a large batch splits into (the benchmark gives torch as many).

    threadpoolctl asks the library itself; without it, use the variables OpenBLAS reads at load
    time, in its order, else the CPUs this process may run on (OpenBLAS's default). Asked once,
    as OpenBLAS reads them once.
    """
    controller = _blas_controller()
    counts = [lib.num_threads for lib in controller.select(user_api="blas").lib_controllers] if controller else []
    if counts:
        return counts[0]
    for var in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").strip().isdigit() and int(os.environ[var]) > 0:
            return int(os.environ[var])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_POOL: tuple[ThreadPoolExecutor, int] | None = None  # the pool and its number of threads


@functools.cache
def _blas_controller():
    """threadpoolctl's handle on the loaded BLAS libraries, or None without threadpoolctl."""
    return ThreadpoolController() if ThreadpoolController is not None else None


def in_parallel(fn: Callable, jobs: list[tuple]) -> list:
    """[fn(*job) for job in jobs], each job on its own thread with BLAS held to one thread.

    NumPy releases the GIL in BLAS and in copies, so the jobs run side by side; holding the BLAS
    to one thread keeps them from oversubscribing the cores. One job runs here, BLAS untouched.
    """
    global _POOL
    if len(jobs) == 1:
        return [fn(*jobs[0])]
    if _POOL is None or _POOL[1] < len(jobs):
        if _POOL is not None:
            _POOL[0].shutdown(wait=False)
        _POOL = ThreadPoolExecutor(len(jobs), thread_name_prefix="mytorch-part"), len(jobs)
    controller = _blas_controller()
    with controller.limit(limits=1, user_api="blas") if controller else contextlib.nullcontext():
        futures = [_POOL[0].submit(fn, *job) for job in jobs]
        return [f.result() for f in futures]  # re-raises a job's error here
