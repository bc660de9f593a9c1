"""`invoke evaluate`: scores every finished run on a generated folder; refuses foreign classes."""
import json

import pytest

from experiments.engine.errors import UserError
from experiments.studies.evaluate import evaluate_folder
from experiments.training.models import candidate
from experiments.training.train import train_run
from tests.imagegen import TINY_TRAIN as TRAIN
from tests.imagegen import tiny_prepared, write_cifar_root, write_image_folder


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    data = tiny_prepared(tmp, n_train=10, val_size=20)
    res = tmp / "results"
    train_run("gap-final", candidate("gap-s"), TRAIN, data, res / "final" / "gap-final", "cpu")
    train_run("dense-plain-s0", candidate("dense-s", False), TRAIN, data, res / "ablation" / "dense-plain" / "s0", "cpu")
    return res


def test_evaluate_scores_every_run_on_a_test_split(results, tmp_path, capsys):
    root = write_cifar_root(tmp_path / "shifted", n_train=1, n_test=3, seed=7)
    table = evaluate_folder(str(root), str(tmp_path / "out.json"), str(results), "cpu")
    assert set(table) == {"gap-final", "dense-plain-s0"}
    assert all(row["n"] == 30 and 0.0 <= row["accuracy"] <= 1.0 for row in table.values())
    assert json.loads((tmp_path / "out.json").read_text()) == table
    assert "gap-final" in capsys.readouterr().out


def test_evaluate_accepts_a_plain_folder_of_class_folders(results, tmp_path):
    folder = write_image_folder(tmp_path / "plain", 2)
    table = evaluate_folder(str(folder), str(tmp_path / "out.json"), str(results), "cpu")
    assert table["gap-final"]["n"] == 20


def test_evaluate_refuses_a_folder_whose_classes_differ(results, tmp_path):
    classes = ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
    folder = write_image_folder(tmp_path / "foreign", 1, classes=classes)
    with pytest.raises(UserError, match="classes differ from CIFAR-10"):
        evaluate_folder(str(folder), str(tmp_path / "out.json"), str(results), "cpu")


def test_evaluate_without_trained_runs_says_so(tmp_path):
    folder = write_image_folder(tmp_path / "imgs", 1)
    with pytest.raises(UserError, match="no trained runs"):
        evaluate_folder(str(folder), str(tmp_path / "o.json"), str(tmp_path / "empty"), "cpu")


def test_evaluate_names_a_missing_folder(tmp_path):
    with pytest.raises(UserError, match="evaluation folder not found"):
        evaluate_folder(str(tmp_path / "nope"), str(tmp_path / "o.json"), str(tmp_path), "cpu")
