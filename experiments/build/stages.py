"""THE table of stages: what each runs, which parameters it depends on, what it writes. The code
each depends on is computed from what its function imports (experiments/engine/deps.py).

Wrappers are thin: they pick the stage's slice of the profile and call the function that does
the work (imported lazily, so deciding that nothing needs to run stays fast).
"""
from __future__ import annotations

from experiments.build.context import BuildContext as Ctx
from experiments.core import paths
from experiments.core.names import CELLS, FAMILIES, MAP_KINDS, StageId
from experiments.engine.pipeline import Stage

KINDS = ("features", *MAP_KINDS)  # the interpretation stages of each family


def _id(kind: str, family: str | None = None, cell: str | None = None) -> str:
    """A stage's name, made from its identity (experiments/core/names.py)."""
    return StageId(kind, family, cell).name


def _conv(ctx: Ctx) -> None:
    from experiments.engine.io import write_json
    from mytorch.bench import run_benchmark
    from mytorch.tester import run_tester
    conv = ctx.profile["conv"]
    write_json(ctx.at(paths.CONV) / "tester.json", run_tester())
    write_json(ctx.at(paths.CONV) / "bench.json", run_benchmark(repeats=conv["bench_repeats"], small=conv["bench_small"]))


def _notebook(ctx: Ctx) -> None:
    """The course's tester notebook, run against mytorch (or a record that none was given)."""
    from experiments.engine.io import write_json
    from experiments.studies.notebook import NOT_GIVEN, run_notebook
    path = ctx.settings.get("notebook")
    write_json(ctx.at(paths.CONV) / "notebook.json", run_notebook(path) if path else NOT_GIVEN)


def _notebook_params(ctx: Ctx) -> dict:
    from experiments.engine.cache import file_digest
    path = ctx.settings.get("notebook")
    return {"notebook": file_digest(path) if path else None}


def _data(ctx: Ctx) -> None:
    from experiments.training.data import prepare_data
    prepare_data(ctx.data_dir, ctx.at(paths.DATA), ctx.at(paths.CACHE), ctx.profile["data"])


def _data_params(ctx: Ctx) -> dict:
    from experiments.training.data import data_fingerprint
    # the fingerprint covers the resolved folder and its files, so `--data DIR` and the same folder
    # found by default are the same input
    return {**ctx.profile["data"], "fingerprint": data_fingerprint(ctx.data_dir)}


def _audit(ctx: Ctx) -> None:
    from experiments.studies.audit import run_audit
    run_audit(ctx.prepared, ctx.at(paths.AUDIT), ctx.profile["audit"])


def cell_params(ctx: Ctx, family: str, cell: str) -> dict:
    """What a cell's runs depend on: the ablation section with this cell's entry of `overrides`
    applied, and the final's regime (its training section and epochs); not the full split's seeds,
    which only the full split's stage and the final read (a budget may add them after the cells ran)."""
    ablation = {k: v for k, v in ctx.profile["ablation"].items() if k not in ("overrides", *FULL_SPLIT_KEYS)}
    ablation.update(ctx.profile["ablation"].get("overrides", {}).get(f"{family}-{cell}", {}))
    return {"ablation": ablation, **_regime_params(ctx)}


def _regime_params(ctx: Ctx) -> dict:
    return {"train": ctx.profile["train"], "final": {"epochs": ctx.profile["final"]["epochs"]}}


FULL_SPLIT_KEYS = ("full_seeds", "final_seeds", "twin_seeds")


def _full_params(ctx: Ctx) -> dict:
    return {"ablation": {k: ctx.profile["ablation"][k] for k in FULL_SPLIT_KEYS}, **_regime_params(ctx)}


def _final_params(ctx: Ctx) -> dict:
    """The final is the first of final_seeds: more seeds on the full split do not change it."""
    return {"ablation": {"final_seeds": ctx.profile["ablation"]["final_seeds"][:1]}, **_regime_params(ctx)}


