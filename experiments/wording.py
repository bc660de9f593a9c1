"""The report's interpretation sentences, built from `experiments.verdicts`: each claim names the
number it rests on, and a missing number is said to be missing ("not recorded"), never printed
as "nan" or "None". `family_verdicts(family)` is what the report adds to each family's context.
"""
from __future__ import annotations

from experiments.verdicts import (NOT_MEASURED, effect_verdict, finite, gabor_verdict, is_number, moments_verdict,
                                  sanity_verdict, search_verdict)

MISSING = "not recorded"
EFFECTS = (("bn_effect", "batch norm"), ("dropout_effect", "dropout"),
           ("interaction", "interaction (BN changes dropout’s effect by)"))
# What Adebayo et al. (2018) found under model-parameter randomisation, per map kind.
ADEBAYO = {"changes": "Adebayo et al. (2018), who found that Grad-CAM maps (of which CAM and HiResCAM are "
                      "close relatives) change a lot when the weights are randomised",
           "stays": "Adebayo et al. (2018), who found guided backpropagation maps nearly unchanged when the weights "
                    "are randomised, much like an edge detector of the input"}
EXPECTED = {"cam": "changes", "saliency": "stays"}


def layer_name(r: dict) -> str:
    """How the Gabor paragraph names the layer it tested (gabor.json's `layer`, when recorded)."""
    return f"conv layer {r['layer']}, the first learned layer," if r.get("layer") else "the first layer"


def pts(x, digits: int = 1) -> str:
    """A fraction as signed percentage points ("+1.2"), or MISSING."""
    return f"{100 * x:+.{digits}f}" if is_number(x) else MISSING


