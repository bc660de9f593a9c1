"""What the stages record about the figures they draw: where each shown map peaks, whether the predicted
and true class's maps differ for a misclassified image, the maps' grain, and how far training moved
each layer's filters from their initialisation."""
import copy

import torch
from torch import nn

from experiments.interpret.features import CHANGED, filter_changes
from experiments.interpret.measures import peak_places
from experiments.interpret.stage import run_cam, run_features, run_saliency
from tests.interpret.conftest import CLASSES, PARAMS


def test_a_map_peak_is_named_by_the_third_of_the_image_it_falls_in():
    maps = torch.zeros(4, 32, 32)
    maps[0, 16, 16] = 1      # centre
    maps[1, 1, 30] = 1       # top right
    maps[2, 20, 2] = 1       # middle left
    # the fourth stays blank: no peak to name
    assert peak_places(maps) == ["centre", "top right", "middle left", None]


def test_filter_changes_count_the_filters_training_moved():
    start = nn.Conv2d(2, 4, 3, bias=False)
    trained = copy.deepcopy(start)
    assert filter_changes(trained, start)["changed"] == 0, "an untouched layer is its initialisation"
    with torch.no_grad():
        trained.weight[:2] += 2 * CHANGED * trained.weight[:2]   # two filters move 20% of their size
        trained.weight[2] *= 1 + CHANGED / 2                     # one moves 5%: still its initialisation
    change = filter_changes(trained, start)
    assert change["changed"] == 2 and change["of"] == 4 and change["threshold"] == CHANGED


def test_the_features_record_says_how_far_each_layer_moved(selected, tmp_path):
    models, images, _, sel = selected
    model = models["gap"]
    initial = copy.deepcopy(model)
    with torch.no_grad():
        for conv in (m for m in initial.modules() if isinstance(m, nn.Conv2d)):
            conv.weight.mul_(0.5)
    record = run_features(model, images[0], tmp_path, PARAMS, initial=initial)
    assert all(layer["change"]["changed"] == layer["change"]["of"] for layer in record["layers"])
    assert all(layer["change"] is None for layer in run_features(model, images[0], tmp_path, PARAMS)["layers"])


def test_the_shown_maps_are_recorded_image_by_image(selected, tmp_path):
    models, images, labels, sel = selected
    for run in (run_cam, run_saliency):
        m = run(models["dense"], images, labels, sel, CLASSES, tmp_path, PARAMS)["metrics"]
        assert len(m["shown"]) == len(images) and 0 < m["centre_area"] < 1
        for item, it, label in zip(m["shown"], sel["items"], labels):
            assert item["index"] == it["index"] and item["label"] == int(label)
            if item["pred"] == item["label"]:
                assert item["pred_true_rho"] is None, "a map compared with itself says nothing"
            assert item["peak"] is None or item["peak"] in {"centre", "top left", "top centre", "top right",
                                                            "middle left", "middle right", "bottom left",
                                                            "bottom centre", "bottom right"}
        assert m["grain"] == (32 if run is run_saliency else 16), "ToyNet's last feature map is 16x16"
