"""The held-out test: each final model scored once, after every choice, on a test split that no
choice saw (the architecture, each cell's rate and the best cell were all picked on validation).

The test images are `--test DIR` when given, else the test split the dataset itself provides (a
torchvision download, or an ImageFolder root with test/). Without one, the record says so and the
report says why its validation figure is optimistic. Numbers only: the report computes the
Wilson interval (experiments/stats.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from experiments.core import paths
from experiments.core.names import FAMILIES, final_run
from experiments.engine.io import read_json, write_json
from experiments.studies.evaluate import load_eval_folder, score_run


def test_images(prepared, test_dir: str | None):
    """(images, labels, where they came from), or None when there is no test split."""
    if test_dir:
        images, labels, folder = load_eval_folder(test_dir)
        return images, labels, f"the folder given with --test ({len(labels):,} images)"
    if prepared.test_x is not None and len(prepared.test_x):
        return prepared.test_x, torch.as_tensor(prepared.test_y), f"the dataset's own test split ({prepared.source})"
    return None


def run_heldout(results: Path, prepared, test_dir: str | None, device: str) -> dict:
    """Score `<family>-final` on the test images once; write test/test.json."""
    found = test_images(prepared, test_dir)
    if found is None:
        record = {"available": False, "finals": {}}
    else:
        images, labels, source = found
        record = {"available": True, "source": source,
                  "finals": {f: score_run(Path(results) / paths.final(f), images, labels, device) for f in FAMILIES}}
        for family, row in record["finals"].items():
            print(f"{final_run(family)}: {100 * row['accuracy']:.2f}% on {row['n']:,} held-out test images "
                  f"({row['tta']} TTA)", flush=True)
    record["validation_pair"] = validation_pair(Path(results), prepared)
    write_json(Path(results) / paths.HELDOUT, record)
    return record


def validation_pair(results: Path, prepared) -> dict:
    """The two finals image by image on validation (their recorded predictions): how many images
    only one of them gets right, McNemar's counts for whether one family beats the other."""
    right = {f: np.asarray(read_json(results / paths.final(f) / "metrics.json")["val_pred"]) == np.asarray(prepared.val_y)
             for f in FAMILIES}
    (a, ra), (b, rb) = right.items()
    return {"n": int(len(ra)), "only": {a: int((ra & ~rb).sum()), b: int((rb & ~ra).sum())}}
