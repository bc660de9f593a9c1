"""A `--budget` build's plan on its results folder: experiments/build/budget.py plans; this module
prices with this machine's speed, keeps the plan, and redoes it between stages.

- The speed is measured once per results folder and device (the estimate's probe) and kept in
  budget/speed.json: a rerun prices the same study the same way.
- The plan is kept in budget/plan.json; a rerun with the same budget and settings takes it as it is,
  so it trains nothing. Another budget plans afresh, at the speed the recorded stages measured.
- Between stages the plan is redone with what was measured: each stage done counts at its seconds,
  the others at the estimate scaled by how far the training done so far ran from its estimate; a
  step whose stages have not started is dropped when the study no longer fits, or bought when it
  now does. The regime, the search and anything a started stage read stay as they were.
"""
from __future__ import annotations

import hashlib
import json

from experiments.build import estimate
from experiments.build.budget import EVIDENCE, SIZES, Speed, Study, plan_study, rank, stage_seconds, started_steps
from experiments.build.estimate import (config_flops, counts_runs, model_flops, probe_method, seconds_per_flop,
                                        split_sizes)
from experiments.core import paths
from experiments.core.names import FAMILIES, stage_group, stage_id
from experiments.engine.errors import UserError
from experiments.engine.io import read_json, write_json
from experiments.engine.paths import record_path
from experiments.writeup.budget_wording import alternatives

# Stages that train nothing worth counting, before any was timed here. Those that run networks (the
# selection, the maps and their measures) take their seconds at the reference speed (the 2-core EPYC with
# AVX-512 bf16), scaled by this machine's; the others (the Conv2D tests, decoding the PNGs, the audit, the
# PDF) run NumPy or Python whatever torch's speed, so their seconds stand (the values: docs/measurements.md,
# "What a plan prices").
REFERENCE_SECONDS_PER_FLOP = 4.23e-12
REFERENCE_FIXED = {"select": 3.0, "measures": 70.0}
REFERENCE_FIXED_OTHER = 2.0
UNSCALED_FIXED = {"conv": 10.0, "data": 20.0, "audit": 15.0, "report": 8.0}
REFERENCE_PER_RUN = 6.0  # a run's seconds beyond its images there (the s search: 47 s against 33 counted)
BUY_MARGIN = 0.95  # mid-build, a step is bought only where the study with it leaves this share of the budget


def measured_speed(ctx, batch: int) -> float:
    """Seconds per forward FLOP of a training image here at `batch`: the probe, once per results
    folder, device and probe method (a speed measured another way is measured again)."""
    path = ctx.at(paths.BUDGET) / "speed.json"
    recorded, method = _read_budget_file(path), probe_method(batch)
    if recorded and recorded.get("device") == ctx.device and recorded.get("probe") == method \
            and "seconds_per_flop" in recorded:
        return recorded["seconds_per_flop"]
    from experiments.engine.provenance import cpu_flags
    spf = seconds_per_flop(ctx.device, batch)
    write_json(path, {"device": ctx.device, "seconds_per_flop": spf, "probe": method, "cpu_flags": cpu_flags()})
    return spf


def measured_eval_ratio(ctx, train_batch: int, eval_batch: int) -> float:
    """A scored image's seconds per FLOP over a trained one's, here: the scoring probe, once per results
    folder, device and probe method, kept beside the training probe in budget/speed.json."""
    path = ctx.at(paths.BUDGET) / "speed.json"
    recorded, method = _read_budget_file(path) or {}, estimate.eval_probe_method(eval_batch)
    if recorded.get("eval_probe") == method and recorded.get("device") == ctx.device and "eval_ratio" in recorded:
        return recorded["eval_ratio"]
    ratio = estimate.eval_seconds_per_flop(ctx.device, eval_batch) / measured_speed(ctx, train_batch)
    write_json(path, {**(_read_budget_file(path) or {}), "eval_ratio": ratio, "eval_probe": method})
    return ratio


