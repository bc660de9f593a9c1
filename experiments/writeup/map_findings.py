"""What the maps of Problems 4-5 show about the two networks, worded from interpret/measures.json:
where each network's evidence sits (the central square, the border ring and the corner squares, each
against its share of the area), whether the dense network's maps are more alike across images than the gap
network's (the flatten head's explanation is printed only when they are), whether a map depends on the class it
explains, how many maps are blank and why, whether the maps beat random maps of their own
smoothness, and whether the two networks look at the same places. Every word is a verdict of
experiments/writeup/verdicts.py; every sentence names the numbers behind it and says "unclear" when its
interval does. `measures_findings(measures)` is what the report shows per kind of map.
"""
from __future__ import annotations

from experiments.core.names import FAMILIES, MAP_KINDS
from experiments.stats import UNCLEAR
from experiments.writeup.citations import cite
from experiments.writeup.faithfulness_wording import baseline_sentence, baseline_verdicts, faithfulness_sentence
from experiments.writeup.figure_wording import maps_verdicts, sanity_paragraph
from experiments.writeup.formats import dec, pct, plural, pts, span
from experiments.writeup.map_verdicts import (INSENSITIVE, SENSITIVE, centre_verdict, class_sensitivity_verdict,
                                              edge_verdict, faithful_overall, layout_verdict, lean_verdict,
                                              paired_difference_verdict, smooth_faithfulness_verdict)

NIE = f"Nie et al. (2018) {cite('nie2018')}"
# Why a map after its ReLU can be blank: how each head turns per-location evidence into the class score.
HEAD_SUMS = {"HiResCAM": "The flatten head gives each location its own weights, so the score is a sum of per-location "
                         "contributions (plus terms that do not depend on the features) that can all be negative.",
             "CAM": "The global-average-pooling head scores the class by the mean of its activation map over "
                    "locations plus a bias, and every location's term can be negative."}


def measures_findings(measures: dict) -> dict:
    """Per kind ("cam", "saliency"): each family's verdicts and paragraph, and the comparison of the two."""
    out = {kind: {"families": {f: family_findings(f, measures, kind) for f in FAMILIES},
                  "comparison": comparison(measures, kind)} for kind in MAP_KINDS}
    for kind, found in out.items():
        found["sanity_text"] = sanity_paragraph({f: v["sanity"] for f, v in found["families"].items()},
                                                {f: v["method"] for f, v in found["families"].items()}, kind)
    return out


def blank_counts(m: dict, correct: list) -> dict:
    """How many maps are blank: for the predicted class overall, per group, and for the true class of
    misclassified images."""
    wrong = [not c for c in correct]
    return {"n": len(correct), "blank": sum(map(bool, m["blank"])), "n_correct": sum(map(bool, correct)),
            "blank_correct": sum(bool(b) for b, c in zip(m["blank"], correct) if c), "n_incorrect": sum(wrong),
            "blank_incorrect": sum(bool(b) for b, w in zip(m["blank"], wrong) if w),
            "blank_true": sum(bool(b) for b in m["blank_true"] if b is not None)}


def family_findings(family: str, measures: dict, kind: str) -> dict:
    rec = measures["families"][family]
    m, correct = rec["methods"][kind], rec["correct"]
    centre = {group: centre_verdict([c for c, ok in zip(m["centre"], correct) if ok == (group == "correct")],
                                    measures["centre_area"]) for group in ("correct", "incorrect")}
    lean = lean_verdict(*([v for v, ok in zip(m[axis], correct) if ok] for axis in ("right", "down")))
    edges = edge_verdict(*([v for v, ok in zip(m[name], correct) if ok] for name in ("border", "corner")),
                         measures["border_area"], measures["corner_area"])
    classes = class_sensitivity_verdict([r for r, ok in zip(m["class_rho"], correct) if not ok])
    margin = measures["faithful_margin"]
    deletion = smooth_faithfulness_verdict(m["deletion"], m["random_deletion"], m["blank"], lower_is_better=True,
                                           margin=margin)
    insertion = smooth_faithfulness_verdict(m["insertion"], m["random_insertion"], m["blank"], lower_is_better=False,
                                            margin=margin)
    overall = faithful_overall(deletion, insertion)
    baseline = baseline_verdicts(m, margin)
    by_group = {name: {group: smooth_faithfulness_verdict(
        m[name], m[f"random_{name}"], [b or ok != (group == "correct") for b, ok in zip(m["blank"], correct)],
        lower_is_better=name == "deletion", margin=margin) for group in ("correct", "incorrect")}
        for name in ("deletion", "insertion")}
    blanks = blank_counts(m, correct)
    text = " ".join([centre_sentence(family, m["method"], centre, lean, edges, measures["centre_area"]),
                     class_sentence(m["method"], kind, classes), blank_sentence(m["method"], blanks),
                     faithfulness_sentence(m, deletion, insertion, overall, measures["random_baselines"], by_group,
                                           maps_verdicts(m)["word"]),
                     baseline_sentence(baseline, overall["word"])])
    return {"method": m["method"], "sanity": maps_verdicts(m), "centre": centre, "lean": lean, "edges": edges,
            "classes": classes,
            "deletion": deletion,
            "insertion": insertion, "overall": overall, "baseline": baseline, "by_group": by_group, "blanks": blanks, "text": text}