def _cell_dirs(ctx: Ctx, family: str) -> dict:
    return {cell: ctx.at(rel) for cell, rel in paths.cells(family).items()}


def _search_params(ctx: Ctx) -> dict:
    named = {n for names in ctx.profile["search"]["candidates"].values() for n in names}
    # the user's architectures that the search names: adding one it does not name reruns nothing
    return {**{k: ctx.profile[k] for k in ("search", "train")},
            # under a budget, the final as planned when the search started (a later plan may give it more epochs)
            "final": ctx.plan["search_final"] if ctx.plan and "search_final" in ctx.plan else ctx.profile["final"],
            "models": {n: cfg for n, cfg in ctx.profile["models"].items() if n in named}}


def _search_stage(family: str) -> Stage:
    def run(ctx: Ctx) -> None:
        from experiments.studies.search import run_search
        run_search(family, ctx.prepared, ctx.at(paths.search(family)), _search_params(ctx), ctx.device)
    return Stage(_id("search", family), run, _search_params, ("data",), (paths.out(paths.search(family) / "search.json"),))


def _levers_stage(family: str) -> Stage:
    def run(ctx: Ctx) -> None:
        from experiments.studies.levers import run_levers
        run_levers(family, ctx.at(paths.search(family)), ctx.prepared, ctx.at(paths.levers(family)),
                   ctx.profile["levers"], ctx.device)
    return Stage(_id("levers", family), run, lambda ctx: {"levers": ctx.profile["levers"]}, ("data", _id("search", family)),
                 (paths.out(paths.levers(family) / "levers.json"),), wants_gpu=True)


def _cell_stage(family: str, cell: str) -> Stage:
    def run(ctx: Ctx) -> None:
        from experiments.studies.ablation import run_cell
        run_cell(family, cell, ctx.at(paths.search(family)), ctx.prepared, ctx.at(paths.cell(family, cell)),
                 cell_params(ctx, family, cell), ctx.device)
    return Stage(_id("cell", family, cell), run, lambda ctx: cell_params(ctx, family, cell),
                 ("data", _id("search", family)), (paths.out(paths.cell(family, cell) / "cell.json"),))


def _final_stage(family: str) -> Stage:
    def run(ctx: Ctx) -> None:
        from experiments.studies.final import run_final
        run_final(family, _cell_dirs(ctx, family), ctx.prepared, ctx.at(paths.final(family)), _final_params(ctx),
                  ctx.device)
    return Stage(_id("final", family), run, _final_params, ("data", *(_id("cell", family, c) for c in CELLS)),
                 tuple(paths.out(paths.final(family) / f) for f in ("metrics.json", "model.pt", "loss.png", "arch.json")),
                 wants_gpu=True)


def _full_rung_stage(family: str) -> Stage:
    def run(ctx: Ctx) -> None:
        from experiments.studies.ablation import run_full_rung
        run_full_rung(family, _cell_dirs(ctx, family), ctx.at(paths.final(family)), ctx.prepared,
                      ctx.at(paths.full_rung(family)), _full_params(ctx), ctx.device)
    return Stage(_id("full", family), run, _full_params, ("data", _id("final", family)),
                 (paths.out(paths.full_rung(family) / "full.json"),))


def _summary_stage(family: str) -> Stage:
    def run(ctx: Ctx) -> None:
        from experiments.studies.ablation_summary import summarize
        summarize(family, _cell_dirs(ctx, family), ctx.at(paths.full_rung(family)), ctx.prepared.val_y,
                  ctx.at(paths.summary(family)))
    return Stage(_id("summary", family), run, lambda ctx: {}, ("data", _id("full", family)),
                 tuple(paths.out(paths.summary(family) / f) for f in ("summary.json", "ladder.png", "curves.png")))


def _select(ctx: Ctx) -> None:
    from experiments.interpret.stage import run_selection
    run_selection(ctx.results, ctx.prepared, ctx.profile["interpret"])


