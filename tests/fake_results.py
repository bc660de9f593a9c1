"""A complete, realistic results folder written by hand (docs/CONTRACT.md's schemas), so the report
can be rendered and checked without training anything. Numbers are plausible, figures are plain
PNGs of realistic sizes with a label on them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from experiments.engine.io import write_json
from experiments.studies.audit import identify

# What experiments.engine.provenance.collect records with each stage (distinctive values a test can find).
PROVENANCE = {"commit": "abc1234", "dirty": False, "versions": {"python": "3.11.7", "torch": "2.14.1",
              "torchvision": "0.29.1", "numpy": "2.4.6"}, "cpu": "Example CPU @ 2.00GHz", "cpu_flags": "AVX2 FMA", "cpu_count": 2,
              "threads": 2, "device": "cpu", "gpu": None, "precision": "bfloat16"}
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CELLS = {"plain": (False, 0.0), "bn": (True, 0.0), "dropout": (False, 1.0), "bn-dropout": (True, 1.0)}
TRAIN = {"epochs": 8, "lr": 0.24, "seed": 0, "batch_size": 2000, "label_smoothing": 0.2, "weight_decay": 0.004,
         "momentum": 0.85, "eval_batch_size": 2000, "warmup": 0.0, "optimizer": "muon", "muon_momentum": 0.6,
         "bias_lr_ratio": 0.22, "head_lr_ratio": 2.79, "whiten_bias_epochs": 3, "flip": "alternate",
         "tta": "flip-translate", "matrix_weights": "low", "translate": 2, "epoch_val_limit": 1000}


def png(path: Path, width: int, height: int, label: str, seed: int = 0) -> None:
    """A smooth coloured picture with its label written on it (stands in for a matplotlib figure)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    base = np.stack([np.sin(6 * xx + rng.uniform(0, 6)), np.cos(5 * yy + rng.uniform(0, 6)), xx * yy], -1)
    img = Image.fromarray((127 + 100 * base).clip(0, 255).astype(np.uint8))
    ImageDraw.Draw(img).text((10, 10), label, fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def model_cfg(family: str, bn: bool = True, dropout: float = 0.0) -> dict:
    cfg = {"family": family, "widths": [64, 256, 256], "stem": "whiten", "bn_frozen_scale": True, "dirac": True,
           "head_init": "small", "batchnorm": bn, "dropout": dropout}
    return cfg | ({"hidden": 512} if family == "dense" else {})


def arch(family: str) -> dict:
    layers = [("Conv2d", "3->32, 3x3, pad 1", [32, 32, 32], 864, 1769472), ("BatchNorm2d", "32", [32, 32, 32], 64, 0),
              ("ReLU", "", [32, 32, 32], 0, 0), ("Conv2d", "32->64, 3x3, pad 1", [64, 32, 32], 18432, 37748736),
              ("MaxPool2d", "2", [64, 16, 16], 0, 0), ("BatchNorm2d", "64", [64, 16, 16], 128, 0),
              ("ReLU", "", [64, 16, 16], 0, 0), ("Conv2d", "64->128, 3x3, pad 1", [128, 16, 16], 73728, 37748736),
              ("MaxPool2d", "2", [128, 8, 8], 0, 0), ("ReLU", "", [128, 8, 8], 0, 0),
              ("Conv2d", "128->256, 3x3, pad 1", [256, 8, 8], 294912, 37748736), ("MaxPool2d", "2", [256, 4, 4], 0, 0)]
    if family == "dense":
        layers += [("Flatten", "", [4096], 0, 0), ("Linear", "4096->512", [512], 2097664, 4194304),
                   ("ReLU", "", [512], 0, 0), ("Dropout", "p=0.5", [512], 0, 0), ("Linear", "512->10", [10], 5130, 10240)]
    else:
        layers += [("AdaptiveAvgPool2d", "1", [256, 1, 1], 0, 0), ("Flatten", "", [256], 0, 0),
                   ("Linear", "256->10", [10], 2570, 5120)]
    rows = [{"layer": n, "detail": d, "output": o, "params": p, "flops": f} for n, d, o, p, f in layers]
    return {"family": family, "cell": "bn-dropout" if family == "dense" else "bn", "model": model_cfg(family),
            "layers": rows, "params": sum(r["params"] for r in rows), "flops": sum(r["flops"] for r in rows)}


def metrics(family: str, acc: float) -> dict:
    hist = [{"epoch": e, "train_loss": 2.0 - 0.1 * e, "train_acc": 0.4 + 0.04 * e, "val_loss": 1.9 - 0.09 * e,
             "val_acc": acc - 0.3 + 0.03 * e, "lr": 0.2, "seconds": 60.0 + e} for e in range(1, 12)]
    return {"run": f"{family}-final", "family": family, "model": model_cfg(family), "train": TRAIN, "history": hist,
            "val_acc": acc, "val_loss": 0.61, "val_acc_no_tta": acc - 0.008, "epochs": 11, "seconds": 720.5,
            "cpu_seconds": 1400.0, "params": 1168042, "flops": 174789632, "device": "cpu", "precision": "bfloat16"}


def search(family: str) -> dict:
    rows = [{"name": f"{family}-{s}", "model": model_cfg(family) | {"widths": w}, "val_acc": a, "params": p,
             "flops": f, "seconds": t, "projected_final_minutes": m}
            for s, w, a, p, f, t, m in [("s", [32, 64, 128], 0.6736, 296642, 50874880, 56.5, 5.7),
                                        ("m", [64, 128, 256], 0.7332, 1168042, 174789632, 139.0, 14.0),
                                        ("l", [96, 192, 384], 0.7554, 2622970, 389586432, 293.1, 29.6)]]
    return {"family": family, "budget": {"epochs": 4, "n_train": 20000, "lr": 0.2, "seeds": [0]},
            "final_budget": {"epochs": 11, "n_train": 45000, "max_minutes": 15}, "candidates": rows,
            "chosen": f"{family}-m", "rule": "the most accurate candidate (fewer FLOPs breaking a tie) whose projected "
            "final training (11 epochs on 45000 images) fits 15 minutes at the measured speed; if none fits, the fastest"}


def summary(family: str, acc: dict | None = None, halvings: dict | None = None) -> dict:
    """summary.json of a two-rung ladder: 4,000 images from per-seed accuracies per cell (default:
    BN +5 points, dropout -1, noise 0.8 points over 3 seeds; effects by the ablation's own code),
    then the full split, one seed, with effects paired over 5,000 validation images."""
    from experiments.studies.ablation_summary import factorial
    if acc is None:
        rng = np.random.default_rng(len(family))
        acc = {name: (0.52 + 0.05 * bn - 0.01 * drop + rng.normal(0, 0.008, 3)).round(4).tolist()
               for name, (bn, drop) in CELLS.items()}
    halvings = halvings or {"plain": [0, 1, 0]}
    n_seeds = len(acc["plain"])
    arrays = {name: np.array(a, dtype=float) for name, a in acc.items()}  # None -> NaN
    effects = {}
    for key, per_seed in factorial(arrays).items():
        ok = per_seed[np.isfinite(per_seed)]
        effects[key] = {"unit": "seed", "n": int(len(ok)), "mean": float(ok.mean()) if len(ok) else None,
                        "sd": float(ok.std(ddof=1)) if len(ok) > 1 else None,
                        "per_seed": [float(v) if np.isfinite(v) else None for v in per_seed]}
    small = [{"cell": name, "val_acc": acc[name], "seeds": list(range(n_seeds)),
              "seed_range": float(np.nanmax(arrays[name]) - np.nanmin(arrays[name]))
              if np.isfinite(arrays[name]).sum() > 1 else None,
              "mean": float(np.nanmean(arrays[name])) if np.isfinite(arrays[name]).any() else None,
              "sd": float(np.nanstd(arrays[name], ddof=1)) if np.isfinite(arrays[name]).sum() > 1 else None,
              "train_acc": [0.6] * n_seeds, "fit_gap": [0.03 + 0.01 * (1 - drop)] * n_seeds,
              "lr_halvings": halvings.get(name, [0] * n_seeds), "diverged": [a is None for a in acc[name]]}
             for name, (bn, drop) in CELLS.items()]
    full = [{"cell": name, "val_acc": [0.88 + 0.04 * bn - 0.003 * drop], "seeds": [0], "seed_range": None,
             "mean": 0.88 + 0.04 * bn - 0.003 * drop,
             "sd": 0.0, "train_acc": [0.97], "fit_gap": [0.06 - 0.02 * drop], "lr_halvings": [0], "diverged": [False]}
            for name, (bn, drop) in CELLS.items()]
    image_effects = {"bn_effect": (0.04, 0.21), "dropout_effect": (-0.003, 0.12), "interaction": (0.001, 0.2)}
    cells = [{"cell": name, "batchnorm": bn, "dropout": 0.5 * drop, "lr": 0.24 if bn else 0.12}
             for name, (bn, drop) in CELLS.items()]
    best = max(small, key=lambda c: c["mean"] if c["mean"] is not None else -1)
    return {"family": family, "cells": cells, "best": {"cell": best["cell"]},
            "rungs": [{"n_train": 4000, "seeds": list(range(n_seeds)), "cells": small, "effects": effects},
                      {"n_train": 45000, "seeds": [0], "cells": full,
                       "effects": {k: {"unit": "image", "n": 5000, "mean": m, "sd": sd, "per_seed": []}
                                   for k, (m, sd) in image_effects.items()}}],
            "lr_rule": "best validation accuracy of the whole recipe on 4,000 images, seed 0", "lr_grid": [0.12, 0.24], "lr_walk": 2,
            "tuning": {name: [{"lr": lr, "val_acc": 0.5, "diverged": False, "seconds": 40.0} for lr in (0.12, 0.24)]
                       for name in CELLS},
            "train": TRAIN, "curves_n_train": 45000}


def maps_record(kind: str, family: str) -> dict:
    method = {"cam": "CAM" if family == "gap" else "HiResCAM", "saliency": "guided backpropagation"}[kind]
    blank = [False] * 11 + [kind == "cam"]  # one blank CAM map among those shown
    m = {"method": method, "n_images": 12, "explained_class": "predicted", "blank_maps": sum(blank),
         "blank_per_image": blank}
    return {"family": family, "method": method, "caption": f"{method} maps over the image.", "metrics": m,
            "images": list(range(12))}


def write_interpret(root: Path, family: str) -> None:
    out = root / "interpret" / family
    layers = []
    # gap-m's shown layers; the pictures have the sizes the stage draws for them (half or full text width)
    half, full = {"rows": 3, "cols": 8, "width": "half"}, {"rows": 8, "cols": 32, "width": "full"}
    for n, ch, size, maps, filters, shape in [(1, 24, [31, 31], half, {"rows": 2, "cols": 16, "width": "half"},
                                               ((690, 388), (690, 181))),
                                              (4, 256, [7, 7], full, full, ((1410, 488), (1410, 415))),
                                              (7, 256, [3, 3], full, full, ((1410, 488), (1410, 415)))]:
        layers.append({"layer": n, "learned": n > 1, "channels": ch, "channels_shown": ch,
                       "kernel": [2, 2] if n == 1 else [3, 3], "map_size": size, "maps_taken": "after ReLU",
                       "scale_rule": "each channel is min-max scaled on its own", "constant_channels": 3 * (n == 7),
                       "filter_rule": "RGB" if n == 1 else "channel 0", "maps_layout": maps, "filters_layout": filters,
                       "feature_maps": f"feature_maps_{n}.png", "filters": f"filters_{n}.png",
                       "change": None if n == 1 else
                       {"changed": 250 - 100 * (n == 7), "of": ch, "median_change": 0.6, "threshold": 0.1}})
        png(out / f"feature_maps_{n}.png", *shape[0], f"{family} feature maps {n}", n)
        png(out / f"filters_{n}.png", *shape[1], f"{family} filters {n}", n + 10)
    write_json(out / "features.json", {"family": family, "image_index": 17, "layers": layers, "n_conv_layers": 7})
    write_json(out / "gabor.json", {"kernel_size": [4, 4], "small_kernel": False, "n_filters": 32, "threshold": 0.7,
                                    "channel_rule": "each filter's input channel with the largest L2 norm",
                                    "fit_rule": "bounded least squares (Levenberg-Marquardt, 100 steps), the best of "
                                                "24 starts (orientations x phases x frequencies)",
                                    "median_r2": 0.8, "fraction": 0.7, "null_median_r2": 0.75, "null_fraction": 0.6,
                                    "p_value": 0.04, "alpha": 0.01, "clear_margin": 0.2,
                                    "test": "one-sided Wilcoxon signed-rank, per filter, of trained vs "
                                            "phase-randomised R²",
                                    "null_rule": "2 phase-randomised copies per filter: its Fourier magnitudes kept",
                                    "init_median_r2": 0.78, "init_fraction": 0.66, "init_p_value": 0.3,
                                    "init_unchanged": 0, "filters_init": "filters_effective_init.png",
                                    "init_test": "one-sided Wilcoxon signed-rank, per filter, of trained vs initial R²",
                                    "layer": 2, "frozen_before": 1, "space": "pixel", "filters": "filters_effective.png",
                                    "effective_rule": "conv layer 2 composed with the frozen layer before it",
                                    "filters_layout": {"rows": 2, "cols": 16, "width": "full"}})
    png(out / "gabor.png", 1050, 450, f"{family} gabor")
    png(out / "filters_effective.png", 1410, 200, f"{family} effective filters")
    png(out / "filters_effective_init.png", 1410, 200, f"{family} effective filters at initialisation")
    for kind in ("cam", "saliency"):
        write_json(out / f"{kind}.json", maps_record(kind, family))
        png(out / f"{kind}_correct.png", 1080, 420 if kind == "cam" else 600, f"{family} {kind} correct")
        # both 3 rows of 10 images: the guided figure of misclassified images shows only the magnitude
        png(out / f"{kind}_incorrect.png", 1080, 560, f"{family} {kind} incorrect")


# Per family and kind: mean centre fraction, predicted-vs-true rank correlation, deletion and insertion
# AUC gain over smooth random maps, blank rate for the predicted class (what real finals look like).
# The sanity check's mean rank correlation with re-initialised weights: SANITY (per kind).
SANITY = {"cam": 0.15, "saliency": 0.72}
MEASURES = {("dense", "cam"): (0.15, 0.35, 0.03, 0.06, 0.04), ("gap", "cam"): (0.42, 0.30, 0.06, 0.09, 0.0),
            ("dense", "saliency"): (0.30, 0.93, 0.01, 0.0, 0.0), ("gap", "saliency"): (0.33, 0.92, 0.02, 0.03, 0.0)}


LEANS = {("dense", "cam"): (3.0, 3.5)}  # the mass centre's mean offset (right, down) in pixels; others (0, 0)
# Per family and kind: mean fraction of the mass in the border ring (44% of the area) and in the corner squares
# (25%), and the mean rank correlation of a map with its network's other maps; others EDGES_DEFAULT.
EDGES = {("dense", "cam"): (0.6, 0.35, 0.6)}
EDGES_DEFAULT = (0.3, 0.15, 0.3)


def measures_record(n: int = 300, seed: int = 0, means: dict | None = None, spread: float = 0.1,
                    n_random: int = 3, leans: dict | None = None, edges: dict | None = None,
                    sanity: dict | None = None, reinits: int = 3) -> dict:
    """interpret/measures.json for `n` images, half misclassified by a network: per-image values drawn
    around `means` (MEASURES' layout), `leans` (LEANS') and `edges` (EDGES') with sd `spread` (20 * spread
    pixels); the sanity check's correlations around `sanity` (SANITY's layout) at `reinits` re-initialisations."""
    rng = np.random.default_rng(seed)
    sanity = SANITY if sanity is None else sanity
    means, leans, edges = means or MEASURES, LEANS if leans is None else leans, EDGES if edges is None else edges
    labels = (np.arange(n) % 10).tolist()
    families = {}
    for f, acc in (("dense", 0.45), ("gap", 0.55)):
        correct = (rng.random(n) < 0.5 + acc / 5).tolist()
        methods = {}
        for kind in ("cam", "saliency"):
            centre, rho, gain_del, gain_ins, blank_rate = means[(f, kind)]
            blank = (rng.random(n) < blank_rate).tolist()
            rand_del = rng.uniform(0.25, 0.3, (n_random, n))
            rand_ins = rng.uniform(0.45, 0.5, (n_random, n))

            def draw(mean, lo, hi):
                return np.clip(rng.normal(mean, spread, n), lo, hi).round(4).tolist()
            methods[kind] = {
                "method": {"cam": "CAM" if f == "gap" else "HiResCAM", "saliency": "guided backpropagation"}[kind],
                "random_resolution": 3 if kind == "cam" else 16, "random_rule": "uniform noise, upsampled",
                "smoothness": 0.99 if kind == "cam" else 0.71, "random_smoothness": 0.99 if kind == "cam" else 0.7,
                "blank": blank, "blank_true": [bool(rng.random() < 2 * blank_rate) if not c else None for c in correct],
                "centre": [None if b else v for b, v in zip(blank, draw(centre, 0, 1))],
                **{name: [None if b else v for b, v in zip(blank, draw(value, -1 if name == "layout_rho" else 0, 1))]
                   for name, value in zip(("border", "corner", "layout_rho"), edges.get((f, kind), EDGES_DEFAULT))},
                **{axis: [None if b else round(float(v), 2) for b, v in
                          zip(blank, rng.normal(leans.get((f, kind), (0.0, 0.0))[i], 20 * spread, n))]
                   for i, axis in enumerate(("right", "down"))},
                "class_rho": [None if c or b else v for c, b, v in zip(correct, blank, draw(rho, -1, 1))],
                "deletion": (rand_del.mean(0) - np.array(draw(gain_del, -1, 1))).round(4).tolist(),
                "insertion": (rand_ins.mean(0) + np.array(draw(gain_ins, -1, 1))).round(4).tolist(),
                "random_deletion": rand_del.round(4).tolist(), "random_insertion": rand_ins.round(4).tolist(),
                # the network's own mean map: half the method's gain over random maps, on average
                "baseline_rule": "the network's own mean map",
                "baseline_deletion": (rand_del.mean(0) - np.array(draw(gain_del / 2, -1, 1))).round(4).tolist(),
                "baseline_insertion": (rand_ins.mean(0) + np.array(draw(gain_ins / 2, -1, 1))).round(4).tolist(),
                "sanity": {"seeds": [2018 + k for k in range(reinits)], "threshold": 0.5,
                           "rho": [draw(sanity[kind], -1, 1) for _ in range(reinits)]}}
        families[f] = {"pred": labels, "correct": correct, "methods": methods}
    both = [a and b for a, b in zip(families["dense"]["correct"], families["gap"]["correct"])]
    partner = [(i + 1) % n for i in range(n)]  # labels cycle through the classes: a neighbour is of another class
    agreement = {kind: {"rho": np.clip(rng.normal(0.4, spread, n), -1, 1).round(4).tolist(),
                        "other_class_rho": np.clip(rng.normal(0.2, spread, n), -1, 1).round(4).tolist(),
                        "partner": partner, "pairing_rule": "each image paired with one of another class",
                        "both_correct": both} for kind in ("cam", "saliency")}
    return {"rule": "the first 150 validation images, in a fixed random order (seed 0), that both networks classify "
                    "correctly and the first 150 that at least one network misclassifies",
            "images": list(range(n)), "labels": labels, "n_images": n, "centre_side": 0.5, "centre_area": 0.25,
            "border_width": 0.125, "border_area": 0.4375, "corner_side": 0.25, "corner_area": 0.25,
            "layout_rule": "Spearman correlation of each map with the mean of the same network's other non-blank maps",
            "steps": 16, "random_baselines": n_random, "removal": "pixels set to the image's per-channel mean",
            "faithful_margin": 0.02, "families": families, "agreement": agreement,
            "mean_maps": {"cam": "mean_maps_cam.png", "saliency": "mean_maps_saliency.png"}}


def audit() -> dict:
    dup = [{"pair": "validation vs train", "n_query": 5000, "n_base": 45000, "exact": 0, "near": 28, "near_rate": 0.0056},
           {"pair": "within train", "n_query": 45000, "n_base": 45000, "exact": 0, "near": 343,
            "near_rate": 0.0076}]
    return {"classes": CLASSES, "counts": {"train": [4500] * 10, "val": [500] * 10},
            "balance": {"train": {"min": 4500, "max": 4500, "ratio": 1.0}, "val": {"min": 500, "max": 500, "ratio": 1.0}},
            "threshold": 0.985, "method": "cosine similarity of mean-centred 8x8 grey thumbnails", "duplicates": dup,
            "pixel_mean": [0.4915, 0.4824, 0.4468], "pixel_std": [0.2471, 0.2435, 0.2616],
            "provenance": {"source": "ImageFolder (image files in class folders)", "fingerprint": "9f86d081884c7d659a2f",
                           "n_train": 45000, "n_val": 5000, "n_test": 0, **identify([5000] * 10, [0.4915, 0.4824, 0.4468])}}


def write_fake_results(root: Path) -> Path:
    """Write every file the report reads into `root` (a results folder); returns root."""
    root = Path(root)
    write_json(root / ".pipeline" / "build.json", {"profile": "full", "data_dir": None, "device": "cpu", "settings": {}})
    for i, stage in enumerate(["conv", "data", "audit", "search-dense", "final-gap"]):
        write_json(root / ".pipeline" / f"{stage}.json", {"hash": "0" * 20, "parts": {}, "seconds": 10.0 * (i + 1),
                                                          "finished": f"2026-01-01 10:0{i}:00",
                                                          "provenance": PROVENANCE})
    write_json(root / "conv" / "notebook.json", {"given": False})
    write_json(root / "conv" / "tester.json", {"tolerance": 1e-10, "all_passed": True, "cases": [
        {"name": f"case {i}", "input_shape": [2, 3, 8, 8], "kernel_shape": [4, 3, 3, 3], "stride": [1, i],
         "padding": [i, i], "err_Z": 3.5e-15, "err_dLdA": 2.6e-15, "err_dLdW": 7.1e-15, "passed": True}
        for i in range(1, 6)]})
    write_json(root / "conv" / "bench.json", {
        "threads": 2, "repeats": 5, "blocks": 3, "warmup": 1, "dtype": "float32",
        "method": "float32, 2 thread(s); each implementation in 3 alternating block(s) of 1 warm-up + 5 timed "
                  "call(s) back to back; median and interquartile range of 15 timed call(s)",
        "cases": [{"name": "N64 64->64 32x32 k3 p1", "shape": [64, 64, 32, 32], "mytorch_ms": 200.2,
                   "torch_ms": 140.7, "mytorch_spread_ms": [195.1, 204.8], "torch_spread_ms": [138.0, 143.9],
                   "ratio": 1.423}]})
    write_json(root / "data" / "split.json", {"classes": CLASSES, "source": "ImageFolder (image files in class folders)",
                                              "fingerprint": "9f86d081884c7d659a2f", "seed": 0,
                                              "n_train": 45000, "n_val": 5000, "n_test": 0, "train_idx": [0, 1],
                                              "val_idx": [2], "mean": [0.49, 0.48, 0.45], "std": [0.25, 0.24, 0.26]})
    # the finals image by image on validation: the images only one gets right, as the accuracies below
    # imply (gap - dense = (395 - 180) / 5000 = 4.3 points)
    write_json(root / "test" / "test.json", {"available": False, "finals": {},
                                             "validation_pair": {"n": 5000, "only": {"dense": 180, "gap": 395}}})
    write_json(root / "audit" / "audit.json", audit())
    png(root / "audit" / "duplicates.png", 1080, 400, "duplicates")
    for family, acc in (("dense", 0.862), ("gap", 0.905)):
        write_json(root / "search" / family / "search.json", search(family))
        write_json(root / "levers" / family / "levers.json", {
            "family": family, "reference": {"candidate": f"{family}-m", "val_acc": 0.7332, "seconds_per_epoch": 30.1},
            "budget": {"epochs": 4, "n_train": 20000, "lr": 0.24}, "seeds": [0],
            "levers": [{"lever": "dirac", "recipe": "identity-initialised convs", "variant": "He-initialised convs",
                        "val_acc": 0.7201, "change": 0.0131, "seconds_per_epoch": 30.3, "diverged": False},
                       {"lever": "small_head", "recipe": "classifier initialised near zero",
                        "variant": "He-initialised classifier, same rate", "val_acc": None, "change": None,
                        "seconds_per_epoch": None, "diverged": True},
                       {"lever": "tta", "recipe": "flip-translate test-time augmentation", "variant": "flip only",
                        "val_acc": 0.7290, "change": 0.0042, "seconds_per_epoch": None, "diverged": False}]})
        write_json(root / "ablation" / f"{family}-summary" / "summary.json", summary(family))
        for cell in CELLS:  # the report reads only the training time from a cell's own record
            write_json(root / "ablation" / f"{family}-{cell}" / "cell.json", {"seconds": 135.0})
        write_json(root / "ablation" / f"{family}-full" / "full.json",
                   {"family": family, "best": "bn", "cells": {c: {"seconds": 720.5 if c == "bn" else 700.0}
                                                              for c in CELLS}})
        png(root / "ablation" / f"{family}-summary" / "curves.png", 1500, 450, f"{family} curves")
        png(root / "ablation" / f"{family}-summary" / "ladder.png", 900, 480, f"{family} ladder")
        final = root / "final" / f"{family}-final"
        write_json(final / "metrics.json", metrics(family, acc))
        write_json(final / "arch.json", arch(family))
        png(final / "loss.png", 900, 480, f"{family} loss")
        write_interpret(root, family)
    items = [{"index": 10 + i, "group": "correct" if i < 6 else "incorrect", "label": i % 10,
              "pred": {"dense": i % 10, "gap": i % 10 if i < 6 else (i + 1) % 10}, "conf": {"dense": 0.9, "gap": 0.8}}
             for i in range(12)]
    write_json(root / "interpret" / "measures.json", measures_record())
    for kind in ("cam", "saliency"):
        png(root / "interpret" / f"mean_maps_{kind}.png", 1080, 300, f"mean {kind} maps")
    write_json(root / "interpret" / "selection.json", {"items": items, "rule": "correct: ...; incorrect: ...",
                                                       "accuracy": {"dense": 0.86, "gap": 0.9}, "classes": CLASSES})
    return root
