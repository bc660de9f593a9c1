"""The sentences about Problems 3-4's figures: whether the first learned filters are Gabor-like,
and the randomisation sanity check of the maps shown. Built from the verdicts of
experiments/writeup/map_verdicts.py; every claim names its number."""
from __future__ import annotations

from experiments.writeup.citations import cite
from experiments.writeup.formats import MISSING, dec, pct
from experiments.writeup.map_verdicts import sanity_verdict
from experiments.writeup.verdicts import NOT_MEASURED, is_number

# What Adebayo et al. (2018) found under model-parameter randomisation, per map kind.
ADEBAYO = {"changes": f"Adebayo et al. (2018) {cite('adebayo2018')}, who found that Grad-CAM maps (of which CAM and HiResCAM are "
                      "close relatives) change a lot when the weights are randomised",
           "stays": f"Adebayo et al. (2018) {cite('adebayo2018')}, who found guided backpropagation maps nearly unchanged when the weights "
                    "are randomised, much like an edge detector of the input"}
EXPECTED = {"cam": "changes", "saliency": "stays"}

def layer_name(r: dict) -> str:
    """How the Gabor paragraph names the filters it tested (gabor.json's `layer`, `frozen_before` and
    `space`, when recorded)."""
    if not r.get("layer"):
        return "the first layer"
    learned = f"conv layer {r['layer']}, the first learned layer,"
    if r.get("space") == "pixel" and r.get("frozen_before"):
        return f"{learned} composed with the frozen layer(s) before it into filters on the pixels"
    return learned


# ---------------------------------------------------------------- Problem 3

def gabor_sentence(r: dict, v: dict) -> str:
    """The answer to "does the network learn Gabor-like filters?", in the measurement's terms."""
    kernel = r.get("kernel_size") or []
    k = "x".join(map(str, kernel)) or MISSING
    p = f"{v['p_value']:.3g}" if v["p_value"] is not None else MISSING
    text = (f"{pct(r.get('fraction'))} of the {r.get('n_filters', MISSING)} {k} filters of {layer_name(r)} reach "
            f"R² ≥ {r.get('threshold', MISSING)} (median R² {dec(r.get('median_r2'))}); phase-randomised copies with "
            f"the same power spectrum reach it {pct(r.get('null_fraction'))} of the time (median "
            f"{dec(r.get('null_median_r2'))}); one-sided Mann-Whitney p = {p} "
            f"(α = {v['alpha'] if v['alpha'] is not None else MISSING}).")
    if v["small_kernel"]:
        text += (f" A {k} kernel has only {kernel[0] * kernel[1]} pixels, too few to show an oriented envelope and "
                 f"a carrier: a 9-parameter Gabor fits almost any smooth {k} pattern.")
    margin = f"{100 * v['margin']:+.0f} points" if v["margin"] is not None else MISSING
    tail = {
        NOT_MEASURED: " Without the test's numbers there is no verdict.",
        "no evidence": " The test does not show the trained filters fitting Gabors better than copies of the same "
                       "power spectrum (p ≥ α): no evidence of Gabor-like filters, which is not evidence against them"
                       + ("; at this kernel size the question is inconclusive anyway." if v["small_kernel"]
                          else " (the test may lack the power to tell)."),
        "inconclusive at this kernel size": " The trained filters do fit better than the null (p < α), but at "
                                            "this kernel size that is weak evidence at best: inconclusive.",
        "Gabor-like": f" The trained filters fit Gabors clearly better than the null (p < α; {margin} in the "
                      "fraction above the threshold): yes, most are Gabor-like.",
        "partly Gabor-like": f" Some trained filters fit Gabors better than the null (p < α; {margin} in the "
                             "fraction above the threshold, less than the clear margin of "
                             f"{100 * (v['clear_margin'] or 0):.0f}): partly Gabor-like.",
        "slightly better than the null": f" The trained filters fit significantly better than the null (p < α), "
                                         f"but the margin is small ({margin} in the fraction above the threshold): "
                                         "a real but slight difference, not evidence of Gabor-like filters.",
    }[v["word"]]
    return text + tail


# ---------------------------------------------------------------- Problems 4 and 5

def maps_verdicts(record: dict, kind: str) -> dict:
    """The randomisation sanity check of one method on the shown images, with its sentences. (Its
    faithfulness is judged over many more images: experiments/writeup/map_findings.py.)"""
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
