"""The sentences about Problems 3-4's figures: whether the first learned filters are Gabor-like,
and the randomisation sanity check of the maps, over the measured images. Built from the verdicts of
experiments/writeup/map_verdicts.py; every claim names its number."""
from __future__ import annotations

from experiments.stats import NOT_MEASURED, UNCLEAR, finite_mean, is_number
from experiments.writeup.citations import cite
from experiments.writeup.formats import MISSING, dec, pct
from experiments.writeup.map_verdicts import sanity_verdict

# What Adebayo et al. (2018) found under model-parameter randomisation, per map kind.
ADEBAYO = {"changes": f"Adebayo et al. (2018) {cite('adebayo2018')}, who found that Grad-CAM maps (of which CAM and HiResCAM are "
                      "close relatives) change a lot when the weights are randomised",
           "stays": f"Adebayo et al. (2018) {cite('adebayo2018')}, who found guided backpropagation maps nearly unchanged when the weights "
                    "are randomised, much like an edge detector of the input"}
EXPECTED = {"cam": "changes", "saliency": "stays"}
FEW_PIXELS = 16  # up to a 4x4 filter, a Gabor's 9 parameters leave the fit little to fail on

def layer_name(r: dict) -> str:
    """How the Gabor paragraph names the filters it tested (gabor.json's `layer`, `frozen_before` and
    `space`, when recorded)."""
    if not r.get("layer"):
        return "the first layer"
    learned = f"conv layer {r['layer']}, the first learned layer,"
    if r.get("space") == "pixel" and r.get("frozen_before"):
        layers = "layer" if r["frozen_before"] == 1 else "layers"
        return f"{learned} composed with the frozen {layers} before it into filters on the pixels"
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
            f"{dec(r.get('null_median_r2'))}); {r.get('test', 'test not recorded')}: p = {p} "
            f"(α = {v['alpha'] if v['alpha'] is not None else MISSING}).")
    if v["small_kernel"]:
        text += (f" A {k} kernel has only {kernel[0] * kernel[1]} pixels, too few to show an oriented envelope and "
                 f"a carrier: a 9-parameter Gabor fits almost any smooth {k} pattern.")
    elif kernel and kernel[0] * kernel[1] <= FEW_PIXELS and is_number(r.get("null_fraction")):
        text += (f" A {k} filter has {kernel[0] * kernel[1]} pixels for the fit's 9 parameters, so a high R² is "
                 f"common even for noise with the same spectrum ({pct(r['null_fraction'])} of the copies pass): the "
                 "test can show that the filters are more Gabor-shaped than their spectrum alone makes them, not "
                 "that each one is a Gabor.")
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
                      "fraction above the threshold).",
        "partly Gabor-like": f" Some trained filters fit Gabors better than the null (p < α; {margin} in the "
                             "fraction above the threshold, less than the clear margin of "
                             f"{100 * (v['clear_margin'] or 0):.0f}): partly Gabor-like.",
        "slightly better than the null": f" The trained filters fit significantly better than the null (p < α), "
                                         f"but the margin is small ({margin} in the fraction above the threshold): "
                                         "a real but slight difference, not evidence of Gabor-like filters.",
    }[v["word"]]
    return text + tail + " " + learned_sentence(r, v)


def learned_sentence(r: dict, v: dict) -> str:
    """What training changed: the untrained control (the same filters at initialisation) against the trained."""
    if v["learned_word"] == NOT_MEASURED:
        return "The filters at initialisation were not recorded, so whether training made them so is not measured."
    p = f"{v['init_p_value']:.3g}"
    same = (f" ({r['init_unchanged']} of them identical to their initial values)" if r.get("init_unchanged") else "")
    head = (f"At initialisation the same filters{same} reached R² ≥ {r.get('threshold', MISSING)} "
            f"{pct(v['init_fraction'])} of the time (median {dec(r.get('init_median_r2'))}); trained against initial, "
            f"paired per filter, p = {p}")
    return head + {"learned": f": training made them more Gabor-like ({100 * v['learned_margin']:+.0f} points): "
                              "the Gabor shape is learned.",
                   "slightly raised": f": training raised the fits, but only by {100 * v['learned_margin']:+.0f} "
                                      "points in the fraction: mostly what initialisation gave.",
                   "not learned": ": training did not raise the fits, so whatever Gabor shape the test sees was "
                                  "there before training, not learned."}[v["learned_word"]]


# ---------------------------------------------------------------- Problems 4 and 5

def maps_verdicts(m: dict) -> dict:
    """The randomisation sanity check of one network's method over the measured images (a method
    record of interpret/measures.json: "blank", "sanity")."""
    check = m.get("sanity") or {}
    rho = [r for r in check.get("rho") or [] if r]
    blank = m.get("blank") or []
    # a re-initialised network's constant map ranks nothing: its correlation is left out, and counted
    reinit_blank = check.get("reinit_blank") or [[False] * len(run) for run in rho]
    per_image = [finite_mean([run[i] for run, off in zip(rho, reinit_blank) if not off[i]])
                 for i in range(len(blank))] if rho else []
    reinit_means = [finite_mean([r for r, b, off in zip(run, blank, offs) if not b and not off])
                    for run, offs in zip(rho, reinit_blank)]
    counts = [sum(map(bool, offs)) for offs in reinit_blank] if check.get("reinit_blank") is not None else []
    return sanity_verdict(per_image, blank if rho else [], check.get("threshold"), reinit_means, counts)