def candidate_flops(profile: dict) -> dict[str, int]:
    """Forward FLOPs per image of every candidate the plan may price (the built-in sizes, the user's)."""
    from experiments.training.models import candidate
    names = {n for names in profile["search"]["candidates"].values() for n in names} | \
        {f"{f}-{s}" for f in FAMILIES for s in SIZES}
    return {n: config_flops(json.dumps(candidate(n, extra=profile["models"]), sort_keys=True)) for n in names}


CHOSEN = "chosen"  # the size that prices each family's network as the search chose it (or likely will)


def estimate_seconds(ctx, stage: str) -> float | None:
    """A stage's training seconds without a plan, by the one pricing function a plan uses
    (`budget.stage_seconds`): the profile as it is, each family's network the search's choice (its
    likely choice before the search), this machine's probed speed; None for a stage that trains nothing."""
    if not counts_runs(stage):
        return None
    train = ctx.profile["train"]
    spf = estimate.seconds_per_flop(ctx.device, train["batch_size"])
    ratio = estimate.eval_seconds_per_flop(ctx.device, train["eval_batch_size"]) / spf
    flops = {**candidate_flops(ctx.profile), **{f"{f}-{CHOSEN}": model_flops(ctx, f) for f in FAMILIES}}
    n, n_val = split_sizes(ctx)
    speed = Speed(spf, per_run=REFERENCE_PER_RUN * spf / REFERENCE_SECONDS_PER_FLOP, eval_ratio=ratio)
    return stage_seconds(Study(ctx.profile, flops, n, n_val, (stage,)), ctx.profile, stage, CHOSEN, speed)


def recorded_seconds(ctx, stage: str) -> float | None:
    try:
        return read_json(record_path(ctx.results, stage)).get("seconds")
    except (OSError, ValueError):
        return None


