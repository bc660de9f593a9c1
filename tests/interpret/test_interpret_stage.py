"""The stage functions write every file the report reads, for both families, from a toy model."""
import json

import pytest
import torch

from experiments.interpret.stage import run_cam, run_features, run_saliency
from tests.interpret.conftest import CLASSES, PARAMS
from tests.interpret.test_interpret_toys import ToyNet, hook_count


@pytest.mark.parametrize("family", ["gap", "dense"])
def test_stage_functions_write_every_file_the_report_reads(family, selected, tmp_path):
    models, images, labels, sel = selected
    model = models[family]
    features = run_features(model, images[0], tmp_path, PARAMS, image_index=sel["items"][0]["index"])
    cam = run_cam(model, images, labels, sel, CLASSES, tmp_path, PARAMS)
    saliency = run_saliency(model, images, labels, sel, CLASSES, tmp_path, PARAMS)
    for layer in features["layers"]:
        assert (tmp_path / layer["feature_maps"]).stat().st_size > 0 and (tmp_path / layer["filters"]).exists()
    for name in ("gabor.png", "cam_correct.png", "cam_incorrect.png", "saliency_correct.png", "saliency_incorrect.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    gabor = json.loads((tmp_path / "gabor.json").read_text())
    assert gabor["kernel_size"] == [3, 3] and len(gabor["r2"]) == 4 and 0 <= gabor["p_value"] <= 1
    assert gabor["frozen_before"] == 0, "no frozen stem: the first conv itself, in pixel units"
    assert json.loads((tmp_path / "features.json").read_text()) == features
    assert cam["method"] == ("CAM" if family == "gap" else "HiResCAM") and cam["caption"]
    assert saliency["method"] == "guided backpropagation"
    for record in (cam, saliency):
        m = record["metrics"]
        assert m["n_images"] == len(images)
        assert len(m["blank_per_image"]) == len(images) and m["blank_maps"] == sum(m["blank_per_image"])
        assert "randomization_per_image" not in m, "the sanity check is measured over the measured images"
        assert "interpretation" not in record, "the stage records numbers; the report words them"
    assert hook_count(model) == 0


def test_no_selected_images_still_writes_the_files(selected, tmp_path):
    model = selected[0]["gap"]
    record = run_cam(model, torch.empty(0, 3, 32, 32), torch.empty(0, dtype=torch.long), {"items": []},
                     CLASSES, tmp_path, PARAMS)
    assert record["metrics"]["n_images"] == 0 and "blank_maps" not in record["metrics"]
    assert (tmp_path / "cam_correct.png").exists() and (tmp_path / "cam_incorrect.png").exists()


def test_a_frozen_whitening_stem_is_labelled_and_the_gabor_test_skips_it(tmp_path):
    from experiments.training.models import build_model, candidate, init_whitening
    torch.manual_seed(0)
    model = build_model(candidate("gap-s")).eval()
    init_whitening(model, torch.rand(8, 3, 32, 32))
    features = run_features(model, torch.rand(3, 32, 32), tmp_path, PARAMS)
    assert [layer["learned"] for layer in features["layers"]][0] is False, "conv layer 1 is the frozen whitening"
    gabor = json.loads((tmp_path / "gabor.json").read_text())
    assert gabor["layer"] == 2 and gabor["frozen_before"] == 1, "the Gabor test runs on the first learned conv"
    assert gabor["kernel_size"] == [4, 4] and gabor["space"] == "pixel", "2x2 whitening then 3x3: 4x4 on the pixels"
    assert gabor["n_filters"] == 32 and (tmp_path / gabor["filters"]).read_bytes()[:4] == b"\x89PNG"


def _print_scale(png) -> float:
    """How much the report shrinks a saved figure: an img is at most the text width (180 mm) wide and
    112 mm tall (templates/report.css), and a figure is drawn at print size (its PNG's dpi)."""
    from PIL import Image
    with Image.open(png) as im:
        width_in, height_in = (px / dpi for px, dpi in zip(im.size, im.info["dpi"]))
    return min(1.0, (180 / 25.4) / width_in, (112 / 25.4) / height_in)


def test_map_figures_of_ten_images_print_their_7_5_pt_labels_at_7_pt_or_more(tmp_path):
    """Issue 29: labels >= 7 pt at print size. The misclassified guided-backprop figure of 10 images
    had five rows, 180 mm tall, and printed at 63%: 4.7 pt."""
    from experiments.interpret.features import FONT_PT
    torch.manual_seed(0)
    model = ToyNet("gap", seed=1)
    images, labels = torch.rand(20, 3, 32, 32), torch.arange(20) % 10
    sel = {"items": [{"index": i, "label": int(labels[i]), "group": "correct" if i < 10 else "incorrect"}
                     for i in range(20)]}
    run_saliency(model, images, labels, sel, CLASSES, tmp_path, PARAMS)
    run_cam(model, images, labels, sel, CLASSES, tmp_path, PARAMS)
    run_features(model, images[0], tmp_path, PARAMS)
    for name in ("saliency_correct", "saliency_incorrect", "cam_correct", "cam_incorrect", "gabor"):
        assert FONT_PT * _print_scale(tmp_path / f"{name}.png") >= 7.0, f"{name}.png prints its labels below 7 pt"