def comparison(measures: dict, kind: str) -> dict:
    """Do the networks look at the same places (rank correlation of their maps of one image against
    maps of different images), and which puts more of its mass in the centre, on the images both
    classify correctly."""
    a = measures["agreement"][kind]
    agree = paired_difference_verdict(a["other_class_rho"], a["rho"], a["both_correct"], "agree", "disagree")
    methods = {f: measures["families"][f]["methods"][kind] for f in FAMILIES}
    centre = paired_difference_verdict(methods["dense"]["centre"], methods["gap"]["centre"], a["both_correct"],
                                       "gap more centred", "dense more centred")
    layout = layout_verdict(methods["dense"]["layout_rho"], methods["gap"]["layout_rho"], a["both_correct"])
    method = " and ".join(dict.fromkeys(m["method"] for m in methods.values()))
    failed = [f for f, m in methods.items() if maps_verdicts(m)["word"] == "fails"]
    return {"agreement": agree, "centre": centre, "layout": layout,
            "text": " ".join([agreement_sentence(method, agree, failed), centre_difference_sentence(centre),
                              layout_sentence(layout)])}


# ---------------------------------------------------------------- sentences

def lean_sentence(v: dict) -> str:
    """Where the mass centre of the correctly classified images' maps lies, and the side it leans to."""
    x, y = v["right"], v["down"]
    if x["low"] is None or y["low"] is None:
        return ""
    where = (f"The maps' mass centre lies on average {x['mean']:+.1f} px to the right and {y['mean']:+.1f} px down from "
             f"the image centre (95% intervals {span(x, lambda a: f'{a:+.1f}')} and "
             f"{span(y, lambda a: f'{a:+.1f}')})")
    if v["word"] == "no clear lean":
        return f"{where}: no clear lean to any side (by {v['lean_px']:g} px or more)."
    return f"{where}: the evidence {v['word']}."


def edge_sentence(v: dict) -> str:
    """How much of the correctly classified images' maps lies in the border ring and the corner squares,
    against their shares of the area; "towards the borders" or "corners" only as measured."""
    b, c = v["border"], v["corner"]
    if b["low"] is None or c["low"] is None:
        return ""
    head = (f"The border ring holds {pct(b['mean'], 1)} of the mass ({span(b, lambda x: pct(x, 1))}; area "
            f"{pct(b['reference'])}), the corner squares {pct(c['mean'], 1)} ({span(c, lambda x: pct(x, 1))}; area "
            f"{pct(c['reference'])})")
    return head + {"borders and corners": ": the evidence leans towards the borders and the corners.",
                   "borders": ": it leans towards the borders, not into the corners.",
                   "corners": ": it leans into the corners, not towards the border ring as a whole.",
                   "neither": ": no lean towards the borders or the corners beyond their share."}[v["word"]]


def centre_sentence(family: str, method: str, centre: dict, lean: dict, edges: dict, area: float) -> str:
    v, w = centre["correct"], centre["incorrect"]
    if v["low"] is None:
        head = (f"Too few non-blank {method} maps of correctly classified images ({v['n']}) to say where the "
                f"{family} network's evidence sits.")
    else:
        left_out = f" ({v['n_missing']} blank maps left out)" if v["n_missing"] else ""
        head = (f"On the {v['n']} images it classifies correctly{left_out}, the {family} network's {method} maps put "
                f"{pct(v['mean'], 1)} of their mass in the central square (95% interval {span(v, lambda x: pct(x, 1))}),"
                f" which covers {pct(area)} of the image")
        head += {"centred": ": more of its evidence lies in the centre than a map without preference would put "
                            "there." if not v["most"] else ": most of its evidence sits in the centre.",
                 "off-centre": ": less of its evidence lies in the centre than a map without preference would put "
                               "there.",
                 UNCLEAR: "; the interval includes that share: no clear preference for the centre."
                 }[v["word"]]
    head = " ".join(p for p in (head, edge_sentence(edges), lean_sentence(lean)) if p)
    if w["low"] is None:
        return f"{head} Too few misclassified images with a non-blank map ({w['n']}) to say the same of them."
    return (f"{head} On the {w['n']} it misclassifies, the central square holds {pct(w['mean'], 1)} "
            f"({span(w, lambda x: pct(x, 1))}): {w['word']}.")


