"""`invoke evaluate`: accuracy of every trained run on an ImageFolder (a test split, a shifted set).

Training never reads this; it is how a user measures test accuracy or accuracy under
distribution shift (CIFAR-10.1-style sets) after the fact. The finals are scored first and each
printed as soon as it is, then every other run with the time left (on the bf16 CPU, the 51 other
runs of a 45-minute build took ten minutes on the 10,000-image test split).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from experiments.core import paths
from experiments.core.names import FAMILIES, final_run
from experiments.engine.devices import resolve_device
from experiments.engine.errors import UserError
from experiments.engine.io import read_json, write_json
from experiments.engine.pipeline import format_duration
from experiments.training.data import (_folder_layout, decode_images, list_image_folder,
                                       load_image_folder)
from experiments.training.runs import finished_runs, load_model
from experiments.training.scoring import predict, to_tensor_images

FINALS = tuple(final_run(f) for f in FAMILIES)


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


def build_test_split(data_dir: str | Path, results: str | Path) -> tuple | None:
    """(images, labels, folder) of DIR's test split from the decoded cache of the build in
    `results`, when DIR is the data that build read and its content is unchanged; else None."""
    root, results = Path(data_dir), Path(results)
    try:
        built_from = read_json(results / paths.SPLIT).get("data_dir")
    except (OSError, ValueError):
        return None
    if not built_from or not root.is_dir() or Path(built_from) != root.resolve():
        return None
    cached = load_image_folder(root, results / paths.CACHE, decode=False)
    if cached is None or cached.test_x is None:
        return None
    folder = root / "test" if (root / "test").is_dir() else root
    return cached.test_x, torch.as_tensor(cached.test_y), folder


def score_run(run_dir: Path, images, labels: torch.Tensor, device: str = "auto") -> dict:
    """A finished run's accuracy on uint8 images (N, 32, 32, 3), scored as its validation score was:
    with the test-time augmentation and batch size of its own config.
    {"accuracy", "correct", "n", "tta"}."""
    images = to_tensor_images(images, torch.device("cpu"))
    return _score(run_dir, images, labels, resolve_device(device))


def _score(run_dir: Path, images: torch.Tensor, labels: torch.Tensor, dev: torch.device) -> dict:
    """score_run on images already as a uint8 tensor (N, 3, 32, 32)."""
    train = read_json(Path(run_dir) / "config.json")["train"]
    logits = predict(load_model(run_dir, str(dev)), images, dev, train["eval_batch_size"],
                     tta=train["tta"])
    correct = int((logits.argmax(1) == labels).sum())
    return {"accuracy": correct / len(labels), "correct": correct, "n": int(len(labels)),
            "tta": train["tta"]}


def evaluate_folder(data_dir: str, out: str, results: str = "results", device: str = "auto",
                    finals_only: bool = False, say=None) -> dict:
    """Score the finals, then (unless `finals_only`) every other finished run, on DIR's images;
    write {run: score_run's row} to `out` and return it. `say` (print by default) hears each final
    as soon as it is scored, then each other run with the time left."""
    say = say or _say
    images, labels, folder = build_test_split(data_dir, results) or load_eval_folder(data_dir)
    runs = finished_runs(Path(results))
    finals = {name: runs[name] for name in FINALS if name in runs}
    others = {} if finals_only else {n: d for n, d in runs.items() if n not in finals}
    if not finals and not others:
        raise UserError(f"no trained {'final models' if finals_only else 'runs'} under {results}/ "
                        "(run `invoke all` first)")
    say(f"accuracy on {folder} ({len(labels):,} images; each run with the test-time augmentation "
        "its validation score used):")
    tensor, dev = to_tensor_images(images, torch.device("cpu")), resolve_device(device)
    table = {}
    for name, run_dir in finals.items():
        table[name] = _score(run_dir, tensor, labels, dev)
        say(f"  {name:28s} {_row(table[name])}")
    started = time.monotonic()
    for i, (name, run_dir) in enumerate(others.items(), 1):
        table[name] = _score(run_dir, tensor, labels, dev)
        left = (time.monotonic() - started) / i * (len(others) - i)
        say(f"  [{i}/{len(others)}] {name:22s} {_row(table[name])}, "
            f"about {format_duration(left)} left")
    write_json(out, table)
    say(f"wrote {out} ({len(table)} run{'s' if len(table) != 1 else ''})")
    return table


def _row(row: dict) -> str:
    return f"{100 * row['accuracy']:6.2f}%  ({row['tta']} TTA)"


def _say(line: str) -> None:
    print(line, flush=True)
