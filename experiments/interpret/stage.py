"""The stage functions of Problems 3-5: figures as PNG, numbers as JSON (the report words them,
experiments/writeup/wording.py).

`run_features`, `run_cam` and `run_saliency` work on a model and tensors; `*_stage(family,
results, prepared, params)` are the pipeline's adapters that load the final model and the
selected validation images first.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from experiments.core import paths
from experiments.core.names import FAMILIES
from experiments.engine.io import read_json, save_figure, write_json  # noqa: E402
from experiments.interpret.cam import map_grain, method_for  # noqa: E402
from experiments.interpret.effective import effective_filters  # noqa: E402
from experiments.interpret.features import (FIGURE_DPI, FONT_PT, MAPS_SCALE_RULE,  # noqa: E402
                                            chosen_layers, constant_channels, effective_layout, feature_maps,
                                            filter_changes, plot_effective_filters, plot_feature_maps, plot_filters,
                                            plot_gabor_fits, tile_layout)
from experiments.interpret.gabor import gabor_test  # noqa: E402
from experiments.interpret.guided import METHOD, gradient_images, guided_backprop, saliency_maps  # noqa: E402
from experiments.interpret.maps import probabilities, to_float_images  # noqa: E402
from experiments.interpret.measures import blank_maps, centre_mass, paired_rank_correlations, peak_places  # noqa: E402
from experiments.interpret.selection import select_images  # noqa: E402

GUIDED_CAPTION = ("Guided backpropagation (Springenberg et al. 2015): the input gradient of the class score where "
                  "every ReLU passes gradient only where both its input and the incoming gradient are positive; shown "
                  "as the gradient image (grey = 0) and as its per-pixel magnitude (largest |gradient| over colour, "
                  "min-max scaled per image).")


# ---------------------------------------------------------------- Problem 3

def run_features(model: nn.Module, image: torch.Tensor, out_dir: Path, params: dict, *,
                 image_index: int | None = None, initial: nn.Module | None = None) -> dict:
    """Feature maps of `image` (3, 32, 32) in [0, 1] and filters for the first, middle and last conv,
    plus the Gabor test of the first layer. Writes feature_maps_<i>.png, filters_<i>.png,
    features.json, gabor.json and gabor.png into out_dir; returns the features.json record. `initial`
    (the model before training) is the Gabor test's untrained control."""
    out, family = Path(out_dir), getattr(model, "family", "model")
    layers = []
    # the architecture table (describe) numbers every leaf module, the trunk's first
    rows = {id(m): i for i, m in enumerate((m for m in model.modules() if not list(m.children())), 1)}
    starts = [conv for _, conv, _ in chosen_layers(initial)] if initial is not None else None
    for k, ((number, conv, shown), maps) in enumerate(zip(chosen_layers(model), feature_maps(model, image))):
        after = "after ReLU" if isinstance(shown, nn.ReLU) else "conv output"
        title = f"{family}: conv layer {number} (table row {rows[id(conv)]})"
        maps_layout = tile_layout(len(maps), max(maps.shape[1:]))
        filters_layout = tile_layout(conv.out_channels, max(conv.kernel_size))
        save_figure(plot_feature_maps(image, maps, title, maps_layout, after), out / f"feature_maps_{number}.png",
                    dpi=FIGURE_DPI)
        fig, rule = plot_filters(conv, number == 1, title, filters_layout)
        save_figure(fig, out / f"filters_{number}.png", dpi=FIGURE_DPI)
        layers.append({"layer": number, "table_row": rows[id(conv)], "learned": getattr(conv, "learned", True),
                       "channels": conv.out_channels,
                       "channels_shown": len(maps), "kernel": list(conv.kernel_size),
                       "map_size": list(maps.shape[1:]), "maps_taken": after, "scale_rule": MAPS_SCALE_RULE,
                       "constant_channels": constant_channels(maps), "filter_rule": rule,
                       "maps_layout": maps_layout._asdict(), "filters_layout": filters_layout._asdict(),
                       "feature_maps": f"feature_maps_{number}.png", "filters": f"filters_{number}.png",
                       "change": filter_changes(conv, starts[k]) if starts else None})
    write_json(out / "gabor.json", run_gabor(model, out, family, params, initial))
    record = {"family": family, "image_index": image_index, "layers": layers,
              "n_conv_layers": len([m for m in model.features.modules() if isinstance(m, nn.Conv2d)])}
    write_json(out / "features.json", record)
    return record


