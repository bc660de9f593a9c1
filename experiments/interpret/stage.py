"""The pipeline's entry points for Problems 3-5: figures as PNG, numbers and text as JSON."""
from __future__ import annotations

from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from experiments.interpret.cam import method_for  # noqa: E402
from experiments.interpret.features import (chosen_layers, feature_maps, plot_feature_maps,  # noqa: E402
                                            plot_filters, plot_gabor_fits)
from experiments.interpret.gabor import gabor_test  # noqa: E402
from experiments.interpret.guided import gradient_images, guided_backprop, saliency_maps  # noqa: E402
from experiments.interpret.maps import to_float_images  # noqa: E402
from experiments.interpret.measures import deletion_insertion, randomized_copy, rank_correlation  # noqa: E402
from experiments.interpret.selection import select_images  # noqa: E402
from experiments.io import read_json, save_figure, write_json  # noqa: E402
from experiments.runs import load_model  # noqa: E402

FAMILIES = ("dense", "gap")
SANITY_THRESHOLD = 0.5   # rank correlation below this: the map depends on the learned weights
FAITHFUL_MARGIN = 0.02   # AUC difference from random maps needed to call a method faithful


def _model(results: Path, family: str):
    return load_model(Path(results) / "final" / f"{family}-final")


def run_selection(results: Path, prepared, params: dict) -> dict:
    models = {f: _model(results, f) for f in FAMILIES}
    images = to_float_images(prepared.val_x)
    sel = select_images(models, images, torch.as_tensor(prepared.val_y), params["n_correct"], params["n_incorrect"])
    sel["classes"] = list(prepared.classes)
    write_json(Path(results) / "interpret" / "selection.json", sel)
    return sel


def _selected(results: Path, prepared):
    sel = read_json(Path(results) / "interpret" / "selection.json")
    idx = [it["index"] for it in sel["items"]]
    return sel, to_float_images(prepared.val_x[idx]) if idx else torch.empty(0, 3, 32, 32)


# ---------------------------------------------------------------- Problem 3

def run_features(family: str, results: Path, prepared, params: dict) -> dict:
    out = Path(results) / "interpret" / family
    model = _model(results, family)
    sel, images = _selected(results, prepared)
    image = images[0] if len(images) else to_float_images(prepared.val_x[:1])[0]
    layers = []
    for (number, conv, _), maps in zip(chosen_layers(model), feature_maps(model, image)):
        save_figure(plot_feature_maps(image, maps, f"{family}: conv layer {number}"), out / f"feature_maps_{number}.png")
        fig, rule = plot_filters(conv, number == 1, f"{family}: conv layer {number}")
        save_figure(fig, out / f"filters_{number}.png")
        layers.append({"layer": number, "channels": conv.out_channels, "kernel": list(conv.kernel_size),
                       "map_size": list(maps.shape[1:]), "filter_rule": rule,
                       "feature_maps": f"feature_maps_{number}.png", "filters": f"filters_{number}.png"})
    first = chosen_layers(model)[0][1].weight.detach().float().numpy()
    gabor, kernels, fitted = gabor_test(first)
    save_figure(plot_gabor_fits(kernels, fitted, gabor["r2"], gabor["best"], gabor["worst"],
                                f"{family}: best and worst Gabor fits of first-layer filters"), out / "gabor.png")
    write_json(out / "gabor.json", gabor)
    image_index = sel["items"][0]["index"] if sel["items"] else 0
    record = {"family": family, "image_index": image_index, "layers": layers}
    write_json(out / "features.json", record)
    return record


# ---------------------------------------------------------------- Problems 4 and 5

def _targets(sel: dict, family: str, which: str) -> torch.Tensor:
    """Class whose map is drawn: the prediction ("pred") or the true label ("true")."""
    return torch.tensor([it["pred"][family] if which == "pred" else it["label"] for it in sel["items"]], dtype=torch.long)


def _measure(explain, model, images, classes, params: dict) -> dict:
    """Sanity (randomised weights) and faithfulness (deletion/insertion vs random maps)."""
    maps = explain(model, images, classes)
    random_maps = explain(randomized_copy(model), images, classes)
    metrics = deletion_insertion(model, images, maps, classes, params["steps"], params["random_baselines"])
    metrics["randomization_rank_correlation"] = rank_correlation(maps, random_maps)
    metrics["n_images"] = int(len(images))
    return metrics


def _run_method(kind: str, family: str, results: Path, prepared, params: dict, explain, method: str, caption: str):
    out = Path(results) / "interpret" / family
    model = _model(results, family)
    sel, images = _selected(results, prepared)
    classes = list(sel["classes"])
    if len(images) == 0:
        metrics = {"n_images": 0}
        interpretation = "No validation images were selected, so there is nothing to measure."
    else:
        metrics = _measure(explain, model, images, _targets(sel, family, "pred"), params)
        interpretation = describe_method(method, metrics)
    for group in ("correct", "incorrect"):
        rows = [i for i, it in enumerate(sel["items"]) if it["group"] == group]
        fig = plot_group(kind, model, family, images, sel, rows, classes, explain, group)
        save_figure(fig, out / f"{kind}_{group}.png")
    record = {"family": family, "method": method, "caption": caption, "metrics": metrics,
              "interpretation": interpretation, "sanity_threshold": SANITY_THRESHOLD,
              "faithful_margin": FAITHFUL_MARGIN}
    write_json(out / f"{kind}.json", record)
    return record


