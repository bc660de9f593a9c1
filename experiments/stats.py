"""The statistics every verdict rests on: intervals over seeds (t) and over images (Wilson), the
one-sample t test, the paired test of two classifiers (McNemar), the Benjamini-Hochberg adjustment
of a table, and the effect verdict over training runs. Below the studies and the report's wording,
so that a wording edit reruns no study (pyproject.toml's layers).

Every function is pure: recorded numbers in, numbers or `{"word": ..., <the numbers>}` out. A
missing, None or NaN input gives "not measured", never an exception.
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
TRAINED_FACTOR = 2    # below this many times a guess's accuracy a run did not train ("near chance")


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


def unpaired_verdict(mean, sd, n_on: int, n_off: int, positive: str = "helps", negative: str = "hurts",
                     neither: str = "no clear effect") -> dict:
    """A training choice judged over two groups of training runs that share no seeds (a twin's runs
    against the final's repeats): the 95% t interval of the difference of their means with the pooled
    sd, n_on + n_off - 2 degrees of freedom (unit "run"). Words as `moments_verdict`'s."""
    n = n_on + n_off
    out = {"n": n, "n_on": n_on, "n_off": n_off, "n_missing": 0, "unit": "run", "level": LEVEL, "mean": None,
           "sd": None, "low": None, "high": None, "p": None, "clear": False, "reason": None, "neither": neither}
    if not n_on or not n_off or not is_number(mean):
        return {**out, "word": NOT_MEASURED, "reason": "no run on one side"}
    out["mean"], dof = float(mean), n - 2
    if dof < 1 or not is_number(sd) or sd <= ZERO_SPREAD:
        return {**out, "word": "not estimable", "reason": "no spread between runs measured"}
    se = float(sd) * math.sqrt(1 / n_on + 1 / n_off)
    half = float(stats.t.ppf(0.5 + LEVEL / 2, dof)) * se
    out.update(sd=float(sd), low=out["mean"] - half, high=out["mean"] + half,
               p=float(2 * stats.t.sf(abs(out["mean"]) / se, dof)))
    word = positive if out["low"] > 0 else negative if out["high"] < 0 else neither
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
    tested = [i for i, v in enumerate(verdicts) if is_number(v.get("p")) and v.get("unit", "seed") in ("seed", "run")]
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


def trained(acc, chance) -> bool:
    """Whether a run trained: its accuracy reaches TRAINED_FACTOR times a guess's."""
    return is_number(acc) and is_number(chance) and acc >= TRAINED_FACTOR * chance


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar test of two classifiers on the same images: of the images exactly
    one of them gets right, is the split further from even than chance would make it?"""
    n = only_a + only_b
    return 1.0 if n == 0 else float(stats.binomtest(only_a, n, 0.5).pvalue)
