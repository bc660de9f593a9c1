"""Problem 2's stages end to end on tiny data: search -> four cells -> summary -> final."""
import pytest

from experiments.ablation import CELLS, run_cell, summarize
from experiments.data import load_prepared, prepare_data
from experiments.final import run_final
from experiments.profiles import load_profile
from experiments.search import choose, run_search
from tests.imagegen import write_cifar_root


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("p2")
    root = write_cifar_root(tmp / "cifar", n_train=20)
    prepare_data(str(root), tmp / "data", tmp / "cache", load_profile("smoke")["data"] | {"val_size": 50})
    return load_prepared(tmp / "data")


def test_search_cells_summary_and_final_write_their_records(prepared, tmp_path):
    prof = load_profile("smoke")
    params = {"search": prof["search"], "train": prof["train"], "final": prof["final"]}
    search = run_search("gap", prepared, tmp_path / "search", params, "cpu")
    # (smoke offers one candidate, so which is chosen says nothing; the rule is tested below)
    assert search["candidates"][0]["flops"] > 0 and search["candidates"][0]["projected_final_minutes"] >= 0
    assert search["final_budget"] == {"epochs": prof["final"]["epochs"], "n_train": len(prepared.train_y),
                                      "max_minutes": prof["final"]["max_minutes"]}
    cell_dirs = {}
    for cell in CELLS:
        rec = run_cell("gap", cell, tmp_path / "search", prepared, tmp_path / cell,
                       {"ablation": prof["ablation"], "train": prof["train"]}, "cpu")
        assert len(rec["val_acc"]) == len(prof["ablation"]["seeds"]) and rec["lr"] in prof["ablation"]["lr_grid"]
        cell_dirs[cell] = tmp_path / cell
    summary = summarize("gap", cell_dirs, tmp_path / "summary")
    assert set(summary["effects"]) == {"bn_effect", "dropout_effect", "interaction"}
    assert (tmp_path / "summary" / "curves.png").exists()
    final = run_final("gap", tmp_path / "summary", prepared, tmp_path / "final", params, "cpu",
                      search_dir=tmp_path / "search")
    assert final["run"] == "gap-final" and final["train"]["lr"] == prof["search"]["lr"]
    assert (tmp_path / "final" / "loss.png").exists() and (tmp_path / "final" / "arch.json").exists()


def test_search_rule_takes_the_most_accurate_model_that_fits_the_budget():
    rows = [{"name": "s", "val_acc": 0.80, "flops": 1, "projected_final_minutes": 5},
            {"name": "m", "val_acc": 0.805, "flops": 2, "projected_final_minutes": 10},
            {"name": "l", "val_acc": 0.90, "flops": 3, "projected_final_minutes": 40}]
    assert choose(rows, max_minutes=15) == "m", "l does not fit the budget; m is the most accurate that does"
    assert choose(rows, max_minutes=60) == "l"
    assert choose(rows, max_minutes=1) == "s", "when nothing fits, the fastest"
