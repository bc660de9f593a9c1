"""The budget planner (experiments/build/budget.py) as a pure function, on made-up speeds: it keeps
the order of evidence, never plans past the budget, buys no less with more time, and names the
minimum when the budget is too small. No clock: times come from the speed given."""
import pytest

from experiments.build.budget import (EVIDENCE, PLATEAU, REGIMES, Speed, Study, parse_budget, plan_study, rank,
                                      steps_to_keep)
from experiments.build.stages import STAGES
from experiments.engine.errors import UserError
from experiments.training.profiles import load_profile

STAGE_NAMES = tuple(s.name for s in STAGES)
# forward MFLOPs per image of the built-in candidates (experiments/training/models.py describe())
FLOPS = {"dense-s": 66.7e6, "dense-m": 238.7e6, "dense-l": 514.6e6, "dense-s-h128": 66.4e6, "dense-s-h512": 67.3e6,
         # the gap family with NiN's 1x1 mlpconv (one or two a stage) or residual stages
         "gap-s": 68.5e6, "gap-m": 245.7e6, "gap-l": 532.3e6, "gap-nin2-s": 70.9e6, "gap-res-s": 66.1e6,
         "gap-res-m": 236.3e6}
N, N_VAL = 45_000, 5_000
# seconds per forward FLOP: an AVX-512 bf16 CPU, an AVX2 one, a slow laptop, a GPU
SPEEDS = [4.2e-12, 1.4e-11, 4e-11, 2e-13]
BUDGETS_MIN = [20, 30, 45, 60, 90, 120, 180, 240, 400, 800]


def _plan(budget_min, spf, **kw):
    profile = load_profile("full")
    for name, value in kw.get("pinned", {}).items():  # the user's values, laid over the profile as a build does
        section, key = name.split(".")
        profile[section][key] = value
    study = Study(profile, FLOPS, N, N_VAL, STAGE_NAMES, kw.pop("pinned", {}))
    return plan_study(study, Speed(spf, default_fixed=20.0), budget_min * 60, **kw)


def _plans(spf):
    out = []
    for b in BUDGETS_MIN:
        try:
            out.append((b, _plan(b, spf)))
        except UserError:
            out.append((b, None))
    return out


@pytest.mark.parametrize("spf", SPEEDS)
def test_the_plan_never_prices_past_the_budget(spf):
    for budget, plan in _plans(spf):
        if plan is not None:
            assert sum(plan["stage_seconds"].values()) <= budget * 60 + 1e-6, budget


@pytest.mark.parametrize("spf", SPEEDS)
def test_a_larger_budget_never_buys_less(spf):
    """Less would be a smaller regime, or at the same regime a set of steps worse in the order of
    evidence (the first step where the two differ is bought only by the smaller budget)."""
    plans = [(b, p) for b, p in _plans(spf) if p is not None]
    for (b1, small), (b2, large) in zip(plans, plans[1:]):
        r1 = REGIMES.index((small["regime"]["size"], small["regime"]["epochs"]))
        r2 = REGIMES.index((large["regime"]["size"], large["regime"]["epochs"]))
        assert large["expected_acc"] is None or small["expected_acc"] is None or \
            large["expected_acc"] >= small["expected_acc"], "more minutes never expect smaller finals"
        assert r2 >= r1, f"{b2} min chose a smaller regime than {b1} min"
        if r2 == r1:
            first_difference = next((k for k in range(1, len(EVIDENCE) + 1)
                                     if (k in small["bought"]) != (k in large["bought"])), None)
            assert first_difference is None or first_difference in large["bought"], (b1, b2)


