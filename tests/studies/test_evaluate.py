"""`invoke evaluate`: scores every finished run on a generated folder, the finals first, each said
as it is scored; reads the build's decoded images when the folder is the build's; refuses foreign
classes."""
import json
import shutil

import pytest

import experiments.studies.evaluate as evaluate
from experiments.engine.errors import UserError
from experiments.studies.evaluate import evaluate_folder, load_eval_folder, score_run
from experiments.training.data import prepare_data
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
    train_run("dense-plain-s0", candidate("dense-s", False), TRAIN, data,
              res / "ablation" / "dense-plain" / "s0", "cpu")
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


def test_the_finals_are_said_first_then_each_other_run_with_the_time_left(results, tmp_path):
    root = write_cifar_root(tmp_path / "cifar", n_train=1, n_test=3, seed=7)
    said = []
    evaluate_folder(str(root), str(tmp_path / "out.json"), str(results), "cpu", say=said.append)
    final = next(i for i, line in enumerate(said) if "gap-final" in line)
    other = next(i for i, line in enumerate(said) if "dense-plain-s0" in line)
    assert final < other, "the final before any other run"
    assert "[1/1]" in said[other] and said[other].endswith(" left")


def test_finals_only_scores_and_writes_the_finals_alone(results, tmp_path):
    root = write_cifar_root(tmp_path / "cifar", n_train=1, n_test=3, seed=7)
    table = evaluate_folder(str(root), str(tmp_path / "out.json"), str(results), "cpu",
                            finals_only=True)
    assert list(table) == ["gap-final"]
    assert json.loads((tmp_path / "out.json").read_text()) == table


def test_each_run_scores_as_one_scored_alone(results, tmp_path, pinned_threads):
    """The numbers written are score_run's on the decoded folder (the test stage's function)."""
    root = write_cifar_root(tmp_path / "cifar", n_train=1, n_test=3, seed=7)
    table = evaluate_folder(str(root), str(tmp_path / "out.json"), str(results), "cpu")
    images, labels, _ = load_eval_folder(root)
    runs = {"gap-final": "final/gap-final", "dense-plain-s0": "ablation/dense-plain/s0"}
    for name, run in runs.items():
        assert table[name] == score_run(results / run, images, labels, "cpu"), name


def test_the_builds_own_data_is_read_from_its_decoded_cache(results, tmp_path, monkeypatch,
                                                             pinned_threads):
    root = write_cifar_root(tmp_path / "cifar", n_train=2, n_test=3, seed=7)
    built = tmp_path / "built"  # a build that read `root`: its split and its decoded cache
    prepare_data(str(root), built / "data", built / "cache",
                 {"val_size": 10, "seed": 0, "train_limit": None, "val_limit": None})
    shutil.copytree(results / "final", built / "final")
    copy = shutil.copytree(root, tmp_path / "copy")  # the same images, not the build's folder
    elsewhere = evaluate_folder(str(copy), str(tmp_path / "a.json"), str(built), "cpu")

    def decode(files):
        raise AssertionError("decoded again")
    monkeypatch.setattr(evaluate, "decode_images", decode)
    cached = evaluate_folder(str(root), str(tmp_path / "b.json"), str(built), "cpu")
    assert cached == elsewhere and cached["gap-final"]["n"] == 30