def _cam_explain(model, images, classes):
    return method_for(model)(images, classes)


def run_cam(family: str, results: Path, prepared, params: dict) -> dict:
    model_family_is_gap = family == "gap"
    method = "CAM" if model_family_is_gap else "Grad-CAM"
    caption = ("Class activation maps (Zhou et al. 2016): the final linear layer's weights for the class applied "
               "to the last convolutional feature maps, upsampled to the image." if model_family_is_gap else
               "Grad-CAM (Selvaraju et al. 2017) on the last convolutional layer: CAM as defined needs global "
               "average pooling into one linear layer, which the dense head does not have, so the channel weights "
               "are the spatially averaged gradients of the class score instead.")
    return _run_method("cam", family, results, prepared, params, _cam_explain, method, caption)


def _guided_explain(model, images, classes):
    return saliency_maps(guided_backprop(model, images, classes))


def run_saliency(family: str, results: Path, prepared, params: dict) -> dict:
    caption = ("Guided backpropagation (Springenberg et al. 2015): the input gradient of the class score where "
               "every ReLU passes gradient only if both its input and the incoming gradient are positive; shown as "
               "the gradient image and as its per-pixel magnitude.")
    return _run_method("saliency", family, results, prepared, params, _guided_explain, "guided backpropagation", caption)


# ---------------------------------------------------------------- figures and words

def plot_group(kind, model, family, images, sel, rows, classes, explain, group):
    """Columns = images of one group; rows = image, map for the prediction (and for the true class
    when misclassified). Guided backprop also shows the RGB gradient image."""
    cols = max(1, len(rows))
    which = ["pred"] if group == "correct" else ["pred", "true"]
    n_rows = 1 + len(which) * (2 if kind == "saliency" else 1)
    fig, axes = plt.subplots(n_rows, cols, figsize=(7.2, 1.35 * n_rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    if not rows:
        axes[0, 0].text(0.5, 0.5, f"no {group} images selected", ha="center", va="center")
        return fig
    sub = images[rows]
    items = [sel["items"][r] for r in rows]
    for c, it in enumerate(items):
        axes[0, c].imshow(sub[c].permute(1, 2, 0).numpy())
        axes[0, c].set_title(f"true {classes[it['label']]}\npred {classes[it['pred'][family]]} "
                             f"({100 * it['conf'][family]:.0f}%)", fontsize=6.5)
    r = 1
    for w in which:
        targets = torch.tensor([it["pred"][family] if w == "pred" else it["label"] for it in items])
        if kind == "saliency":
            grads = guided_backprop(model, sub, targets)
            panels = [("gradient", gradient_images(grads).permute(0, 2, 3, 1)), ("|gradient|", saliency_maps(grads))]
        else:
            panels = [("map", explain(model, sub, targets))]
        for label, data in panels:
            for c in range(len(items)):
                ax = axes[r, c]
                if data.ndim == 4:
                    ax.imshow(data[c].numpy())
                else:
                    ax.imshow(sub[c].permute(1, 2, 0).numpy())
                    ax.imshow(data[c].numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1)
            axes[r, 0].text(-0.15, 0.5, f"{label}\n({'predicted' if w == 'pred' else 'true'} class)",
                            transform=axes[r, 0].transAxes, ha="right", va="center", fontsize=6.5)
            r += 1
    fig.suptitle(f"{family}: {'correctly' if group == 'correct' else 'incorrectly'} classified", fontsize=9)
    return fig


def describe_method(method: str, m: dict) -> str:
    """Interpretation text that claims only what the numbers show."""
    rho = m["randomization_rank_correlation"]
    parts = []
    if rho < SANITY_THRESHOLD:
        parts.append(f"With the weights re-initialised the {method} maps change a lot (rank correlation "
                     f"{rho:.2f} with the trained model's maps), so they depend on what the network learned: "
                     "the method passes the randomisation sanity check.")
    else:
        parts.append(f"With the weights re-initialised the {method} maps stay similar (rank correlation {rho:.2f}), "
                     "so much of what they show comes from the architecture and the image rather than the learned "
                     "weights: the method fails the randomisation sanity check, and its pictures should not be read "
                     "as the model's reasoning.")
    d, di = m["deletion_auc"], m["random_deletion_auc"]
    i, ii = m["insertion_auc"], m["random_insertion_auc"]
    del_ok, ins_ok = d < di - FAITHFUL_MARGIN, i > ii + FAITHFUL_MARGIN
    numbers = (f"deletion AUC {d:.3f} vs {di:.3f} for random maps (lower is better), insertion AUC {i:.3f} "
               f"vs {ii:.3f} (higher is better)")
    if del_ok and ins_ok:
        parts.append(f"The highlighted pixels matter to the prediction more than random ones: {numbers}.")
    elif del_ok or ins_ok:
        parts.append(f"Faithfulness is mixed: {numbers}; only the {'deletion' if del_ok else 'insertion'} test "
                     "beats random maps.")
    else:
        parts.append(f"The maps are not more faithful than random ones: {numbers}.")
    return " ".join(parts)