@pytest.mark.parametrize("spf", SPEEDS)
def test_steps_are_bought_in_the_order_of_evidence(spf):
    """The smallest report always; a later step only where each earlier one is bought or would
    not fit beside what is bought (its price is then above what the plan left); past a step of the
    finals' regime left out, nothing more (its minutes wait for it)."""
    from experiments.build.evidence import FINALS_REGIME
    for budget, plan in _plans(spf):
        if plan is None:
            continue
        assert 1 in plan["bought"]
        left = budget - plan["total_minutes"]
        finals_whole = True
        for step in plan["steps"]:
            if not step["bought"] and (finals_whole or step["step"] in FINALS_REGIME):
                assert step["more_minutes"] > left - 0.1, (budget, step["step"])
            finals_whole = finals_whole and (step["bought"] or step["step"] not in FINALS_REGIME)


@pytest.mark.parametrize("spf", SPEEDS)
def test_the_finals_accuracy_is_bought_up_to_the_plateau_before_any_evidence(spf):
    """Accuracy first: a plan below PLATEAU buys no step after the smallest report, since every step
    was priced only after the next regime failed to fit; and the next regime would not fit."""
    for budget, plan in _plans(spf):
        if plan is None:
            continue
        regime = (plan["regime"]["size"], plan["regime"]["epochs"])
        if rank(regime) < rank(PLATEAU):
            nxt = plan["next_regime"]
            assert plan["total_minutes"] + nxt["more_minutes"] > budget - 0.1, (budget, regime, "the next fits")


def test_past_the_plateau_verdicts_over_seeds_come_before_wider_networks():
    plans = [p for _, p in _plans(2e-13) if p is not None]  # a GPU: every budget here reaches the plateau
    for plan in plans:
        if plan["regime"]["size"] != "s":
            assert {2, 3, 4, 5, 6} <= set(plan["bought"]), "a wider network only after every step of evidence"
    assert any(p["regime"]["size"] != "s" for p in plans), "a large budget on a GPU buys wider networks"


def test_45_minutes_on_a_bf16_cpu_buys_the_plateau_and_runs_in_the_finals_regime():
    """At the speed the README's first command trains here (about 355 GFLOP/s, AMX bf16), 45 minutes buy
    8 epochs of the s widths (91.7-92.2% in recorded builds), each twin of the final once and the final's
    variant a second time; the other order names what verdicts first would have left the finals at."""
    plan = _plan(45, 1 / 355e9)
    assert (plan["regime"]["size"], plan["regime"]["epochs"]) == PLATEAU and {2, 3} <= set(plan["bought"])
    assert plan["expected_acc"][0] >= 90
    other = plan["other_order"]
    assert other is None or rank((other["regime"]["size"], other["regime"]["epochs"])) < rank(PLATEAU)


def test_the_users_seeds_are_kept_and_priced_under_a_budget():
    seeds = [0, 1, 2, 3, 4]
    plan = _plan(90, 1 / 230e9, pinned={"ablation.seeds": seeds})
    assert plan["profile"]["ablation"]["seeds"] == seeds
    cells = sum(plan["stage_seconds"][f"ablation-{f}-{c}"] for f in ("dense", "gap") for c in ("bn", "plain"))
    without = _plan(90, 1 / 230e9, regime=(plan["regime"]["size"], plan["regime"]["epochs"]))
    assert cells > sum(without["stage_seconds"][f"ablation-{f}-{c}"] for f in ("dense", "gap") for c in ("bn", "plain"))


def test_a_users_setting_that_does_not_fit_is_one_line_naming_it():
    with pytest.raises(UserError, match=r"with your settings \(ablation.seeds\)") as err:
        _plan(20, 1 / 230e9, pinned={"ablation.seeds": list(range(40))})
    assert "\n" not in str(err.value)


def test_the_users_epochs_are_the_regimes_epochs():
    plan = _plan(90, 1 / 230e9, pinned={"final.epochs": 5})
    assert plan["regime"]["epochs"] == 5 and plan["profile"]["final"]["epochs"] == 5


def test_a_budget_below_the_smallest_report_names_the_minimum():
    with pytest.raises(UserError, match=r"below the smallest complete report on this machine: about (\d+) minutes") \
            as err:
        _plan(5, 1.4e-11)
    minimum = int(err.value.args[0].split("about ")[1].split(" ")[0])
    assert _plan(minimum, 1.4e-11)["bought"] == [1], "the minimum it names buys the smallest report"


