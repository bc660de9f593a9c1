"""What the command line does, as functions a test can call: build, status, report."""
from __future__ import annotations

from dataclasses import dataclass, replace

from experiments.build.context import BuildContext, last_build, make_context
from experiments.build.stages import STAGES
from experiments.engine.pipeline import build, plan


@dataclass(frozen=True)
class Options:
    """What the command line gave a build (tasks.py's options), each None where not given."""
    profile: str = "full"
    data: str | None = None
    device: str = "auto"
    results: str = "results"
    report_dir: str = "report"
    student: str | None = None
    reflection: str | None = None
    config: str = "cnn-report.toml"
    test: str | None = None
    sets: tuple = ()
    budget: str | None = None
    notebook: str | None = None

    @classmethod
    def of_last_build(cls, results, **given) -> "Options":
        """The last build's options on `results`, each replaced by one given here (not None)."""
        last = last_build(results, required=given.pop("required", True))
        said = last["given"]
        options = cls(profile=last.get("profile", "full"), data=last.get("data_dir"), device=last.get("device", "auto"),
                      results=results, student=said.get("student"), reflection=said.get("reflection"),
                      test=last.get("test_dir"), sets=tuple(said.get("set", ())), budget=last.get("budget"),
                      notebook=said.get("notebook"))
        return replace(options, **{k: v for k, v in given.items() if v is not None})


def context(o: Options) -> BuildContext:
    from experiments.writeup.settings import load_settings
    settings = load_settings(o.config, student=o.student, reflection=o.reflection, notebook=o.notebook,
                             set=list(o.sets))
    ctx = make_context(o.profile, o.data, o.device, o.results, o.report_dir, settings, o.test, tuple(o.sets), o.budget)
    if o.budget:
        from experiments.build.budget import parse_budget
        from experiments.build.planning import budget_plan
        from experiments.engine.devices import resolve_device
        resolve_device(o.device)  # a bad --device fails before the probe
        ctx.stage_names = tuple(s.name for s in STAGES)
        ctx.plan = budget_plan(ctx, ctx.profile, parse_budget(o.budget), ctx.settings.get("pinned"))
        ctx.profile = ctx.plan["profile"]
    return ctx


def plan_lines(ctx: BuildContext) -> str:
    """Under a budget, the plan as printed (and what changed against the plan recorded before)."""
    from experiments.build.planning import describe_plan
    from experiments.engine.provenance import cpu_flags
    plan = ctx.plan
    text = describe_plan(plan, cpu_flags())
    before = plan.get("previous")
    if before and before["regime"] != plan["regime"]:
        text += (f"\n  the regime changes from the {before['regime']['size']} widths for {before['regime']['epochs']} "
                 f"epochs ({before['budget_minutes']:g} minutes): every ablation run and both finals retrain")
    elif before:
        text += (f"\n  the regime stays (planned for {before['budget_minutes']:g} minutes before): finished runs "
                 "are kept, the steps added train")
    return text


def run_all(ctx: BuildContext, only: set[str] | None = None, force: bool = False, executor: str = "local",
            address: str | None = None) -> list[str]:
    """Build what is out of date with the named executor (experiments/engine/executors.py)."""
    from experiments.engine.devices import resolve_device
    from experiments.engine.executors import make_executor
    resolve_device(ctx.device)  # a bad --device fails before any work
    if ctx.plan is not None and only is None:
        from experiments.build.planning import save_plan
        print(plan_lines(ctx), flush=True)
        save_plan(ctx, ctx.plan)
    return build(STAGES, ctx, only, force, make_executor(executor, address))


def status(ctx: BuildContext) -> list[tuple[str, str | None]]:
    return [(stage.name, reason) for stage, reason, _ in plan(STAGES, ctx)]


def status_context(results, profile=None, data=None, device=None, report_dir="report",
                   config="cnn-report.toml", budget=None) -> BuildContext:
    """The context `invoke status` compares against: the last build's options unless given."""
    return context(Options.of_last_build(results, required=False, profile=profile, data=data, device=device,
                                         report_dir=report_dir, config=config, budget=budget))


def report_context(results, report_dir="report", student=None, reflection=None,
                   config="cnn-report.toml") -> BuildContext:
    return context(Options.of_last_build(results, report_dir=report_dir, student=student, reflection=reflection,
                                         config=config))


def bench_train(models: str | None, profile: str, device: str, results, steps: int) -> str:
    """`invoke bench-train`: times the final's architectures (those the searches chose in `results`,
    else gap-m and dense-m) at the profile's batch; writes results/bench/train.json, returns the lines."""
    from experiments.core import paths
    from experiments.core.names import FAMILIES
    from experiments.engine.io import read_json, write_json
    from experiments.engine.provenance import cpu_flags
    from experiments.training.bench import describe_bench, run_bench
    from experiments.training.profiles import load_profile
    from experiments.training.models import candidate
    prof = load_profile(profile)
    searches = [read_json(results / paths.search(f) / "search.json") for f in FAMILIES
                if (results / paths.search(f) / "search.json").exists()]
    chosen = {s["chosen"]: next(c["model"] for c in s["candidates"] if c["name"] == s["chosen"]) for s in searches}
    if models or not chosen:
        chosen = {name: candidate(name) for name in (models.split(",") if models else ["gap-m", "dense-m"])}
    record = {**run_bench(chosen, prof["train"]["batch_size"], prof["train"], device, steps), "cpu_flags": cpu_flags()}
    write_json(results / "bench" / "train.json", record)
    return describe_bench(record, record["cpu_flags"])
