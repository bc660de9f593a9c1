"""The incremental build: reruns exactly what changed, refuses a second build, fails in one line."""
import fcntl
import os

import pytest

from experiments.build.context import BuildContext
from experiments.engine.errors import UserError
from experiments.engine.io import read_json, write_json
from experiments.engine.paths import lock_file, record_path
from experiments.engine.pipeline import Stage, build, plan
from experiments.training.profiles import load_profile


def _ctx(tmp_path, **profile_changes):
    profile = load_profile("smoke")
    for section, values in profile_changes.items():
        profile[section].update(values)
    return BuildContext(profile_name="smoke", profile=profile, device="cpu", results=tmp_path / "results",
                        report_dir=tmp_path / "report")


def _table(calls, code_file):
    def writer(name):
        def run(ctx):
            calls.append(name)
            write_json(ctx.results / name / "out.json", {"ok": True})
        return run
    return [
        Stage("a", writer("a"), lambda c: c.profile["search"], (), ("{results}/a/out.json",), extra=(code_file,)),
        Stage("b", writer("b"), lambda c: c.profile["ablation"], ("a",), ("{results}/b/out.json",)),
        Stage("c", writer("c"), lambda c: {}, ("b",), ("{results}/c/out.json",)),
        Stage("d", writer("d"), lambda c: c.profile["final"], (), ("{results}/d/out.json",)),
    ]


@pytest.fixture
def code_file(tmp_path, monkeypatch):
    monkeypatch.setattr("experiments.engine.cache.REPO", tmp_path)
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
    assert reasons == {"a": None, "b": "params changed: epochs", "c": "upstream b will rerun", "d": None}
    assert build(stages, changed) == ["b", "c"]


@pytest.mark.parametrize("writes_something_else", [True, False])
def test_a_rerun_that_writes_other_outputs_reruns_its_dependents_and_one_that_writes_the_same_does_not(
        tmp_path, code_file, writes_something_else):
    """The search's choice depends on measured speed: rerun with the same inputs, it may choose
    another architecture, and what reads the choice must follow (DVC hashes outputs too)."""
    choice = {"value": "s"}

    def choose(ctx):
        write_json(ctx.results / "a" / "out.json", {"chosen": choice["value"]})
    stages = [Stage("a", choose, lambda c: {}, (), ("{results}/a/out.json",), extra=(code_file,)), *_table([], code_file)[1:3]]
    build(stages, _ctx(tmp_path))
    choice["value"] = "m" if writes_something_else else "s"
    assert build(stages, _ctx(tmp_path), only={"a"}, force=True) == ["a"]
    assert build(stages, _ctx(tmp_path)) == (["b", "c"] if writes_something_else else [])


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
        raise RuntimeError("disk on fire\nsecond line of the message")
    stages = [Stage("bad", boom, lambda c: {}, (), ())]
    with pytest.raises(UserError) as err:
        build(stages, _ctx(tmp_path))
    message = str(err.value)
    assert "stage bad failed: RuntimeError: disk on fire second line" in message and "\n" not in message
    log = tmp_path / "results" / ".pipeline" / "logs" / "bad.log"
    assert str(log) in message and "Traceback" in log.read_text()
    assert not (tmp_path / "results" / ".pipeline" / "bad.json").exists()


def test_user_error_from_a_stage_keeps_its_message_and_names_the_stage(tmp_path, code_file):
    def bad_input(ctx):
        raise UserError("data folder not found: /nowhere")
    with pytest.raises(UserError, match=r"^stage bad: data folder not found: /nowhere \(log: .*bad.log\)$"):
        build([Stage("bad", bad_input, lambda c: {}, (), ())], _ctx(tmp_path))


def test_interrupted_stage_leaves_no_record_and_resumes_next_time(tmp_path, code_file):
    calls = []
    def interrupted(ctx):
        calls.append("x")
        if len(calls) == 1:
            raise KeyboardInterrupt
        write_json(ctx.results / "x.json", {})
    stages = [Stage("x", interrupted, lambda c: {}, (), ("{results}/x.json",))]
    with pytest.raises(KeyboardInterrupt):
        build(stages, _ctx(tmp_path))
    assert build(stages, _ctx(tmp_path)) == ["x"]


