"""Verdicts: the words the report may use about a measurement, each with the numbers it rests on.
This module holds Problem 2's rules, on the statistics of experiments/stats.py (re-exported here for
the wording); the maps' and filters' verdicts (Problems 3-5) are in experiments/writeup/map_verdicts.py.

Every function is pure: recorded numbers in, `{"word": ..., <the numbers>}` out. A missing, None
or NaN input gives the word "not measured" (never an exception, never "nan" in the text). The
report computes these at render time from the results files and prints the word next to the
numbers; `experiments/writeup/wording.py` turns them into sentences. No verdict is decided in the template.
"""
from __future__ import annotations

import math

import numpy as np

from experiments.stats import is_number, mcnemar_p, trained

# Problem 2's training rules (the ablation's rate tuning and the report use the same ones)
UNDERFIT_POINTS = 10.0  # a cell this many points below the best cell on its own training images underfits
INTERACTION_WORDS = ("positive", "negative", "no clear interaction")


# ---------------------------------------------------------------- Problem 2 (c)/(d): training rules

def near_chance_cells(cells: list[dict], chance) -> list[dict]:
    """The cells (with a recorded "mean" accuracy) that did not train, by `trained`."""
    if not is_number(chance):
        return []
    return [c for c in cells if is_number(c.get("mean")) and not trained(c["mean"], chance)]


def underfit_cells(train_acc: dict[str, float]) -> tuple[str | None, list[str]]:
    """(the cell that fits its own training images best, the cells UNDERFIT_POINTS or more below it)."""
    train_acc = {c: a for c, a in train_acc.items() if is_number(a)}
    if len(train_acc) < 2:
        return None, []
    top = max(train_acc, key=train_acc.get)
    return top, [c for c, a in train_acc.items() if 100 * (train_acc[top] - a) > UNDERFIT_POINTS]


# ---------------------------------------------------------------- Problem 2 (b)

def search_verdict(search: dict) -> dict:
    """How the recorded choice relates to the search rule, checked from the candidates' numbers:
    "most accurate that fits" (the rule applied), "none fits: fastest chosen" (its fallback), or
    "does not follow the rule"; "budget not recorded" when search.json has no final budget.
    "binding" says whether the budget excluded a more accurate candidate; "diverged" names the
    candidates that diverged at the search's rate ("lr"), which the rule never chooses."""
    budget = search.get("final_budget")
    candidates = search["candidates"]
    diverged = [c["name"] for c in candidates if c.get("diverged")]
    out = {"chosen": search["chosen"], "n_candidates": len(candidates), "n_fit": None, "binding": None,
           "max_minutes": None, "expected": None, "untrained": [], "diverged": diverged,
           "lr": search.get("budget", {}).get("lr")}
    if not isinstance(budget, dict):
        return {**out, "word": "budget not recorded"}
    limit = budget.get("max_minutes")
    out["max_minutes"] = limit if is_number(limit) else None
    minutes = {c["name"]: c.get("projected_final_minutes") for c in candidates}
    fits = [c for c in candidates if out["max_minutes"] is None
            or (is_number(minutes[c["name"]]) and minutes[c["name"]] <= limit)]
    out["n_fit"] = len(fits)

    def accuracy(c):  # a candidate without an accuracy ranks last
        return (c["val_acc"] if is_number(c.get("val_acc")) else -math.inf, -c["flops"])
    usable = [c for c in fits if c["name"] not in diverged]  # a diverged candidate is never the choice
    if usable:
        expected = max(usable, key=accuracy)["name"]
        best_overall = max(candidates, key=accuracy)["name"]
        # a candidate left untrained because it projects past the budget is excluded by it too
        untrained = [c["name"] for c in candidates if c not in fits and not is_number(c.get("val_acc"))]
        out.update(expected=expected, binding=best_overall != expected or bool(untrained), untrained=untrained)
        word = "most accurate that fits"
    else:
        timed = [c for c in candidates if is_number(minutes[c["name"]]) and c["name"] not in diverged]
        out.update(expected=min(timed, key=lambda c: minutes[c["name"]])["name"] if timed else None, binding=True)
        word = "none fits: fastest chosen"
    return {**out, "word": word if out["expected"] == out["chosen"] else "does not follow the rule"}