def class_sentence(method: str, kind: str, v: dict) -> str:
    if v["low"] is None:
        return (f"Class sensitivity: {plural(v['n'], 'misclassified image')} with non-blank maps for both classes, too few "
                f"for an interval ({v['word']}).")
    left_out = f", {v['n_missing']} more with a blank map left out" if v["n_missing"] else ""
    head = (f"For misclassified images ({v['n']}{left_out}), the maps for the predicted and the true class have mean "
            f"rank correlation {dec(v['mean'])} ({span(v, dec)})")
    guided = kind == "saliency"
    tail = {
        "nearly class-insensitive": (
            ": nearly class-insensitive. "
            + (f"The map shows much the same pixels whichever class it explains, as {NIE} showed guided "
               "backpropagation does: it reconstructs the image more than it explains the decision."
               if guided else "The evidence for the wrong class sits where the evidence for the true class would: "
               "the network looks at the same region and reads it as the other class.")),
        "class-sensitive": (
            ": class-sensitive. "
            + (f"Unlike what {NIE} showed for guided backpropagation, the map here depends on the class."
               if guided else "The evidence for the wrong class sits elsewhere than the evidence for the true class.")),
        "partly class-sensitive": (
            ": partly class-sensitive. "
            + (f"That is less class-insensitive than {NIE} showed guided backpropagation to be."
               if guided else "The evidence for the two classes overlaps in part.")),
        UNCLEAR: (f": the interval crosses {SENSITIVE if v['low'] < SENSITIVE else INSENSITIVE}, so how much the map "
                  "depends on the class is unclear."
                  + (f" ({NIE} showed guided backpropagation to be nearly class-insensitive.)" if guided else "")),
    }[v["word"]]
    return head + tail


def blank_sentence(method: str, b: dict) -> str:
    if not b["blank"] and not b["blank_true"]:
        return f"No {method} map of the {b['n']} images is blank, for the predicted class or the true one."
    if b["blank"]:
        text = (f"{b['blank']} of the {b['n']} maps for the predicted class are blank ({b['blank_correct']} of "
                f"{b['n_correct']} correctly classified, {b['blank_incorrect']} of {b['n_incorrect']} misclassified), "
                f"and {b['blank_true']} of the {b['n_incorrect']} maps for the true class of a misclassified image.")
    else:
        text = (f"No map for the predicted class is blank, but {b['blank_true']} of the {b['n_incorrect']} maps for "
                f"the true class of a misclassified image {'is' if b['blank_true'] == 1 else 'are'}.")
    if method in HEAD_SUMS:
        means = ["for the predicted class, that it won without positive evidence anywhere, because the features "
                 "lowered the other classes' scores more"] if b["blank"] else []
        means += ["for the true class, that the network finds no evidence for it anywhere in the image"
                  ] if b["blank_true"] else []
        text += (f" A {method} map is blank when no location raises the class score. {HEAD_SUMS[method]} "
                 f"A blank map means, {'; '.join(means)}.")
    return text


def agreement_sentence(method: str, v: dict, failed: list[str] = ()) -> str:
    """Whether the two networks' maps of an image agree; where the method failed the sanity check for
    a network (`failed`), agreement of its maps says where the image's structure is, not what it learned."""
    if v["low"] is None:
        return f"Whether the two networks look at the same places was not measured ({v['n']} pairs of non-blank maps)."
    head = (f"Do the two networks look at the same places? On the {v['n']} images both classify correctly, their "
            f"{method} maps have mean rank correlation {dec(v['mean_b'])}, against {dec(v['mean_a'])} between maps "
            f"of images of different classes (each image paired with one of another class: what a shared preference "
            f"for some part of the frame alone gives); the difference, "
            f"{dec(v['mean'])} (95% interval {span(v, dec)}), ")
    if failed and v["word"] == "agree":
        who = " and ".join(f"{f}'s" for f in failed)
        return head + (f"says the maps agree about each image; but {who} maps failed the sanity check, so they agree "
                       "on the image's structure, not on what the networks learned.")
    return head + {"agree": "says they agree on where the evidence is in each image beyond that.",
                   "disagree": "says they look at different places in the same image, more so than in unrelated "
                               "images.",
                   UNCLEAR: "includes 0: no agreement about the particular image can be told apart from that shared "
                            "preference."}[v["word"]]


def centre_difference_sentence(v: dict) -> str:
    if v["low"] is None:
        return f"Which network's maps are more centred was not measured ({v['n']} images)."
    return (f"There the gap network's maps put {pct(v['mean_b'], 1)} of their mass in the central square and the dense "
            f"network's {pct(v['mean_a'], 1)}, a difference of {pts(v['mean'])} points ({span(v, pts)}): "
            f"{v['word']}.")


def layout_sentence(v: dict) -> str:
    """Whether the dense network's maps are more alike across images than the gap network's; the flatten
    head's explanation only when the verdict says they are."""
    if v["low"] is None:
        return f"Whether one network's maps are more alike across images was not measured ({v['n']} images)."
    head = (f"A map's rank correlation with its network's other maps (how far it shows the same places whatever the "
            f"image) is {dec(v['mean_b'])} for dense, {dec(v['mean_a'])} for gap, difference {dec(v['mean'])} "
            f"({span(v, dec)}): ")
    return head + {"dense maps more alike": "the dense maps are more alike across images. A flatten head has its own "
                                            "weights for each location, so it can favour some locations whatever the "
                                            "image; a global-average-pooling head weighs every location alike.",
                   "gap maps more alike": "the gap maps are more alike, so nothing here shows the flatten head "
                                          "favouring fixed locations.",
                   UNCLEAR: "neither network's maps are shown to be more alike across images."}[v["word"]]
