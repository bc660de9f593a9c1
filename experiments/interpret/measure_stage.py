"""The interpretation stage of Problems 4-5: the measures of experiments/interpret/measures.py over a
few hundred validation images, for both final networks and both methods (CAM or HiResCAM, and
guided backpropagation). The 12 images of the figures stay the illustration; these numbers are what
the report's interpretation says (experiments/writeup/map_findings.py words them).

Writes interpret/measures.json (per-image numbers; schema in `run_measures`) and
interpret/mean_maps_<kind>.png (the average map per family, correctly and incorrectly classified).
"""
from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from experiments.core import paths
from experiments.core.names import FAMILIES, MAP_KINDS
from experiments.engine.io import save_figure, write_json  # noqa: E402
from experiments.interpret.cam import method_for  # noqa: E402
from experiments.interpret.faithfulness import FAITHFUL_MARGIN, REMOVAL  # noqa: E402
from experiments.interpret.guided import METHOD as GUIDED_METHOD  # noqa: E402
from experiments.interpret.guided import guided_backprop, saliency_maps  # noqa: E402
from experiments.interpret.maps import inspecting, probabilities, to_float_images  # noqa: E402
from experiments.interpret.measures import (BORDER_WIDTH, CENTRE_SIDE, CORNER_SIDE, blank_maps,  # noqa: E402
                                            border_region, centre_mass, centre_region, corner_region,
                                            cross_class_partners, faithfulness, layout_correlations, mass_centre,
                                            matching_resolution, mean_of_others, paired_rank_correlations, region_mass,
                                            smooth_random_maps, smoothness)
from experiments.interpret.sanity import SANITY_SEED, SANITY_THRESHOLD, randomized_copy, rank_correlations  # noqa: E402

RULE = ("the first {both} validation images, in a fixed random order (seed {seed}), that both networks classify "
        "correctly and the first {other} that at least one network misclassifies")
RANDOM_RULE = {"cam": "uniform noise at the last feature map's resolution, upsampled bilinearly as the maps are",
               "saliency": "uniform noise at the resolution (between the last feature map's and the image's) whose "
                           "bilinearly upsampled maps are closest in smoothness (neighbour correlation) to the guided "
                           "maps"}
SCAN = 1000  # validation images predicted at a time while looking for enough of each group
PAIRING_RULE = ("each image paired with one of another class: the images in a random order (seed {seed}), sorted by "
                "class, each paired with the one as many places further round as the largest class has images")
LAYOUT_RULE = "Spearman correlation of each map with the mean of the same network's other non-blank maps"
BASELINE_RULE = ("the network's own mean map (the mean of its other non-blank maps of the measured images): one "
                 "centre-weighted ranking of pixels, the same whatever the image")


