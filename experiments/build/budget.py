"""Planning a study to the minutes a user gives (`invoke all --budget 90m`).

`plan_study` is a pure function: (profile, each candidate's FLOPs, this machine's speed, the budget,
the stages already started) -> the plan. It starts from the smallest complete report at the cheapest
regime (the widths and epochs that the finals and every ablation run share) and buys in
`purchase_order`: accuracy first (the finals' epochs, then widths, up to PLATEAU, where accuracy
stops paying for its minutes), then the EVIDENCE steps, then wider networks. Each purchase is made
where the whole study with it still fits; the plan says what each left out would cost, and what the
other order (verdicts before accuracy) would have bought. FLAML, Optuna and Ray Tune check the clock
only between trials and can overrun by one; this plans the whole study before the first step and
again after each stage (../shared/notes/budget-anchors.md). Values the user set are kept and priced.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field, replace

from experiments.build.estimate import TRAIN_PASSES, run_passes, runs_of
from experiments.build.evidence import EVIDENCE, FINALS_REGIME, STEP_KINDS
from experiments.core.names import FAMILIES, stage_id
from experiments.engine.errors import UserError
from experiments.studies.search import PROBE_STEPS
from experiments.training.models import CANDIDATE_SIZES

# The search's limit on a final, over the planned final's price: slack for a slow probe, not 2-3.5x FLOPs
FINAL_SLACK = 1.3
# Each ablation run takes at least this many optimizer steps (the full profile's 4,000 images x 8 epochs at
# batch 2000): at 2 epochs the smallest training set grows to 16,000 images. At 4 steps every cell sat near
# 30% and the ranking that picks the final's cell was noise (docs/measurements.md, "Budget builds")
MIN_CELL_STEPS = 16
PROBE_STEPS_PAID = 2  # a candidate that projects past the limit costs its untimed step and one timed step

# The regimes, cheapest first; each is expected to beat the one before (EXPECTED_ACCURACY; 3 epochs of the m
# widths reached 89.3%, below s x 8, so m starts at 8). The schedule decays to the end of the epochs given.
REGIMES = (("s", 1), ("s", 2), ("s", 4), ("s", 8), ("m", 8), ("m", 12), ("m", 16), ("m", 24), ("m", 40), ("l", 40))
SIZES = tuple(dict.fromkeys(size for size, _ in REGIMES))  # the built-in widths, smallest first: s, m, l
# Where accuracy stops paying for its minutes: each doubling of the s widths' epochs up to 8 bought 4-12 points;
# from s x 8 to m x 8 under 2 points for 3.6x the FLOPs (docs/measurements.md, "What the minutes bought").
PLATEAU = ("s", 8)
# The finals' validation accuracy (%, lowest and highest of the two families) that a regime reached in a
# recorded build of this project (docs/measurements.md), or, past them, airbench's published curve
EXPECTED_ACCURACY = {("s", 1): (69.3, 72.9), ("s", 2): (80.3, 84.4), ("s", 8): (91.7, 92.2), ("m", 8): (93.6, 93.6),
                     ("m", 16): (93.9, 93.9), ("m", 40): (94.1, 94.1)}

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
    eval_ratio: float = 1.0  # a scored image's seconds per FLOP over a trained image's (the probes measure both)

    def fixed_seconds(self, stage: str) -> float:
        return self.fixed.get(stage, self.default_fixed)


@dataclass(frozen=True)
class Study:
    """What a plan prices: the profile before the plan, each candidate's FLOPs, the training and validation
    split's sizes, the stages, and the values the user set ("section.key" -> value): kept and priced."""
    profile: dict
    flops: dict
    n: int
    n_val: int
    stages: tuple[str, ...]
    pinned: dict = field(default_factory=dict)
    pins = property(lambda self: frozenset(self.pinned or {}))


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


