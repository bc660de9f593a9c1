"""The answers page says briefly what the sections measured, and nothing they did not."""
import pytest

from experiments.writeup.summary import conv_item, effect_answer, loss_answer


def test_the_loss_answer_names_where_validation_loss_was_lowest_and_a_single_epoch_is_one_point():
    one = loss_answer({"history": [{"epoch": 1, "train_loss": 1.5, "val_loss": 1.05}]})
    assert "one point, no curve" in one and "went from" not in one
    two = loss_answer({"history": [{"epoch": 1, "train_loss": 1.5, "val_loss": 1.05},
                                   {"epoch": 2, "train_loss": 1.2, "val_loss": 1.1}]})
    assert "went from 1.500 to 1.200" in two and "its lowest was 1.050 at epoch 1" in two


def test_a_one_epoch_run_with_points_within_it_is_a_curve():
    points = {"train": [[1, 2.3], [2, 2.0], [3, 1.7], [4, 1.4]], "val": [[2, 1.9], [4, 1.3]]}
    one = loss_answer({"history": [{"epoch": 1, "train_loss": 1.85, "val_loss": 1.3, "val_acc": 0.5,
                                    "steps_per_epoch": 4, "points": points}]})
    assert "no curve" not in one and "4 training and 2 validation points" in one
    assert "went from 2.300 to 1.400" in one and "from 1.900 (at 0.50 of the epoch) to 1.300" in one


def test_problem_1s_answer_says_whether_the_course_notebook_failed():
    tester = {"tolerance": 1e-10, "cases": [{"err_Z": 1e-15, "err_dLdA": 2e-15, "err_dLdW": 3e-15, "passed": True}]}
    bench = {"cases": [{"ratio": 1.2}, {"ratio": 1.4}]}
    plain = conv_item(tester, bench, {"given": False})["text"]
    assert "1 of 1 tester cases" in plain and "1.20–1.40×" in plain and "notebook" not in plain
    failed = conv_item(tester, bench, {"given": True, "name": "Conv2DTester.ipynb", "n_failed": 2,
                                       "cells": [{}] * 5})["text"]
    assert "Conv2DTester.ipynb ran 5 code cells against it: 2 FAILED." in failed


@pytest.mark.parametrize("word, reason", [("helps", None), ("no clear effect", "Benjamini-Hochberg over the table"),
                                          ("no clear effect", None)])
def test_the_answers_page_and_the_body_give_an_effect_the_same_verdict_words(word, reason):
    """Issue 37: the answers page said "no effect beyond seed noise" where the body said the interval
    "excludes 0 ... but not after correcting": one function words both."""
    from experiments.writeup.wording import effect_phrase, effect_sentence
    v = {"word": word, "reason": reason, "mean": -0.026, "low": -0.051, "high": -0.0001, "n": 3, "clear": word == "helps",
         "cells": ["bn", "bn-dropout"], "p_adjusted": 0.08 if reason else None}
    phrase = effect_phrase(v)
    assert phrase in effect_answer("Dropout in the final's cell", v, "same rate", 45000)
    assert phrase in effect_sentence("dropout_in_final", v)
    if reason:
        assert "adjusted" in phrase and "unadjusted" in phrase


def test_a_verdict_names_the_regime_it_holds_in():
    """Issue 37: 'batch norm clearly helps' was measured on 16-step runs: the answer says so."""
    v = {"word": "helps", "reason": None, "mean": 0.3, "low": 0.2, "high": 0.4, "n": 3, "clear": True}
    text = effect_answer("Batch norm", v, "same rate", 4000, final={"epochs": 8, "train": {"batch_size": 2000}})
    assert "on 4,000 training images (8 epochs, 16 optimizer steps a run)" in text


def test_the_answers_page_says_what_the_maps_show_in_plain_sentences():
    """Issue 37: P4 read as a chain of verdict words ('faithful against random maps; against its own mean
    map unclear; evidence in the centre'); one plain sentence per network, the same verdicts."""
    from experiments.writeup.summary import maps_item
    r = {"method": "CAM", "sanity": {"word": "passes"}, "overall": {"word": "faithful"},
         "centre": {"correct": {"word": "centred", "mean": 0.41, "low": 0.38}}}
    found = {"families": {"dense": r, "gap": {**r, "sanity": {"word": "fails"}}}}
    text = maps_item("P4", "cam", found, [{"name": "dense"}, {"name": "gap"}], 0.25)["text"]
    assert text.count(".") == 2 + text.count("e.g."), "one sentence per network"
    assert "dense-final's CAM maps depend on what the network learned" in text
    assert "gap-final's CAM maps barely change when its weights are re-initialised" in text
    assert "41% of a map lies in the central square (25% of the image), more than a map with no preference" in text
    assert "against its own mean map" not in text and "; sanity check" not in text


def test_a_twin_that_stayed_near_chance_is_said_not_to_have_trained():
    """Issue 42: gap's twin without batch norm sat at 10% at its fixed rate 0.06 on the full split; the
    +80 points are whether the network trained at all, and the answer says so."""
    from experiments.writeup.summary import untrained_twin
    av = {"full": {"cells": [{"cell": "bn-dropout", "mean": 0.915}, {"cell": "dropout", "mean": 0.1}]},
          "rates": {"lr": {"bn-dropout": 0.24, "dropout": 0.06}}}
    text = untrained_twin(["bn-dropout", "dropout"], av, 0.1)
    assert "dropout stayed near chance (10.0%) at its learning rate 0.06" in text and "trained at all" in text
    assert untrained_twin(["bn-dropout", "dropout"], av, None) == "", "no chance level recorded: no claim"