def run_gabor(model: nn.Module, out: Path, family: str, params: dict, initial: nn.Module | None = None) -> dict:
    """The Gabor test on the filters the network applies to the pixels: the first learned conv composed
    with the frozen stem before it (experiments/interpret/effective.py), against the same filters of
    `initial` where given. Writes filters_effective.png (and filters_effective_init.png) and gabor.png;
    returns the gabor.json record."""
    weights, composed = effective_filters(model)
    start = effective_filters(initial)[0] if initial is not None else None
    gabor, kernels, fitted = gabor_test(weights, seed=params.get("seed", 0), initial=start)
    n, frozen = composed["layer"], composed["frozen_before"]
    layers = f"conv layers 1-{n}" if frozen else f"conv layer {n}"
    stem = "layer" if frozen == 1 else f"{frozen} layers"
    gabor = {**gabor, **composed, "space": "pixel", "filters": "filters_effective.png",
             "effective_rule": (f"conv layer {n}, the first learned layer, composed with the frozen {stem} before it "
                                "(the ReLU between them left out: it is the map's linear part), per input colour "
                                "channel divided by the model's input std"
                                if frozen else f"conv layer {n}, divided by the model's input std")}
    layout = effective_layout(len(weights))
    for name, w, when in (("filters", weights, "trained"), ("filters_init", start, "at initialisation")):
        if w is None:
            continue
        fig, _ = plot_effective_filters(w, f"{family}: effective filters of {layers}, {when}", layout)
        gabor[name] = f"{name.replace('filters', 'filters_effective')}.png"
        save_figure(fig, out / gabor[name], dpi=FIGURE_DPI)
    gabor["filters_layout"] = layout._asdict()
    title = f"{family}: best and worst Gabor fits of the effective filters of {layers} ({gabor['channel_rule']})"
    save_figure(plot_gabor_fits(kernels, fitted, gabor["r2"], gabor["best"], gabor["worst"], title), out / "gabor.png")
    return gabor


# ---------------------------------------------------------------- Problems 4 and 5

class MapMethod(NamedTuple):
    """A map method as the map stages run it: its kind ("cam" or "saliency", the files' prefix), its
    name and figure caption, and `explain(model, images, classes)` -> maps (N, H, W) in [0, 1]."""
    kind: str
    name: str
    caption: str
    explain: Callable


def run_cam(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, selection: dict, classes: list[str],
            out_dir: Path, params: dict) -> dict:
    """CAM (gap family) or HiResCAM (otherwise) for the selected images (N, 3, 32, 32) in [0, 1],
    whose `selection["items"]` are in the same order. Writes cam_correct.png, cam_incorrect.png and
    cam.json; returns the cam.json record."""
    method = method_for(model)

    def explain(m, x, c):
        return method_for(m)(x, c)
    return _run_maps(MapMethod("cam", method.name, method.caption, explain), model, images, labels, selection,
                     classes, Path(out_dir))


def run_saliency(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, selection: dict, classes: list[str],
                 out_dir: Path, params: dict) -> dict:
    """Guided backpropagation for the selected images; writes saliency_correct.png,
    saliency_incorrect.png and saliency.json; returns the saliency.json record."""
    def explain(m, x, c):
        return saliency_maps(guided_backprop(m, x, c))
    return _run_maps(MapMethod("saliency", METHOD, GUIDED_CAPTION, explain), model, images, labels, selection,
                     classes, Path(out_dir))


