"""Problem 1's tester: named cases, each compared with PyTorch; prints a table, writes JSON.

Run: python -m mytorch.tester [--out DIR]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from mytorch.conv import Conv2D

# float64 round-off in sums of at most a few hundred products is ~1e-14; 1e-10 leaves a wide
# margin yet catches any indexing error (those give errors of order 1).
TOLERANCE = 1e-10

# name: (N, C_in, H, W), C_out, kernel, stride, padding
CASES = {
    "basic 3x3": ((2, 3, 8, 8), 4, 3, 1, 0),
    "padding 1 (same)": ((2, 3, 8, 8), 4, 3, 1, 1),
    "padding 2": ((2, 2, 6, 6), 3, 3, 1, 2),
    "stride 2": ((2, 3, 9, 9), 4, 3, 2, 0),
    "stride 3, pad 1, 5x5": ((2, 2, 11, 11), 3, 5, 3, 1),
    "rectangular kernel 2x5": ((2, 3, 7, 9), 4, (2, 5), 1, 1),
    "1x1 kernel": ((2, 5, 6, 6), 3, 1, 1, 0),
    "1x1 kernel, padding 1": ((2, 3, 5, 5), 2, 1, 1, 1),
    "non-square input 5x12": ((2, 3, 5, 12), 2, 3, (1, 2), (0, 1)),
    "single input channel": ((3, 1, 8, 8), 4, 3, 1, 1),
    "single output channel": ((3, 4, 8, 8), 1, 3, 2, 1),
    "batch 1": ((1, 3, 10, 10), 6, 4, 2, 2),
    "kernel = padded input": ((2, 2, 3, 3), 2, 5, 1, 1),
}


def torch_reference(A: np.ndarray, W: np.ndarray, G: np.ndarray, stride, padding):
    """Z, dLdA, dLdW from torch.nn.functional.conv2d and autograd, for upstream gradient G."""
    At = torch.tensor(A, requires_grad=True)
    Wt = torch.tensor(W, requires_grad=True)
    Z = torch.nn.functional.conv2d(At, Wt, stride=stride, padding=padding)
    Z.backward(torch.tensor(G))
    return Z.detach().numpy(), At.grad.numpy(), Wt.grad.numpy()


def run_case(name: str, a_shape, c_out, kernel, stride, padding, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    layer = Conv2D(a_shape[1], c_out, kernel, stride, padding,
                   weight_init_fn=lambda shape: rng.standard_normal(shape))
    A = rng.standard_normal(a_shape)
    Z = layer.forward(A)
    G = rng.standard_normal(Z.shape)
    dLdA = layer.backward(G)
    Zt, dAt, dWt = torch_reference(A, layer.W, G, layer.stride, layer.padding)
    errs = {"err_Z": float(np.abs(Z - Zt).max()), "err_dLdA": float(np.abs(dLdA - dAt).max()),
            "err_dLdW": float(np.abs(layer.dLdW - dWt).max())}
    return {"name": name, "input_shape": list(a_shape), "kernel_shape": list(layer.W.shape),
            "stride": list(layer.stride), "padding": list(layer.padding), **errs,
            "passed": bool(Z.shape == Zt.shape and max(errs.values()) <= TOLERANCE)}


def run_tester() -> dict:
    """Run every case, print the table, return the record (the build writes it as conv/tester.json)."""
    rows = [run_case(name, *spec, seed=i) for i, (name, spec) in enumerate(CASES.items())]
    result = {"tolerance": TOLERANCE, "all_passed": all(r["passed"] for r in rows), "cases": rows}
    print(format_table(rows))
    return result


def format_table(rows: list[dict]) -> str:
    head = f"{'case':26s} {'input':>14s} {'kernel':>12s} {'stride':>6s} {'pad':>5s} " \
           f"{'err Z':>8s} {'err dLdA':>8s} {'err dLdW':>8s}  pass"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['name']:26s} {'x'.join(map(str, r['input_shape'])):>14s} "
                     f"{'x'.join(map(str, r['kernel_shape'])):>12s} {','.join(map(str, r['stride'])):>6s} "
                     f"{','.join(map(str, r['padding'])):>5s} {r['err_Z']:8.1e} {r['err_dLdA']:8.1e} "
                     f"{r['err_dLdW']:8.1e}  {'yes' if r['passed'] else 'NO'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Test mytorch's Conv2D against PyTorch.")
    parser.parse_args()
    result = run_tester()
    raise SystemExit(0 if result["all_passed"] else 1)


if __name__ == "__main__":
    main()
