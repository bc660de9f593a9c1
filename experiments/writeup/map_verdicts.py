"""Verdicts about Problems 3-5: the sanity check, faithfulness, where the maps put their evidence,
class sensitivity, and whether filters are Gabor-like. Pure functions like experiments/writeup/
verdicts.py's: recorded numbers in, `{"word": ..., <the numbers>}` out."""
from __future__ import annotations

import numpy as np

from experiments.stats import LEVEL, NOT_MEASURED, UNCLEAR, finite, interval_from_moments, is_number

BLANK_LIMIT = 0.25    # more than this fraction of blank maps makes the sanity check inconclusive (the project's own)
# Rank correlation of a method's maps for the predicted and the true class of a misclassified image
# (the project's own thresholds: Nie et al. 2018 show guided backprop barely depends on the class, by
# eye, with no number):
INSENSITIVE = 0.8     # at least this: the map hardly depends on the class
SENSITIVE = 0.5       # below this: the two classes' maps point to different places
LEAN_PX = 1.0         # a map's mass centre this far from the image centre (of 32 px) leans to that side
MOST = 0.5            # a mean fraction of a map's mass above this is "most of its evidence"


# ---------------------------------------------------------------- Problems 4 and 5

def sanity_verdict(correlations, blank, threshold, reinit_means=None, reinit_blank=None) -> dict:
    """Model-randomisation sanity check from per-image rank correlations (trained vs re-initialised
    weights, each image's mean over the re-initialisations) and per-image blank flags. Blank maps
    (no location raises the class score) are left out and counted; more than BLANK_LIMIT of them
    makes the verdict "inconclusive". Otherwise the 95% t interval of the mean over images decides:
    "passes" when it lies below the threshold, "fails" when it lies at or above it, "unclear" when it
    contains it; "not estimable" from one map. `reinit_means` (the mean per re-initialisation) are
    recorded for the spread between re-initialisations; `reinit_blank` (per re-initialisation, how many
    of its maps are constant) counts blank maps of the re-initialised networks, and the same limit
    applies to them: a check where most re-initialised maps rank nothing measures nothing."""
    correlations = list(correlations or [])
    blank = [bool(b) for b in blank] if blank is not None else [False] * len(correlations)
    if len(blank) != len(correlations):
        raise ValueError(f"{len(correlations)} correlations but {len(blank)} blank flags; they must correspond")
    used = [float(r) for r, b in zip(correlations, blank) if not b and is_number(r)]
    n, n_blank = len(correlations), sum(blank)
    means = [float(m) for m in reinit_means or [] if is_number(m)]
    out = {"n": n, "n_blank": n_blank, "n_used": len(used), "n_missing": n - n_blank - len(used),
           "blank_limit": BLANK_LIMIT, "threshold": threshold if is_number(threshold) else None,
           "mean": float(np.mean(used)) if used else None, "low": None, "high": None,
           "reinits": len(means), "reinit_means": means, "reinit_range": float(np.ptp(means)) if len(means) > 1 else None,
           "reinit_blank": [int(c) for c in reinit_blank or []]}
    if n == 0 or out["threshold"] is None:
        return {**out, "word": NOT_MEASURED}
    if n_blank > BLANK_LIMIT * n or any(c > BLANK_LIMIT * n for c in out["reinit_blank"]):
        return {**out, "word": "inconclusive"}
    if not used:
        return {**out, "word": NOT_MEASURED}
    if len(used) < 2:
        return {**out, "word": "not estimable"}
    low, high = interval_from_moments(out["mean"], float(np.std(used, ddof=1)), len(used))
    low, high = (out["mean"], out["mean"]) if low is None else (low, high)  # no spread: the mean is exact
    out.update(low=low, high=high)
    return {**out, "word": "passes" if high < threshold else "fails" if low >= threshold else UNCLEAR}


