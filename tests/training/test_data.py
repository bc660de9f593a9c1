"""Data loading, caching, the split, augmentation, and the one-line errors for bad data."""
import os

import numpy as np
import pytest
import torch

from experiments.engine.errors import UserError
from experiments.training.data import load_image_folder, load_prepared, prepare_data, stratified_split
from experiments.training.recipe import augment
from tests.imagegen import write_cifar_root, write_image_folder

PARAMS = {"val_size": 50, "seed": 0, "train_limit": None, "val_limit": None}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_cifar_root(tmp_path_factory.mktemp("cifar"), n_train=20, n_test=5)


def test_reads_train_and_test_folders_in_cifar_class_order(root, tmp_path):
    ds = load_image_folder(root, tmp_path)
    assert ds.train_x.shape == (200, 32, 32, 3) and ds.train_x.dtype == np.uint8
    assert ds.test_x.shape == (50, 32, 32, 3)
    assert np.bincount(ds.train_y).tolist() == [20] * 10
    assert ds.classes[0] == "airplane" and ds.classes[-1] == "truck"


def test_second_load_comes_from_the_cache(root, tmp_path, monkeypatch):
    first = load_image_folder(root, tmp_path)
    monkeypatch.setattr("experiments.training.data.decode_images", lambda files: pytest.fail("decoded again"))
    second = load_image_folder(root, tmp_path)
    assert np.array_equal(first.train_x, second.train_x)


def test_split_is_stratified_disjoint_and_fixed_by_seed():
    labels = np.repeat(np.arange(10), 30)
    train, val = stratified_split(labels, 50, seed=3)
    assert np.bincount(labels[val]).tolist() == [5] * 10
    assert not set(train) & set(val) and len(train) + len(val) == 300
    assert np.array_equal(val, stratified_split(labels, 50, seed=3)[1])
    assert not np.array_equal(val, stratified_split(labels, 50, seed=4)[1])


def test_prepared_split_round_trips_with_training_statistics(root, tmp_path):
    rec = prepare_data(str(root), tmp_path / "data", tmp_path / "cache", PARAMS)
    p = load_prepared(tmp_path / "data")
    assert (rec["n_train"], rec["n_val"], rec["n_test"]) == (150, 50, 50)
    assert p.train_x.shape[0] == 150 and p.val_x.shape[0] == 50
    expected = p.train_x.reshape(-1, 3).mean(0) / 255
    assert np.allclose(p.mean, expected, atol=1e-5), "mean comes from the training split only"


def test_missing_folder_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="not found"):
        prepare_data(str(tmp_path / "nope"), tmp_path / "d", tmp_path / "c", PARAMS)


def test_folder_without_class_folders_says_what_layout_was_expected(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "x.png").write_bytes(b"")
    with pytest.raises(UserError, match="expected class folders"):
        load_image_folder(tmp_path / "flat", tmp_path / "cache")


def test_unreadable_image_is_named(tmp_path):
    root = write_image_folder(tmp_path / "train", 2)
    bad = root / "cat" / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(UserError, match="broken.png"):
        load_image_folder(tmp_path, tmp_path / "cache")


def test_classes_that_differ_from_cifar10_are_refused(tmp_path):
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "zebra")
    write_image_folder(tmp_path / "train", 1, classes=classes)
    with pytest.raises(UserError, match="zebra"):
        load_image_folder(tmp_path, tmp_path / "cache")


def test_augment_keeps_shape_and_content_up_to_flip_and_shift():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 32, 32)
    out = augment(x, gen, pad=2)
    assert out.shape == x.shape
    # the centre 28x28 of each output appears in the (possibly flipped) input, shifted by <= 2
    for i in range(4):
        found = any(torch.equal(out[i, :, 2:30, 2:30], v[:, 2 + dy:30 + dy, 2 + dx:30 + dx])
                    for v in (x[i], x[i].flip(2)) for dy in range(-2, 3) for dx in range(-2, 3))
        assert found, f"image {i} is not a flip/translation of its input"


def test_a_moved_results_folder_still_loads_its_split(root, tmp_path):
    """split.json names the decode cache relative to the results folder, not by this machine's path."""
    import json
    import shutil
    results = tmp_path / "results"
    prepare_data(str(root), results / "data", results / "cache", PARAMS)
    assert not json.loads((results / "data" / "split.json").read_text())["cache_file"].startswith("/")
    before = load_prepared(results / "data")
    shutil.move(results, tmp_path / "moved")
    after = load_prepared(tmp_path / "moved" / "data")
    assert np.array_equal(before.train_x, after.train_x) and np.array_equal(before.val_y, after.val_y)


def test_the_same_folder_by_a_relative_or_absolute_path_is_the_same_data(root, monkeypatch):
    """Found rerunning a build made with `--data /work/shared/data/cifar10` without --data (the default
    finds `../shared/data/cifar10`): the fingerprint hashed the walked paths as given, so the data stage
    and everything after it reran."""
    from experiments.training.data import data_fingerprint
    monkeypatch.chdir(root.parent)
    relative = os.path.join(".", root.name)
    assert data_fingerprint(relative) == data_fingerprint(str(root.resolve()))
