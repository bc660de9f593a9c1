"""The sentences about Problems 4-5's faithfulness: deletion and insertion against random maps of the
method's own grain, against the network's own mean map (a fixed centre-weighted ranking: does the
map say more about the image than where this network usually looks?), and how faithfulness and the
randomisation sanity check read together. Verdicts from experiments/writeup/map_verdicts.py."""
from __future__ import annotations

from experiments.stats import NOT_MEASURED, UNCLEAR
from experiments.writeup.formats import dec, span
from experiments.writeup.map_verdicts import faithful_overall, smooth_faithfulness_verdict


def faithfulness_sentence(m: dict, deletion: dict, insertion: dict, overall: dict, n_random: int,
                          by_group: dict, sanity_word: str | None = None) -> str:
    r = m["random_resolution"]

    def one(v, name):
        if v["low"] is None:
            return f"{name}: {v['word']}"
        groups = by_group[name]
        return (f"the {name} gain is {dec(v['mean'], 3)} ({span(v, lambda x: dec(x, 3))}): {v['word']} (correctly "
                f"classified {dec(groups['correct']['mean'], 3)}, misclassified {dec(groups['incorrect']['mean'], 3)})")
    head = (f"Against {n_random} random maps per image as smooth as its own (noise at {r}×{r}, upsampled bilinearly; "
            f"neighbour correlation {dec(m['random_smoothness'])}, the maps' {dec(m['smoothness'])}), "
            f"{one(deletion, 'deletion')}; {one(insertion, 'insertion')}.")
    tail = {"faithful": "The pixels the maps rank first are ones the prediction depends on.",
            "mixed": f"Only the {' and '.join(overall['beats'])} test beats random maps as smooth as them: mixed "
                     "evidence that the maps show what the prediction depends on.",
            UNCLEAR: "An interval includes 0: whether the maps show what the prediction depends on, better than "
                     "random maps as smooth as them, is unclear.",
            "not more faithful than random": f"Neither test beats random maps as smooth as them by the margin of "
                                             f"{deletion['margin']}: the maps are not clearly more faithful than random "
                                             "regions of their size.",
            NOT_MEASURED: "Faithfulness was not measured."}[overall["word"]]
    blank = (f" ({deletion['n_missing']} images with a blank map are left out: their pixel order is arbitrary.)"
             if deletion["n_missing"] else "")
    tail = reconciled(overall["word"], sanity_word) or tail
    return f"{head} {tail}{blank}"


def reconciled(faithful_word: str, sanity_word: str | None) -> str:
    """Where the deletion/insertion test and the randomisation sanity check point different ways,
    the faithfulness sentence's conclusion says what each measures, so the two are read together
    instead of asserted side by side; "" where they agree."""
    if sanity_word == "fails" and faithful_word in ("faithful", "mixed"):
        return ("The pixels ranked first matter to the prediction (deletion, insertion), yet a re-initialised network "
                "ranks much the same ones (sanity check): the maps locate image structure the prediction depends on, "
                "not what this network learned.")
    if sanity_word == "passes" and faithful_word == "not more faithful than random":
        return ("The maps depend on what the network learned (the sanity check passes) yet rank pixels no better "
                "than random regions as smooth: they change with the weights without pointing at what the "
                "prediction depends on.")
    return ""


def baseline_verdicts(m: dict, margin: float) -> dict:
    """Deletion and insertion of the method's maps against the network's own mean map, paired per image
    (the verdicts of `smooth_faithfulness_verdict` with the mean map as the one baseline), and both
    together (`faithful_overall`). Not measured for results without the baseline."""
    base = {name: m.get(f"baseline_{name}") or [] for name in ("deletion", "insertion")}
    if not all(base.values()) or any(x is None for values in base.values() for x in values):
        missing = {"word": NOT_MEASURED, "low": None}
        return {"deletion": missing, "insertion": missing, "overall": {"word": NOT_MEASURED, "beats": []}}
    deletion, insertion = (smooth_faithfulness_verdict(m[name], [base[name]], m["blank"], margin=margin,
                                                       lower_is_better=name == "deletion")
                           for name in ("deletion", "insertion"))
    overall = faithful_overall(deletion, insertion)
    for v in (deletion, insertion):  # the table names what was beaten
        v["word"] = v["word"].replace("random", "its mean map")
    return {"deletion": deletion, "insertion": insertion, "overall": overall}


def baseline_sentence(v: dict, against_random: str) -> str:
    """What the comparison with the network's own mean map adds to the comparison with random maps."""
    word = v["overall"]["word"]
    if word == NOT_MEASURED:
        return "Against the network's own mean map (a fixed centre-weighted ranking): not measured."
    d, i = v["deletion"], v["insertion"]
    head = (f"Against the network's own mean map, one centre-weighted ranking for every image (leave one out), the "
            f"deletion gain is {dec(d['mean'], 3)} ({span(d, lambda x: dec(x, 3))}) and the insertion gain "
            f"{dec(i['mean'], 3)} ({span(i, lambda x: dec(x, 3))})")
    if word == "faithful":
        return head + (": the maps also beat where this network's evidence usually lies, so their ranking is "
                       "specific to each image.")
    if word == "mixed":
        return head + (f": only the {v['overall']['beats'][0]} test beats that fixed map: the maps are partly "
                       "specific to the image.")
    if word == UNCLEAR:
        return head + ": whether they rank pixels better than that fixed map is unclear."
    if against_random in ("faithful", "mixed"):
        return head + (": a fixed map of where the evidence usually lies does as well, so their advantage over "
                       "random maps comes from the network's preference for those places, not from the image.")
    return head + ": they do no better than that fixed map either."