def test_second_build_on_the_same_results_is_refused(tmp_path, code_file):
    ctx = _ctx(tmp_path)
    lock_file(ctx.results).parent.mkdir(parents=True)
    with open(lock_file(ctx.results), "w") as held:
        held.write("4242")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UserError, match=r"another build \(pid 4242\) is running"):
            build(_table([], code_file), ctx)


def test_rebuilding_only_the_last_stage_keeps_the_others_up_to_date(tmp_path, code_file):
    stages = _table([], code_file)
    build(stages, _ctx(tmp_path))
    assert build(stages, _ctx(tmp_path), only={"c"}, force=True) == ["c"]
    assert build(stages, _ctx(tmp_path)) == [], "c recorded the hashes its upstream stages really have"


def test_status_names_what_changed_and_runs_nothing(tmp_path, code_file):
    calls = []
    stages = _table(calls, code_file)
    build(stages, _ctx(tmp_path))
    calls.clear()
    (tmp_path / code_file).write_text("x = 3\n")
    reasons = {s.name: r for s, r, _ in plan(stages, _ctx(tmp_path, final={"epochs": 99}))}
    assert reasons == {"a": "code changed: stage_a.py", "b": "upstream a will rerun", "c": "upstream b will rerun",
                       "d": "params changed: epochs"}
    assert calls == []


def test_stage_table_declares_every_stage_once_after_its_upstream():
    from experiments.build.stages import STAGES
    names = [s.name for s in STAGES]
    assert len(names) == len(set(names)) == 32, \
        "25 stages, the two lever studies, the two full-split rungs, the map measures, the held-out test and the notebook"
    for i, stage in enumerate(STAGES):
        assert set(stage.upstream) <= set(names[:i]), f"{stage.name} depends on a later or unknown stage"
    assert set(STAGES[-1].upstream) == set(names[:-1]), "the report depends on every other stage"


def test_one_cells_override_changes_only_that_cells_params(tmp_path):
    from experiments.build.stages import cell_params
    base = _ctx(tmp_path)
    changed = _ctx(tmp_path, ablation={"overrides": {"gap-bn": {"lr_grid": [0.01]}}})
    assert cell_params(changed, "gap", "bn")["ablation"]["lr_grid"] == [0.01]
    for family, cell in [("gap", "plain"), ("gap", "bn-dropout"), ("dense", "bn")]:
        assert cell_params(changed, family, cell) == cell_params(base, family, cell)


def test_the_same_data_folder_given_or_found_by_default_is_the_same_input(tmp_path, monkeypatch):
    from experiments.build.stages import _data_params
    data = tmp_path / "cifar"
    (data / "train" / "cat").mkdir(parents=True)
    (data / "train" / "cat" / "0.png").write_bytes(b"png")
    monkeypatch.setenv("CIFAR10_DIR", str(data))
    given, found = _ctx(tmp_path), _ctx(tmp_path)
    given.data_dir, found.data_dir = str(data), None
    before = _data_params(given)
    assert before == _data_params(found)
    (data / "train" / "cat" / "1.png").write_bytes(b"more")  # an edit to the data is a change for both
    assert _data_params(given) == _data_params(found) != before


def test_each_running_stage_says_the_builds_time_left_from_the_last_recorded_times(tmp_path, code_file, capsys):
    stages = _table([], code_file)
    build(stages, _ctx(tmp_path))
    assert "time left unknown" in capsys.readouterr().out, "nothing was timed before the first build"
    for name, seconds in (("b", 40.0), ("c", 60.0)):  # pretend the last build took this long
        record = read_json(record_path(tmp_path / "results", name))
        write_json(record_path(tmp_path / "results", name), {**record, "seconds": seconds})
    build(stages, _ctx(tmp_path, ablation={"epochs": 7}))  # b and c rerun
    lines = [line for line in capsys.readouterr().out.splitlines() if "running" in line]
    assert lines[0].endswith("about 2 min left") and lines[1].endswith("about 60 s left")
