"""Problem 2's stages end to end on tiny data: search -> four cells on a rung -> final -> the full
split's rung -> summary."""
import pytest

from experiments.build.overrides import user_models
from experiments.core.names import CELLS, twins
from experiments.engine.errors import UserError
from experiments.studies.ablation import run_cell
from experiments.studies.ablation_summary import summarize
from experiments.studies.final import run_final
from experiments.studies.search import choose, run_search
from experiments.training.data import load_prepared, prepare_data
from experiments.training.profiles import load_profile
from tests.imagegen import write_cifar_root


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("p2")
    root = write_cifar_root(tmp / "cifar", n_train=20)
    prepare_data(str(root), tmp / "data", tmp / "cache", load_profile("smoke")["data"] | {"val_size": 50})
    return load_prepared(tmp / "data")


def test_the_ladder_runs_every_cell_in_the_finals_regime_and_reuses_the_final(prepared, tmp_path):
    """search -> four cells on a small rung -> final (the best cell on the full split) -> the other
    cells on the full split -> summary; every run's recorded config is the final's but for the
    cell's switches, its rate, the seed and the number of images."""
    import json

    from experiments.studies.ablation import run_full_rung
    prof = load_profile("smoke")
    params = {"search": prof["search"], "train": prof["train"], "final": prof["final"], "models": prof["models"]}
    search = run_search("gap", prepared, tmp_path / "search", params, "cpu")
    # (smoke offers one candidate, so which is chosen says nothing; the rule is tested below)
    assert search["candidates"][0]["flops"] > 0 and search["candidates"][0]["projected_final_minutes"] >= 0
    assert search["final_budget"] == {"epochs": prof["final"]["epochs"], "n_train": len(prepared.train_y),
                                      "max_minutes": prof["final"]["max_minutes"]}
    ablation = {**prof["ablation"], "rungs": [60], "seeds": [0, 1]}
    cell_params = {"ablation": ablation, "train": prof["train"], "final": prof["final"]}
    cell_dirs = {cell: tmp_path / cell for cell in CELLS}
    extra_rates = 0
    for cell in CELLS:
        rec = run_cell("gap", cell, tmp_path / "search", prepared, cell_dirs[cell], cell_params, "cpu")
        [rung] = rec["rungs"]
        assert ablation["tune_seed"] not in rung["seeds"], "scored runs are fresh, not the tuning's winner"
        tried = [row["lr"] for row in rec["tuning"]]
        assert rung["n_train"] == 60 and len(rung["val_acc"]) == 2 and rec["lr"] in tried
        assert tried[:len(ablation["lr_grid"])] == ablation["lr_grid"]
        assert len(tried) <= len(ablation["lr_grid"]) + ablation["lr_walk"]
        extra_rates += len(tried)  # tuning runs at tune_seed: none of them is scored
    final = run_final("gap", cell_dirs, prepared, tmp_path / "final", cell_params, "cpu")
    full = run_full_rung("gap", cell_dirs, tmp_path / "final", prepared, tmp_path / "full", cell_params, "cpu")
    best = json.loads((tmp_path / "final" / "arch.json").read_text())["cell"]
    assert full["best"] == best and full["cells"][best]["val_acc"][0] == final["val_acc"], "the final is reused"
    # the final's cell gets final_seeds on the full split, its twins twin_seeds, the fourth cell full_seeds
    seeds = {c: r["seeds"] for c, r in full["cells"].items()}
    pair = set(twins(best).values())
    assert seeds[best] == ablation["final_seeds"] and all(seeds[c] == ablation["twin_seeds"] for c in pair)
    assert all(seeds[c] == ablation["full_seeds"] for c in CELLS if c not in pair | {best})
    assert not (tmp_path / "full" / f"gap-{best}-n{len(prepared.train_y)}-s0-lr{final['train']['lr']:g}").exists()

    configs = [json.loads(p.read_text()) for p in tmp_path.rglob("config.json") if "search" not in p.parts]
    n_full = len(ablation["final_seeds"]) + 2 * len(ablation["twin_seeds"]) + len(ablation["full_seeds"])
    assert len(configs) == extra_rates + 4 * 2 + n_full, "tuning's extra rates, 2 seeds a cell, the full split's runs"
    final_cfg = json.loads((tmp_path / "final" / "config.json").read_text())
    allowed = {"lr", "seed"}
    for cfg in configs:
        assert {k: v for k, v in cfg["train"].items() if k not in allowed} == \
            {k: v for k, v in final_cfg["train"].items() if k not in allowed}, cfg["run"]
        assert {k: v for k, v in cfg["model"].items() if k not in ("batchnorm", "dropout")} == \
            {k: v for k, v in final_cfg["model"].items() if k not in ("batchnorm", "dropout")}, cfg["run"]
        assert cfg["code"] == final_cfg["code"]
    assert {c["n_train"] for c in configs} == {60, len(prepared.train_y)}

    summary = summarize("gap", cell_dirs, tmp_path / "full", prepared.val_y, tmp_path / "summary")
    assert [r["n_train"] for r in summary["rungs"]] == [60, len(prepared.train_y)]
    assert [r["effects"]["bn_effect"]["unit"] for r in summary["rungs"]] == ["seed", "image"]
    assert summary["rungs"][1]["effects"]["bn_effect"]["n"] == len(prepared.val_y)
    in_final = summary["rungs"][1]["effects"]
    assert in_final["dropout_in_final"]["unit"] == in_final["bn_in_final"]["unit"] == "seed", \
        "each twin shares two seeds with the final's cell: paired per seed"
    for name in ("ladder.png", "curves.png", "summary.json"):
        assert (tmp_path / "summary" / name).exists()
    assert (tmp_path / "final" / "loss.png").exists() and (tmp_path / "final" / "arch.json").exists()
    assert summary["curves_n_train"] == len(prepared.train_y), "every cell trained on the full split"

    # a profile that trains only the final on the full split (quick): nothing new trains, the 2x2 is
    # read on the small rung, and the curves are the small rung's
    only_final = {**cell_params, "ablation": {**ablation, "full_seeds": [], "final_seeds": [0], "twin_seeds": []}}
    full = run_full_rung("gap", cell_dirs, tmp_path / "final", prepared, tmp_path / "full1", only_final, "cpu")
    assert list(full["cells"]) == [best] and full["cells"][best]["val_acc"] == [final["val_acc"]]
    assert not any(p.name == "config.json" for p in (tmp_path / "full1").rglob("*"))
    summary = summarize("gap", cell_dirs, tmp_path / "full1", prepared.val_y, tmp_path / "summary1")
    assert summary["rungs"][1]["effects"] == {} and [c["cell"] for c in summary["rungs"][1]["cells"]] == [best]
    assert summary["curves_n_train"] == 60 and (tmp_path / "summary1" / "ladder.png").exists()
    # the final model is final_seeds' first run, also where no other cell trains on the full split
    alone = {**cell_params, "ablation": {**ablation, "full_seeds": [], "final_seeds": [7], "twin_seeds": []}}
    assert run_final("gap", cell_dirs, prepared, tmp_path / "final7", alone, "cpu")["train"]["seed"] == 7


