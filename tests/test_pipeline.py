"""The incremental build: reruns exactly what changed, refuses a second build, fails in one line."""
import fcntl
import os

import pytest

from experiments.errors import UserError
from experiments.io import write_json
from experiments.pipeline import Context, Stage, build, plan
from experiments.profiles import load_profile


def _ctx(tmp_path, **profile_changes):
    profile = load_profile("smoke")
    for section, values in profile_changes.items():
        profile[section].update(values)
    return Context("smoke", profile, None, "cpu", tmp_path / "results", tmp_path / "report")


def _table(calls, code_file):
    def writer(name):
        def run(ctx):
            calls.append(name)
            write_json(ctx.results / name / "out.json", {"ok": True})
        return run
    return [
        Stage("a", writer("a"), (code_file,), lambda c: c.profile["search"], (), ("{results}/a/out.json",)),
        Stage("b", writer("b"), (), lambda c: c.profile["ablation"], ("a",), ("{results}/b/out.json",)),
        Stage("c", writer("c"), (), lambda c: {}, ("b",), ("{results}/c/out.json",)),
        Stage("d", writer("d"), (), lambda c: c.profile["final"], (), ("{results}/d/out.json",)),
    ]


@pytest.fixture
def code_file(tmp_path, monkeypatch):
    monkeypatch.setattr("experiments.pipeline.REPO", tmp_path)
    (tmp_path / "stage_a.py").write_text("x = 1\n")
    return "stage_a.py"


def test_rerun_with_nothing_changed_runs_nothing(tmp_path, code_file):
    calls = []
    stages = _table(calls, code_file)
    assert build(stages, _ctx(tmp_path)) == ["a", "b", "c", "d"]
    assert build(stages, _ctx(tmp_path)) == []
    assert all(reason is None for _, reason, _ in plan(stages, _ctx(tmp_path)))


def test_changed_parameter_reruns_that_stage_and_its_dependents_only(tmp_path, code_file):
    stages = _table([], code_file)
    build(stages, _ctx(tmp_path))
    changed = _ctx(tmp_path, ablation={"epochs": 7})
    reasons = {s.name: r for s, r, _ in plan(stages, changed)}
    assert reasons == {"a": None, "b": "parameters changed", "c": "upstream b will rerun", "d": None}
    assert build(stages, changed) == ["b", "c"]


def test_changed_code_reruns_the_stage(tmp_path, code_file):
    stages = _table([], code_file)
    build(stages, _ctx(tmp_path))
    (tmp_path / code_file).write_text("x = 2\n")
    assert dict((s.name, r) for s, r, _ in plan(stages, _ctx(tmp_path)))["a"] == f"code changed: {code_file}"
    assert build(stages, _ctx(tmp_path)) == ["a", "b", "c"]


def test_missing_output_is_rebuilt(tmp_path, code_file):
    stages = _table([], code_file)
    build(stages, _ctx(tmp_path))
    os.remove(tmp_path / "results" / "d" / "out.json")
    assert build(stages, _ctx(tmp_path)) == ["d"]


def test_failing_stage_is_one_line_naming_stage_and_log_and_is_not_recorded(tmp_path, code_file):
    def boom(ctx):
        raise RuntimeError("disk on fire")
    stages = [Stage("bad", boom, (), lambda c: {}, (), ())]
    with pytest.raises(UserError) as err:
        build(stages, _ctx(tmp_path))
    message = str(err.value)
    assert "stage bad failed: RuntimeError: disk on fire" in message and "\n" not in message
    log = tmp_path / "results" / ".pipeline" / "logs" / "bad.log"
    assert str(log) in message and "Traceback" in log.read_text()
    assert not (tmp_path / "results" / ".pipeline" / "bad.json").exists()


def test_interrupted_stage_leaves_no_record_and_resumes_next_time(tmp_path, code_file):
    calls = []
    def interrupted(ctx):
        calls.append("x")
        if len(calls) == 1:
            raise KeyboardInterrupt
        write_json(ctx.results / "x.json", {})
    stages = [Stage("x", interrupted, (), lambda c: {}, (), ("{results}/x.json",))]
    with pytest.raises(KeyboardInterrupt):
        build(stages, _ctx(tmp_path))
    assert build(stages, _ctx(tmp_path)) == ["x"]


def test_second_build_on_the_same_results_is_refused(tmp_path, code_file):
    ctx = _ctx(tmp_path)
    ctx.meta.mkdir(parents=True)
    with open(ctx.meta / "lock", "w") as held:
        held.write("4242")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UserError, match=r"another build \(pid 4242\) is running"):
            build(_table([], code_file), ctx)
