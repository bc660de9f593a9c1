"""The interpretation of Problems 4-5 (experiments/writeup/map_findings.py): each sentence says what its
verdict found, names the numbers behind it, and says "unclear" when the interval does."""
from experiments.writeup.map_findings import measures_findings
from tests.fake_results import EDGES, MEASURES, measures_record

FLATTEN = "A flatten head has its own weights for each location, so it can favour some locations whatever the image"


def _findings(changes: dict | None = None, spread: float = 0.1, n: int = 300, edges: dict | None = None) -> dict:
    """Findings from fake measures: MEASURES' means with `changes` ((family, kind) -> means), EDGES' with `edges`."""
    return measures_findings(measures_record(n, 0, {**MEASURES, **(changes or {})}, spread,
                                             edges={**EDGES, **(edges or {})}))


def test_evidence_outside_the_centre_and_on_it_are_said_with_their_shares():
    f = _findings()
    dense, gap = f["cam"]["families"]["dense"], f["cam"]["families"]["gap"]
    assert dense["centre"]["correct"]["word"] == "off-centre" and gap["centre"]["correct"]["word"] == "centred"
    assert "less of its evidence lies in the centre" in dense["text"]
    assert "more of its evidence lies in the centre" in gap["text"]
    share = dense["centre"]["correct"]["mean"]
    assert f"{100 * share:.1f}% of their mass in the central square" in dense["text"]


def test_a_share_whose_interval_includes_the_area_is_unclear():
    f = _findings({("gap", "cam"): (0.25, 0.3, 0.06, 0.09, 0.0)}, spread=0.3, n=40)
    gap = f["cam"]["families"]["gap"]
    assert gap["centre"]["correct"]["word"] == "unclear" and "no clear preference" in gap["text"]


def test_guided_backprop_insensitive_to_the_class_is_said_to_agree_with_nie_and_sensitive_to_differ():
    agrees = _findings()["saliency"]["families"]["dense"]
    assert agrees["classes"]["word"] == "nearly class-insensitive" and "as Nie et al. (2018) [[cite:nie2018]] showed" in agrees["text"]
    differs = _findings({("dense", "saliency"): (0.3, 0.1, 0.01, 0.0, 0.0)})["saliency"]["families"]["dense"]
    assert differs["classes"]["word"] == "class-sensitive" and "Unlike what Nie et al. (2018) [[cite:nie2018]]" in differs["text"]


def test_blank_hirescam_maps_are_counted_and_explained_and_no_blank_map_is_said_plainly():
    f = _findings()
    dense, gap = f["cam"]["families"]["dense"], f["cam"]["families"]["gap"]
    b = dense["blanks"]
    assert b["blank"] > 0 and f"{b['blank']} of the 300 maps for the predicted class are blank" in dense["text"]
    assert "no location raises the class score" in dense["text"] and "flatten head" in dense["text"]
    assert "No CAM map of the 300 images is blank" in gap["text"] and "flatten head" not in gap["text"]


def test_faithfulness_against_smooth_random_maps_says_unclear_when_an_interval_includes_zero():
    f = _findings()
    assert f["cam"]["families"]["gap"]["overall"]["word"] == "faithful"
    guided = f["saliency"]["families"]["dense"]  # gains 0.01 and 0.0 with sd 0.1 over 300 images
    assert guided["overall"]["word"] == "unclear" and "is unclear" in guided["text"]
    assert "noise at 16×16" in guided["text"], "the random maps' grain is named"


def test_the_networks_comparison_names_both_correlations_and_the_centre_difference():
    c = _findings()["cam"]["comparison"]
    assert c["agreement"]["word"] == "agree" and c["centre"]["word"] == "gap more centred"
    assert f"mean rank correlation {c['agreement']['mean_b']:.2f}, against {c['agreement']['mean_a']:.2f}" in c["text"]


def test_the_text_changes_with_the_numbers():
    a = _findings()["cam"]["families"]["gap"]["text"]
    b = _findings({("gap", "cam"): (0.6, 0.3, 0.06, 0.09, 0.0)})["cam"]["families"]["gap"]["text"]
    assert a != b and "most of its evidence sits in the centre" in b


def test_a_lean_of_the_mass_towards_a_corner_is_named_with_its_offsets():
    f = _findings()["cam"]["families"]
    dense, gap = f["dense"], f["gap"]
    assert dense["lean"]["word"] == "leans to the lower right" and "the evidence leans to the lower right" in dense["text"]
    assert f"{dense['lean']['right']['mean']:+.1f} px to the right" in dense["text"]
    assert gap["lean"]["word"] == "no clear lean" and "no clear lean to any side" in gap["text"]