def _run_maps(method: MapMethod, model, images, labels, selection, classes, out):
    kind, explain = method.kind, method.explain
    items = selection["items"]
    if len(items) != len(images):
        raise ValueError(f"{len(images)} images but {len(items)} selection items; they must correspond")
    labels = torch.as_tensor(labels, dtype=torch.long).view(-1)
    probs = probabilities(model, images) if len(images) else torch.zeros(0, len(classes))
    preds = probs.argmax(1)
    metrics = {"method": method.name, "n_images": len(images), "explained_class": "predicted"}
    if len(images):
        metrics.update(_measure(model, images, preds, labels, items, explain))
        # a CAM's cells: the last feature map's side, upsampled to the image; guided backprop is per pixel
        metrics["grain"] = map_grain(model, images) if kind == "cam" else images.shape[-1]
    for group in ("correct", "incorrect"):
        rows = [i for i, it in enumerate(items) if it["group"] == group]
        shown = [(i, classes[labels[i]], classes[preds[i]], float(probs[i, preds[i]])) for i in rows]
        fig = plot_maps(kind, model, images[rows], shown, preds[rows], labels[rows], group, explain)
        save_figure(fig, out / f"{kind}_{group}.png")
    record = {"family": getattr(model, "family", None), "method": method.name, "caption": method.caption,
              "metrics": metrics, "images": [it.get("index") for it in items]}
    write_json(out / f"{kind}.json", record)
    return record


def _measure(model, images, preds, labels, items, explain) -> dict:
    """What the shown maps say image by image: which are blank, where each map peaks, how much of its
    mass lies in the central square, and for a misclassified image whether the maps of the predicted
    and of the true class point to the same place (their rank correlation). The same measures over
    many more images are the interpret-measures stage's."""
    maps = explain(model, images, preds)
    centre, area = centre_mass(maps)
    wrong = [i for i in range(len(items)) if preds[i] != labels[i]]  # this network's errors
    rho = dict(zip(wrong, paired_rank_correlations(maps[wrong], explain(model, images[wrong], labels[wrong])))) \
        if wrong else {}
    blank = blank_maps(maps)
    shown = [{"index": it.get("index"), "group": it["group"], "label": int(labels[i]), "pred": int(preds[i]),
              "peak": place, "centre_mass": mass, "pred_true_rho": rho.get(i)}
             for i, (it, place, mass) in enumerate(zip(items, peak_places(maps), centre))]
    return {"blank_maps": int(sum(blank)), "blank_per_image": blank, "shown": shown, "centre_area": area}


# ---------------------------------------------------------------- figures