def faithful_overall(deletion: dict, insertion: dict) -> dict:
    """Both tests beat random: "faithful"; one: "mixed"; none, with a test unclear: "unclear";
    otherwise "not more faithful than random"; "not measured" when a test has no verdict."""
    words = (deletion["word"], insertion["word"])
    if {NOT_MEASURED, "not estimable"} & set(words):
        return {"word": NOT_MEASURED, "beats": []}
    beats = [name for name, w in zip(("deletion", "insertion"), words) if w == "beats random"]
    word = {2: "faithful", 1: "mixed"}.get(len(beats), "unclear" if UNCLEAR in words else "not more faithful than random")
    return {"word": word, "beats": beats}


# ---------------------------------------------------------------- Problems 4 and 5: what the maps show

def image_mean_verdict(values, reference: float = 0.0, positive: str = "above", negative: str = "below",
                       neither: str = UNCLEAR) -> dict:
    """The mean of a per-image measure against `reference`, judged by its 95% t interval over images
    (n − 1 degrees of freedom): `positive` when the interval lies above the reference, `negative`
    below, `neither` when it contains it. None/NaN entries (blank maps) are left out and counted in
    "n_missing". Unlike seeds, images that all give the same value are an exact answer, not rounding:
    zero spread makes the interval the mean itself. One image: "not estimable"; none: "not measured"."""
    vals = finite(values)
    n = len(vals)
    out = {"n": n, "n_missing": len(values or []) - n, "unit": "image", "level": LEVEL, "reference": reference,
           "mean": float(np.mean(vals)) if n else None, "sd": float(np.std(vals, ddof=1)) if n > 1 else None,
           "low": None, "high": None}
    if n == 0:
        return {**out, "word": NOT_MEASURED}
    if n == 1:
        return {**out, "word": "not estimable"}
    low, high = interval_from_moments(out["mean"], out["sd"], n)
    if low is None:  # zero spread
        low = high = out["mean"]
    word = positive if low > reference else negative if high < reference else neither
    return {**out, "low": low, "high": high, "word": word}


def centre_verdict(fractions, area: float) -> dict:
    """Where a map's mass sits: the per-image fraction in the central square against its share of the
    area (what a uniform map gives): "centred", "off-centre" or "unclear"; `most` says whether the
    mean fraction is above MOST (most of the evidence, not only more than a uniform map's share)."""
    v = image_mean_verdict(fractions, area, "centred", "off-centre")
    return {**v, "most": is_number(v.get("mean")) and v["mean"] > MOST}


def edge_verdict(border, corner, border_area: float, corner_area: float) -> dict:
    """Does a map's mass lean towards the image's edges? The per-image fractions of its mass in the
    border ring and in the four corner squares, each judged against its share of the area ("more",
    "less" or "unclear"). The word names the regions holding more than their share, "borders and
    corners", "borders" or "corners", or is "neither"; without both intervals, theirs."""
    b = image_mean_verdict(border, border_area, "more", "less")
    c = image_mean_verdict(corner, corner_area, "more", "less")
    out = {"border": b, "corner": c, "n": min(b["n"], c["n"])}
    if b["low"] is None or c["low"] is None:
        return {**out, "word": b["word"] if b["low"] is None else c["word"]}
    regions = [name for name, v in (("borders", b), ("corners", c)) if v["word"] == "more"]
    return {**out, "word": " and ".join(regions) or "neither"}


def layout_verdict(dense, gap, mask) -> dict:
    """Are the dense network's maps more alike across images than the gap network's? Per image (where
    `mask` is true and both are numbers), dense − gap of each map's rank correlation with the mean of
    its network's other maps: "dense maps more alike" when the interval lies above 0 (the dense network
    shows some locations more whatever the image), "gap maps more alike" below, "unclear" across."""
    return paired_difference_verdict(gap, dense, mask, "dense maps more alike", "gap maps more alike")