def test_what_a_plan_leaves_out_is_priced_and_a_plan_at_that_price_buys_it():
    plan = _plan(60, 1.4e-11)
    left_out = next(s for s in plan["steps"] if not s["bought"])
    k = [s["step"] for s in plan["steps"]].index(left_out["step"]) + 1
    richer = _plan(plan["total_minutes"] + left_out["more_minutes"] + 0.2, 1.4e-11,
                   regime=(plan["regime"]["size"], plan["regime"]["epochs"]))
    assert k in richer["bought"]


def test_a_step_whose_stages_started_stays_and_one_that_started_without_it_is_not_bought():
    plan = _plan(240, 4.2e-12)
    assert {2, 6} <= set(plan["bought"])
    keep = steps_to_keep(plan, {"ablation-gap-plain"})
    assert 6 in keep and 2 not in keep, "the cells' seeds are fixed once a cell has started, the full split's not"
    keep = steps_to_keep(plan, {"ablation-gap-full"})
    assert 2 in keep, "the twins are fixed once the full split has started"
    rich = _plan(10_000, 4.2e-12, regime=("s", 2), exclude=frozenset({7}))
    assert 7 not in rich["bought"] and set(rich["bought"]) == set(range(1, len(EVIDENCE) + 1)) - {7}
    stuck = _plan(10_000, 4.2e-12, regime=("s", 2), exclude=frozenset({5}))
    assert set(stuck["bought"]) == {1, 2, 3, 4}, "no small-set step while a twin's second run is left out"


def test_the_twins_and_the_finals_repeats_come_before_every_small_set_step():
    """The order of evidence: each step judging batch norm and dropout on the networks handed in (the
    twins, the final's repeats: full-split runs) before the small set's seeds, tuning, levers."""
    names = [name for name, _, _ in EVIDENCE]
    finals_regime = [k for k, (_, _, changes) in enumerate(EVIDENCE, 1)
                     if set(changes.get("ablation", {})) & {"twin_seeds", "final_seeds"}]
    small_set = [k for k, (_, _, changes) in enumerate(EVIDENCE, 1)
                 if set(changes.get("ablation", {})) & {"seeds", "lr_grid"} or "levers" in changes]
    assert finals_regime == [2, 3, 4, 5] and min(small_set) > max(finals_regime), names
    for spf in SPEEDS:
        for budget, plan in _plans(spf):
            bought = set(plan["bought"]) if plan is not None else set()
            if bought & set(small_set):
                assert set(finals_regime) <= bought, f"{budget} min bought a small-set step before the twins"


def test_minutes_a_finals_regime_step_could_not_use_stay_and_the_plan_names_that_step_and_its_price():
    plan = _plan(45, 1 / 289e9)  # the AMX Xeon's probe at the first 45-minute build
    left = [s for s in plan["steps"] if not s["bought"]]
    assert left and left[0]["step"] == "iii" and not any(s["bought"] for s in plan["steps"][5:])
    assert left[0]["more_minutes"] > plan["budget_minutes"] - plan["total_minutes"], "it did not fit"


def test_a_step_adds_at_most_two_runs_a_family():
    """A run at a time where a step is coarse: each step of the finals' regime adds one or two full-split
    runs a family, so a plan comes within a run or two of its budget."""
    profile = load_profile("full")
    from experiments.build.budget import merged, smallest_report
    from experiments.studies.ablation import planned_full_runs
    planned = smallest_report(profile, "s", 8, N)
    before = len(planned_full_runs("gap", planned["ablation"], 8, N))
    for k in (2, 3, 4, 5):
        planned = merged(planned, EVIDENCE[k - 1][2])
        after = len(planned_full_runs("gap", planned["ablation"], 8, N))
        assert 1 <= after - before <= 2, EVIDENCE[k - 1][0]
        before = after