def dec(x, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if is_number(x) else MISSING


def pct(x, digits: int = 0) -> str:
    return f"{100 * x:.{digits}f}%" if is_number(x) else MISSING


# ---------------------------------------------------------------- Problem 2

def interval_text(v: dict) -> str:
    """The 95% interval in points, or why there is none."""
    if v["low"] is not None:
        return f"{pts(v['low'])} to {pts(v['high'])}"
    return f"{v['word']} ({v['reason']})"


def basis_sentence(v: dict) -> str:
    """What a rung's intervals are computed over, said once before its effects."""
    if v.get("unit") == "image":
        return (f"One seed per cell: each interval pairs the cells over the {v['n']:,} validation images, so it covers "
                "which images were drawn for validation, not training noise.")
    return f"Intervals are paired t over {v['n']} seeds (same batch order per seed)."


def effect_sentence(key: str, v: dict) -> str:
    """One effect's verdict with its mean and interval (points)."""
    missing = f"; {v['n_missing']} seed(s) not recorded" if v.get("n_missing") else ""
    numbers = f"{pts(v['mean'])} points, 95% interval {interval_text(v)}{missing}"
    noise = "validation-sample noise" if v.get("unit") == "image" else "seed noise"
    if key == "interaction":
        if v["clear"]:
            return f"The two interact: with batch norm on, dropout's effect changes by {numbers}; the interval excludes 0."
        if v["word"] == "no clear interaction":
            return f"We see no interaction beyond {noise} ({numbers}; the interval includes 0)."
        return _unjudged("The interaction", v)
    name = {"bn_effect": "Batch norm", "dropout_effect": "Dropout"}[key]
    if v["word"] in ("helps", "hurts"):
        return f"{name} clearly {v['word']} here: {numbers}; the interval excludes 0."
    if v["word"] == "no clear effect":
        return f"{name} has no effect we can separate from {noise} ({numbers}; the interval includes 0)."
    return _unjudged(name, v)


def _unjudged(name: str, v: dict) -> str:
    if v["word"] == NOT_MEASURED:
        return f"{name} was not measured ({v['reason']})."
    return f"{name} is not estimable from these runs ({v['reason']}; mean {pts(v['mean'])} points): no verdict."


def rung_verdicts(rung: dict) -> list[dict]:
    """The effects of one rung of the ladder, each judged by its 95% interval."""
    rows = []
    for key, label in EFFECTS:
        e = rung["effects"][key]
        words = ("positive", "negative", "no clear interaction") if key == "interaction" else ()
        if e.get("unit") == "image":
            v = moments_verdict(e["mean"], e["sd"], e["n"], 0, *words, unit="image")
        else:
            v = effect_verdict(e["per_seed"], *words)
        rows.append({"key": key, "label": label, "per_seed": e.get("per_seed", []), **v,
                     "sentence": effect_sentence(key, v)})
    return rows


def ablation_verdicts(ablation: dict) -> dict:
    """Per rung: the effects with verdicts; the paragraph is about the full split (the last rung,
    the network handed in), then how each effect changed along the ladder and what the fit gap says."""
    rungs = [{"n_train": r["n_train"], "seeds": r["seeds"], "rows": rung_verdicts(r),
              "cells": [{**c, "fit_gap_mean": _mean(c.get("fit_gap"))} for c in r["cells"]]}
             for r in ablation["rungs"]]
    full = rungs[-1]
    text = basis_sentence(full["rows"][0]) + " " + " ".join(row["sentence"] for row in full["rows"])
    text += " " + ladder_sentence(rungs) + " " + fit_gap_sentence(full) + " " + underfit_sentence(full)
    text += " " + " ".join(near_chance_sentence(r, ablation.get("chance")) for r in rungs)
    reruns = [n for r in ablation["rungs"] for n in rerun_notes({"seeds": r["seeds"], "cells": _with_lr(r, ablation),
                                                                  "n_train": r["n_train"]})]
    return {"rungs": rungs, "full": full, "text": text.strip(), "reruns": reruns}


def _mean(values):
    ok = finite(values)
    return sum(ok) / len(ok) if ok else None


def _with_lr(rung: dict, ablation: dict) -> list[dict]:
    lr = {c["cell"]: c["lr"] for c in ablation["cells"]}
    return [{**c, "lr": lr.get(c["cell"])} for c in rung["cells"]]


def ladder_sentence(rungs: list[dict]) -> str:
    """Each main effect at the smallest rung and at the full split, with its verdict word at each."""
    if len(rungs) < 2:
        return ""
    first, last = rungs[0], rungs[-1]
    parts = []
    for a, b in zip(first["rows"], last["rows"]):
        if a["key"] == "interaction":
            continue
        parts.append(f"{a['label']} {pts(a['mean'])} points ({a['word']}) at {first['n_train']:,} images against "
                     f"{pts(b['mean'])} ({b['word']}) at {last['n_train']:,}")
    return "Along the ladder: " + "; ".join(parts) + "."


def near_chance_sentence(rung: dict, chance) -> str:
    """The cells whose mean accuracy on a rung is below twice a guess's: they did not train there
    (the rule by which the ablation's rate tuning calls a run untrained, ablation.TRAINED_FACTOR)."""
    if not is_number(chance):
        return ""
    low = [c for c in rung["cells"] if is_number(c.get("mean")) and c["mean"] < 2 * chance]
    if not low:
        return ""
    listed = " and ".join(f"{c['cell']} ({pct(c['mean'], 1)})" for c in low)
    return (f"At {rung['n_train']:,} images {listed} stay{'s' if len(low) == 1 else ''} below twice chance "
            f"({pct(chance, 0)} for a guess): in the final's regime, that network barely trains.")


def fit_gap_sentence(rung: dict) -> str:
    """How much better each cell does on its own training images than on validation (no TTA), and
    how dropout changes that gap, averaged over BN off and on."""
    gap = {c["cell"]: c["fit_gap_mean"] for c in rung["cells"]}
    if not all(is_number(gap.get(c)) for c in ("plain", "bn", "dropout", "bn-dropout")):
        return "The train − validation gap was not recorded for every cell."
    listed = ", ".join(f"{c} {pts(g)}" for c, g in gap.items())
    change = ((gap["dropout"] - gap["plain"]) + (gap["bn-dropout"] - gap["bn"])) / 2
    direction = "narrows" if change < 0 else "widens"
    return (f"On the {rung['n_train']:,} images, training accuracy (un-augmented, no TTA) exceeds validation accuracy by "
            f"{listed} points; dropout {direction} that gap by {abs(100 * change):.1f} points on average.")


UNDERFIT_POINTS = 10.0  # a cell this far below the best cell on its own training images underfits


def underfit_sentence(rung: dict) -> str:
    """The cells that fit their own training images far worse than the best cell does: their
    validation accuracy is held back by optimisation in this budget, not by overfitting."""
    train = {c["cell"]: _mean(c.get("train_acc") or []) for c in rung["cells"]}
    train = {c: a for c, a in train.items() if is_number(a)}
    if len(train) < 2:
        return ""
    top = max(train, key=train.get)
    low = [c for c, a in train.items() if 100 * (train[top] - a) > UNDERFIT_POINTS]
    if not low:
        return ""
    listed = " and ".join(f"{c} ({pct(train[c], 1)})" for c in low)
    return (f"Un-augmented, {listed} fit{'s' if len(low) == 1 else ''} far fewer of {'its' if len(low) == 1 else 'their'}"
            f" own training images than {top} ({pct(train[top], 1)}): at this rung they underfit, so what holds "
            f"them back is how far the training budget takes them, not overfitting.")


def rerun_notes(ablation: dict) -> list[dict]:
    """Seeds that diverged at their cell's learning rate: rerun lower (the factor 2 ** lr_halvings
    and the rate used), or diverged at every retry (no accuracy; left out of the effects)."""
    notes = []
    where = f" at {ablation['n_train']:,} images" if "n_train" in ablation else ""
    for c in ablation["cells"]:
        accs = c.get("val_acc") or []
        diverged = c.get("diverged") or [not is_number(a) for a in accs]
        for i, (seed, halvings) in enumerate(zip(ablation["seeds"], c.get("lr_halvings") or [])):
            if not is_number(halvings) or halvings <= 0:
                continue
            factor = 2 ** int(halvings)
            if i < len(diverged) and diverged[i]:
                text = f"{c['cell']} seed {seed}{where} diverged at every rate down to 1/{factor} and has no accuracy"
            else:
                text = f"{c['cell']} seed {seed}{where} rerun at 1/{factor} of the rate ({c['lr'] / factor:g})"
            notes.append({"cell": c["cell"], "seed": seed, "factor": factor, "text": text})
    return notes


def search_sentence(v: dict) -> str:
    """How the rule applied to the recorded candidates."""
    limit = f"{v['max_minutes']:g} minutes" if v["max_minutes"] is not None else "no time limit"
    if v["word"] == "most accurate that fits":
        untrained = (f" {', '.join(v['untrained'])} projected past the budget on a few timed steps and was not trained."
                     if v.get("untrained") else "")
        binding = (untrained or " The budget was binding: a more accurate candidate's projected final training does "
                   "not fit.") if v["binding"] else " The most accurate candidate also fits, so the budget did not decide."
        return (f"{v['n_fit']} of {v['n_candidates']} candidates fit {limit}; the most accurate of them is "
                f"{v['chosen']}.{binding}")
    if v["word"] == "none fits: fastest chosen":
        return (f"No candidate's projected final training fits {limit}, so the rule fell back to the fastest, "
                f"{v['chosen']}; the final run will exceed the budget.")
    if v["word"] == "budget not recorded":
        return (f"The search did not record the final budget, so whether {v['chosen']} follows the rule "
                "cannot be checked.")
    return (f"The recorded choice, {v['chosen']}, is not what the rule gives for these numbers "
            f"({v['expected'] or MISSING}).")


# ---------------------------------------------------------------- Problem 3

def gabor_sentence(r: dict, v: dict) -> str:
    """The answer to "does the network learn Gabor-like filters?", in the measurement's terms."""
    kernel = r.get("kernel_size") or []
    k = "x".join(map(str, kernel)) or MISSING
    p = f"{v['p_value']:.3g}" if v["p_value"] is not None else MISSING
    text = (f"{pct(r.get('fraction'))} of the {r.get('n_filters', MISSING)} {k} filters of {layer_name(r)} reach "
            f"R² ≥ {r.get('threshold', MISSING)} (median R² {dec(r.get('median_r2'))}); norm-matched random filters "
            f"reach it {pct(r.get('null_fraction'))} of the time (median {dec(r.get('null_median_r2'))}); "
            f"one-sided Mann-Whitney p = {p} (α = {v['alpha'] if v['alpha'] is not None else MISSING}).")
    if v["small_kernel"]:
        text += (f" A {k} kernel has only {kernel[0] * kernel[1]} pixels, too few to show an oriented envelope and "
                 f"a carrier: a 9-parameter Gabor fits almost any smooth {k} pattern.")
    margin = f"{100 * v['margin']:+.0f} points" if v["margin"] is not None else MISSING
    tail = {
        NOT_MEASURED: " Without the test's numbers there is no verdict.",
        "no better than random": " The test does not find the trained filters fitting Gabors better than random "
                                 "ones (p ≥ α): no evidence of Gabor-like filters"
                                 + (", and at this kernel size the question is inconclusive anyway."
                                    if v["small_kernel"] else " at this kernel size and training budget."),
        "inconclusive at this kernel size": " The trained filters do fit better than random ones (p < α), but at "
                                            "this kernel size that is weak evidence at best: inconclusive.",
        "Gabor-like": f" The trained filters fit Gabors clearly better than chance (p < α; {margin} in the fraction "
                      "above the threshold): yes, most are Gabor-like.",
        "partly Gabor-like": f" Some trained filters fit Gabors better than chance (p < α; {margin} in the fraction "
                             "above the threshold, less than the clear margin of "
                             f"{100 * (v['clear_margin'] or 0):.0f}): partly Gabor-like.",
        "slightly better than random": f" The trained filters fit significantly better than random ones (p < α), "
                                       f"but the margin is small ({margin} in the fraction above the threshold): a "
                                       "real but slight difference, not evidence of Gabor-like filters.",
    }[v["word"]]
    return text + tail


# ---------------------------------------------------------------- Problems 4 and 5

def maps_verdicts(record: dict, kind: str) -> dict:
    """The randomisation sanity check of one method on the shown images, with its sentences. (Its
    faithfulness is judged over many more images: experiments/map_findings.py.)"""
    m, method = record["metrics"], record["method"]
    n = m.get("n_images", 0)
    blank = m.get("blank_per_image")
    if blank is None and not m.get("blank_maps"):  # a record without per-image flags and no blank map
        blank = [False] * len(m.get("randomization_per_image") or [])
    # without the flags, blank maps cannot be left out of the mean: no verdict
    correlations = m.get("randomization_per_image") if blank is not None else None
    sanity = sanity_verdict(correlations, blank or [], record.get("sanity_threshold"))
    if not n:
        text = "No validation images were selected, so there is nothing to measure."
    else:
        text = " ".join(p for p in (sanity_sentence(method, sanity, EXPECTED[kind]), _signed(m)) if p)
    return {"sanity": sanity, "text": text}


def sanity_sentence(method: str, v: dict, expected: str) -> str:
    rho, thr, word = dec(v["mean"]), v["threshold"], v["word"]
    over = f"over the {v['n_used']} non-blank maps" if v["n_blank"] else f"over {v['n_used']} maps"
    blanks = (f"{v['n_blank']} of {v['n']} maps are blank (no location raises the class score) and are left out "
              "of the mean. ") if v["n_blank"] else ""
    if word == "inconclusive":
        return (f"{v['n_blank']} of {v['n']} {method} maps are blank (no location raises the class score), more than "
                f"a quarter: the randomisation sanity check is inconclusive, and the pictures show little.")
    if word == NOT_MEASURED:
        return f"{blanks}The randomisation sanity check was not measured."
    if word == "passes narrowly":
        text = (f"With the weights re-initialised the {method} maps change, but only partly (mean rank correlation "
                f"{rho} {over}, just below {thr}): they depend on what the network learned, yet much of their "
                "structure comes from the architecture and the image; the method passes the randomisation sanity "
                "check, narrowly")
    elif word == "passes":
        text = (f"With the weights re-initialised the {method} maps change a lot (mean rank correlation {rho} "
                f"{over}, below {thr}), so they depend on what the network learned: the method passes the "
                "randomisation sanity check")
    else:
        text = (f"With the weights re-initialised the {method} maps stay similar (mean rank correlation {rho} "
                f"{over}, not below {thr}), so much of what they show comes from the architecture and the image "
                "rather than the learned weights: the method fails the randomisation sanity check, and its "
                "pictures should not be read as the model's reasoning")
    agrees = (word != "fails") == (expected == "changes")
    return f"{blanks}{text}. This {'agrees with' if agrees else 'differs from'} {ADEBAYO[expected]}."


def _signed(m: dict) -> str:
    if "randomization_rank_correlation_signed" not in m:
        return ""
    return f"(For the signed gradient the mean rank correlation is {dec(m['randomization_rank_correlation_signed'])}.)"


def lowest_confidence(selection: dict, group: str = "correct") -> float | None:
    """The lowest confidence any network gives an image of `group` shown in Problems 4-5 (None if none)."""
    values = [c for it in selection["items"] if it["group"] == group for c in it["conf"].values() if is_number(c)]
    return min(values) if values else None


# ---------------------------------------------------------------- per family

def family_verdicts(family: dict) -> dict:
    """Every verdict of one family's context (see experiments.report.family_context)."""
    search = search_verdict(family["search"])
    gabor = gabor_verdict(family["gabor"])
    return {"ablation": ablation_verdicts(family["ablation"]),
            "search": {**search, "sentence": search_sentence(search)},
            "gabor": {**gabor, "sentence": gabor_sentence(family["gabor"], gabor)},
            "cam": maps_verdicts(family["cam"], "cam"), "saliency": maps_verdicts(family["saliency"], "saliency")}