def lean_verdict(right, down) -> dict:
    """To which side a map's mass leans: the per-image offsets of its mass centre from the image
    centre (pixels; right and down positive), each axis judged by its interval against 0. The word
    names the sides whose interval excludes 0 and whose mean offset reaches LEAN_PX ("leans to the
    lower right", "leans left", ...), or "no clear lean"."""
    x = image_mean_verdict(right, 0.0, "right", "left")
    y = image_mean_verdict(down, 0.0, "lower", "upper")
    out = {"right": x, "down": y, "n": min(x["n"], y["n"]), "lean_px": LEAN_PX}
    if x["low"] is None or y["low"] is None:
        return {**out, "word": x["word"] if x["low"] is None else y["word"]}
    sides = [v["word"] for v in (y, x) if v["word"] != UNCLEAR and abs(v["mean"]) >= LEAN_PX]
    if not sides:
        return {**out, "word": "no clear lean"}
    if len(sides) == 2:
        return {**out, "word": f"leans to the {sides[0]} {sides[1]}"}
    return {**out, "word": {"right": "leans right", "left": "leans left", "lower": "leans down",
                            "upper": "leans up"}[sides[0]]}


def class_sensitivity_verdict(correlations) -> dict:
    """Rank correlation of the maps for the predicted and the true class, per misclassified image:
    "nearly class-insensitive" when the interval lies at or above INSENSITIVE, "class-sensitive"
    below SENSITIVE, "partly class-sensitive" between the two, "unclear" when it crosses either."""
    v = image_mean_verdict(correlations, INSENSITIVE)
    out = {**v, "insensitive": INSENSITIVE, "sensitive": SENSITIVE}
    if v["low"] is None:
        return out
    if v["low"] >= INSENSITIVE:
        word = "nearly class-insensitive"
    elif v["high"] < SENSITIVE:
        word = "class-sensitive"
    elif v["low"] >= SENSITIVE and v["high"] < INSENSITIVE:
        word = "partly class-sensitive"
    else:
        word = UNCLEAR
    return {**out, "word": word}


def smooth_faithfulness_verdict(aucs, random_aucs, blank, *, lower_is_better: bool, margin: float) -> dict:
    """Deletion (lower is better) or insertion (higher is better) AUC of a method against random maps
    of its smoothness, paired per image: gain = the image's mean random AUC − its AUC (deletion) or the
    reverse (insertion). "beats random" when the interval of the mean gain lies above 0 and the mean
    reaches `margin`; "slightly better than random" above 0 but short of it; "worse than random" when
    the interval lies below 0; "unclear" when it contains 0. Images whose map is blank (an arbitrary
    pixel order) are left out. Also each random map's mean AUC over those images: their spread."""
    random_aucs = [list(r) for r in (random_aucs or [])]
    keep = [i for i, b in enumerate(blank) if not b and is_number(aucs[i])
            and all(is_number(r[i]) for r in random_aucs)] if random_aucs else []
    gains = [(float(np.mean([r[i] for r in random_aucs])) - aucs[i]) * (1 if lower_is_better else -1) for i in keep]
    v = image_mean_verdict(gains, 0.0, "beats random", "worse than random")
    if v["word"] == "beats random" and not v["mean"] >= margin:
        v["word"] = "slightly better than random"
    means = [float(np.mean([r[i] for i in keep])) for r in random_aucs] if keep else []
    return {**v, "n_missing": len(blank) - len(keep), "lower_is_better": lower_is_better, "margin": margin,
            "n_random": len(means), "auc": float(np.mean([aucs[i] for i in keep])) if keep else None,
            "random_means": means, "random_min": min(means) if means else None,
            "random_max": max(means) if means else None}


def paired_difference_verdict(a, b, mask, positive: str, negative: str) -> dict:
    """Per image b − a (where `mask` is true and both are numbers), judged by `image_mean_verdict`
    against 0; also the means of a and b over those images."""
    pairs = [(x, y) for x, y, m in zip(a, b, mask) if m and is_number(x) and is_number(y)]
    v = image_mean_verdict([y - x for x, y in pairs], 0.0, positive, negative)
    return {**v, "n_missing": sum(bool(m) for m in mask) - len(pairs),
            "mean_a": float(np.mean([x for x, _ in pairs])) if pairs else None,
            "mean_b": float(np.mean([y for _, y in pairs])) if pairs else None}


# ---------------------------------------------------------------- Problem 3