def test_a_stage_done_costs_what_it_took():
    slow = plan_study(Study(load_profile("full"), FLOPS, N, N_VAL, STAGE_NAMES),
                      Speed(1.4e-11, done={"final-gap": 10_000.0}), 400 * 60, regime=("s", 8))
    assert slow["stage_seconds"]["final-gap"] == 10_000.0


@pytest.mark.parametrize("text, minutes", [("90m", 90), ("2h", 120), ("1h30m", 90), ("45", 45), ("1.5h", 90),
                                           ("90min", 90)])
def test_a_budget_is_minutes_or_hours(text, minutes):
    assert parse_budget(text) == minutes * 60


@pytest.mark.parametrize("text", ["", "ninety", "0m", "-5", "5s", "h"])
def test_a_malformed_budget_is_one_line(text):
    with pytest.raises(UserError, match="--budget"):
        parse_budget(text)


def test_every_ablation_run_takes_enough_steps_to_rank_the_cells():
    """At 2 epochs on 4,000 images (4 steps at batch 2000) every cell sat near 30% and the cell the
    final used was picked by noise: the smallest training set grows until a run takes 16 steps."""
    from experiments.build.budget import MIN_CELL_STEPS, smallest_report
    profile = load_profile("full")
    for epochs in (1, 2, 4, 8, 16):
        rung = smallest_report(profile, "s", epochs, N)["ablation"]["rungs"][0]
        assert rung * epochs / profile["train"]["batch_size"] >= MIN_CELL_STEPS and rung < N
    assert smallest_report(profile, "s", 16, N)["ablation"]["rungs"] == [4000], "never below the profile's rung"


def test_a_kind_of_stage_is_rescaled_by_its_own_measurements_and_the_lever_study_by_nothing_else():
    from experiments.build.planning import stage_scales
    measured = {"levers-gap": (370.0, 185.0), "search-gap": (64.0, 40.0)}
    scale = stage_scales(measured, STAGE_NAMES)
    assert scale["levers-gap"] == pytest.approx(2.0)
    assert scale["ablation-gap-bn"] == pytest.approx(1.6), "a kind not yet measured: the regime's own kinds"
    assert scale["search-dense"] == pytest.approx(1.6)
    assert "report" not in scale, "stages that train nothing keep their own seconds"


def test_the_search_is_priced_as_it_runs_every_candidate_probed_and_those_within_the_limit_trained():
    """The search probes every candidate (a whole probe for one it then trains, two steps for one that
    projects past the limit) and trains a variant a few per cent above the regime's widths (gap-nin2-s):
    priced without them it ran 31% over its count, and that ratio rescaled every stage not yet run."""
    from experiments.build.budget import PROBE_STEPS_PAID, priced
    from experiments.build.estimate import TRAIN_PASSES, run_passes
    from experiments.studies.search import PROBE_STEPS
    spf = 1.4e-11
    planned, seconds = priced(Study(load_profile("full"), FLOPS, N, N_VAL, ("search-gap",)), "s", 2, frozenset({1}),
                              Speed(spf))
    search = planned["search"]
    assert sorted(search["candidates"]["gap"]) == ["gap-m", "gap-nin2-s", "gap-res-m", "gap-res-s", "gap-s"]
    step = TRAIN_PASSES * planned["train"]["batch_size"]
    trained = run_passes(planned["train"], N_VAL, search["train_limit"], search["epochs"]) + step * (PROBE_STEPS + 1)
    expected = spf * ((FLOPS["gap-s"] + FLOPS["gap-nin2-s"] + FLOPS["gap-res-s"]) * trained
                      + (FLOPS["gap-m"] + FLOPS["gap-res-m"]) * step * PROBE_STEPS_PAID)
    assert seconds["search-gap"] == pytest.approx(expected)


