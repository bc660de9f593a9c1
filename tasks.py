"""Command line: thin wrappers that parse options and call functions in the package.

`invoke --list` shows every task. Errors the user can fix are printed as one line.
"""
from __future__ import annotations

import functools
import sys

from invoke import task

from experiments.training.profiles import PROFILES

RESULTS = "results"
PROFILE_HELP = " or ".join(", ".join(PROFILES).rsplit(", ", 1)) + " (see experiments/training/profiles.py)"
BUDGET_HELP = "minutes you give the study, e.g. 90m, 2h, 1h30m: the profile's plan is fitted to them here"


def user_errors(fn):
    """Print a UserError (or a mytorch ValueError raised by bad options) as one line, exit 1."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from experiments.engine.errors import UserError
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


@task(help={"profile": PROFILE_HELP, "data": "CIFAR-10 folder (default: found or downloaded)",
            "device": "auto, cpu or cuda", "results": "results folder", "report_dir": "where report.pdf goes",
            "student": "your name for the title block", "reflection": "your Problem 6 text (three ## parts)",
            "config": "settings file",
            "test": "a held-out test split (ImageFolder) to score each final on once, after every choice",
            "set": "override one profile value, e.g. --set final.epochs=10 (repeatable)",
            "executor": "local (one stage at a time, here) or ray (stages and runs as Ray tasks)",
            "address": "a running Ray cluster to join (default with ray: start a local one)",
            "budget": BUDGET_HELP,
            "notebook": "the course's Conv2DTester.ipynb: Problem 1 shows its output, run against mytorch/conv.py"},
      iterable=["set"])
@user_errors
def all(c, profile="full", data=None, device="auto", results=RESULTS, report_dir="report",
        student=None, reflection=None, config="cnn-report.toml", test=None, set=None, executor="local", address=None,
        budget=None, notebook=None):
    """Build everything that is out of date: tests of Problem 1, training, figures, the PDF report."""
    from experiments.build.commands import Options, context, run_all
    ctx = context(Options(profile, data, device, results, report_dir, student, reflection, config, test,
                          tuple(set or ()), budget, notebook))
    ran = run_all(ctx, executor=executor, address=address)
    print(f"built {len(ran)} stage{'' if len(ran) == 1 else 's'}; report: {ctx.report_dir / 'report.pdf'}")


@task(help={"results": "results folder", "profile": f"{PROFILE_HELP}; default: the last build's",
            "budget": BUDGET_HELP + "; default: the last build's"})
@user_errors
def status(c, results=RESULTS, profile=None, data=None, device=None, report_dir="report", config="cnn-report.toml",
           budget=None):
    """Say which stages would run and why (and under a budget, the plan); runs nothing."""
    from experiments.build.commands import status as stage_status
    from experiments.build.commands import status_context
    ctx = status_context(results, profile, data, device, report_dir, config, budget)
    if ctx.plan is not None:
        from experiments.build.commands import plan_lines
        print(plan_lines(ctx))
    for name, reason in stage_status(ctx):
        print(f"{name:28s} {'would run: ' + reason if reason else 'up to date'}")


@task(help={"results": "results folder", "report_dir": "where report.pdf goes", "student": "your name",
            "reflection": "your Problem 6 text", "config": "settings file"})
@user_errors
def report(c, results=RESULTS, report_dir="report", student=None, reflection=None, config="cnn-report.toml"):
    """Re-render the report from existing results (no training)."""
    from experiments.build.commands import report_context, run_all
    ctx = report_context(results, report_dir, student, reflection, config)
    run_all(ctx, only={"report"}, force=True)
    print(f"report: {ctx.report_dir / 'report.pdf'}")


@task(help={"results": "results folder"})
@user_errors
def conv(c, results=RESULTS):
    """Problem 1: run the NumPy Conv2D tester against PyTorch and record its table."""
    from pathlib import Path

    from experiments.engine.io import write_json
    from mytorch.tester import run_tester
    write_json(Path(results) / "conv" / "tester.json", run_tester())


@task(help={"results": "results folder", "repeats": "timed calls per block (3 alternating blocks per implementation)"})
@user_errors
def bench_conv(c, results=RESULTS, repeats=5):
    """Benchmark Conv2D forward+backward against torch (prints and writes the ratios)."""
    from pathlib import Path

    from experiments.engine.io import write_json
    from mytorch.bench import run_benchmark
    write_json(Path(results) / "conv" / "bench.json", run_benchmark(repeats=int(repeats)))


@task(help={"models": "architectures to time, comma-separated (default: the final's, or gap-m,dense-m)",
            "profile": PROFILE_HELP + " (its batch and recipe; default full)", "device": "auto, cpu or cuda",
            "results": "results folder", "steps": "timed steps per architecture (after one untimed)"})
@user_errors
def bench_train(c, models=None, profile="full", device="auto", results=RESULTS, steps=3):
    """How close a training step runs to this machine's matmul peak, and Muon's share of it."""
    from pathlib import Path

    from experiments.build.commands import bench_train as run
    print(run(models, profile, device, Path(results), int(steps)))


@task(help={"data": "an ImageFolder: a folder of class folders, or a root with test/",
            "out": "where to write {run: {accuracy, n}} as JSON", "results": "results folder",
            "device": "auto, cpu or cuda", "finals_only": "score the two final models and stop"})
@user_errors
def evaluate(c, data, out="results/evaluate.json", results=RESULTS, device="auto",
             finals_only=False):
    """Accuracy of the final models, then of every ablation run, on a held-out image folder (each
    run with the test-time augmentation its validation score used), said as each is scored."""
    from experiments.studies.evaluate import evaluate_folder
    evaluate_folder(data, out, results, device, finals_only)