def test_blank_maps_for_the_true_class_only_are_said_without_claims_about_the_predicted_class():
    from experiments.writeup.map_findings import blank_sentence
    counts = {"n": 300, "blank": 0, "n_correct": 190, "blank_correct": 0, "n_incorrect": 110, "blank_incorrect": 0,
              "blank_true": 1}
    text = blank_sentence("HiResCAM", counts)
    assert text.startswith("No map for the predicted class is blank, but 1 of the 110 maps for the true class")
    assert "no evidence for it anywhere" in text and "won without positive evidence" not in text


def test_a_blank_cam_map_is_explained_by_the_pooling_head_not_the_flatten_head():
    from experiments.writeup.map_findings import blank_sentence
    counts = {"n": 300, "blank": 2, "n_correct": 190, "blank_correct": 0, "n_incorrect": 110, "blank_incorrect": 2,
              "blank_true": 0}
    text = blank_sentence("CAM", counts)
    assert "A CAM map is blank when no location raises the class score" in text
    assert "global-average-pooling head" in text and "flatten head" not in text
    assert "won without positive evidence" in text and "no evidence for it anywhere" not in text


def test_borders_and_corners_are_named_only_where_their_share_of_the_mass_exceeds_their_share_of_the_area():
    f = _findings()["cam"]["families"]
    dense, gap = f["dense"], f["gap"]
    assert dense["edges"]["word"] == "borders and corners" and "towards the borders and the corners" in dense["text"]
    assert f"holds {100 * dense['edges']['border']['mean']:.1f}% of the mass" in dense["text"]
    assert gap["edges"]["word"] == "neither" and "leans towards the borders" not in gap["text"]
    assert "no lean towards the borders or the corners beyond their share" in gap["text"]
    ring_only = _findings(edges={("dense", "cam"): (0.6, 0.15, 0.6)})["cam"]["families"]["dense"]
    assert ring_only["edges"]["word"] == "borders" and "towards the borders, not into the corners" in ring_only["text"]


def test_the_flatten_head_explanation_is_printed_only_when_the_dense_maps_are_measured_more_alike():
    alike = _findings()["cam"]["comparison"]
    assert alike["layout"]["word"] == "dense maps more alike" and FLATTEN in alike["text"]
    assert FLATTEN not in _findings()["cam"]["families"]["dense"]["text"], "the lean alone explains nothing"
    for dense_rho, word in ((0.1, "gap maps more alike"), (0.3, "unclear")):
        other = _findings(edges={("dense", "cam"): (0.6, 0.35, dense_rho)})["cam"]["comparison"]
        assert other["layout"]["word"] == word and FLATTEN not in other["text"]


def test_the_agreement_baseline_is_said_to_pair_images_of_different_classes():
    text = _findings()["cam"]["comparison"]["text"]
    assert "between maps of images of different classes" in text and "one of another class" in text


def test_a_failed_sanity_check_beside_a_passed_deletion_test_is_reconciled_not_asserted_twice():
    """Issue 29: guided backpropagation "is not the network's reasoning" (sanity fails) and "the
    pixels it ranks first are ones the prediction depends on" (deletion beats random) must be read
    together: what each test measures, and what both together say about the maps."""
    from experiments.writeup.faithfulness_wording import reconciled
    both = reconciled("faithful", "fails")
    assert "(deletion, insertion)" in both and "(sanity check)" in both and "not what this network learned" in both
    assert reconciled("faithful", "passes") == "" and reconciled("unclear", "fails") == ""
    assert "without pointing at what the prediction depends on" in reconciled("not more faithful than random", "passes")


def test_maps_that_fail_the_sanity_check_agree_about_the_image_not_about_what_the_networks_learned():
    """Issue 37: P5 said guided backpropagation's pictures are not the network's reasoning, then that the
    two networks agree on where the evidence is: agreement of maps that ignore the weights is the image's."""
    from experiments.writeup.map_findings import agreement_sentence
    v = {"n": 200, "low": 0.1, "high": 0.2, "mean": 0.15, "mean_a": 0.3, "mean_b": 0.45, "word": "agree"}
    failed = agreement_sentence("guided backpropagation", v, ["dense", "gap"])
    assert "agree on where the evidence is" not in failed and "dense's and gap's maps failed the sanity check" in failed
    assert "agree on where the evidence is" in agreement_sentence("CAM", v, [])
