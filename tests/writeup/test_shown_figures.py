"""The sentences that say what the figures of Problems 3-5 show change with what was measured."""
from experiments.writeup.shown_figures import (feature_map_note, filter_change_sentence, grain_sentence,
                                               shown_maps_sentences)

CLASSES = ["airplane", "automobile", "bird", "cat"]


def layer(**change):
    return {"map_size": [7, 7], "learned": True,
            "change": {"changed": 0, "of": 128, "median_change": 0.02, "threshold": 0.1, **change}}


def test_a_filter_grid_still_at_its_initialisation_is_called_so():
    assert "still shows the initialisation" in filter_change_sentence(layer())
    assert "learned filters" in filter_change_sentence(layer(changed=128, median_change=1.2))
    partly = filter_change_sentence(layer(changed=100, median_change=0.4))
    assert "100 of the 128" in partly and "other 28 still show their initialisation" in partly
    assert filter_change_sentence({**layer(), "learned": False}) == "", "a frozen layer's caption says so"
    assert filter_change_sentence({**layer(), "change": None}) == "", "no initial model: nothing to say"


def test_only_maps_too_small_for_a_shape_get_a_note():
    assert feature_map_note(layer()) == ""
    note = feature_map_note({**layer(), "map_size": [3, 3], "layer": 7, "channels_shown": 128, "constant_channels": 19})
    assert "which of 9 positions" in note and "19 of the 128 channels are constant" in note


def test_the_grain_names_the_cells_a_map_is_made_of():
    assert "3×3 cells" in grain_sentence("CAM", 3) and grain_sentence("guided backpropagation", 32).startswith("Guided backpropagation gives a value per pixel")


def shown(*items, grain=3):
    return {"method": "CAM", "metrics": {"grain": grain, "centre_area": 0.25, "shown": [
        {"index": k, "group": g, "label": lab, "pred": pred, "peak": peak, "centre_mass": mass, "pred_true_rho": rho}
        for k, (g, lab, pred, peak, mass, rho) in enumerate(items)]}}


def test_the_shown_images_are_described_one_by_one():
    text = shown_maps_sentences(shown(("correct", 0, 0, "centre", 0.6, None), ("correct", 1, 1, "top left", 0.1, None),
                                      ("incorrect", 2, 3, "centre", 0.3, 0.1),
                                      ("incorrect", 3, 3, "centre", 0.3, None)), CLASSES)
    assert "in the centre for 1 (airplane)" in text and "elsewhere for 1 (automobile: top left)" in text
    assert "10% to 60%" in text and "25% for a map without preference" in text
    assert "Of the 1 image this network gets wrong" in text and "to different places" in text
    assert "bird as cat, 0.10" in text
    assert "not why it chose" not in text, "the maps differ: nothing coincides"


def test_maps_that_coincide_for_two_classes_are_said_to_show_where_not_why():
    text = shown_maps_sentences(shown(("incorrect", 2, 3, "centre", 0.3, 0.9)), CLASSES)
    assert "much the same places" in text and "not why it chose the wrong class" in text


def test_nothing_recorded_means_no_sentence():
    assert shown_maps_sentences({"method": "CAM", "metrics": {}}, CLASSES) == ""


def test_a_method_that_did_not_pass_its_sanity_check_is_never_said_to_show_where_the_network_looked():
    """Issue 43: "the map shows where the network looked" said of guided backprop just after it failed."""
    record = shown(("incorrect", 2, 3, "centre", 0.3, 0.9))
    assert "shows where the network looked" in shown_maps_sentences(record, CLASSES)
    text = shown_maps_sentences(record, CLASSES, trusted=False)
    assert "shows where the network looked" not in text and "no evidence of where the network looked" in text
