"""`invoke evaluate`: accuracy of every trained run on an ImageFolder (a test split, a shifted set).

Training never reads this; it is how a user measures test accuracy or accuracy under
distribution shift (CIFAR-10.1-style sets) after the fact.
"""
from __future__ import annotations

from pathlib import Path

import torch

from experiments.engine.devices import resolve_device
from experiments.engine.errors import UserError
from experiments.engine.io import read_json, write_json
from experiments.training.data import _folder_layout, decode_images, list_image_folder
from experiments.training.runs import finished_runs, load_model
from experiments.training.scoring import predict, to_tensor_images


def load_eval_folder(data_dir: str | Path) -> tuple:
    """Images and labels of `DIR/test/` when present, else of DIR's class folders."""
    root = Path(data_dir)
    if not root.is_dir():
        raise UserError(f"evaluation folder not found: {root}")
    folder = root / "test" if (root / "test").is_dir() else _folder_layout(root)[0]
    items = list_image_folder(folder)  # refuses classes that differ from CIFAR-10's
    images = decode_images([f for f, _ in items])
    labels = torch.tensor([y for _, y in items])
    return images, labels, folder


def score_run(run_dir: Path, images, labels: torch.Tensor, device: str = "auto") -> dict:
    """A finished run's accuracy on uint8 images (N, 32, 32, 3), scored as its validation score was:
    with the test-time augmentation and batch size of its own config. {"accuracy", "correct", "n", "tta"}."""
    train = read_json(Path(run_dir) / "config.json")["train"]
    dev = resolve_device(device)
    logits = predict(load_model(run_dir, str(dev)), to_tensor_images(images, torch.device("cpu")), dev,
                     train["eval_batch_size"], tta=train["tta"])
    correct = int((logits.argmax(1) == labels).sum())
    return {"accuracy": correct / len(labels), "correct": correct, "n": int(len(labels)), "tta": train["tta"]}


def evaluate_folder(data_dir: str, out: str, results: str = "results", device: str = "auto") -> dict:
    images, labels, folder = load_eval_folder(data_dir)
    runs = finished_runs(Path(results))
    if not runs:
        raise UserError(f"no trained runs under {results}/ (run `invoke all` first)")
    table = {name: score_run(run_dir, images, labels, device) for name, run_dir in runs.items()}
    write_json(out, table)
    print(f"accuracy on {folder} ({len(labels)} images; each run with the test-time augmentation its validation "
          "score used):")
    for name, row in table.items():
        print(f"  {name:28s} {100 * row['accuracy']:6.2f}%  ({row['tta']} TTA)")
    return table