def plot_maps(kind, model, images, shown, preds, labels, group, explain):
    """Columns = images; rows = the image (true / predicted class, confidence) and its map overlay for
    the predicted class, plus the true class for misclassified images. Guided backpropagation also
    shows the RGB gradient image for correctly classified ones (for misclassified ones its two
    extra rows would push the figure past the page's height, shrinking its labels below 7 pt)."""
    which = [("predicted", preds)] if group == "correct" else [("predicted", preds), ("true", labels)]
    gradient_rows = kind == "saliency" and group == "correct"
    n_rows = 1 + len(which) * (2 if gradient_rows else 1)
    cols = max(1, len(shown))
    # rows as tall as their tiles (0.6 in at 10 columns), the first one taller for its three title lines
    fig, axes = plt.subplots(n_rows, cols, figsize=(min(7.2, 1.1 * cols + 1.2), 1.1 + 0.72 * (n_rows - 1) + 0.45),
                             squeeze=False, gridspec_kw={"height_ratios": [1.55] + [1.0] * (n_rows - 1)})
    for ax in axes.flat:
        ax.axis("off")
    if not shown:
        axes[0, 0].text(0.5, 0.5, f"no {group}ly classified images selected", ha="center", va="center", fontsize=8)
        return fig
    pictures = images.permute(0, 2, 3, 1).numpy()
    for c, (_, true, pred, conf) in enumerate(shown):
        axes[0, c].imshow(pictures[c])
        # short lines: a title wider than its tile runs into the next one's
        if group == "correct":
            title_text = f"{true}\n{100 * conf:.0f}%"
        else:  # an image "misclassified by at least one network" may be right here: the title says whose error
            whose = "wrong" if pred != true else "right"  # "right": the other network erred
            title_text = f"{true}\n{pred}\n{100 * conf:.0f}%\n{whose}"
        axes[0, c].set_title(title_text, fontsize=FONT_PT)
        axes[0, c].set_anchor("S")  # the image at the bottom of its taller row, the title above it
    r = 1
    for label, targets in which:
        if kind == "saliency":
            grads = guided_backprop(model, images, targets)
            panels = ([("gradient", gradient_images(grads).permute(0, 2, 3, 1).numpy())] if gradient_rows else []) + \
                [("|gradient|", saliency_maps(grads).numpy())]
        else:
            panels = [("map", explain(model, images, targets).numpy())]
        for name, data in panels:
            for c in range(len(shown)):
                if data.ndim == 4:
                    axes[r, c].imshow(data[c])
                else:
                    axes[r, c].imshow(pictures[c])
                    axes[r, c].imshow(data[c], cmap="jet", alpha=0.5, vmin=0, vmax=1)
            axes[r, 0].text(-0.15, 0.5, f"{name}\n({label} class)", transform=axes[r, 0].transAxes,
                            ha="right", va="center", fontsize=FONT_PT)
            r += 1
    # the overlays' scale: every map is divided by its own maximum, so 1 is each map's strongest location
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap="jet"), ax=list(axes[1:, :].flat),
                       fraction=0.025, pad=0.02)
    bar.set_label("map / its maximum", fontsize=FONT_PT)
    bar.ax.tick_params(labelsize=FONT_PT)
    # no figure title: the report's caption names the network, the method and the group, and a title
    # above three or four lines of tile titles collides with them
    return fig


# ---------------------------------------------------------------- the pipeline's adapters

def _model(results: Path, family: str) -> nn.Module:
    from experiments.training.runs import load_model
    return load_model(Path(results) / paths.final(family))


def run_selection(results: Path, prepared, params: dict) -> dict:
    """Choose the shown validation images with both final models; writes interpret/selection.json."""
    models = {f: _model(results, f) for f in FAMILIES}
    images = to_float_images(prepared.val_x)
    sel = select_images(models, images, torch.as_tensor(prepared.val_y), params["n_correct"], params["n_incorrect"])
    sel["classes"] = list(prepared.classes)
    write_json(Path(results) / paths.SELECTION, sel)
    return sel


def _selected(results: Path, prepared) -> tuple[dict, torch.Tensor, torch.Tensor]:
    sel = read_json(Path(results) / paths.SELECTION)
    idx = [it["index"] for it in sel["items"]]
    images = to_float_images(prepared.val_x[idx]) if idx else torch.empty(0, 3, 32, 32)
    return sel, images, torch.tensor([it["label"] for it in sel["items"]], dtype=torch.long)


def features_stage(family: str, results: Path, prepared, params: dict) -> dict:
    sel, images, _ = _selected(results, prepared)
    index = sel["items"][0]["index"] if sel["items"] else 0
    image = images[0] if len(images) else to_float_images(prepared.val_x[:1])[0]
    from experiments.training.runs import load_initial_model
    model = _model(results, family)
    return run_features(model, image, Path(results) / paths.interpret(family), params, image_index=index,
                        initial=load_initial_model(Path(results) / paths.final(family), model))


def cam_stage(family: str, results: Path, prepared, params: dict) -> dict:
    sel, images, labels = _selected(results, prepared)
    return run_cam(_model(results, family), images, labels, sel, sel["classes"],
                   Path(results) / paths.interpret(family), params)


def saliency_stage(family: str, results: Path, prepared, params: dict) -> dict:
    sel, images, labels = _selected(results, prepared)
    return run_saliency(_model(results, family), images, labels, sel, sel["classes"],
                        Path(results) / paths.interpret(family), params)
