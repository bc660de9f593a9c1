"""The lever study on tiny data: one row per lever, each a training run that differs from the
search's reference in exactly that lever."""
import pytest

from experiments.engine.io import read_json
from experiments.studies.levers import LEVERS, run_levers
from experiments.studies.search import run_search
from experiments.training.profiles import load_profile
from tests.imagegen import tiny_prepared


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("levers")
    prepared = tiny_prepared(tmp, n_train=20, val_size=50)
    prof = load_profile("smoke")
    run_search("gap", prepared, tmp / "search", {k: prof[k] for k in ("search", "train", "final", "models")}, "cpu")
    return prepared, tmp


def test_each_lever_is_one_run_that_changes_only_that_lever(searched):
    prepared, tmp = searched
    record = run_levers("gap", tmp / "search", prepared, tmp / "levers", {"run": True, "families": ["gap"]}, "cpu")
    assert [r["lever"] for r in record["levers"]] == [*LEVERS, "tta"]
    ref = read_json(tmp / "levers" / "reference" / "config.json")
    won = read_json(tmp / "search" / "gap-xs" / "config.json")
    assert ref["train"]["seed"] != won["train"]["seed"], "the reference is a fresh-seed run, not the search winner"
    assert {k: v for k, v in ref["train"].items() if k != "seed"} == {k: v for k, v in won["train"].items() if k != "seed"}
    for name, (_, _, model_change, train_change) in LEVERS.items():
        run = read_json(tmp / "levers" / name / "config.json")
        changed_model = {k for k in run["model"] if run["model"][k] != ref["model"].get(k)}
        changed_train = {k for k in run["train"] if run["train"][k] != ref["train"].get(k)}
        assert changed_model <= set(model_change) and changed_train <= set(train_change), name
        assert changed_model or changed_train, f"{name} must differ from the reference"
    row = {r["lever"]: r for r in record["levers"]}
    assert row["dirac"]["change"] == pytest.approx(record["reference"]["val_acc"] - row["dirac"]["val_acc"])


def test_a_profile_without_the_study_says_so(searched, tmp_path):
    prepared, tmp = searched
    record = run_levers("gap", tmp / "search", prepared, tmp_path, {"run": False, "families": ["gap"]}, "cpu")
    assert record["levers"] == [] and "not run" in record["skipped"]


def test_a_variant_that_diverges_is_a_recorded_row(searched, tmp_path, monkeypatch):
    import experiments.studies.levers as levers
    prepared, tmp = searched
    far_too_high = {**levers.LEVERS["muon"][3], "lr": 1e4}
    monkeypatch.setitem(levers.LEVERS, "muon", (*levers.LEVERS["muon"][:3], far_too_high))
    record = run_levers("gap", tmp / "search", prepared, tmp_path, {"run": True, "families": ["gap"]}, "cpu")
    row = {r["lever"]: r for r in record["levers"]}["muon"]
    assert row["diverged"] and row["val_acc"] is None and row["change"] is None


def test_the_head_init_variant_keeps_the_recipes_head_rate(searched):
    from experiments.training.models import build_model
    from experiments.training.recipe import param_groups
    from experiments.training.train import validate_train_config
    _, tmp = searched
    ref, run = (read_json(tmp / d / "config.json") for d in ("search/gap-xs", "levers/small_head"))
    rates = [{g["name"]: g["lr"] for g in param_groups(build_model(c["model"]), validate_train_config(c["train"]))}
             for c in (ref, run)]
    assert rates[0]["head"] == pytest.approx(rates[1]["head"]), "only the init changes"
