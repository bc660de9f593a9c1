"""Benchmark: mytorch Conv2D forward+backward against torch on the CPU, float32, same threads.

Speed is reported as a ratio (mytorch time / torch time) measured in the same run, so a busy
or slow machine moves both numbers together.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from mytorch.conv import Conv2D

# name: (N, C_in, H, W), C_out, kernel, stride, padding
CASES = {"N64 64->64 32x32 k3 p1": ((64, 64, 32, 32), 64, 3, 1, 1),
         "N64 64->64 32x32 k3 s2 p1": ((64, 64, 32, 32), 64, 3, 2, 1)}
SMALL_CASES = {"N4 8->8 16x16 k3 p1": ((4, 8, 16, 16), 8, 3, 1, 1),
               "N4 8->8 16x16 k3 s2 p1": ((4, 8, 16, 16), 8, 3, 2, 1)}


def blas_threads() -> int:
    """Threads NumPy's BLAS uses (torch is set to the same for a fair race).

    threadpoolctl asks the library itself; without it, use the variables OpenBLAS reads at load
    time, in its order, else the CPUs this process may run on (OpenBLAS's default).
    """
    try:
        from threadpoolctl import threadpool_info
        counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        if counts:
            return counts[0]
    except ImportError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").strip().isdigit() and int(os.environ[var]) > 0:
            return int(os.environ[var])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _interleaved_median_ms(fns: list, repeats: int) -> list[float]:
    """Median wall time (ms) of each fn over `repeats` rounds, after one warm-up call each.

    The fns take turns within every round, so load from other processes on a shared machine
    slows all of them alike instead of whichever happened to run during a busy spell.
    """
    for fn in fns:
        fn()  # warm-up: first calls allocate buffers and pick kernels
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, record in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            record.append(1000 * (time.perf_counter() - t0))
    return [statistics.median(record) for record in times]


def time_case(a_shape, c_out, kernel, stride, padding, repeats: int) -> tuple[float, float]:
    """(mytorch ms, torch ms): median forward+backward time of one float32 case."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal(a_shape, dtype=np.float32)
    layer = Conv2D(a_shape[1], c_out, kernel, stride, padding)
    layer.W = layer.W.astype(np.float32)
    G = rng.standard_normal(layer.output_shape(A.shape), dtype=np.float32)

    def mine():
        layer.forward(A)
        layer.backward(G)

    At = torch.from_numpy(A).requires_grad_()
    Wt = torch.from_numpy(layer.W).requires_grad_()
    Gt = torch.from_numpy(G)

    def theirs():
        torch.nn.functional.conv2d(At, Wt, stride=stride, padding=padding).backward(Gt)

    return tuple(_interleaved_median_ms([mine, theirs], repeats))


def run_benchmark(out_dir: Path | None = None, repeats: int = 5, small: bool = False) -> dict:
    """Time every case, print a table, write out_dir/bench.json when out_dir is given.

    small=True runs tiny shapes (a smoke test of the pipeline, not a measurement).
    Returns {"threads", "repeats", "dtype", "cases": [{"name", "shape", "mytorch_ms", "torch_ms", "ratio"}]}.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    threads = blas_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows = []
        for name, (a_shape, c_out, k, s, p) in (SMALL_CASES if small else CASES).items():
            mine, theirs = time_case(a_shape, c_out, k, s, p, repeats)
            rows.append({"name": name, "shape": list(a_shape), "mytorch_ms": round(mine, 3),
                         "torch_ms": round(theirs, 3), "ratio": round(mine / theirs, 3)})
    finally:
        torch.set_num_threads(previous)
    result = {"threads": threads, "repeats": repeats, "dtype": "float32", "cases": rows}
    print(f"Conv2D forward+backward, float32, {threads} thread(s), median of {repeats}:")
    for r in rows:
        print(f"  {r['name']:28s} mytorch {r['mytorch_ms']:8.2f} ms   torch {r['torch_ms']:8.2f} ms   "
              f"ratio {r['ratio']:.2f}x")
    if out_dir is not None:
        from experiments.io import write_json
        write_json(Path(out_dir) / "bench.json", result)
    return result
