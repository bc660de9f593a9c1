"""THE table of stages: what each runs, which code and parameters it depends on, what it writes.

Wrappers are thin: they pick the stage's slice of the profile and call the function that does
the work (imported lazily, so deciding that nothing needs to run stays fast).
"""
from __future__ import annotations

from pathlib import Path

from experiments.pipeline import Context, Stage, build, plan
from experiments.profiles import load_profile

from experiments.catalog import CELLS, FAMILIES, INTERPRET_CODE, TRAINING_CODE  # noqa: F401 (re-exported)


def _conv(ctx: Context) -> None:
    from mytorch.bench import run_benchmark
    from mytorch.tester import run_tester
    conv = ctx.profile["conv"]
    run_tester(ctx.results / "conv")
    run_benchmark(ctx.results / "conv", repeats=conv["bench_repeats"], small=conv["bench_small"])


def _data(ctx: Context) -> None:
    from experiments.data import prepare_data
    prepare_data(ctx.data_dir, ctx.results / "data", ctx.results / "cache", ctx.profile["data"])


def _data_params(ctx: Context) -> dict:
    from experiments.data import data_fingerprint
    # the fingerprint covers the resolved folder and its files, so `--data DIR` and the same folder
    # found by default are the same input
    return {**ctx.profile["data"], "fingerprint": data_fingerprint(ctx.data_dir)}


def _audit(ctx: Context) -> None:
    from experiments.audit import run_audit
    run_audit(ctx.prepared, ctx.results / "audit", ctx.profile["audit"])


def cell_params(ctx: Context, family: str, cell: str) -> dict:
    """What a cell's runs depend on: the ablation section with this cell's entry of `overrides`
    applied, and the final's regime (its training section and epochs)."""
    ablation = {k: v for k, v in ctx.profile["ablation"].items() if k != "overrides"}
    ablation.update(ctx.profile["ablation"].get("overrides", {}).get(f"{family}-{cell}", {}))
    return {"ablation": ablation, **_regime_params(ctx)}


def _regime_params(ctx: Context) -> dict:
    return {"train": ctx.profile["train"], "final": {"epochs": ctx.profile["final"]["epochs"]}}


def _full_params(ctx: Context) -> dict:
    return {"ablation": {"full_seeds": ctx.profile["ablation"]["full_seeds"]}, **_regime_params(ctx)}


def _cell_dirs(ctx: Context, family: str) -> dict:
    return {cell: ctx.results / "ablation" / f"{family}-{cell}" for cell in CELLS}


def _search_stage(family: str) -> Stage:
    def run(ctx: Context) -> None:
        from experiments.search import run_search
        run_search(family, ctx.prepared, ctx.results / "search" / family, _search_params(ctx), ctx.device)
    return Stage(f"search-{family}", run, ("experiments/search.py", *TRAINING_CODE), _search_params,
                 ("data",), (f"{{results}}/search/{family}/search.json",))


def _search_params(ctx: Context) -> dict:
    return {k: ctx.profile[k] for k in ("search", "train", "final")}


def _levers_stage(family: str) -> Stage:
    def run(ctx: Context) -> None:
        from experiments.levers import run_levers
        run_levers(family, ctx.results / "search" / family, ctx.prepared, ctx.results / "levers" / family,
                   ctx.profile["levers"], ctx.device)
    return Stage(f"levers-{family}", run, ("experiments/levers.py", "experiments/search.py", *TRAINING_CODE),
                 lambda ctx: {"levers": ctx.profile["levers"]}, ("data", f"search-{family}"),
                 (f"{{results}}/levers/{family}/levers.json",), trains=True)


def _cell_stage(family: str, cell: str) -> Stage:
    def run(ctx: Context) -> None:
        from experiments.ablation import run_cell
        run_cell(family, cell, ctx.results / "search" / family, ctx.prepared,
                 ctx.results / "ablation" / f"{family}-{cell}", cell_params(ctx, family, cell), ctx.device)
    return Stage(f"ablation-{family}-{cell}", run, ("experiments/ablation.py", "experiments/search.py", *TRAINING_CODE),
                 lambda ctx: cell_params(ctx, family, cell), ("data", f"search-{family}"),
                 (f"{{results}}/ablation/{family}-{cell}/cell.json",))


def _final_stage(family: str) -> Stage:
    def run(ctx: Context) -> None:
        from experiments.final import run_final
        run_final(family, _cell_dirs(ctx, family), ctx.prepared, ctx.results / "final" / f"{family}-final",
                  _full_params(ctx), ctx.device)
    return Stage(f"final-{family}", run, ("experiments/final.py", "experiments/ablation.py", *TRAINING_CODE),
                 _full_params, ("data", *(f"ablation-{family}-{c}" for c in CELLS)),
                 tuple(f"{{results}}/final/{family}-final/{f}" for f in ("metrics.json", "model.pt", "loss.png", "arch.json")),
                 trains=True)