def test_a_step_left_out_is_priced_afresh_even_when_every_stage_is_done():
    """After a build every stage is done at its measured seconds; a step it left out would run its
    stages again, so its price is not the zero that those recorded seconds would give."""
    done = {s: 1.0 for s in STAGE_NAMES}
    plan = plan_study(Study(load_profile("full"), FLOPS, N, N_VAL, STAGE_NAMES), Speed(1.4e-11, done=done), 30 * 60,
                      regime=("s", 1), keep=frozenset({1}), exclude=frozenset({3, 4, 5, 6}))
    left_out = [s for s in plan["steps"] if not s["bought"]]
    assert left_out and all(s["more_minutes"] > 0 for s in left_out)


def test_a_damaged_plan_file_is_one_line_saying_how_to_start_afresh(tmp_path):
    from types import SimpleNamespace

    from experiments.build.planning import read_plan
    (tmp_path / "budget").mkdir()
    (tmp_path / "budget" / "plan.json").write_text("{not json")
    ctx = SimpleNamespace(at=lambda rel: tmp_path / rel)
    with pytest.raises(UserError, match="plan.json is damaged .*delete it") as err:
        read_plan(ctx)
    assert "\n" not in str(err.value)


def test_the_speed_is_probed_at_the_training_batch_once_and_again_where_it_was_probed_otherwise(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from experiments.build import planning
    from experiments.engine.io import read_json, write_json
    ctx = SimpleNamespace(at=lambda rel: tmp_path / rel, device="cpu")
    probes = []
    monkeypatch.setattr(planning, "seconds_per_flop", lambda device, batch: probes.append(batch) or batch * 1e-15)
    write_json(tmp_path / "budget" / "speed.json", {"device": "cpu", "seconds_per_flop": 1e-12})  # no "probe": batch 250
    assert planning.measured_speed(ctx, 2000) == 2e-12 and probes == [2000]
    assert read_json(tmp_path / "budget" / "speed.json")["probe"] == "the median of 6 training steps of gap-s at batch 2000"
    assert planning.measured_speed(ctx, 2000) == 2e-12 and probes == [2000], "the same probe is not run twice"
    assert planning.measured_speed(ctx, 500) == 5e-13 and probes == [2000, 500], "another batch is probed anew"


def test_scoring_is_priced_at_its_own_measured_speed_kept_beside_the_training_probe(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from experiments.build import estimate, planning
    from experiments.build.estimate import run_passes
    from experiments.engine.io import read_json
    ctx = SimpleNamespace(at=lambda rel: tmp_path / rel, device="cpu")
    probes = []
    monkeypatch.setattr(planning, "seconds_per_flop", lambda device, batch: 2e-12)
    monkeypatch.setattr(estimate, "eval_seconds_per_flop", lambda device, batch: probes.append(batch) or 1e-12)
    assert planning.measured_eval_ratio(ctx, 2000, 1000) == 0.5 and probes == [1000]
    assert planning.measured_eval_ratio(ctx, 2000, 1000) == 0.5 and probes == [1000], "probed once a folder"
    assert read_json(tmp_path / "budget" / "speed.json")["seconds_per_flop"] == 2e-12, "the training probe kept"
    train = load_profile("full")["train"]
    scored = run_passes(train, N_VAL, 4000, 8, 1.0) - run_passes(train, N_VAL, 4000, 8, 0.0)
    assert run_passes(train, N_VAL, 4000, 8, 0.5) == pytest.approx(run_passes(train, N_VAL, 4000, 8, 1.0) - scored / 2)


def test_each_change_of_the_plan_on_the_way_is_recorded_with_the_stage_it_followed(tmp_path, monkeypatch):
    """The report sets the measured minutes against the plan before the first stage and says what each
    replan dropped or bought: a replanned plan alone prices each stage done at what it took."""
    from experiments.build import planning
    from experiments.build.context import BuildContext
    plan = {**_plan(120, 1.4e-11), "changes": []}
    plan["first"] = {"stage_seconds": plan["stage_seconds"], "total_minutes": plan["total_minutes"],
                     "bought": plan["bought"]}
    later = [k for k in plan["bought"] if k > 2]
    assert later, "120 minutes at this speed buys a step after (ii)"
    saved = []
    monkeypatch.setattr(planning, "save_plan", lambda ctx, p: saved.append(p))
    monkeypatch.setattr(planning, "replan", lambda ctx, p, settled: {
        **p, "bought": [k for k in p["bought"] if k != later[0]], "total_minutes": 61.0})
    ctx = BuildContext("full", plan["profile"], "cpu", tmp_path, tmp_path, plan=plan)
    ctx.settled("search-dense", 120.0)
    ctx.settled("search-gap", 130.0)  # nothing changes: nothing recorded
    name = EVIDENCE[later[0] - 1][0]
    assert saved[-1]["changes"] == [{"after": "search-dense", "total_minutes": 61.0, "dropped": [name], "bought": []}]
    assert saved[-1]["first"] == plan["first"], "the plan before the first stage is kept as it was"


def _replan_context(tmp_path, plan):
    from types import SimpleNamespace
    profile = {**plan["profile"], "data": {**plan["profile"]["data"], "train_limit": N, "val_size": N_VAL}}
    return SimpleNamespace(at=lambda rel: tmp_path / rel, results=tmp_path, stage_names=STAGE_NAMES, profile=profile)


def test_a_replan_raises_the_finals_epochs_while_no_run_of_the_regime_has_started(tmp_path):
    """The first price can be off (two timed steps read 184 GFLOP/s where the build trained at 230-280):
    the search's measured minutes raise the regime while the cells and finals have not started."""
    from experiments.build.planning import replan
    plan = {**_plan(45, 1 / 90e9), "per_run_seconds": 0.0, "changes": []}
    plan["search_final"] = plan["profile"]["final"]
    start = (plan["regime"]["size"], plan["regime"]["epochs"])
    assert rank(start) < rank(PLATEAU)
    fast = {"search-dense": 0.3 * plan["counted_seconds"]["search-dense"]}
    new = replan(_replan_context(tmp_path, plan), plan, fast)
    assert rank((new["regime"]["size"], new["regime"]["epochs"])) > rank(start)
    assert new["regime"]["size"] == start[0], "the search has started: its widths stay"
    assert new["profile"]["final"]["epochs"] == new["regime"]["epochs"]
    assert new["search_final"] == plan["search_final"], "what the search read stays as it read it"
    assert new["total_minutes"] <= 45
    started = {**fast, "ablation-dense-bn": 1.0}
    kept = replan(_replan_context(tmp_path, plan), plan, started)
    assert kept["regime"] == plan["regime"], "a cell has started: the regime stays"


def test_a_stage_rerun_for_its_code_alone_does_not_reopen_a_finished_plans_regime(tmp_path):
    """Found rerunning a finished 45m build after a change to mytorch/: the conv stage reran first, the
    replan after it saw no cell or final of this build yet and moved the regime from 8 epochs to 2, so
    every training stage would have retrained. The stages the plan settled before count as started."""
    from experiments.build.planning import replan
    plan = {**_plan(45, 1 / 90e9), "per_run_seconds": 0.0, "changes": []}
    plan["search_final"] = plan["profile"]["final"]
    fast = {"search-dense": 0.3 * plan["counted_seconds"]["search-dense"]}
    assert replan(_replan_context(tmp_path, plan), plan, fast)["regime"] != plan["regime"], "an open regime moves"
    finished = {**plan, "replanned_after": sorted(STAGE_NAMES)}
    rerun = replan(_replan_context(tmp_path, finished), finished, {"conv": 7.0, **fast})
    assert rerun["regime"] == plan["regime"] and rerun["bought"] == plan["bought"]
    assert set(rerun["replanned_after"]) == set(STAGE_NAMES), "what the plan settled stays recorded"
