"""What the command line does, as functions a test can call: build, status, report."""
from __future__ import annotations

from experiments.build.context import BuildContext, last_build, make_context
from experiments.build.stages import STAGES
from experiments.engine.pipeline import build, plan


def context(profile, data, device, results, report_dir, student=None, reflection=None,
            config="cnn-report.toml", test=None, sets=()) -> BuildContext:
    from experiments.writeup.settings import load_settings
    settings = load_settings(config, student=student, reflection=reflection, set=list(sets))
    return make_context(profile, data, device, results, report_dir, settings, test, tuple(sets))


def run_all(ctx: BuildContext, only: set[str] | None = None, force: bool = False, executor: str = "local",
            address: str | None = None) -> list[str]:
    """Build what is out of date with the named executor (experiments/engine/executors.py)."""
    from experiments.engine.devices import resolve_device
    from experiments.engine.executors import make_executor
    resolve_device(ctx.device)  # a bad --device fails before any work
    return build(STAGES, ctx, only, force, make_executor(executor, address))


def status(ctx: BuildContext) -> list[tuple[str, str | None]]:
    return [(stage.name, reason) for stage, reason, _ in plan(STAGES, ctx)]


def status_context(results, profile=None, data=None, device=None, report_dir="report",
                   config="cnn-report.toml") -> BuildContext:
    """The context `invoke status` compares against: the last build's options unless given."""
    last = last_build(results, required=False)
    return context(profile or last.get("profile", "full"), data or last.get("data_dir"),
                   device or last.get("device", "auto"), results, report_dir,
                   last["given"].get("student"), last["given"].get("reflection"), config, last.get("test_dir"),
                   last["given"].get("set", ()))


def report_context(results, report_dir="report", student=None, reflection=None,
                   config="cnn-report.toml") -> BuildContext:
    last = last_build(results)
    return context(last["profile"], last["data_dir"], last["device"], results, report_dir,
                   student or last["given"].get("student"), reflection or last["given"].get("reflection"), config,
                   last.get("test_dir"), last["given"].get("set", ()))
