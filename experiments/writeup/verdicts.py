"""Verdicts: the words the report may use about a measurement, each with the numbers it rests on.
This module holds the statistics and Problem 2's rules; the maps' and filters' verdicts (Problems
3-5) are in experiments/writeup/map_verdicts.py.

Every function is pure: recorded numbers in, `{"word": ..., <the numbers>}` out. A missing, None
or NaN input gives the word "not measured" (never an exception, never "nan" in the text). The
report computes these at render time from the results files and prints the word next to the
numbers; `experiments/writeup/wording.py` turns them into sentences. No verdict is decided in the template.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from scipy import stats

NOT_MEASURED = "not measured"
LEVEL = 0.95          # confidence level of the interval over seeds
ZERO_SPREAD = 1e-9    # accuracies are counts over at most millions of images: a smaller sd is rounding
NO_CHANGE = "no change"  # every seed's effect exactly 0: not an interval that contains 0, no difference at all
UNCLEAR = "unclear"   # an interval that contains the value a verdict is judged against
NO_VERDICT = "no verdict: one run per cell"  # an effect of a training choice measured over images, not runs
MULTIPLE = "Benjamini-Hochberg over the table"  # why a clear interval lost its word
# Problem 2's training rules (the ablation's rate tuning and the report use the same ones)
TRAINED_FACTOR = 2    # below this many times a guess's accuracy a run did not train ("near chance")
UNDERFIT_POINTS = 10.0  # a cell this many points below the best cell on its own training images underfits
INTERACTION_WORDS = ("positive", "negative", "no clear interaction")


def is_number(value) -> bool:
    """A finite real number (not None, NaN, inf or a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def finite(values) -> list[float]:
    """The entries of `values` that are finite numbers, as floats (None and NaN dropped)."""
    return [float(v) for v in (values or []) if is_number(v)]


def finite_mean(values) -> float | None:
    """The mean of the finite entries of `values`, or None when there are none."""
    ok = finite(values)
    return sum(ok) / len(ok) if ok else None


# ---------------------------------------------------------------- effects over seeds

def effect_verdict(per_seed, positive: str = "helps", negative: str = "hurts",
                   neither: str = "no clear effect") -> dict:
    """A paired effect measured once per seed, judged by its 95% t interval (n − 1 degrees of freedom).

    `positive`/`negative` only when the interval excludes 0 on that side (then "clear" is True);
    `neither` when it contains 0; NO_CHANGE when every seed's effect is exactly 0; "not estimable"
    for one seed or another zero spread over seeds (no interval can be built); "not measured" when
    no seed has a number. Seeds whose value is None
    or NaN are left out and counted in "n_missing"."""
    values = finite(per_seed)
    n = len(values)
    mean = float(np.mean(values)) if n else None
    sd = float(np.std(values, ddof=1)) if n > 1 else None
    return moments_verdict(mean, sd, n, len(per_seed or []) - n, positive, negative, neither)


def moments_verdict(mean, sd, n: int, n_missing: int = 0, positive: str = "helps", negative: str = "hurts",
                    neither: str = "no clear effect", unit: str = "seed") -> dict:
    """`effect_verdict` from the mean, sd and count of the paired values (per `unit`: seed or image).

    A training choice is judged over training runs: with `unit` "image" (one run per cell, paired
    over the validation images) the interval says how precisely two trained networks were scored,
    not whether another training run would agree, so the word is NO_VERDICT whatever it shows."""
    out = {"n": n, "n_missing": n_missing, "unit": unit, "level": LEVEL, "mean": None, "sd": None,
           "low": None, "high": None, "p": None, "clear": False, "reason": None, "neither": neither}
    if n == 0 or not is_number(mean):
        return {**out, "n": 0, "word": NOT_MEASURED, "reason": f"no {unit} has a value"}
    out["mean"] = float(mean)
    if n == 1:
        return {**out, "word": "not estimable", "reason": f"one {unit}"}
    out["sd"] = float(sd) if is_number(sd) else None
    low, high = interval_from_moments(mean, sd, n)
    if low is None:
        if unit == "seed" and abs(out["mean"]) <= ZERO_SPREAD:  # every run gave the same accuracy either way
            return {**out, "word": NO_CHANGE, "reason": f"exactly 0 in each of {n} {unit}s"}
        return {**out, "word": "not estimable", "reason": f"zero spread over {n} {unit}s"}
    out.update(low=low, high=high, p=t_test_p(mean, sd, n))
    if unit != "seed":
        return {**out, "word": NO_VERDICT, "reason": "one training run per cell"}
    word = positive if low > 0 else negative if high < 0 else neither
    return {**out, "clear": word != neither, "word": word}


def t_test_p(mean, sd, n: int) -> float | None:
    """The two-sided p-value of a one-sample t test of mean 0 (the interval's own test)."""
    if not (is_number(mean) and is_number(sd)) or n < 2 or sd <= ZERO_SPREAD:
        return None
    return float(2 * stats.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1))