def test_a_rung_at_or_above_the_full_split_is_one_clear_message():
    from experiments.engine.errors import UserError
    from experiments.studies.ablation import small_rungs
    assert small_rungs([4000, 1000], 45000) == [1000, 4000]
    for bad in ([45000], [], [0]):
        with pytest.raises(UserError, match="ablation.rungs"):
            small_rungs(bad, 45000)


def test_search_rule_takes_the_most_accurate_model_that_fits_the_budget():
    rows = [{"name": "s", "val_acc": 0.80, "flops": 1, "projected_final_minutes": 5},
            {"name": "m", "val_acc": 0.805, "flops": 2, "projected_final_minutes": 10},
            {"name": "l", "val_acc": 0.90, "flops": 3, "projected_final_minutes": 40}]
    assert choose(rows, max_minutes=15) == "m", "l does not fit the budget; m is the most accurate that does"
    assert choose(rows, max_minutes=60) == "l"
    assert choose(rows, max_minutes=1) == "s", "when nothing fits, the fastest"


def test_a_diverged_candidate_is_never_chosen_however_fast():
    rows = [{"name": "s", "val_acc": 0.80, "flops": 1, "projected_final_minutes": 5},
            {"name": "mine", "val_acc": None, "diverged": True, "flops": 1, "projected_final_minutes": 1}]
    assert choose(rows, max_minutes=15) == "s"
    assert choose(rows, max_minutes=0.5) == "s", "nothing fits: the fastest that did not diverge"


def _diverging(name_part: str):
    """train_run that diverges for the run whose name holds `name_part`, as a too-high rate does."""
    from experiments.training.train import Diverged, train_run

    def fake(name, *args, **kwargs):
        if name_part in name:
            raise Diverged(f"run {name} diverged in epoch 1: validation loss 1.9e+06 (limit 2302.6)")
        return train_run(name, *args, **kwargs)
    return fake


