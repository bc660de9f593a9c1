"""Planning a study to the minutes a user gives (`invoke all --budget 90m`).

`plan_study` is a pure function: (profile, each candidate's FLOPs, this machine's speed, the budget,
the stages already started) -> the plan. It first fixes the regime, the widths and epochs that the
finals and every ablation run share: the largest of REGIMES whose first two evidence steps fit
REGIME_SHARE of the budget. Then it buys the EVIDENCE steps in order, each where the whole study
with it still fits, and says what each step left out would cost here. FLAML, Optuna and Ray Tune
check the clock only between trials and can overrun by one; this plans the whole study before the
first step (../shared/notes/budget-anchors.md).
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field, replace

from experiments.build.estimate import TRAIN_PASSES, run_passes, runs_of
from experiments.core.names import CELLS, FAMILIES
from experiments.engine.errors import UserError
from experiments.studies.search import PROBE_STEPS

# (i) and (ii) get at most this share of the budget when the regime is chosen: the rest can buy seeds on the
# full split, tuning and the lever study, which a larger regime would otherwise crowd out entirely
REGIME_SHARE = 0.6
# The final's time limit the search applies is the planned final's estimate times this: the planned widths
# still fit where the probe reads a little slower, the next widths (2-3.5x the FLOPs) do not
FINAL_SLACK = 1.3
# Each ablation run takes at least this many optimizer steps (the full profile's 4,000 images x 8 epochs at
# batch 2000): at 2 epochs the smallest training set grows to 16,000 images. At 4 steps (4,000 images, 2 epochs)
# every cell sat near 30% and the ranking that picks the final's cell was noise (a 30-minute build, 2026-12-03)
MIN_CELL_STEPS = 16
PROBE_STEPS_PAID = 2  # a candidate that projects past the limit costs its untimed step and one timed step

# The regimes, cheapest first; each is expected to beat the one before at the same budget of evidence:
# 8 epochs of the s widths reached 91.7% (gap-s, 2026-11-29), of the m widths 93.6% (2026-11-26), 3 of the
# m widths 89.3% (so m starts at 8); airbench's curve keeps gaining to 40 epochs (93.28% at 10, 93.87% at 20,
# 94.07% at 40) and wider nets reach 95-96% (airbench95/96). The schedule decays to the end of the epochs given.
REGIMES = (("s", 1), ("s", 2), ("s", 4), ("s", 8), ("m", 8), ("m", 12), ("m", 16), ("m", 24), ("m", 40), ("l", 40))
SIZES = tuple(dict.fromkeys(size for size, _ in REGIMES))  # the built-in widths, smallest first: s, m, l

# The order of evidence, first bought first, as profile changes laid over the smallest complete report.
# Why this order: (i) answers every item; (ii) turns the batch-norm and dropout answers into verdicts over
# training runs; (iii) does the same for dropout on the network handed in; (iv) makes the comparison each
# cell at its own best rate; (v) says what each trick of the recipe is worth; (vi) more rungs of evidence.
EVIDENCE = (
    ("i", "the smallest complete report: the search's candidates ranked, both finals, each batch-norm x dropout "
          "cell once on the smallest training set", {}),
    ("ii", "each cell at 3 seeds on the smallest training set (batch-norm and dropout verdicts over training runs)",
     {"ablation": {"seeds": [0, 1, 2]}}),
    ("iii", "the final's cell and its dropout twin at 3 seeds on the full split",
     {"ablation": {"final_seeds": [0, 1, 2]}}),
    ("iv", "each cell's learning rate tuned (two rates, and up to two more where the best is at an end)",
     {"ablation": {"lr_grid": [0.12, 0.24], "lr_walk": 2, "overrides": {}}}),
    ("v", "the lever study (each trick of the recipe switched off once, on the gap family)",
     {"levers": {"run": True, "families": ["gap"]}}),
    ("vi", "every other cell once on the full split", {"ablation": {"full_seeds": [0]}}),
)
# The stages whose parameters each step changes: a step can be dropped mid-build only before they start
_CELL_STAGES = tuple(f"ablation-{{f}}-{cell}" for cell in CELLS)
STEP_STAGES = {"ii": _CELL_STAGES, "iii": ("ablation-{f}-full",), "iv": _CELL_STAGES, "v": ("levers-{f}",),
               "vi": ("ablation-{f}-full",)}
# The fixed rates of a plan without tuning: what the full profile's tuning chose on 4,000 images
UNTUNED_RATES = {"bn": 0.24, "plain": 0.06}


@dataclass(frozen=True)
class Speed:
    """This machine's speed: seconds per forward FLOP of one training image (a training step costs
    TRAIN_PASSES of them; experiments/build/estimate.py measures it), and the seconds of the stages
    that train nothing worth counting, by stage name (recorded ones, else `default_fixed`); a stage in
    `done` costs what it took, a training stage in `scale` its count times that factor."""
    seconds_per_flop: float
    fixed: dict = field(default_factory=dict)
    default_fixed: float = 10.0
    done: dict = field(default_factory=dict)  # stages finished in this build: the seconds they took
    scale: dict = field(default_factory=dict)  # stage -> measured over estimated seconds of its kind of stage
    per_run: float = 0.0  # seconds a run costs beyond its images (building, whitening, loading, saving)

    def fixed_seconds(self, stage: str) -> float:
        return self.fixed.get(stage, self.default_fixed)


def parse_budget(text) -> float:
    """'90m', '2h', '1h30m', '45' (minutes) -> seconds; anything else is one clear line."""
    given = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", given):
        seconds = float(given) * 60
    else:
        match = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?:in)?)?", given)
        if not given or not match or not any(match.groups()):
            raise UserError(f"--budget {text!r}: give minutes or hours, e.g. 90m, 2h, 1h30m or 45")
        seconds = float(match.group(1) or 0) * 3600 + float(match.group(2) or 0) * 60
    if seconds <= 0:
        raise UserError(f"--budget {text!r}: must be more than zero")
    return seconds


def merged(base: dict, changes: dict) -> dict:
    """`changes` laid over a deep copy of `base`, section by section."""
    out = copy.deepcopy(base)
    for section, values in changes.items():
        out[section] = {**out[section], **copy.deepcopy(values)}
    return out


def smallest_report(profile: dict, size: str, epochs: int, n: int) -> dict:
    """Step (i) at a regime: one seed a cell on the smallest rung (grown to MIN_CELL_STEPS steps a run)
    at fixed rates, only the final on the full split, no lever study, the finals at `epochs` of the
    `size` widths. The search ranks the widths up to one size above the regime's (that one is probed,
    and trained only where it fits) for no more epochs than the finals train."""
    fixed = {f"{f}-{cell}": {"lr_grid": [UNTUNED_RATES["plain"]]} for f in FAMILIES for cell in ("plain", "dropout")}
    rung = max(min(profile["ablation"]["rungs"]), math.ceil(MIN_CELL_STEPS * profile["train"]["batch_size"] / epochs))
    rung = min(rung, n - 1)  # a rung below the full split (n training images), as the ablation requires
    shown = SIZES[:SIZES.index(size) + 2]
    search = profile["search"]
    # a variant named by its size (gap-nin-m) follows that size; a name without one is always kept
    def kept(f: str, name: str) -> bool:
        size = name.rsplit("-", 1)[-1]
        return name not in {f"{f}-{s}" for s in SIZES} and (size in shown or size not in SIZES)
    candidates = {f: [f"{f}-{s}" for s in shown] + [c for c in names if kept(f, c)]
                  for f, names in search["candidates"].items()}
    return merged(profile, {
        "search": {"candidates": candidates, "epochs": min(search["epochs"], epochs)},
        "ablation": {"rungs": [rung], "seeds": [0], "full_seeds": [], "final_seeds": [0],
                     "lr_grid": [UNTUNED_RATES["bn"]], "lr_walk": 0, "overrides": fixed},
        "levers": {"run": False}, "final": {"epochs": epochs}})


def priced(profile: dict, size: str, epochs: int, steps: frozenset[int], flops: dict, speed: Speed, n: int,
           n_val: int, stages: tuple[str, ...]) -> tuple[dict, dict]:
    """(the planned profile, seconds per stage) of the evidence steps `steps` (1-based; step 1, the
    smallest complete report, always) at a regime."""
    planned = smallest_report(profile, size, epochs, n)
    for k, (_, _, changes) in enumerate(EVIDENCE, 1):
        if k > 1 and k in steps:
            planned = merged(planned, changes)
    final_s = {f: flops[f"{f}-{size}"] * run_passes(planned["train"], n_val, n, epochs) * speed.seconds_per_flop
               for f in FAMILIES}
    planned["final"]["max_minutes"] = round(FINAL_SLACK * max(final_s.values()) / 60, 2)
    return planned, {s: stage_seconds(planned, s, size, flops, speed, n, n_val) for s in stages}


def stage_seconds(p: dict, stage: str, size: str, flops: dict, speed: Speed, n: int, n_val: int) -> float:
    """A stage's seconds under planned profile `p`: its training counted from the profile (the
    search trains the candidates no larger than the regime's and probes the others), else fixed."""
    if stage in speed.done:
        return speed.done[stage]
    return speed.scale.get(stage, 1.0) * _counted_seconds(p, stage, size, flops, speed, n, n_val)