def merged(base: dict, changes: dict, pinned: frozenset[str] = frozenset()) -> dict:
    """`changes` laid over a deep copy of `base`, key by key, except the keys in `pinned`
    ("section.key": values the user set, which a plan keeps)."""
    out = copy.deepcopy(base)
    for section, values in changes.items():
        out[section] = {**out[section], **{k: copy.deepcopy(v) for k, v in values.items()
                                           if f"{section}.{k}" not in pinned}}
    return out


def smallest_report(profile: dict, size: str, epochs: int, n: int, pinned: frozenset[str] = frozenset()) -> dict:
    """Step (i) at a regime: one seed a cell on the smallest rung (grown to MIN_CELL_STEPS steps a run)
    at fixed rates, only the final on the full split, no lever study, the finals at `epochs` of the
    `size` widths. The search ranks the widths up to one size above the regime's (that one is probed,
    and trained only where it fits) for no more epochs than the finals train."""
    fixed = {f"{f}-{cell}": {"lr_grid": [UNTUNED_RATES["plain"]]} for f in FAMILIES for cell in ("plain", "dropout")}
    rung = max(min(profile["ablation"]["rungs"]), math.ceil(MIN_CELL_STEPS * profile["train"]["batch_size"] / epochs))
    rung = min(rung, n - 1)  # a rung below the full split (n training images), as the ablation requires
    shown = SIZES[:SIZES.index(size) + 2]
    search = profile["search"]
    # a built-in variant (gap-nin-m) follows its size; the user's architectures are always kept
    def kept(f: str, name: str) -> bool:
        return name not in {f"{f}-{s}" for s in SIZES} and CANDIDATE_SIZES.get(name, shown[0]) in shown
    candidates = {f: [f"{f}-{s}" for s in shown] + [c for c in names if kept(f, c)]
                  for f, names in search["candidates"].items()}
    return merged(profile, {
        "search": {"candidates": candidates, "epochs": min(search["epochs"], epochs)},
        "ablation": {"rungs": [rung], "seeds": [0], "full_seeds": [], "final_seeds": [0], "twin_seeds": [],
                     "lr_grid": [UNTUNED_RATES["bn"]], "lr_walk": 0, "overrides": fixed},
        "levers": {"run": False}, "final": {"epochs": epochs}}, pinned)


def priced(study: Study, size: str, epochs: int, steps: frozenset[int], speed: Speed) -> tuple[dict, dict]:
    """(the planned profile, seconds per stage) of the evidence steps `steps` (1-based; step 1, the
    smallest complete report, always) at a regime, the user's pinned values kept."""
    pins = study.pins
    planned = smallest_report(study.profile, size, epochs, study.n, pins)
    for k, (_, _, changes) in enumerate(EVIDENCE, 1):
        if k > 1 and k in steps:
            planned = merged(planned, changes, pins)
    final_s = {f: study.flops[f"{f}-{size}"] * run_passes(planned["train"], study.n_val, study.n, epochs,
                                                          speed.eval_ratio)
               * speed.seconds_per_flop for f in FAMILIES}
    if "final.max_minutes" not in pins:
        planned["final"]["max_minutes"] = round(FINAL_SLACK * max(final_s.values()) / 60, 2)
    return planned, {s: stage_seconds(study, planned, s, size, speed) for s in study.stages}


def stage_seconds(study: Study, p: dict, stage: str, size: str, speed: Speed) -> float:
    """A stage's seconds under planned profile `p`: its training counted from the profile (the
    search trains the candidates no larger than the regime's and probes the others), else fixed."""
    if stage in speed.done:
        return speed.done[stage]
    return speed.scale.get(stage, 1.0) * _counted_seconds(study, p, stage, size, speed)