def base_digest(profile: dict, budget_s: float, device: str) -> str:
    text = json.dumps([profile, budget_s, device], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def budget_plan(ctx, base_profile: dict, budget_s: float, pinned: dict | None = None) -> dict:
    """The plan for `base_profile` within `budget_s` here, keeping the values the user set (`pinned`):
    the recorded one when it was made for the same profile, budget and device; else a new one, at
    the speed measured (scaled by how far the stages recorded here ran from the last plan's estimates)."""
    digest = base_digest(base_profile, budget_s, ctx.device)
    recorded = read_plan(ctx)
    if recorded and recorded.get("base") == digest:
        return recorded
    train = base_profile["train"]
    spf = measured_speed(ctx, train["batch_size"])
    ratio = measured_eval_ratio(ctx, train["batch_size"], train["eval_batch_size"])
    stages = ctx.stage_names
    n, n_val = split_sizes(ctx)
    fixed = {s: recorded_seconds(ctx, s) or default_fixed(s, spf, n + n_val) for s in stages}
    scale = calibration(ctx, recorded) if recorded else {}
    per_run = REFERENCE_PER_RUN * spf / REFERENCE_SECONDS_PER_FLOP
    study = Study(base_profile, candidate_flops(base_profile), n, n_val, stages, dict(pinned or {}))
    plan = plan_study(study, Speed(spf, fixed, scale=scale, per_run=per_run, eval_ratio=ratio), budget_s)
    # the plan as it stood before the first stage: what the report sets the measured minutes against
    # (a replan prices each stage done at what it took) and the start of the record of its changes
    first = {"stage_seconds": plan["stage_seconds"], "total_minutes": plan["total_minutes"]}
    return {**plan, "per_run_seconds": per_run, "eval_ratio": ratio, "base": digest, "previous": recorded and summary(recorded),
            "first": first, "changes": [], "search_final": plan["profile"]["final"]}


def default_fixed(stage: str, spf: float, images: int) -> float:
    """A stage that trains nothing, never timed here: the reference's seconds at this speed, and in
    proportion to the images where the data is a subset (smoke's 500 against CIFAR-10's 50,000)."""
    kind = stage_id(stage).kind
    share = max(0.05, min(1.0, images / 50_000))
    if kind in UNSCALED_FIXED:
        return UNSCALED_FIXED[kind] * share
    return REFERENCE_FIXED.get(kind, REFERENCE_FIXED_OTHER) * spf / REFERENCE_SECONDS_PER_FLOP * share


# The kinds of stage whose runs are the regime's own (the lever study's variants change the network's
# cost, so its overrun says little about the others'): a kind never measured takes their ratio
REGIME_GROUPS = ("search", "ablation cells", "finals", "full split")


def stage_scales(measured: dict[str, tuple[float, float]], stages: tuple[str, ...]) -> dict:
    """Per training stage, measured over counted seconds: of its own kind where one of that kind
    ran, else of the regime's kinds that ran (`measured`: stage -> (seconds taken, seconds counted))."""
    groups: dict[str, list] = {}
    for stage, pair in measured.items():
        groups.setdefault(stage_group(stage), []).append(pair)

    def ratio(pairs):
        counted = sum(c for _, c in pairs)
        return sum(t for t, _ in pairs) / counted if pairs and counted else None
    fallback = ratio([pair for g in REGIME_GROUPS for pair in groups.get(g, [])]) or 1.0
    return {s: ratio(groups.get(stage_group(s), [])) or fallback for s in stages if counts_runs(s)}


def calibration(ctx, plan: dict) -> dict:
    """`stage_scales` from the stages a recorded plan counted and this folder timed: a stage far below
    its count reused finished runs and says nothing."""
    counted = plan["counted_seconds"]
    measured = {s: (recorded_seconds(ctx, s), c) for s, c in counted.items()
                if c > 0 and counts_runs(s)}
    measured = {s: (m, c) for s, (m, c) in measured.items() if m is not None and m > 0.2 * c}
    return stage_scales(measured, tuple(counted))


def read_plan(ctx) -> dict | None:
    return _read_budget_file(ctx.at(paths.BUDGET) / "plan.json")


def _read_budget_file(path) -> dict | None:
    """A budget file, None where there is none; a damaged one is one line saying how to start afresh."""
    if not path.exists():
        return None
    try:
        return read_json(path)
    except ValueError as err:
        raise UserError(f"{path} is damaged ({err}); delete it and the budget is planned afresh") from None


def save_plan(ctx, plan: dict) -> None:
    write_json(ctx.at(paths.BUDGET) / "plan.json", plan)


def summary(plan: dict) -> dict:
    return {"budget_minutes": plan["budget_minutes"], "regime": plan["regime"], "bought": plan["bought"]}


# The kinds of stage that train the regime: once one has started the regime stays (the search's start
# fixes its widths)
REGIME_KINDS = ("cell", "final", "full")


def searched_flops(ctx, plan: dict) -> dict[str, int]:
    """Each candidate's FLOPs, a family's regime widths replaced by the architecture its search chose."""
    flops = candidate_flops(plan["profile"])
    for family in FAMILIES:
        search = ctx.at(paths.search(family)) / "search.json"
        if search.exists():
            record = read_json(search)
            flops[f"{family}-{plan['regime']['size']}"] = next(
                c["flops"] for c in record["candidates"] if c["name"] == record["chosen"])
    return flops


def replan(ctx, plan: dict, settled: dict[str, float | None]) -> dict:
    """The plan redone after a stage, from `settled` (stage -> seconds it took in this build, None
    where it was already up to date: its recorded seconds count). Until a stage of the regime has
    started the regime may move too: up, where the study with it leaves BUY_MARGIN of the budget;
    down, where even the smallest report at it no longer fits."""
    # the stages this plan settled in earlier builds (a rerun, a resumed build) have started as much as this
    # build's: a stage rerun for its code alone must not reopen the regime that the others trained at
    before = {s: recorded_seconds(ctx, s) or plan["stage_seconds"].get(s, 0.0)
              for s in plan.get("replanned_after", []) if s not in settled}
    done = {**before, **{s: (sec if sec is not None else recorded_seconds(ctx, s) or 0.0) for s, sec in settled.items()}}
    stages = ctx.stage_names
    counted = plan["counted_seconds"]  # what the speed alone prices each stage at
    measured = {s: (done[s], counted[s]) for s in settled
                if settled[s] is not None and counts_runs(s) and counted.get(s, 0) > 0}
    scale = stage_scales(measured, stages)
    spf = plan["seconds_per_gflop"] / 1e9
    fixed = {s: plan["stage_seconds"][s] for s in stages if not counts_runs(s)}
    flops = searched_flops(ctx, plan)
    started = set(settled) | set(before)
    bought = set(plan["bought"])
    keep, frozen = started_steps(started) & bought, started_steps(started) - bought
    n, n_val = split_sizes(ctx)
    budget_s = plan["budget_minutes"] * 60
    speed = Speed(spf, fixed, done=done, scale=scale, per_run=plan["per_run_seconds"],
                  eval_ratio=plan.get("eval_ratio", 1.0))
    regime = (plan["regime"]["size"], plan["regime"]["epochs"])
    kinds = {stage_id(s).kind for s in started}
    searched = "search" in kinds
    planned = Study(plan["base_profile"], flops, n, n_val, stages, plan.get("pinned") or {})

    def study(steps, exclude, limit=budget_s, at=regime):
        return plan_study(planned, speed, limit, regime=at, keep=frozenset(steps), exclude=exclude,
                          size=regime[0] if searched else None)
    # where the study runs over, drop from the end of the order of evidence, a step at a time (never one
    # whose stages started); buy only with BUY_MARGIN to spare, so that a step is not bought and dropped
    # again as the estimates move by a few seconds
    everything = frozenset(range(1, len(EVIDENCE) + 1))
    new = study(bought, everything - bought)
    while new["total_minutes"] * 60 > budget_s and bought - keep - {1}:
        bought.discard(max(bought - keep - {1}))
        new = study(bought, everything - bought)
    regime_open = not kinds & set(REGIME_KINDS)
    if regime_open:
        if new["total_minutes"] * 60 > budget_s:
            new = _or_same(study(keep, frozen, at=None), new, budget_s)
        else:
            grown = study(keep, frozen, budget_s * BUY_MARGIN, at=None)
            if rank(_regime(grown)) > rank(regime) and grown["total_minutes"] * 60 <= budget_s * BUY_MARGIN:
                new = grown
    if _regime(new) == regime and bought == set(plan["bought"]):
        grown = study(bought, frozen, budget_s * BUY_MARGIN)
        if grown["total_minutes"] * 60 <= budget_s * BUY_MARGIN:
            new = grown
    if searched:  # what the search read stays as it was (it ranked the widths for the final first planned)
        new["profile"]["search"] = plan["profile"]["search"]
    return {**plan, **{k: new[k] for k in ("regime", "next_regime", "expected_acc", "other_order", "steps", "bought",
                                           "stage_seconds", "counted_seconds", "total_minutes", "profile")},
            "search_final": plan["search_final"] if searched else new["profile"]["final"],
            "replanned_after": sorted(started)}


def _regime(plan: dict) -> tuple[str, int]:
    return plan["regime"]["size"], plan["regime"]["epochs"]


def _or_same(lower: dict, same: dict, budget_s: float) -> dict:
    """A smaller regime where it fits and the current one does not."""
    return lower if lower["total_minutes"] * 60 <= budget_s else same


def describe_plan(plan: dict, cpu: str) -> str:
    """The plan as the lines `invoke all/status --budget` print."""
    steps = plan["steps"]
    groups: dict[str, float] = {}
    for stage, sec in plan["stage_seconds"].items():
        groups[stage_group(stage)] = groups.get(stage_group(stage), 0.0) + sec / 60
    lines = [f"budget {plan['budget_minutes']:g} min here ({cpu}; training at "
             f"{1 / plan['seconds_per_gflop']:.0f} GFLOP/s), bought in this order: {plan['regime_rule']}"]
    lines += [f"  ({s['step']}) {s['what']}" + ("" if s["bought"] else f": left out, about {s['more_minutes']:g} more "
                                                                      "minutes here") for s in steps]
    lines.append("  minutes: " + ", ".join(f"{k} {v:.1f}" for k, v in groups.items() if v >= 0.05) +
                 f"; total {plan['total_minutes']:g} of {plan['budget_minutes']:g}")
    lines += [f"  {sentence}" for sentence in alternatives(plan)]
    return "\n".join(lines)
