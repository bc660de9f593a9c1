"""Stage dependencies are computed from the code: each stage's code set is the import closure of the
function it runs (plus its extra files), so an edit to a module a stage imports makes `status` name
that module for that stage, and an edit anywhere else leaves it up to date."""
from fnmatch import fnmatch

import pytest

import experiments.engine.cache as cache
from experiments.build.context import BuildContext
from experiments.build.stages import STAGES
from experiments.engine.cache import record_stage, stage_code, stage_parts
from experiments.engine.pipeline import plan
from experiments.training.profiles import load_profile


@pytest.fixture
def recorded(tmp_path):
    """A results folder whose every stage is recorded as up to date (outputs as empty files)."""
    data = tmp_path / "cifar"
    (data / "train" / "cat").mkdir(parents=True)
    (data / "train" / "cat" / "0.png").write_bytes(b"png")
    ctx = BuildContext(profile_name="smoke", profile=load_profile("smoke"), device="cpu",
                       results=tmp_path / "results", report_dir=tmp_path / "report", data_dir=str(data))
    hashes = {}
    for stage in STAGES:
        for out in stage.outs:
            ctx.out(out).parent.mkdir(parents=True, exist_ok=True)
            ctx.out(out).write_bytes(b"")
        hashes[stage.name] = record_stage(stage, ctx, stage_parts(stage, ctx, hashes), 0.0, None)
    assert all(reason is None for _, reason, _ in plan(STAGES, ctx))
    return ctx


def _edit(monkeypatch, path):
    real = cache.code_digests
    monkeypatch.setattr(cache, "code_digests",
                        lambda files: {k: ("edited" if k == path else v) for k, v in real(files).items()})


def _own_module(stage) -> str:
    """The module of the work a stage runs: the least shared file of its code set."""
    share = {f: sum(f in stage_code(s) for s in STAGES) for f in stage_code(stage)}
    return min(share, key=lambda f: (share[f], f))


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_an_edit_in_a_stages_closure_names_that_module_and_an_edit_outside_does_not(recorded, monkeypatch, stage):
    edited = _own_module(stage)
    _edit(monkeypatch, edited)
    reasons = {s.name: r for s, r, _ in plan(STAGES, recorded)}
    assert reasons[stage.name] == f"code changed: {edited}"
    for other in STAGES:
        # a stage's extra files are globs (the notebook's mytorch/*.py: its kernel imports them)
        if not any(fnmatch(edited, pattern) for pattern in stage_code(other)):
            assert not (reasons[other.name] or "").startswith("code changed"), \
                f"{other.name} does not import {edited}, yet reads as changed"


def test_the_closures_the_issue_named_are_complete():
    code = {s.name: stage_code(s) for s in STAGES}
    assert "experiments/stats.py" in code["ablation-gap-summary"], "the intervals of the ladder figure"
    assert "experiments/engine/provenance.py" in code["report"], "the report prints provenance"
    assert "experiments/training/runs.py" in code["levers-gap"], "the lever study loads the reference model"
    assert "templates/*" in code["report"]
    assert not any(f.startswith("experiments/writeup/") for f in code["search-gap"]), "the search words nothing"


def test_every_stage_is_named_by_its_identity_in_the_order_the_build_runs_them():
    """Issue 38: a stage's identity (kind, family, cell) is data; its name is made from it, once."""
    from experiments.build.stages import STAGES
    from experiments.core.names import STAGE_IDS, stage_id
    assert [s.name for s in STAGES] == [sid.name for sid in STAGE_IDS]
    assert stage_id("ablation-gap-bn-dropout").cell == "bn-dropout" and stage_id("ablation-gap-full").kind == "full"
    assert stage_id("interpret-measures").group == "interpretation"


def test_no_study_stage_reruns_for_a_wording_edit():
    """Issue 38: the studies imported experiments/writeup for their intervals, so a wording edit reran
    every ablation stage. No search, lever, ablation or final stage's code reaches the wording now."""
    from experiments.core.names import stage_id
    for stage in STAGES:
        if stage_id(stage.name).kind in ("search", "levers", "cell", "final", "full", "summary"):
            assert not [f for f in stage_code(stage) if f.startswith("experiments/writeup/")], stage.name