def sanity_paragraph(verdicts: dict[str, dict], methods: dict[str, str], kind: str) -> str:
    """Each network's sanity check in a sentence, then whether the verdicts agree with Adebayo et
    al.'s finding for this kind of map (said once when every network's verdict agrees alike)."""
    words = {v["word"] for v in verdicts.values()}
    if len(verdicts) > 1 and len(set(methods.values())) == 1 and len(words) == 1 and words <= {"passes", "fails"}:
        sentences = [joint_sanity_sentence(verdicts, next(iter(methods.values())))]  # one verdict, said once
    else:
        sentences = [sanity_sentence(f"{family}'s {methods[family]}", v) for family, v in verdicts.items()]
    expected = EXPECTED[kind]
    judged = {f: v["word"] == "passes" for f, v in verdicts.items() if v["word"] in ("passes", "fails")}
    agree = {f: passed == (expected == "changes") for f, passed in judged.items()}
    if agree and len(set(agree.values())) == 1:
        whose = "Both verdicts" if len(agree) > 1 else f"The {next(iter(agree))} verdict"
        sentences.append(f"{whose} {'agree' if len(agree) > 1 else 'agrees'} with "
                         f"{ADEBAYO[expected]}." if all(agree.values()) else
                         f"{whose} {'differ' if len(agree) > 1 else 'differs'} from {ADEBAYO[expected]}.")
    elif agree:
        sides = ", and ".join(f"the {f} verdict {'agrees with' if a else 'differs from'}" for f, a in agree.items())
        sentences.append(f"{sides[0].upper()}{sides[1:]}, {ADEBAYO[expected]}.")
    return " ".join(sentences)


def sanity_sentence(maps: str, v: dict) -> str:
    """One network's check in words, with the numbers it rests on (the table beside it has the rest)."""
    word = v["word"]
    if word == "inconclusive" and v["n_blank"] <= v["blank_limit"] * v["n"]:
        over = [c for c in v["reinit_blank"] if c > v["blank_limit"] * v["n"]]
        which = ("each re-initialisation's over a quarter" if len(over) == len(v["reinit_blank"]) else
                 f"the re-initialisation with {' and '.join(map(str, over))}, over a quarter")
        return (f"With the weights re-initialised, {maps} maps are constant (they rank no pixel) on "
                f"{', '.join(map(str, v['reinit_blank']))} of the {v['n']} images ({which}): the sanity "
                "check compares the maps with nothing there, so it is inconclusive.")
    if word == "inconclusive":
        return (f"{v['n_blank']} of {v['n']} of {maps} maps are blank (no location raises the class score), more "
                f"than a quarter: its randomisation sanity check is inconclusive.")
    if word in (NOT_MEASURED, "not estimable"):
        return f"The randomisation sanity check of {maps} maps was {word} ({v['n_used']} maps)."
    numbers = f"mean rank correlation {dec(v['mean'])}, 95% interval {dec(v['low'])} to {dec(v['high'])}"
    if word == UNCLEAR:
        return (f"With the weights re-initialised {maps} maps change partly ({numbers}); the interval contains the "
                f"project's threshold of {v['threshold']}, so whether they depend on what the network learned is "
                "unclear.")
    if word == "passes":
        return (f"With the weights re-initialised {maps} maps change ({numbers}, below {v['threshold']}): they "
                "depend on what the network learned, and the method passes the check.")
    return (f"With the weights re-initialised {maps} maps stay similar ({numbers}, not below {v['threshold']}): "
            "much of what they show comes from the architecture and the image, not the learned weights, so the "
            "method fails the check and its pictures are not the network's reasoning.")


def joint_sanity_sentence(verdicts: dict[str, dict], method: str) -> str:
    """`sanity_sentence` for networks whose maps, of one method, get the same verdict."""
    numbers = "; ".join(f"{family}: {dec(v['mean'])}, {dec(v['low'])} to {dec(v['high'])}"
                        for family, v in verdicts.items())
    v = next(iter(verdicts.values()))
    if v["word"] == "passes":
        return (f"With the weights re-initialised both networks' {method} maps change (mean rank correlation, 95% "
                f"interval: {numbers}; below {v['threshold']}): they depend on what the networks learned, and the "
                "method passes the check.")
    return (f"With the weights re-initialised both networks' {method} maps stay similar (mean rank correlation, 95% "
            f"interval: {numbers}; not below {v['threshold']}): much of what they show comes from the architecture "
            "and the image, not the learned weights, so the method fails the check and its pictures are not the "
            "networks' reasoning.")


def lowest_confidence(selection: dict, group: str = "correct") -> float | None:
    """The lowest confidence any network gives an image of `group` shown in Problems 4-5 (None if none)."""
    values = [c for it in selection["items"] if it["group"] == group for c in it["conf"].values() if is_number(c)]
    return min(values) if values else None