def adjust_table(verdicts: list[dict]) -> list[dict]:
    """The verdicts of one table with their p-values adjusted together (Benjamini-Hochberg, the false
    discovery rate at 1 - LEVEL); a clear word whose adjusted p is not below that level becomes the
    verdict's "neither" word. Verdicts without a p-value are returned as they are."""
    tested = [i for i, v in enumerate(verdicts) if is_number(v.get("p")) and v.get("unit", "seed") == "seed"]
    out = [dict(v) for v in verdicts]
    if not tested:
        return out
    adjusted = stats.false_discovery_control([verdicts[i]["p"] for i in tested], method="bh")
    for i, p in zip(tested, adjusted):
        out[i]["p_adjusted"] = float(p)
        if out[i]["clear"] and p >= 1 - LEVEL:
            out[i].update(clear=False, word=out[i]["neither"], reason=MULTIPLE)
    return out


def interval_from_moments(mean, sd, n: int) -> tuple[float | None, float | None]:
    """The 95% t interval (n − 1 degrees of freedom) of a mean, or (None, None) without one."""
    if not (is_number(mean) and is_number(sd)) or n < 2 or sd <= ZERO_SPREAD:
        return None, None
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1)) * sd / math.sqrt(n)
    return float(mean) - half, float(mean) + half


def wilson_interval(correct: int, n: int) -> tuple[float | None, float | None]:
    """The 95% Wilson score interval of an accuracy of `correct` out of `n` images (None without images)."""
    if not n:
        return None, None
    ci = stats.binomtest(int(correct), int(n)).proportion_ci(confidence_level=LEVEL, method="wilson")
    return float(ci.low), float(ci.high)


# ---------------------------------------------------------------- Problem 2 (c)/(d): training rules

def trained(acc, chance) -> bool:
    """Whether a run trained: its accuracy reaches TRAINED_FACTOR times a guess's."""
    return is_number(acc) and is_number(chance) and acc >= TRAINED_FACTOR * chance


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


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar test of two classifiers on the same images: of the images exactly
    one of them gets right, is the split further from even than chance would make it?"""
    n = only_a + only_b
    return 1.0 if n == 0 else float(stats.binomtest(only_a, n, 0.5).pvalue)


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
    near-duplicated validation image was answered right only by memory; then each accuracy on the
    rest falls by `max_drop`. Against the families' ranking, judged over training runs (`order`,
    experiments.writeup.choices.family_runs_verdict): where the families are indistinguishable there
    is none to reverse; otherwise the largest drop is compared with the gap between the finals, and
    the gap is called a ranking only where the runs measured it."""
    order = order or {"word": "one run each"}
    worst = {name: max(0.0, acc - rate) / (1 - rate) if rate < 1 else 0.0 for name, acc in accs.items()}
    drops = {name: accs[name] - worst[name] for name in accs}
    largest, gap = max(drops.values()), max(accs.values()) - min(accs.values())
    lift = f"duplicates could lift a score by at most {100 * largest:.2f} points"
    if rate == 0:
        word, sentence = "none", "No validation image has a near-duplicate in the training set, so duplicates inflate neither score."
    elif order["word"] == "indistinguishable":
        word = "no ranking"
        sentence = (f"So {lift}; but the families are indistinguishable over {order['n']} training runs each (95% "
                    f"interval {100 * order['low']:+.1f} to {100 * order['high']:+.1f} points), so there is no ranking "
                    "of the families for duplicates to reverse.")
    elif largest < gap:
        word = "cannot reorder"
        measured = (f"beyond seed noise over {order['n']} training runs each" if order["word"] == "ordered"
                    else "whether it exceeds seed noise was not measured: one run each")
        sentence = f"So {lift}, less than the families' {100 * gap:.2f}-point gap ({measured}): they cannot reverse it."
    else:
        word = "could reorder"
        sentence = (f"So duplicates could lift a score by up to {100 * largest:.2f} points, no less than the "
                    f"{100 * gap:.2f}-point gap between the two families: on this evidence alone, which family scores "
                    f"higher could be an effect of duplicates.")
    return {"word": word, "sentence": sentence, "worst_acc": worst, "max_drop": drops, "largest_drop": largest,
            "family_gap": gap, "order": order}