def _full_rung_stage(family: str) -> Stage:
    def run(ctx: Context) -> None:
        from experiments.ablation import run_full_rung
        run_full_rung(family, _cell_dirs(ctx, family), ctx.results / "final" / f"{family}-final", ctx.prepared,
                      ctx.results / "ablation" / f"{family}-full", _full_params(ctx), ctx.device)
    return Stage(f"ablation-{family}-full", run, ("experiments/ablation.py", *TRAINING_CODE), _full_params,
                 ("data", f"final-{family}"), (f"{{results}}/ablation/{family}-full/full.json",))


def _summary_stage(family: str) -> Stage:
    def run(ctx: Context) -> None:
        from experiments.ablation import summarize
        summarize(family, _cell_dirs(ctx, family), ctx.results / "ablation" / f"{family}-full", ctx.prepared.val_y,
                  ctx.results / "ablation" / f"{family}-summary")
    return Stage(f"ablation-{family}-summary", run, ("experiments/ablation.py",), lambda ctx: {},
                 ("data", f"ablation-{family}-full"),
                 tuple(f"{{results}}/ablation/{family}-summary/{f}" for f in ("summary.json", "ladder.png", "curves.png")))


def _select(ctx: Context) -> None:
    from experiments.interpret.stage import run_selection
    run_selection(ctx.results, ctx.prepared, ctx.profile["interpret"])


def _interpret_stage(kind: str, family: str) -> Stage:
    def run(ctx: Context) -> None:
        from experiments.interpret import stage
        getattr(stage, f"{kind}_stage")(family, ctx.results, ctx.prepared, ctx.profile["interpret"])
    outs = {"features": "features.json", "cam": "cam.json", "saliency": "saliency.json"}
    return Stage(f"{kind}-{family}", run, INTERPRET_CODE, lambda ctx: ctx.profile["interpret"],
                 ("data", f"final-{family}", "select"), (f"{{results}}/interpret/{family}/{outs[kind]}",), trains=True)


def _measures(ctx: Context) -> None:
    from experiments.interpret.measure_stage import measures_stage
    measures_stage(ctx.results, ctx.prepared, ctx.profile["interpret"])


def _measures_params(ctx: Context) -> dict:
    return {k: ctx.profile["interpret"][k] for k in ("n_measure", "measure_steps", "random_baselines")}


def _report(ctx: Context) -> None:
    from experiments.report import render
    render(ctx.results, ctx.report_dir, ctx.settings)


def _report_params(ctx: Context) -> dict:
    from experiments.report import settings_digest
    return settings_digest(ctx.settings)


STAGES: list[Stage] = [
    Stage("conv", _conv, ("mytorch/*.py",), lambda ctx: ctx.profile["conv"], (),
          ("{results}/conv/tester.json", "{results}/conv/bench.json")),
    Stage("data", _data, ("experiments/data.py",), _data_params, (), ("{results}/data/split.json",)),
    Stage("audit", _audit, ("experiments/audit.py",), lambda ctx: ctx.profile["audit"], ("data",),
          ("{results}/audit/audit.json", "{results}/audit/duplicates.png")),
    *[_search_stage(f) for f in FAMILIES],
    *[_levers_stage(f) for f in FAMILIES],
    *[_cell_stage(f, c) for f in FAMILIES for c in CELLS],
    *[_final_stage(f) for f in FAMILIES],
    *[_full_rung_stage(f) for f in FAMILIES],
    *[_summary_stage(f) for f in FAMILIES],
    Stage("select", _select, INTERPRET_CODE, lambda ctx: ctx.profile["interpret"],
          ("data", *[f"final-{f}" for f in FAMILIES]), ("{results}/interpret/selection.json",), trains=True),
    *[_interpret_stage(kind, f) for f in FAMILIES for kind in ("features", "cam", "saliency")],
    # both networks at once: the measures compare their maps of the same images
    Stage("interpret-measures", _measures, INTERPRET_CODE, _measures_params,
          ("data", *[f"final-{f}" for f in FAMILIES]),
          ("{results}/interpret/measures.json", "{results}/interpret/mean_maps_cam.png",
           "{results}/interpret/mean_maps_saliency.png"), trains=True),
]
STAGES.append(Stage("report", _report, ("experiments/report.py", "experiments/verdicts.py", "experiments/wording.py",
                                        "experiments/map_findings.py", "templates/*"), _report_params,
                    tuple(s.name for s in STAGES), ("{report}/report.pdf", "{report}/report.html")))


def make_context(profile: str, data_dir: str | None, device: str, results: str, report_dir: str,
                 settings: dict) -> Context:
    return Context(profile, load_profile(profile), data_dir, device, Path(results), Path(report_dir), settings)


def run_all(ctx: Context, only: set[str] | None = None, force: bool = False, executor: str = "local",
            address: str | None = None) -> list[str]:
    """Build what is out of date with the named executor (experiments/executors.py)."""
    from experiments.executors import make_executor
    from experiments.train import resolve_device
    resolve_device(ctx.device)  # a bad --device fails before any work
    return build(STAGES, ctx, only, force, make_executor(executor, address))


def status(ctx: Context) -> list[tuple[str, str | None]]:
    return [(stage.name, reason) for stage, reason, _ in plan(STAGES, ctx)]