def gabor_shape_verdict(r: dict) -> dict:
    """Are the first learned filters (in pixel space) Gabor-shaped? From gabor.json's numbers: the
    one-sided test of trained vs phase-randomised R² (p_value, alpha) and the fractions above the R²
    threshold.

    "no evidence" whenever the test is not significant (p ≥ alpha): a test that finds nothing does not
    show the filters are no better than the null; a kernel of 3x3 or less is "inconclusive at this
    kernel size" even when it is significant; otherwise "Gabor-like" (margin in the fraction ≥
    clear_margin and most filters above the threshold), "partly Gabor-like" (margin ≥ clear_margin / 2)
    or "slightly better than the null" (significant, small margin)."""
    p, alpha, clear = r.get("p_value"), r.get("alpha"), r.get("clear_margin")
    fraction, null_fraction = r.get("fraction"), r.get("null_fraction")
    kernel = list(r.get("kernel_size") or [])
    out = {"p_value": p if is_number(p) else None, "alpha": alpha if is_number(alpha) else None,
           "clear_margin": clear if is_number(clear) else None,
           "fraction": fraction if is_number(fraction) else None,
           "null_fraction": null_fraction if is_number(null_fraction) else None,
           "margin": fraction - null_fraction if is_number(fraction) and is_number(null_fraction) else None,
           "small_kernel": bool(kernel) and min(kernel) <= 3, "significant": None}
    out.update(learned_verdict(r, out["alpha"], out["clear_margin"]))
    if None in (out["p_value"], out["alpha"], out["clear_margin"], out["margin"]):
        return {**out, "word": NOT_MEASURED}
    out["significant"] = p < alpha
    if not out["significant"]:
        return {**out, "word": "no evidence"}
    if out["small_kernel"]:
        return {**out, "word": "inconclusive at this kernel size"}
    if out["margin"] >= clear and fraction >= 0.5:
        return {**out, "word": "Gabor-like"}
    if out["margin"] >= clear / 2:
        return {**out, "word": "partly Gabor-like"}
    return {**out, "word": "slightly better than the null"}


def gabor_verdict(r: dict) -> dict:
    """Does the network *learn* Gabor-like filters? The shape's verdict (`gabor_shape_verdict`, "word")
    and, as "answer", what the homework asks: a Gabor shape that training did not raise above what the
    same filters had at initialisation is inherited, not learned (identity initialisation and the frozen
    whitening before the layer can give it)."""
    out = gabor_shape_verdict(r)
    shaped = out["word"] in ("Gabor-like", "partly Gabor-like", "slightly better than the null")
    if shaped and out["learned_word"] == "not learned":
        answer = f"{out['word']}, but not learned: no more so than at initialisation"
    elif shaped and out["learned_word"] == "slightly raised":
        answer = f"{out['word']}, mostly from initialisation: training raised the fits only slightly"
    elif shaped and out["learned_word"] == "learned":
        answer = f"{out['word']}, and learned: training raised the fits"
    else:
        answer = out["word"]
    return {**out, "answer": answer}


def learned_verdict(r: dict, alpha, clear) -> dict:
    """Did training make the filters more Gabor-like than they started? From the untrained control in
    gabor.json (the same filters at initialisation, paired per filter): "learned" (the fits rose
    significantly, p < alpha, and the fraction above the threshold by at least half the clear margin),
    "slightly raised" (significant, a smaller margin), "not learned" (no significant rise: what the
    test sees was there before training), or "not measured" (no control recorded)."""
    p, start, fraction = r.get("init_p_value"), r.get("init_fraction"), r.get("fraction")
    out = {"init_p_value": p if is_number(p) else None, "init_fraction": start if is_number(start) else None,
           "learned_margin": fraction - start if is_number(fraction) and is_number(start) else None}
    if None in (out["init_p_value"], out["learned_margin"], alpha, clear):
        return {**out, "learned_word": NOT_MEASURED}
    if out["init_p_value"] >= alpha:
        return {**out, "learned_word": "not learned"}
    return {**out, "learned_word": "learned" if out["learned_margin"] >= clear / 2 else "slightly raised"}