def _counted_seconds(study: Study, p: dict, stage: str, size: str, speed: Speed) -> float:
    sid, flops, n, n_val = stage_id(stage), study.flops, study.n, study.n_val
    spf = speed.seconds_per_flop
    if sid.kind == "search":
        # every candidate is probed; the search trains those whose final fits its limit, FINAL_SLACK times
        # the regime's largest final (a variant a few per cent above the regime's widths, gap-nin-s, too),
        # after the whole probe (an untimed step and PROBE_STEPS timed ones)
        search, limit = p["search"], FINAL_SLACK * max(flops[f"{f}-{size}"] for f in FAMILIES)
        images = min(n, search["train_limit"] or n)
        batch = min(p["train"]["batch_size"], images)
        trained = run_passes(p["train"], n_val, images, search["epochs"], speed.eval_ratio) + \
            TRAIN_PASSES * batch * (PROBE_STEPS + 1)
        probed = TRAIN_PASSES * batch * PROBE_STEPS_PAID
        return sum(f * (trained if f <= limit else probed) * spf + speed.per_run
                   for f in (flops[name] for name in search["candidates"][sid.family]))
    runs = runs_of(p, n, stage)
    if runs is None:
        return speed.fixed_seconds(stage)
    return sum(flops[f"{fam}-{size}"] * run_passes(p["train"], n_val, images, epochs, speed.eval_ratio) * spf
               + speed.per_run
               for fam, images, epochs in runs)


def regime_ladder(flops: dict, pinned: dict | None = None, size: str | None = None) -> list[tuple[str, int]]:
    """The regimes a plan may choose, cheapest first: those both families have widths for, of `size`
    only where the search has fixed the widths, at the user's epochs where they set final.epochs."""
    epochs = (pinned or {}).get("final.epochs")
    ladder = REGIMES if epochs is None else tuple((s, epochs) for s in SIZES)
    return [r for r in ladder if all(f"{f}-{r[0]}" in flops for f in FAMILIES) and size in (None, r[0])]


def purchase_order(regimes: list[tuple[str, int]]) -> list[tuple[str, object]]:
    """What a plan buys after the smallest report, first bought first: the regimes up to PLATEAU (the
    homework asks first for "the best accuracy you can": each doubling of epochs there bought 4-12
    points), then the evidence steps (ii)-(vi) (verdicts over training runs before wider networks,
    which past PLATEAU buy under 2 points for 3.6x the minutes), then the regimes past it."""
    below = [r for r in regimes[1:] if rank(r) <= rank(PLATEAU)]
    above = [r for r in regimes[1:] if rank(r) > rank(PLATEAU)]
    return [("regime", r) for r in below] + [("step", k) for k in range(2, len(EVIDENCE) + 1)] + \
        [("regime", r) for r in above]


def rank(regime: tuple[str, int]) -> tuple[int, int]:
    return SIZES.index(regime[0]), regime[1]


def buy(order, start, fits, keep=frozenset(), exclude=frozenset()):
    """(regime, steps) bought walking `order` from `start` with the smallest report (and `keep`):
    a step is bought where the study with it `fits(regime, steps)`, else skipped; a regime only
    while nothing before it in the order was skipped, so a larger budget never buys smaller finals;
    a step after the finals' regime only while none of FINALS_REGIME was skipped."""
    regime, bought, unbroken, finals_whole = start, {1} | set(keep), True, True
    first = {k for k, (name, _, _) in enumerate(EVIDENCE, 1) if name in FINALS_REGIME}
    for kind, item in order:
        if kind == "regime":
            if unbroken and fits(item, bought):
                regime = item
            else:
                unbroken = False
        elif item not in bought:
            if item not in exclude and (item in first or finals_whole) and fits(regime, bought | {item}):
                bought.add(item)
            else:
                unbroken = False
                finals_whole = finals_whole and item not in first
    return regime, bought