def choose_images(correct: dict[str, torch.Tensor], order: torch.Tensor, n: int, seed: int) -> dict:
    """Validation indices, ascending: half (rounded down) classified correctly by every network, the
    rest misclassified by at least one, each the earliest in `order`; a group that runs short is made
    up from the other. `correct` maps each network to a bool tensor over the first images of `order`
    (a fixed random order: the split itself is sorted by class)."""
    right = torch.stack(list(correct.values())).all(0)
    both, other = torch.nonzero(right).flatten().tolist(), torch.nonzero(~right).flatten().tolist()
    n_other = min(len(other), n - min(len(both), n // 2))
    n_both = min(len(both), n - n_other)
    return {"indices": sorted(order[both[:n_both] + other[:n_other]].tolist()), "n_both_correct": n_both,
            "n_other": n_other, "rule": RULE.format(both=n_both, other=n_other, seed=seed)}


def explainers(model) -> dict:
    """Per kind: (method name, maps (N, 32, 32) of (images, classes))."""
    cam = method_for(model)
    return {"cam": (cam.name, lambda x, c: cam(x, c)),
            "saliency": (GUIDED_METHOD, lambda x, c: saliency_maps(guided_backprop(model, x, c)))}


def feature_side(model, size: int = 32) -> int:
    """The side of the last feature map, the grid CAM and HiResCAM maps are computed on."""
    with torch.no_grad(), inspecting(model):
        return model.features(torch.zeros(1, 3, size, size)).shape[-1]


def measure_family(model, images: torch.Tensor, labels: torch.Tensor, params: dict) -> tuple[dict, dict, dict]:
    """One network's measures for both kinds of map. Returns the record, and per kind the maps for
    the predicted class and for the true class (the same maps where the prediction is right)."""
    pred = probabilities(model, images).argmax(1)
    wrong = pred != labels
    record = {"pred": pred.tolist(), "correct": (~wrong).tolist(), "methods": {}}
    predicted, true, side = {}, {}, feature_side(model, images.shape[-1])
    for kind, (name, explain) in explainers(model).items():
        maps = explain(images, pred)
        true_maps = maps.clone()
        if wrong.any():
            true_maps[wrong] = explain(images[wrong], labels[wrong])
        predicted[kind], true[kind] = maps, true_maps
        record["methods"][kind] = {"method": name, **_measure_maps(kind, model, images, maps, true_maps, pred,
                                                                   wrong, side, params),
                                   "sanity": sanity_check(model, kind, images, maps, pred, params["sanity_reinits"])}
    return record, predicted, true


def _measure_maps(kind, model, images, maps, true_maps, pred, wrong, side, params) -> dict:
    size, seed = images.shape[-1], params.get("seed", 0)
    smooth = [s for s in smoothness(maps) if s is not None]
    target = float(np.mean(smooth)) if smooth else 1.0
    resolution = side if kind == "cam" else matching_resolution(target, size, range(side, size + 1), seed)
    reference = smoothness(smooth_random_maps(64, resolution, size, torch.Generator().manual_seed(seed)))
    with as_scored(model) as scorer:
        # the centre-weighted baseline: the network's own mean map, one fixed ranking for every image
        own_mean = mean_of_others(maps)
        faith = faithfulness(scorer, images, maps, pred, params["measure_steps"], params["random_baselines"],
                             resolution, seed, baseline=own_mean)
    class_rho = paired_rank_correlations(maps, true_maps)
    blank_true, centres = blank_maps(true_maps), mass_centre(maps)
    border, corner = (region_mass(maps, region(size))[0] for region in (border_region, corner_region))
    return {"random_resolution": resolution, "random_rule": RANDOM_RULE[kind],
            "smoothness": _round(target), "random_smoothness": _round(float(np.mean(reference))),
            "blank": blank_maps(maps), "blank_true": [b if w else None for b, w in zip(blank_true, wrong.tolist())],
            "centre": _round(centre_mass(maps)[0]), "border": _round(border), "corner": _round(corner),
            "layout_rho": _round(layout_correlations(maps)),
            "right": _round([None if c is None else c[0] for c in centres]),
            "down": _round([None if c is None else c[1] for c in centres]),
            "class_rho": _round([r if w else None for r, w in zip(class_rho, wrong.tolist())]),
            "deletion": _round(faith["deletion"]), "insertion": _round(faith["insertion"]),
            "random_deletion": [_round(r) for r in faith["random_deletion"]],
            "random_insertion": [_round(r) for r in faith["random_insertion"]],
            "baseline_rule": BASELINE_RULE,
            "baseline_deletion": _round(faith.get("baseline_deletion", [None] * len(maps))),
            "baseline_insertion": _round(faith.get("baseline_insertion", [None] * len(maps)))}


def sanity_check(model, kind: str, images, maps, classes, reinits: int) -> dict:
    """The model-randomisation test (experiments/interpret/sanity.py) over the measured images: per
    re-initialisation (seeds SANITY_SEED, SANITY_SEED + 1, ...), each image's rank correlation between
    the trained network's map and the re-initialised one's, for the same class."""
    seeds = [SANITY_SEED + k for k in range(reinits)]
    rho, reinit_blank = [], []
    for seed in seeds:
        randomized = explainers(randomized_copy(model, seed))[kind][1](images, classes)
        rho.append(_round(rank_correlations(maps, randomized)))
        # a constant map ranks nothing: its correlation (0) says nothing, so it is counted as blank
        flat = randomized.flatten(1)
        reinit_blank.append((flat.amax(1) == flat.amin(1)).tolist())
    return {"seeds": seeds, "rho": rho, "reinit_blank": reinit_blank, "threshold": SANITY_THRESHOLD}


@contextlib.contextmanager
def as_scored(model):
    """A copy of the network run as its accuracy was scored (experiments.training.train.autocast: bf16 on a CPU
    with AVX-512 bf16; channels_last): the deletion/insertion curves need ~50k forwards a network,
    3-4x faster so. The maps themselves are computed in float32."""
    from experiments.engine.devices import autocast
    with autocast(torch.device("cpu")):
        yield copy.deepcopy(model).to(memory_format=torch.channels_last)


def agreement(true_maps: dict, correct: dict, labels, seed: int = 0) -> dict:
    """Per kind, the rank correlation of the two networks' maps of the true class of each image, and
    of each dense map with the gap map of its partner, an image of another class
    (`cross_class_partners`: a pairing that shares only the networks' general layout preference, and
    no class, so the difference is agreement about this image). None where a map is blank or an
    image has no partner."""
    dense, gap = (true_maps[f] for f in FAMILIES)
    both = (torch.tensor(correct["dense"]) & torch.tensor(correct["gap"])).tolist()
    partner = cross_class_partners(labels, seed)
    index = torch.tensor([i if p is None else p for i, p in enumerate(partner)], dtype=torch.long)

    def other(kind):
        rho = paired_rank_correlations(dense[kind], gap[kind][index])
        return _round([None if p is None else r for r, p in zip(rho, partner)])
    return {kind: {"rho": _round(paired_rank_correlations(dense[kind], gap[kind])), "other_class_rho": other(kind),
                   "partner": partner, "pairing_rule": PAIRING_RULE.format(seed=seed), "both_correct": both}
            for kind in MAP_KINDS}


def run_measures(models: dict, images: torch.Tensor, labels: torch.Tensor, chosen: dict, out_dir: Path,
                 params: dict) -> dict:
    """Measure both networks on `images` (N, 3, 32, 32) in [0, 1], the validation images chosen by
    `choose_images`. Writes and returns measures.json:

    {"rule", "images" (validation indices), "labels", "n_images", "centre_side", "centre_area", "border_width",
     "border_area", "corner_side", "corner_area", "layout_rule", "steps", "random_baselines", "removal",
     "faithful_margin", "families": {family: {"pred", "correct", "methods": {kind:
       {"method", "random_resolution", "random_rule", "smoothness", "random_smoothness",
        "blank", "blank_true" (None where correct), "centre", "border", "corner" (fractions of the mass in
        the central square, the border ring, the four corner squares; None where blank),
        "layout_rho" (LAYOUT_RULE; None where blank),
        "right", "down" (the mass centre's offset from the image centre, pixels; None where blank),
        "class_rho" (predicted vs true class; None where correct or blank),
        "deletion", "insertion" (per image), "random_deletion", "random_insertion" (per random map, per image),
        "baseline_rule", "baseline_deletion", "baseline_insertion" (per image, for the network's own mean map),
        "sanity": {"seeds" (re-initialisations), "rho" (per seed, per image), "reinit_blank" (per seed, per
        image: the re-initialised network's map is constant), "threshold"}}}}},
     "agreement": {kind: {"rho", "other_class_rho", "partner", "pairing_rule", "both_correct"}},
     "mean_maps": {kind: png name}}
    Every per-image list follows "images"."""
    out = Path(out_dir)
    labels = torch.as_tensor(labels, dtype=torch.long).view(-1)
    families, predicted, true = {}, {}, {}
    for family in FAMILIES:
        families[family], predicted[family], true[family] = measure_family(models[family], images, labels, params)
    size = images.shape[-1]
    record = {"rule": chosen["rule"], "images": chosen["indices"], "labels": labels.tolist(), "n_images": len(images),
              "centre_side": CENTRE_SIDE, "centre_area": float(centre_region(size).float().mean()),
              "border_width": BORDER_WIDTH, "border_area": float(border_region(size).float().mean()),
              "corner_side": CORNER_SIDE, "corner_area": float(corner_region(size).float().mean()),
              "layout_rule": LAYOUT_RULE, "steps": params["measure_steps"],
              "random_baselines": params["random_baselines"], "removal": REMOVAL,
              "faithful_margin": FAITHFUL_MARGIN, "families": families,
              "agreement": agreement(true, {f: families[f]["correct"] for f in FAMILIES}, labels.tolist(),
                                     params.get("seed", 0)),
              "mean_maps": {kind: f"mean_maps_{kind}.png" for kind in MAP_KINDS}}
    for kind in MAP_KINDS:
        save_figure(plot_mean_maps(kind, predicted, families), out / record["mean_maps"][kind])
    write_json(out / "measures.json", record)
    return record


def plot_mean_maps(kind: str, predicted: dict, families: dict):
    """One row: per family, correctly then incorrectly classified images. Each panel is the mean of
    the non-blank maps for the predicted class, scaled to its own maximum, with the central square
    outlined and the mean of the maps' mass centres marked (+)."""
    fig, axes = plt.subplots(1, 4, figsize=(7.6, 2.3), squeeze=False)
    shown = None
    panels = [(f, g) for f in FAMILIES for g in ("correct", "misclassified")]
    for ax, (family, group) in zip(axes[0], panels):
        m, maps = families[family]["methods"][kind], predicted[family][kind]
        blank = torch.tensor(m["blank"], dtype=torch.bool)
        rows = torch.tensor(families[family]["correct"], dtype=torch.bool)
        rows = rows if group == "correct" else ~rows
        keep = rows & ~blank
        ax.set_xticks([]), ax.set_yticks([])
        if keep.any():
            mean = maps[keep].mean(0)
            shown = ax.imshow((mean / mean.max().clamp_min(1e-12)).numpy(), cmap="jet", vmin=0, vmax=1)
            size, k = mean.shape[-1], round(CENTRE_SIDE * mean.shape[-1])
            lo = (size - k) // 2
            ax.add_patch(Rectangle((lo - 0.5, lo - 0.5), k, k, fill=False, edgecolor="white", linewidth=1.2))
            x, y = (float(np.mean([v for v, ok in zip(m[axis], keep.tolist()) if ok])) for axis in ("right", "down"))
            ax.plot((size - 1) / 2 + x, (size - 1) / 2 + y, "+", color="white", markersize=9, mew=1.5)
        n_blank = int((rows & blank).sum())
        ax.set_title(f"{family}, {group}\n{int(keep.sum())} maps" + (f" (+{n_blank} blank)" if n_blank else ""),
                     fontsize=7.5)
    methods = {families[f]["methods"][kind]["method"]: f for f in FAMILIES}
    fig.suptitle(", ".join(f"{name} ({f})" for name, f in methods.items()) if len(methods) > 1 else next(iter(methods)),
                 fontsize=8)
    fig.tight_layout()
    if shown is not None:  # one scale for the four panels: each mean map over its own maximum
        fig.colorbar(shown, ax=axes[0].tolist(), fraction=0.02, pad=0.02, label="share of the map's maximum")
    return fig


def _round(values, digits: int = 4):
    if isinstance(values, (float, int, np.floating)):
        return round(float(values), digits)
    return [None if v is None else round(float(v), digits) for v in values]


# ---------------------------------------------------------------- the pipeline's adapter

def measures_stage(results: Path, prepared, params: dict) -> dict:
    """Load both final models, choose `n_measure` validation images, measure; writes into interpret/."""
    from experiments.training.runs import load_model
    models = {f: load_model(Path(results) / paths.final(f)) for f in FAMILIES}
    labels, seed, n = torch.as_tensor(prepared.val_y, dtype=torch.long), params.get("seed", 0), params["n_measure"]
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    correct = {f: torch.zeros(0, dtype=torch.bool) for f in FAMILIES}
    for start in range(0, len(labels), SCAN):  # predict only as far as the groups need
        batch = order[start:start + SCAN]
        x = to_float_images(prepared.val_x[batch.numpy()])
        for f, model in models.items():
            correct[f] = torch.cat([correct[f], probabilities(model, x).argmax(1) == labels[batch]])
        chosen = choose_images(correct, order, n, seed)
        if chosen["n_both_correct"] == n // 2 and chosen["n_other"] == n - n // 2:
            break
    idx = chosen["indices"]
    return run_measures(models, to_float_images(prepared.val_x[idx]), labels[idx], chosen,
                        Path(results) / paths.INTERPRET, params)