def _counted_seconds(p: dict, stage: str, size: str, flops: dict, speed: Speed, n: int, n_val: int) -> float:
    kind, _, rest = stage.partition("-")
    family = rest.split("-")[0]
    spf = speed.seconds_per_flop
    if kind == "search":
        # every candidate is probed; the search trains those whose final fits its limit, FINAL_SLACK times
        # the regime's largest final (a variant a few per cent above the regime's widths, gap-nin-s, too),
        # after the whole probe (an untimed step and PROBE_STEPS timed ones)
        search, limit = p["search"], FINAL_SLACK * max(flops[f"{f}-{size}"] for f in FAMILIES)
        images = min(n, search["train_limit"] or n)
        batch = min(p["train"]["batch_size"], images)
        trained = run_passes(p["train"], n_val, images, search["epochs"]) + TRAIN_PASSES * batch * (PROBE_STEPS + 1)
        probed = TRAIN_PASSES * batch * PROBE_STEPS_PAID
        return sum(f * (trained if f <= limit else probed) * spf + speed.per_run
                   for f in (flops[name] for name in search["candidates"][family]))
    runs = runs_of(p, n, stage)
    if runs is None:
        return speed.fixed_seconds(stage)
    return sum(flops[f"{fam}-{size}"] * run_passes(p["train"], n_val, images, epochs) * spf + speed.per_run
               for fam, images, epochs in runs)