def plan_study(study: Study, speed: Speed, budget_s: float, regime: tuple[str, int] | None = None,
               keep: frozenset[int] = frozenset(), exclude: frozenset[int] = frozenset(),
               size: str | None = None) -> dict:
    """The plan (module docstring). `regime` fixes it (its stages have started); `size` fixes only its
    widths (the search has started); `keep` names steps that stay bought whatever they cost now
    (their stages have started), `exclude` steps that cannot be bought any more (their stages started
    without them)."""
    pins = study.pins
    regimes = [regime] if regime else regime_ladder(study.flops, study.pinned, size)
    if not regimes:
        raise UserError("--budget plans the built-in widths (s, m, l) of each family; this profile's search "
                        "offers none of them")

    def total(r, steps, sp=speed):
        return sum(priced(study, *r, frozenset(steps), sp)[1].values())

    def fits(r, steps):
        return total(r, steps) <= budget_s
    minimum = total(regimes[0], {1} | set(keep))
    if minimum > budget_s and not keep:
        mine = f" with your settings ({', '.join(sorted(pins))})" if pins else ""
        raise UserError(f"a budget of {budget_s / 60:.0f} minutes is below the smallest complete report{mine} on this "
                        f"machine: about {math.ceil(minimum / 60)} minutes (try --budget {math.ceil(minimum / 60)}m)")
    order = purchase_order(regimes)
    chosen, bought = buy(order, regimes[0], fits, keep, exclude)
    planned, seconds = priced(study, *chosen, frozenset(bought), speed)
    # what the speed alone counts, before what was measured: the base later measurements are compared with
    counted = priced(study, *chosen, frozenset(bought), replace(speed, done={}, scale={}))[1]
    # what a purchase left out would add: priced afresh (a stage done without it would run again with it)
    fresh = replace(speed, done={})

    def more(r, steps):
        return round((total(r, steps, fresh) - total(chosen, bought, fresh)) / 60, 1)
    steps = [{"step": name, "what": what, "bought": k in bought, "kinds": list(STEP_KINDS.get(name, ())),
              "more_minutes": None if k in bought else more(chosen, bought | {k})}
             for k, (name, what, _) in enumerate(EVIDENCE, 1)]
    bigger = next((r for r in regimes if rank(r) > rank(chosen)), None)
    return {"budget_minutes": round(budget_s / 60, 1), "regime": {"size": chosen[0], "epochs": chosen[1]},
            "regime_rule": (f"the finals' epochs, then widths, up to the {PLATEAU[0]} widths for {PLATEAU[1]} epochs "
                            "(where accuracy stops paying for its minutes), then the evidence, then wider networks"),
            "next_regime": bigger and {"size": bigger[0], "epochs": bigger[1], "more_minutes": more(bigger, bought),
                                       "expected_acc": EXPECTED_ACCURACY.get(bigger)},
            "expected_acc": EXPECTED_ACCURACY.get(chosen),
            "other_order": other_order(order, regimes[0], fits, keep, exclude, chosen, bought),
            "steps": steps, "bought": sorted(bought), "stage_seconds": seconds, "counted_seconds": counted,
            "total_minutes": round(sum(seconds.values()) / 60, 1), "minimum_minutes": round(minimum / 60, 1),
            "seconds_per_gflop": speed.seconds_per_flop * 1e9, "profile": planned, "base_profile": study.profile,
            "pinned": dict(study.pinned or {})}


def other_order(order, start, fits, keep, exclude, chosen, bought) -> dict | None:
    """What the other order, the verdicts in the finals' regime (ii)-(iv) before the finals' accuracy,
    would have bought with the same minutes: its regime, its expected accuracy; None where it buys the same."""
    verdicts = [("step", 2), ("step", 3), ("step", 4)]
    regime, steps = buy(verdicts + [o for o in order if o not in verdicts], start, fits, keep, exclude)
    if regime == chosen and steps == bought:
        return None
    return {"regime": {"size": regime[0], "epochs": regime[1]}, "expected_acc": EXPECTED_ACCURACY.get(regime),
            "bought": [EVIDENCE[k - 1][0] for k in sorted(steps)]}


def started_steps(started: set[str]) -> frozenset[int]:
    """The steps whose kinds of stage (STEP_KINDS) have started: bought, a replan cannot take them back;
    not bought, it cannot add them any more."""
    kinds = {stage_id(s).kind for s in started}
    return frozenset(k for k, (name, _, _) in enumerate(EVIDENCE, 1) if kinds & set(STEP_KINDS.get(name, ())))


def steps_to_keep(plan: dict, started: set[str]) -> frozenset[int]:  # the bought steps whose stages started
    return started_steps(started) & frozenset(plan["bought"])
