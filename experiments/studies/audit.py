"""Problem 6's evidence: an audit of the data actually used.

Class balance per split; exact duplicates (identical bytes) and near-duplicates (cosine
similarity of mean-centred 8x8 grey thumbnails above a stated threshold) between train and
validation, within train, and against test when a test split is present; image statistics;
provenance.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from experiments.engine.io import save_figure, write_json

THUMB = 8  # thumbnails of 8x8 grey pixels: robust to noise and re-encoding, cheap to compare
# CIFAR-10's training set as published (Krizhevsky 2009): 5,000 images per class, and the
# per-channel pixel mean every CIFAR-10 recipe normalises with. Data that matches both is
# called CIFAR-10 in the report; anything else is named only by its format and fingerprint.
CIFAR10_TRAIN_PER_CLASS = 5000
CIFAR10_TRAIN_MEAN = (0.4914, 0.4822, 0.4465)
MEAN_TOLERANCE = 0.002
CIFAR10_ORIGIN = ("CIFAR-10 (Krizhevsky 2009), a labelled subset of the 80 Million Tiny Images collection, "
                  "which its creators withdrew in 2020")


def thumbnails(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 32, 32, 3) -> float32 (N, 64), mean-centred and unit length."""
    grey = images.astype(np.float32).mean(axis=3)
    f = 32 // THUMB
    small = grey.reshape(len(grey), THUMB, f, THUMB, f).mean(axis=(2, 4)).reshape(len(grey), -1)
    small -= small.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(small, axis=1, keepdims=True)
    return small / np.where(norms > 0, norms, 1.0)


def nearest(query: np.ndarray, base: np.ndarray, exclude_self: bool = False, chunk: int = 2048):
    """For each query row: (best cosine similarity, index into base), by chunked products."""
    best_sim = np.full(len(query), -np.inf, dtype=np.float32)
    best_idx = np.zeros(len(query), dtype=np.int64)
    for start in range(0, len(query), chunk):
        sims = query[start:start + chunk] @ base.T
        if exclude_self:
            rows = np.arange(sims.shape[0])
            sims[rows, start + rows] = -np.inf
        best_idx[start:start + chunk] = sims.argmax(1)
        best_sim[start:start + chunk] = sims.max(1)
    return best_sim, best_idx


def exact_duplicates(a: np.ndarray, b: np.ndarray | None = None) -> int:
    """Images of `a` whose bytes also occur in `b` (or elsewhere in `a` when b is None)."""
    digest = lambda x: hashlib.sha1(x.tobytes()).hexdigest()
    ha = [digest(x) for x in a]
    if b is None:
        seen, dup = set(), 0
        for h in ha:
            dup += h in seen
            seen.add(h)
        return dup
    hb = {digest(x) for x in b}
    return sum(h in hb for h in ha)


def compare(name: str, query: np.ndarray, base: np.ndarray, threshold: float, within: bool = False) -> dict:
    sim, idx = nearest(thumbnails(query), thumbnails(base), exclude_self=within)
    near = sim >= threshold
    return {"pair": name, "n_query": int(len(query)), "n_base": int(len(base)),
            "exact": exact_duplicates(query, None if within else base),
            "near": int(near.sum()), "near_rate": float(near.mean()) if len(query) else 0.0,
            "_sim": sim, "_idx": idx}


def identify(per_class: list[int], pixel_mean: list[float]) -> dict:
    """Is this the published CIFAR-10 training set? Decided from the images per class (training
    plus validation split) and their per-channel mean; returns the verdict and its evidence."""
    mean_gap = float(np.max(np.abs(np.asarray(pixel_mean) - CIFAR10_TRAIN_MEAN)))
    counts_match = list(per_class) == [CIFAR10_TRAIN_PER_CLASS] * 10
    is_cifar10 = counts_match and mean_gap <= MEAN_TOLERANCE
    spread = (f"{min(per_class):,} per class" if min(per_class) == max(per_class)
              else f"{min(per_class):,} to {max(per_class):,} per class")
    within = "equal to" if mean_gap < 5e-5 else f"within {mean_gap:.4f} of"
    evidence = (f"{sum(per_class):,} images, {spread} (CIFAR-10: {CIFAR10_TRAIN_PER_CLASS:,} each); per-channel "
                f"mean {within} CIFAR-10's (to {MEAN_TOLERANCE})")
    return {"is_cifar10": is_cifar10, "evidence": evidence, "origin": CIFAR10_ORIGIN if is_cifar10 else None}


def run_audit(prepared, out_dir: Path, params: dict) -> dict:
    thr = params["near_dup_threshold"]
    counts = {"train": np.bincount(prepared.train_y, minlength=10).tolist(),
              "val": np.bincount(prepared.val_y, minlength=10).tolist()}
    comparisons = [compare("validation vs train", prepared.val_x, prepared.train_x, thr)]
    if prepared.test_x is not None:
        counts["test"] = np.bincount(prepared.test_y, minlength=10).tolist()
        comparisons.append(compare("test vs train", prepared.test_x, prepared.train_x, thr))
    comparisons.append(compare("within train", prepared.train_x, prepared.train_x, thr, within=True))
    pixels = prepared.train_x.reshape(-1, 3) / 255.0
    record = {
        "classes": list(prepared.classes), "counts": counts,
        "balance": {split: {"min": min(c), "max": max(c), "ratio": max(c) / max(1, min(c))} for split, c in counts.items()},
        "threshold": thr, "method": f"cosine similarity of mean-centred {THUMB}x{THUMB} grey thumbnails",
        "duplicates": [{k: v for k, v in c.items() if not k.startswith("_")} for c in comparisons],
        "pixel_mean": pixels.mean(0).round(4).tolist(), "pixel_std": pixels.std(0).round(4).tolist(),
        "provenance": {"source": prepared.source, "fingerprint": prepared.fingerprint,
                       "n_train": int(len(prepared.train_y)), "n_val": int(len(prepared.val_y)),
                       "n_test": int(0 if prepared.test_y is None else len(prepared.test_y)),
                       **identify(np.add(counts["train"], counts["val"]).tolist(), _pixel_mean(prepared))},
    }
    plot_pairs(comparisons[0], prepared.val_x, prepared.train_x, prepared.classes, prepared.val_y,
               prepared.train_y, params["n_examples"], Path(out_dir) / "duplicates.png")
    write_json(Path(out_dir) / "audit.json", record)
    return record


def _pixel_mean(prepared) -> list[float]:
    """Per-channel mean over the training and validation images, in [0, 1]."""
    sums = sum(x.reshape(-1, 3).sum(0, dtype=np.float64) for x in (prepared.train_x, prepared.val_x))
    n = (prepared.train_x.size + prepared.val_x.size) // 3
    return (sums / n / 255.0).tolist()


def plot_pairs(comp: dict, query, base, classes, qy, by, n: int, path: Path) -> None:
    """The most similar validation/train pairs side by side, with their similarity."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(-comp["_sim"])[:n]
    fig, axes = plt.subplots(2, max(1, len(order)), figsize=(7.2, 2.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for c, q in enumerate(order):
        b = comp["_idx"][q]
        axes[0, c].imshow(query[q])
        axes[0, c].set_title(f"val: {classes[qy[q]]}\nsim {comp['_sim'][q]:.3f}", fontsize=6.5)
        axes[1, c].imshow(base[b])
        axes[1, c].set_title(f"train: {classes[by[b]]}", fontsize=6.5)
    fig.suptitle("Most similar validation / training pairs", fontsize=9, y=1.04)
    save_figure(fig, path)