def search_margin_verdict(search: dict, final_runs: list) -> dict:
    """The search's winner against its runner-up (one short run each), judged against the noise the
    final's repeat runs measured: the difference of two single runs has sd sqrt(2) x the runs' sd, so a
    lead under 1.96 x sqrt(2) x sd is "a tie" (the rule broke it by the higher score), a larger one "a
    lead"; "noise not measured" under two final runs, "no runner-up" under two trained candidates."""
    trained = sorted((c for c in search["candidates"] if is_number(c.get("val_acc")) and not c.get("diverged")),
                     key=lambda c: c["val_acc"], reverse=True)
    runs = [a for a in final_runs if is_number(a)]
    out = {"chosen": search["chosen"], "runner_up": None, "margin": None, "sd": None, "n_runs": len(runs),
           "band": None}
    chosen = next((c for c in trained if c["name"] == search["chosen"]), None)
    others = [c for c in trained if c is not chosen]
    if chosen is None or not others:
        return {**out, "word": "no runner-up"}
    out.update(runner_up=others[0]["name"], margin=chosen["val_acc"] - others[0]["val_acc"])
    if len(runs) < 2:
        return {**out, "word": "noise not measured"}
    sd = float(np.std(runs, ddof=1))
    band = 1.96 * math.sqrt(2) * sd
    return {**out, "sd": sd, "band": band, "word": "a tie" if abs(out["margin"]) <= band else "a lead"}


def order_verdict(pair: dict | None, alpha: float = 0.05) -> dict:
    """Whether one final beats the other over the validation images both were scored on
    (`pair`: {"n", "only": {family: images only it gets right}}, the test stage's record):
    "ordered" (McNemar p < alpha, "better" names the winner), "indistinguishable", or "not measured"."""
    if not pair or len(pair.get("only", {})) != 2:
        return {"word": "not measured", "better": None, "p": None, "only": None}
    (a, x), (b, y) = pair["only"].items()
    p = mcnemar_p(x, y)
    ordered = p < alpha
    return {"word": "ordered" if ordered else "indistinguishable", "better": (a if x > y else b) if ordered else None,
            "p": p, "only": {a: x, b: y}, "n": pair.get("n")}


def duplicates_verdict(rate: float, accs: dict[str, float], order: dict | None = None) -> dict:
    """Could near-duplicates between validation and training explain our scores? At worst every
    near-duplicated validation image was answered right only by memory: a score would then fall by at
    most `rate`, the share of validation images duplicated ("largest_drop", the bound); rescored on
    the rest, each accuracy would be `worst_acc` ("max_drop" below its score). Against the families'
    ranking, judged over training runs (`order`, experiments.writeup.choices.family_runs_verdict):
    where that is not resolved there is none to reverse; otherwise the bound is compared with the gap
    between the finals, and the gap is called a ranking only where the runs measured it."""
    order = order or {"word": "one run each"}
    worst = {name: max(0.0, acc - rate) / (1 - rate) if rate < 1 else 0.0 for name, acc in accs.items()}
    drops = {name: accs[name] - worst[name] for name in accs}
    largest, gap = rate, max(accs.values()) - min(accs.values())
    lift = (f"duplicates could lift a score by at most {100 * largest:.2f} points (if every duplicated "
            "validation image were right only by memory)")
    if rate == 0:
        word, sentence = "none", "No validation image has a near-duplicate in the training set, so duplicates inflate neither score."
    elif order["word"] == "indistinguishable":
        word = "no ranking"
        sentence = (f"So {lift}; but which family is better is not resolved over {order['n']} training runs each "
                    f"(95% interval {100 * order['low']:+.1f} to {100 * order['high']:+.1f} points), so there is no "
                    "ranking of the families for duplicates to reverse.")
    elif largest < gap:
        word = "cannot reorder"
        measured = (f"beyond seed noise over {order['n']} training runs each" if order["word"] == "ordered"
                    else "whether it exceeds seed noise was not measured: one run each")
        sentence = f"So {lift}, less than the families' {100 * gap:.2f}-point gap ({measured}): they cannot reverse it."
    else:
        word = "could reorder"
        sentence = (f"So {lift}, no less than the {100 * gap:.2f}-point gap between the two families: on this "
                    "evidence alone, which family scores higher could be an effect of duplicates.")
    return {"word": word, "sentence": sentence, "worst_acc": worst, "max_drop": drops, "largest_drop": largest,
            "family_gap": gap, "order": order}