def test_a_user_architecture_that_diverges_is_recorded_as_diverged_with_its_rate(prepared, tmp_path, monkeypatch):
    from experiments.studies import search as search_module
    monkeypatch.setattr(search_module, "train_run", _diverging("mine"))
    prof = load_profile("smoke")
    params = {"search": {**prof["search"], "candidates": {"gap": ["gap-s", "mine"]}}, "train": prof["train"],
              "final": prof["final"], "models": user_models({"mine": {"family": "gap", "widths": [8, 16]}}, "test")}
    record = run_search("gap", prepared, tmp_path, params, "cpu")
    rows = {r["name"]: r for r in record["candidates"]}
    assert rows["mine"]["diverged"] and rows["mine"]["val_acc"] is None and rows["mine"]["trained"]
    assert rows["mine"]["lr"] == prof["search"]["lr"] and "validation loss" in rows["mine"]["divergence"]
    assert not rows["gap-s"]["diverged"] and record["chosen"] == "gap-s"


def test_a_search_where_every_candidate_diverges_is_one_clear_error(prepared, tmp_path, monkeypatch):
    from experiments.studies import search as search_module
    monkeypatch.setattr(search_module, "train_run", _diverging("search-"))
    prof = load_profile("smoke")
    params = {"search": prof["search"], "train": prof["train"], "final": prof["final"], "models": prof["models"]}
    with pytest.raises(UserError, match=r"every candidate trained .* diverged .* lower search.lr") as err:
        run_search("gap", prepared, tmp_path, params, "cpu")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("probed, trained, chosen", [
    ({"gap-s": 0.001, "gap-m": 10.0}, {"gap-s"}, "gap-s"),          # m projects past the budget: not trained
    ({"gap-s": 10.0, "gap-m": 20.0}, {"gap-s"}, "gap-s"),           # none fits: only the fastest is trained
])
def test_a_candidate_the_probe_projects_past_the_budget_is_not_trained(prepared, tmp_path, monkeypatch, probed,
                                                                       trained, chosen):
    from experiments.studies import search as search_module
    prof = load_profile("smoke")
    n_final = len(prepared.train_y) * prof["final"]["epochs"]
    monkeypatch.setattr(search_module, "probe_minutes",
                        lambda model_cfg, *a: probed[f"gap-{ {32: 's', 64: 'm'}[model_cfg['widths'][0]] }"] / n_final)
    params = {"search": {**prof["search"], "candidates": {"gap": ["gap-s", "gap-m"]}}, "train": prof["train"],
              "final": {**prof["final"], "max_minutes": 1.0}}
    record = run_search("gap", prepared, tmp_path, params, "cpu")
    rows = {r["name"]: r for r in record["candidates"]}
    assert {n for n, r in rows.items() if r["trained"]} == trained and record["chosen"] == chosen
    for name, row in rows.items():
        assert (row["val_acc"] is None) == (name not in trained) and (tmp_path / name).exists() == (name in trained)
        if name not in trained:
            assert row["projected_final_minutes"] == pytest.approx(probed[name], abs=0.05)


def test_the_probe_stops_once_its_steps_already_put_the_mean_past_the_budget(prepared, monkeypatch):
    """Each step takes one tick of a fake clock: the mean of PROBE_STEPS is past `past` after k timed
    steps once k / PROBE_STEPS ticks are, whatever the later steps take."""
    import time

    from experiments.engine.threads import cores_alone
    from experiments.studies import search as search_module
    from experiments.training import steps as train_module
    from experiments.training.models import candidate
    calls, tick = [], [0.0]
    monkeypatch.setattr(train_module, "train_step", lambda *a, **k: (calls.append(1), tick.__setitem__(0, tick[0] + 1)))
    monkeypatch.setattr(time, "process_time", lambda: tick[0])
    cfg = {**load_profile("smoke")["train"], "epochs": 1, "lr": 0.1, "seed": 0}
    step = 1 / cores_alone() / min(cfg["batch_size"], len(prepared.train_y)) / 60  # minutes per image of a tick
    steps = search_module.PROBE_STEPS
    for past, timed in [(float("inf"), steps), (0.0, 1), (step * 1.5 / steps, 2), (step, steps)]:
        calls.clear()
        minutes = search_module.probe_minutes(candidate("gap-s"), cfg, prepared, "cpu", past)
        assert len(calls) == 1 + timed, f"past={past}: one untimed step, then {timed} timed"
        assert minutes == pytest.approx(step), "the mean of the steps timed"
        assert (minutes > past) == (step > past), "the verdict of the whole probe"
