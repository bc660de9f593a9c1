"""Claims about a training choice are judged over training runs, and many verdicts at once are
controlled together: an effect over validation images gets numbers and no word, a table's p-values
are adjusted (Benjamini-Hochberg), and the dropout question for the network handed in is answered
over the seeds of its own cell."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from experiments.stats import NO_VERDICT, adjust_table, effect_verdict, moments_verdict, t_test_p
from experiments.studies.ablation import full_split_seeds
from experiments.studies.ablation_summary import rung_effects
from experiments.writeup.wording import ablation_verdicts

CLEAR = ("helps", "hurts", "positive", "negative")


def test_an_effect_over_validation_images_never_gets_a_verdict_word_however_clear_its_interval():
    v = moments_verdict(0.30, 0.2, 5000, unit="image")  # an interval far above 0
    assert v["low"] > 0 and v["word"] == NO_VERDICT and not v["clear"]


def test_the_p_value_is_the_intervals_own_t_test():
    per_seed = [0.01, 0.02, 0.015, 0.03]
    expected = stats.ttest_1samp(per_seed, 0).pvalue
    assert t_test_p(np.mean(per_seed), np.std(per_seed, ddof=1), 4) == pytest.approx(expected)


@given(st.lists(st.lists(st.floats(-0.2, 0.2), min_size=2, max_size=5), min_size=1, max_size=12))
def test_an_adjusted_p_at_or_above_the_level_never_prints_a_clear_word(tables):
    for v in adjust_table([effect_verdict(s) for s in tables]):
        if v.get("p_adjusted") is not None and v["p_adjusted"] >= 0.05:
            assert v["word"] not in CLEAR and not v["clear"]


def test_a_clear_effect_among_many_null_ones_can_lose_its_word_after_adjustment():
    borderline = effect_verdict([0.010, 0.014, 0.012, 0.004])  # p ~ 0.02 alone
    nulls = [effect_verdict([0.01, -0.01, 0.005, -0.004]) for _ in range(5)]
    assert borderline["word"] == "helps"
    adjusted = adjust_table([borderline, *nulls])[0]
    assert adjusted["p_adjusted"] > borderline["p"] and adjusted["word"] == "no clear effect"


def _records(seeds_by_cell: dict, acc_by_cell: dict) -> dict:
    return {c: {"seeds": seeds, "val_acc": acc_by_cell[c], "val_pred": [[0, 1, 1, 0]] * len(seeds)}
            for c, seeds in seeds_by_cell.items()}


def test_with_three_seeds_in_the_finals_cell_and_its_dropout_sibling_dropout_is_judged_over_seeds():
    seeds = {"plain": [0], "dropout": [0], "bn": [0, 1, 2], "bn-dropout": [0, 1, 2]}
    acc = {"plain": [0.5], "dropout": [0.5], "bn": [0.90, 0.91, 0.92], "bn-dropout": [0.93, 0.935, 0.95]}
    effects = rung_effects(_records(seeds, acc), np.array([0, 1, 0, 0]), final_cell="bn")
    assert effects["bn_effect"]["unit"] == "image", "the 2x2 effects share one seed: paired over images"
    pair = effects["dropout_in_final"]
    assert pair["unit"] == "seed" and pair["cells"] == ["bn-dropout", "bn"]
    assert pair["per_seed"] == pytest.approx([0.03, 0.025, 0.03])


def test_the_full_splits_seed_plan_gives_the_final_its_repeats_and_each_twin_its_seeds():
    plan = full_split_seeds({"full_seeds": [0], "final_seeds": [0, 1, 2], "twin_seeds": [0, 1]}, "bn-dropout")
    # bn-dropout's twins: dropout (batch norm alone changed) and bn (dropout alone changed); plain is the fourth
    assert plan == {"plain": [0], "bn": [0, 1], "dropout": [0, 1], "bn-dropout": [0, 1, 2]}
    assert full_split_seeds({"full_seeds": [], "final_seeds": [0], "twin_seeds": [0]}, "plain") == \
        {"plain": [0], "bn": [0], "dropout": [0], "bn-dropout": []}


def test_a_profile_can_train_only_the_final_on_the_full_split():
    assert full_split_seeds({"full_seeds": [], "final_seeds": [0], "twin_seeds": []}, "bn") == \
        {"plain": [], "bn": [0], "dropout": [], "bn-dropout": []}
    with pytest.raises(Exception, match="final_seeds is empty"):
        full_split_seeds({"full_seeds": [0], "final_seeds": [], "twin_seeds": []}, "bn")


def test_a_twin_with_fewer_runs_than_the_final_is_judged_against_the_finals_repeats():
    """One run of a twin against three of the final's: no shared seeds to pair, so the twin's run is set
    against the final's mean with the noise the final's repeats measured (pooled t, unit "run")."""
    records = _records({"bn": [0, 1, 2], "plain": [5]}, {"bn": [0.92, 0.921, 0.919], "plain": [0.85]})
    effect = rung_effects(records, np.array([0, 1, 0, 0]), final_cell="bn")["bn_in_final"]
    assert effect["unit"] == "run" and effect["cells"] == ["bn", "plain"]
    assert effect["n_on"] == 3 and effect["n_off"] == 1 and effect["mean"] == pytest.approx(0.07)
    from experiments.stats import unpaired_verdict
    v = unpaired_verdict(effect["mean"], effect["sd"], effect["n_on"], effect["n_off"])
    assert v["word"] == "helps" and v["low"] > 0, "7 points against a spread of 0.1 between the final's runs"
    close = _records({"bn": [0, 1, 2], "plain": [5]}, {"bn": [0.92, 0.93, 0.91], "plain": [0.915]})
    e = rung_effects(close, np.array([0, 1, 0, 0]), final_cell="bn")["bn_in_final"]
    assert unpaired_verdict(e["mean"], e["sd"], e["n_on"], e["n_off"])["word"] == "no clear effect"


def test_with_only_the_final_on_the_full_split_the_2x2_is_read_on_the_largest_complete_rung():
    records = _records({"bn": [0]}, {"bn": [0.9]})
    assert rung_effects(records, np.array([0, 1, 0, 0]), final_cell="bn") == {}, "no effect from one cell"
    cells = [{"cell": c, "fit_gap": [0.01], "seeds": [0, 1, 2], "val_acc": [0.5, 0.6, 0.55], "seed_range": 0.1,
              "train_acc": [0.6] * 3} for c in ("plain", "bn", "dropout", "bn-dropout")]
    effects = {k: {"per_seed": [0.020, 0.021, 0.022]} for k in ("bn_effect", "dropout_effect", "interaction")}
    ladder = {"cells": [], "rungs": [
        {"n_train": 4000, "seeds": [0, 1, 2], "cells": cells, "effects": effects},
        {"n_train": 45000, "seeds": [0], "effects": {},
         "cells": [{"cell": "bn", "seeds": [0], "val_acc": [0.9], "fit_gap": [0.02], "seed_range": None}]}]}
    v = ablation_verdicts(ladder)
    assert "Only bn trained on the full split (45,000 images)" in v["text"]
    assert "read at 4,000 images" in v["text"] and "Intervals are paired t over 3 seeds" in v["text"]
    assert "clearly helps" in v["text"] and "Along the ladder" not in v["text"]
    assert [r["plan"] for r in v["rungs"]] == ["3 seeds", "bn only, 1 seed"]
    assert not v["ladder_figure"], "one rung with effects: no figure against training-set size"
    assert v["rungs"][1]["rows"] == []


def test_a_one_run_effect_is_set_beside_the_largest_seed_spread_the_build_measured():
    cells = [{"cell": c, "fit_gap": [0.0], "seed_range": r} for c, r in
             zip(("plain", "bn", "dropout", "bn-dropout"), (0.04, 0.01, 0.02, 0.005))]
    effects_small = {k: {"per_seed": [0.01, 0.02, 0.0]} for k in ("bn_effect", "dropout_effect", "interaction")}
    full = {k: {"unit": "image", "n": 5000, "mean": 0.02, "sd": 0.2} for k in ("bn_effect", "dropout_effect", "interaction")}
    ladder = {"cells": [], "rungs": [{"n_train": 4000, "seeds": [0, 1, 2], "cells": cells, "effects": effects_small},
                                     {"n_train": 45000, "seeds": [0], "cells": [dict(c, seed_range=None) for c in cells],
                                      "effects": full}]}
    text = ablation_verdicts(ladder)["text"]
    assert "these cells' largest seed spread: 4.0 points at 4,000 images" in text
    assert "is not measured" not in text


def test_one_run_effects_in_a_build_with_no_seed_spread_say_that_training_noise_is_unmeasured():
    cells = [{"cell": c, "fit_gap": [0.0], "seed_range": None} for c in ("plain", "bn", "dropout", "bn-dropout")]
    effects = {k: {"unit": "image", "n": 5000, "mean": 0.02, "sd": 0.2} for k in ("bn_effect", "dropout_effect",
                                                                                   "interaction")}
    text = ablation_verdicts({"cells": [], "rungs": [{"n_train": 4000, "seeds": [0], "cells": cells,
                                                      "effects": effects}]})["text"]
    assert "No cell ran at several seeds in this build, so how far another training run would move them is not " \
           "measured." in text
    assert "seed spread:" not in text and "clearly" not in text
