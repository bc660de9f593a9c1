"""The build through Ray: the same results files as a local build, one line for a failure on a
worker (an exception or a dead worker process), a rerun that completes, and `status` unchanged.
Runs on a local Ray instance with 2 CPUs; skipped where Ray is not installed (it is the optional
`cluster` extra)."""
import json
import os
from pathlib import Path

import pytest

from experiments.engine.errors import UserError
from experiments.engine.executors import LocalExecutor, make_executor
from experiments.engine.paths import record_path
from experiments.engine.pipeline import Context, Stage, build
from experiments.engine.units import map_units
from experiments.training.profiles import load_profile


def test_units_run_in_order_here_without_ray():
    assert map_units(pow, [(2, 3), (3, 2)]) == [8, 9]


def test_a_wrong_executor_or_an_address_without_ray_is_one_clear_message():
    with pytest.raises(UserError, match="unknown executor 'threads'"):
        make_executor("threads")
    with pytest.raises(UserError, match="--address joins a Ray cluster"):
        make_executor("local", "10.0.0.1:6379")
    assert isinstance(make_executor("local"), LocalExecutor)


# ---------------------------------------------------------------- on a local Ray instance

ray = pytest.importorskip("ray")


def _ray():
    from experiments.engine.executors import RayExecutor
    return RayExecutor(num_cpus=2)


def _write(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def _fail_once(ctx):
    """Raises the first time (no marker yet), succeeds on the rerun."""
    marker = ctx.results / "tried"
    if not marker.exists():
        marker.write_text("1")
        raise RuntimeError("boom on the worker")
    _write(ctx.results / "b.txt", "b")


def _die_once(ctx):
    """Kills its worker process the first time."""
    marker = ctx.results / "died"
    if not marker.exists():
        marker.write_text("1")
        os._exit(1)
    _write(ctx.results / "c.txt", "c")


def _stages(second) -> list[Stage]:
    return [Stage("a", lambda ctx: _write(ctx.results / "a.txt", "a"), lambda ctx: {}, (), ("{results}/a.txt",)),
            Stage("b", second, lambda ctx: {}, ("a",), ()),
            Stage("c", lambda ctx: _write(ctx.results / "d.txt", "d"), lambda ctx: {}, ("b",), ("{results}/d.txt",))]


def _ctx(tmp_path) -> Context:
    return Context("smoke", load_profile("smoke"), "cpu", tmp_path / "results", tmp_path / "report")


@pytest.mark.parametrize("second, says", [(_fail_once, "stage b failed: RuntimeError: boom on the worker"),
                                          (_die_once, "stage b failed on its Ray worker")])
def test_a_failure_on_a_worker_is_one_line_the_finished_stage_stays_and_a_rerun_completes(tmp_path, second, says):
    ctx = _ctx(tmp_path)
    with pytest.raises(UserError) as err:
        build(_stages(second), ctx, executor=_ray())
    message = str(err.value)
    assert says in message and "\n" not in message and "log: " in message
    assert record_path(ctx.results, "a").exists() and not record_path(ctx.results, "b").exists()
    assert build(_stages(second), ctx, executor=_ray()) == ["b", "c"], "a stays finished; the rest completes"


def _pid(_):
    return os.getpid()


def _where_units_ran(ctx):
    from experiments.engine.units import map_units
    _write(ctx.results / "pids.json", json.dumps({"stage": os.getpid(), "units": map_units(_pid, [(0,), (1,)])}))


@pytest.mark.parametrize("cpus, spread", [(2, False), (4, True)])
def test_units_are_tasks_of_their_own_only_where_two_can_run_at_once(tmp_path, cpus, spread):
    from experiments.engine.executors import RayExecutor
    ctx = _ctx(tmp_path)
    build([Stage("p", _where_units_ran, lambda ctx: {}, (), ("{results}/pids.json",))], ctx,
          executor=RayExecutor(num_cpus=cpus))
    pids = json.loads((ctx.results / "pids.json").read_text())
    assert (pids["stage"] not in pids["units"]) == spread, pids


@pytest.mark.slow
def test_the_smoke_build_through_ray_gives_the_local_build_results(cifar_root, smoke_build,
                                                                   tmp_path, pinned_threads):
    """The local smoke build (built once for the end-to-end tests) against the same build through Ray,
    both at the threads a Ray task is given (conftest: a busy machine once made them differ)."""
    from experiments.build.commands import run_all, status
    from experiments.build.stages import STAGES
    from tests.smoke import smoke_context
    ctxs = {"local": smoke_build[0], "ray": smoke_context(cifar_root, tmp_path)}
    ran = {"local": smoke_build[1], "ray": run_all(ctxs["ray"], executor="ray")}
    assert sorted(ran["ray"]) == sorted(ran["local"]) == sorted(s.name for s in STAGES)
    assert ran["ray"][-1] == "report"

    def numbers(results: Path) -> dict:
        out = {}
        for path in sorted(results.rglob("metrics.json")):
            m = json.loads(path.read_text())
            out[str(path.relative_to(results))] = (m["val_acc"], m["val_pred"], m["history"][-1]["train_loss"])
        out["selection"] = json.loads((results / "interpret" / "selection.json").read_text())["items"]
        return out
    local, through_ray = numbers(ctxs["local"].results), numbers(ctxs["ray"].results)
    assert local.keys() == through_ray.keys() and len(local) > 30
    for key in local:
        assert through_ray[key] == local[key], f"{key} differs between the executors"
    # the executor is not part of any stage's identity: status reads the same after either
    assert [r for _, r in status(ctxs["ray"])] == [r for _, r in status(ctxs["local"])] == [None] * len(STAGES)
