"""Command line: thin wrappers that parse options and call functions in the package.

`invoke --list` shows every task. Errors the user can fix are printed as one line.
"""
from __future__ import annotations

import functools
import sys

from invoke import task

RESULTS = "results"


def user_errors(fn):
    """Print a UserError (or a mytorch ValueError raised by bad options) as one line, exit 1."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from experiments.errors import UserError
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(1)
        except KeyboardInterrupt:
            print("interrupted: rerun the same command to resume", file=sys.stderr)
            sys.exit(130)
    return wrapper


@task(help={"k": "only tests matching this pytest -k expression", "fast": "skip the end-to-end build"})
def test(c, k="", fast=False):
    """Run the test suite (pytest)."""
    args = ["python", "-m", "pytest", "-q"]
    if k:
        args += ["-k", repr(k)]
    if fast:
        args += ["-m", "'not slow'"]
    c.run(" ".join(args), pty=False)


@task(help={"results": "results folder"})
@user_errors
def conv(c, results=RESULTS):
    """Problem 1: run the NumPy Conv2D tester against PyTorch and record its table."""
    from pathlib import Path
    from mytorch.tester import run_tester
    run_tester(Path(results) / "conv")


@task(help={"results": "results folder", "repeats": "timed repetitions per case"})
@user_errors
def bench_conv(c, results=RESULTS, repeats=5):
    """Benchmark Conv2D forward+backward against torch (prints and writes the ratios)."""
    from pathlib import Path
    from mytorch.bench import run_benchmark
    run_benchmark(Path(results) / "conv", repeats=int(repeats))


@task(help={"data": "an ImageFolder: a folder of class folders, or a root with test/",
            "out": "where to write {run: {accuracy, n}} as JSON", "results": "results folder",
            "device": "auto, cpu or cuda"})
@user_errors
def evaluate(c, data, out="results/evaluate.json", results=RESULTS, device="auto"):
    """Accuracy of the final models and every ablation run on a held-out image folder."""
    from experiments.evaluate import evaluate_folder
    evaluate_folder(data, out, results, device)
