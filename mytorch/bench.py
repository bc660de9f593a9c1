"""Benchmark: mytorch Conv2D forward+backward against torch on the CPU, float32, same threads.

Each implementation runs in its own warm block of back-to-back calls, as it would inside a
training loop: interleaving the two call by call lets torch's thread pool fall asleep while
NumPy runs, so every torch call paid to wake it (measured ~120 ms instead of ~66 ms). The blocks
alternate (mytorch, torch, mytorch, torch, ...) so load drift on a shared machine hits both.
Speed is reported as the ratio of the medians, with each side's interquartile range.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from mytorch.conv import Conv2D
from mytorch.parallel import blas_threads

# name: (N, C_in, H, W), C_out, kernel, stride, padding
CASES = {"N64 64->64 32x32 k3 p1": ((64, 64, 32, 32), 64, 3, 1, 1),
         "N64 64->64 32x32 k3 s2 p1": ((64, 64, 32, 32), 64, 3, 2, 1)}
SMALL_CASES = {"N4 8->8 16x16 k3 p1": ((4, 8, 16, 16), 8, 3, 1, 1),
               "N4 8->8 16x16 k3 s2 p1": ((4, 8, 16, 16), 8, 3, 2, 1)}


def blocked_times_ms(fns: list, blocks: int, repeats: int, warmup: int) -> list[list[float]]:
    """Wall times (ms) of each fn: `blocks` rounds; in each round every fn in turn runs one
    block of `warmup` untimed calls then `repeats` timed calls back to back.

    Returns one list of blocks * repeats times per fn. Warm-up opens every block (not just the
    first) because the other implementation's block in between cools caches and thread pools.
    """
    times = [[] for _ in fns]
    for _ in range(blocks):
        for fn, record in zip(fns, times):
            for _ in range(warmup):
                fn()
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                record.append(1000 * (time.perf_counter() - t0))
    return times


def median_and_quartiles(times: list[float]) -> tuple[float, float, float]:
    """(median, q1, q3) of the times (ms), linear interpolation; one time gives (t, t, t)."""
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return float(median), float(q1), float(q3)


def time_case(a_shape, c_out, kernel, stride, padding, blocks: int, repeats: int, warmup: int,
              dtype=np.float32) -> dict:
    """Forward+backward times of one case: {"dtype", "mytorch": [ms...], "torch": [ms...]}.

    Both sides compute the output and the gradients for input and weights. "dtype" is read
    from the outputs each side actually produced (a ValueError if they differ).
    """
    rng = np.random.default_rng(0)
    A = rng.standard_normal(a_shape).astype(dtype)
    layer = Conv2D(a_shape[1], c_out, kernel, stride, padding)
    layer.W = layer.W.astype(dtype)
    G = rng.standard_normal(layer.output_shape(A.shape)).astype(dtype)

    def mine():
        layer.forward(A)
        layer.backward(G)

    At = torch.from_numpy(A).requires_grad_()
    Wt = torch.from_numpy(layer.W).requires_grad_()
    Gt = torch.from_numpy(G)

    def theirs():
        Z = torch.nn.functional.conv2d(At, Wt, stride=stride, padding=padding)
        torch.autograd.grad(Z, (At, Wt), Gt)  # fresh gradients, no accumulation into .grad

    mine_dtype = str(layer.forward(A).dtype)
    with torch.no_grad():
        theirs_dtype = str(torch.nn.functional.conv2d(At, Wt, stride=stride, padding=padding).dtype)
    if theirs_dtype.removeprefix("torch.") != mine_dtype:
        raise ValueError(f"mytorch computes in {mine_dtype} but torch in {theirs_dtype}: not the same race")
    mine_ms, theirs_ms = blocked_times_ms([mine, theirs], blocks, repeats, warmup)
    return {"dtype": mine_dtype, "mytorch": mine_ms, "torch": theirs_ms}


def describe_method(dtype: str, threads: int, blocks: int, repeats: int, warmup: int) -> str:
    """One sentence saying how the times were measured, from the parameters actually used."""
    def n(count, word):
        return f"{count} {word}" + ("" if count == 1 else "s")
    return (f"{dtype}, {n(threads, 'thread')}; each implementation in {n(blocks, 'alternating block')} of "
            f"{warmup} warm-up + {n(repeats, 'timed call')} back to back; median and interquartile range "
            f"of {n(blocks * repeats, 'timed call')}")


def run_benchmark(repeats: int = 5, small: bool = False,
                  blocks: int = 3, warmup: int = 1) -> dict:
    """Time every case, print a table, return the record (the build writes it as conv/bench.json).

    repeats: timed calls per block; blocks: blocks per implementation; warmup: untimed calls
    opening each block. small=True runs tiny shapes (a smoke test of the pipeline, not a
    measurement). Returns {"threads", "repeats", "blocks", "warmup", "dtype", "method", "cases":
    [{"name", "shape", "mytorch_ms", "torch_ms", "mytorch_spread_ms", "torch_spread_ms", "ratio"}]}:
    *_ms are medians, *_spread_ms the [q1, q3] of all timed calls, ratio = mytorch / torch medians.
    """
    for label, value, least in (("repeats", repeats, 1), ("blocks", blocks, 1), ("warmup", warmup, 0)):
        if value < least:
            raise ValueError(f"{label} must be at least {least}, got {value}")
    threads = blas_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows, dtypes = [], set()
        for name, (a_shape, c_out, k, s, p) in (SMALL_CASES if small else CASES).items():
            case = time_case(a_shape, c_out, k, s, p, blocks, repeats, warmup)
            dtypes.add(case["dtype"])
            mine, mine_q1, mine_q3 = median_and_quartiles(case["mytorch"])
            theirs, theirs_q1, theirs_q3 = median_and_quartiles(case["torch"])
            rows.append({"name": name, "shape": list(a_shape),
                         "mytorch_ms": round(mine, 3), "torch_ms": round(theirs, 3),
                         "mytorch_spread_ms": [round(mine_q1, 3), round(mine_q3, 3)],
                         "torch_spread_ms": [round(theirs_q1, 3), round(theirs_q3, 3)],
                         "ratio": round(mine / theirs, 3)})
    finally:
        torch.set_num_threads(previous)
    dtype = "/".join(sorted(dtypes))
    method = describe_method(dtype, threads, blocks, repeats, warmup)
    result = {"threads": threads, "repeats": repeats, "blocks": blocks, "warmup": warmup,
              "dtype": dtype, "method": method, "cases": rows}
    print(f"Conv2D forward+backward: {method}")
    for r in rows:
        print(f"  {r['name']:28s} mytorch {r['mytorch_ms']:8.2f} ms {r['mytorch_spread_ms']}   "
              f"torch {r['torch_ms']:8.2f} ms {r['torch_spread_ms']}   ratio {r['ratio']:.2f}x")
    return result
