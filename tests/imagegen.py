"""Tiny generated CIFAR-like image folders for tests: learnable, 32x32 RGB PNGs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from experiments.training.data import CIFAR10_CLASSES


def class_images(n_per_class: int, seed: int = 0, classes=CIFAR10_CLASSES) -> list[tuple[str, np.ndarray]]:
    """Each class gets its own colour and stripe orientation plus noise, so a net can learn it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32]
    out = []
    for c, name in enumerate(classes):
        colour = np.array([(37 * c) % 256, (91 * c + 60) % 256, (151 * c + 120) % 256], dtype=np.float64)
        angle = np.pi * c / len(classes)
        stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 0.8)[..., None]
        for _ in range(n_per_class):
            img = colour * (0.6 + 0.3 * stripes) + rng.normal(0, 20, (32, 32, 3))
            out.append((name, np.clip(img, 0, 255).astype(np.uint8)))
    return out


def write_image_folder(root: Path, n_per_class: int, seed: int = 0, classes=CIFAR10_CLASSES) -> Path:
    """Write root/<class>/<i>.png and return root."""
    root = Path(root)
    for i, (name, img) in enumerate(class_images(n_per_class, seed, classes)):
        (root / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / name / f"{i:05d}.png")
    return root


def write_cifar_root(root: Path, n_train: int = 20, n_test: int = 0, seed: int = 0) -> Path:
    """root/train/<class>/*.png (and root/test/ when n_test > 0)."""
    write_image_folder(Path(root) / "train", n_train, seed)
    if n_test:
        write_image_folder(Path(root) / "test", n_test, seed + 1)
    return Path(root)


# A one-epoch training config small enough for tests.
# the earlier plain recipe (Nesterov SGD, random flips, float32 weights): quick to set up on tiny data
TINY_TRAIN = {"epochs": 1, "lr": 0.05, "batch_size": 50, "label_smoothing": 0.2, "weight_decay": 5e-4,
              "momentum": 0.9, "eval_batch_size": 100, "seed": 0, "warmup": 0.2, "optimizer": "sgd",
              "bias_lr_ratio": 1.0, "head_lr_ratio": 1.0, "whiten_bias_epochs": 0, "flip": "random", "tta": "flip",
              "matrix_weights": "float32"}


def tiny_prepared(tmp: Path, n_train: int, val_size: int):
    """A generated CIFAR-like folder, split and loaded as the experiments see it."""
    from experiments.training.data import load_prepared, prepare_data
    root = write_cifar_root(Path(tmp) / "cifar", n_train=n_train)
    prepare_data(str(root), Path(tmp) / "data", Path(tmp) / "cache",
                 {"val_size": val_size, "seed": 0, "train_limit": None, "val_limit": None})
    return load_prepared(Path(tmp) / "data")


def straight_and_resumed(model_cfg: dict, cfg: dict, data, tmp: Path, device: str = "cpu"):
    """The same run twice: uninterrupted in tmp/a, and in tmp/b killed after epoch 2 then rerun.
    Returns (straight metrics, resumed metrics, whether b kept a checkpoint when killed)."""
    import pytest

    from experiments.training.train import train_run
    straight = train_run("r", model_cfg, cfg, data, Path(tmp) / "a", device)

    def interrupt(epoch):
        if epoch == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train_run("r", model_cfg, cfg, data, Path(tmp) / "b", device, on_epoch_end=interrupt)
    kept = (Path(tmp) / "b" / "checkpoint.pt").exists()
    return straight, train_run("r", model_cfg, cfg, data, Path(tmp) / "b", device), kept