def plan_study(profile: dict, flops: dict, speed: Speed, budget_s: float, n: int, n_val: int,
               stages: tuple[str, ...], regime: tuple[str, int] | None = None,
               keep: frozenset[int] = frozenset(), exclude: frozenset[int] = frozenset()) -> dict:
    """The plan (module docstring). `regime` fixes it (a build under way keeps its regime); `keep`
    names steps that stay bought whatever they cost now (their stages have started), `exclude`
    steps that cannot be bought any more (their stages started without them). Each later step
    is bought when the study with it still fits: a step too large for what is left is skipped and
    the next one tried, so a larger budget buys the same regime or a larger one and, at the same
    regime, a set of steps that is no worse in the order of evidence."""
    regimes = [r for r in REGIMES if all(f"{f}-{r[0]}" in flops for f in FAMILIES)]
    if not regimes:
        raise UserError("--budget plans the built-in widths (s, m, l) of each family; this profile's search "
                        "offers none of them")

    def total(r, steps):
        return sum(priced(profile, *r, frozenset(steps), flops, speed, n, n_val, stages)[1].values())
    minimum = total(regimes[0], {1})
    if regime is None:
        fits = [r for r in regimes if total(r, {1, 2}) <= REGIME_SHARE * budget_s]
        regime = fits[-1] if fits else regimes[0]
    if not keep and total(regime, {1}) > budget_s:
        raise UserError(f"a budget of {budget_s / 60:.0f} minutes is below the smallest complete report on this "
                        f"machine: about {math.ceil(minimum / 60)} minutes (try --budget {math.ceil(minimum / 60)}m)")
    bought = {1} | set(keep)
    for k in range(2, len(EVIDENCE) + 1):
        if k not in bought and k not in exclude and total(regime, bought | {k}) <= budget_s:
            bought.add(k)
    planned, seconds = priced(profile, *regime, frozenset(bought), flops, speed, n, n_val, stages)
    # what the speed alone counts, before what was measured: the base later measurements are compared with
    counted = priced(profile, *regime, frozenset(bought), flops, replace(speed, done={}, scale={}), n, n_val, stages)[1]
    spent = sum(seconds.values())
    # what a step left out would add: priced afresh (a stage done without it would run again with it)
    fresh = replace(speed, done={})

    def fresh_total(steps_bought):
        return sum(priced(profile, *regime, frozenset(steps_bought), flops, fresh, n, n_val, stages)[1].values())
    steps = [{"step": name, "what": what, "bought": k in bought,
              "more_minutes": None if k in bought else round((fresh_total(bought | {k}) - fresh_total(bought)) / 60, 1)}
             for k, (name, what, _) in enumerate(EVIDENCE, 1)]
    bigger = regimes[regimes.index(regime) + 1] if regime != regimes[-1] else None
    return {"budget_minutes": round(budget_s / 60, 1), "regime": {"size": regime[0], "epochs": regime[1]},
            "regime_rule": f"the largest widths and epochs (the regime) whose steps (i) and (ii) fit {REGIME_SHARE:.0%} of the budget",
            "next_regime": bigger and {"size": bigger[0], "epochs": bigger[1],
                                       "minutes_for_i_ii": round(total(bigger, {1, 2}) / 60, 1)},
            "steps": steps, "bought": sorted(bought), "stage_seconds": seconds, "counted_seconds": counted,
            "total_minutes": round(spent / 60, 1), "minimum_minutes": round(minimum / 60, 1),
            "seconds_per_gflop": speed.seconds_per_flop * 1e9, "profile": planned, "base_profile": profile}


def started_steps(started: set[str]) -> frozenset[int]:
    """The steps whose stages (STEP_STAGES) have started: bought, a replan cannot take them back;
    not bought, it cannot add them any more."""
    return frozenset(k for k, (name, _, _) in enumerate(EVIDENCE, 1) for f in FAMILIES
                     if any(s.format(f=f) in started for s in STEP_STAGES.get(name, ())))


def steps_to_keep(plan: dict, started: set[str]) -> frozenset[int]:
    """The bought steps whose stages have started."""
    return started_steps(started) & frozenset(plan["bought"])