def _interpret_stage(kind: str, family: str) -> Stage:
    def run(ctx: Ctx) -> None:
        from experiments.interpret import stage
        getattr(stage, f"{kind}_stage")(family, ctx.results, ctx.prepared, ctx.profile["interpret"])
    return Stage(_id(kind, family), run, lambda ctx: ctx.profile["interpret"], ("data", _id("final", family), "select"),
                 (paths.out(paths.interpret(family) / f"{kind}.json"),), wants_gpu=True)


def _measures(ctx: Ctx) -> None:
    from experiments.interpret.measure_stage import measures_stage
    measures_stage(ctx.results, ctx.prepared, ctx.profile["interpret"])


def _measures_params(ctx: Ctx) -> dict:
    return {k: ctx.profile["interpret"][k] for k in ("n_measure", "measure_steps", "random_baselines", "sanity_reinits")}


def _heldout(ctx: Ctx) -> None:
    from experiments.studies.heldout import run_heldout
    run_heldout(ctx.results, ctx.prepared, ctx.test_dir, ctx.device)


def _heldout_params(ctx: Ctx) -> dict:
    from experiments.training.data import data_fingerprint
    # the folder and its files (names, sizes, mtimes), as for the training data
    return {"test": data_fingerprint(ctx.test_dir) if ctx.test_dir else None}


def _report(ctx: Ctx) -> None:
    from experiments.writeup.report import render
    render(ctx.results, ctx.report_dir, ctx.settings)


def _report_params(ctx: Ctx) -> dict:
    from experiments.writeup.settings import settings_digest
    return settings_digest(ctx.settings)


STAGES: list[Stage] = [
    Stage("conv", _conv, lambda ctx: ctx.profile["conv"], (),
          (paths.out(paths.CONV / "tester.json"), paths.out(paths.CONV / "bench.json"))),
    # the notebook imports mytorch in its own kernel, which no import closure sees: mytorch counts as data
    Stage("notebook", _notebook, _notebook_params, (), (paths.out(paths.CONV / "notebook.json"),),
          extra=("mytorch/*.py",)),
    Stage("data", _data, _data_params, (), (paths.out(paths.SPLIT),)),
    Stage("audit", _audit, lambda ctx: ctx.profile["audit"], ("data",),
          (paths.out(paths.AUDIT / "audit.json"), paths.out(paths.AUDIT / "duplicates.png"))),
    *[_search_stage(f) for f in FAMILIES],
    *[_levers_stage(f) for f in FAMILIES],
    *[_cell_stage(f, c) for f in FAMILIES for c in CELLS],
    *[_final_stage(f) for f in FAMILIES],
    *[_full_rung_stage(f) for f in FAMILIES],
    *[_summary_stage(f) for f in FAMILIES],
    Stage("select", _select, lambda ctx: ctx.profile["interpret"], ("data", *[_id("final", f) for f in FAMILIES]),
          (paths.out(paths.SELECTION),), wants_gpu=True),
    *[_interpret_stage(kind, f) for f in FAMILIES for kind in KINDS],
    # both networks at once: the measures compare their maps of the same images
    Stage(_id("measures"), _measures, _measures_params, ("data", *[_id("final", f) for f in FAMILIES]),
          (paths.out(paths.MEASURES), *(paths.out(paths.INTERPRET / f"mean_maps_{k}.png") for k in MAP_KINDS)),
          wants_gpu=True),
    # after every choice: the finals once on a test split none of them saw
    Stage("test", _heldout, _heldout_params, ("data", *[_id("final", f) for f in FAMILIES]), (paths.out(paths.HELDOUT),),
          wants_gpu=True),
]
STAGES.append(Stage("report", _report, _report_params, tuple(s.name for s in STAGES),
                    ("{report}/report.pdf", "{report}/report.html"), extra=("templates/*",)))
