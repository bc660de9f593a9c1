"""The Conv2D benchmark measures what it claims. No timing assertions: speed is not a unit test."""
import json

import numpy as np
import pytest

from experiments.engine.io import write_json
from mytorch.bench import blocked_times_ms, median_and_quartiles, run_benchmark, time_case


def test_each_implementation_runs_in_contiguous_alternating_blocks():
    calls = []
    fns = [lambda: calls.append("mine"), lambda: calls.append("theirs")]
    times = blocked_times_ms(fns, blocks=2, repeats=3, warmup=1)
    # block = 1 warm-up + 3 timed calls of one fn; blocks alternate, never call by call
    assert calls == (["mine"] * 4 + ["theirs"] * 4) * 2
    assert [len(t) for t in times] == [6, 6], "warm-up calls are not timed"


def test_quartiles_bracket_the_median():
    median, q1, q3 = median_and_quartiles([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (q1, median, q3) == (2.0, 3.0, 4.0)
    assert median_and_quartiles([7.0]) == (7.0, 7.0, 7.0), "one call: no spread"


def test_dtype_is_read_from_what_both_sides_computed():
    case = time_case((1, 2, 5, 5), 2, 3, 1, 1, blocks=1, repeats=1, warmup=0, dtype=np.float64)
    assert case["dtype"] == "float64"
    assert len(case["mytorch"]) == len(case["torch"]) == 1


@pytest.fixture(scope="module")
def small_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("conv")
    result = run_benchmark(repeats=2, small=True, blocks=2, warmup=1)
    write_json(out / "bench.json", result)  # as the conv stage records it, small=True, blocks=2, warmup=1)
    return out, result


def test_small_run_writes_the_bench_json_it_returns(small_bench):
    out, result = small_bench
    assert json.loads((out / "bench.json").read_text()) == result
    assert {"threads", "repeats", "blocks", "warmup", "dtype", "method", "cases"} <= set(result)
    assert result["dtype"] == "float32"
    for case in result["cases"]:
        assert {"name", "shape", "mytorch_ms", "torch_ms", "mytorch_spread_ms", "torch_spread_ms",
                "ratio"} <= set(case)


def test_recorded_medians_lie_within_their_spread_and_give_the_ratio(small_bench):
    for case in small_bench[1]["cases"]:
        for side in ("mytorch", "torch"):
            q1, q3 = case[f"{side}_spread_ms"]
            assert q1 <= case[f"{side}_ms"] <= q3
        # medians and ratio are each rounded to 3 decimals: allow 1% plus the ratio's last digit
        assert case["ratio"] == pytest.approx(case["mytorch_ms"] / case["torch_ms"], rel=1e-2, abs=1e-3)


def test_method_string_states_the_parameters_used(small_bench):
    result = small_bench[1]
    method = result["method"]
    threads = result["threads"]
    assert method.startswith(f"{result['dtype']}, {threads} thread{'' if threads == 1 else 's'};")
    assert "2 alternating blocks of 1 warm-up + 2 timed calls" in method
    assert "of 4 timed calls" in method and "(s)" not in method, "issue 37: no '(s)' plurals"


@pytest.mark.parametrize("bad", [{"repeats": 0}, {"blocks": 0}, {"warmup": -1}])
def test_nonsense_counts_are_refused(bad):
    with pytest.raises(ValueError):
        run_benchmark(small=True, **bad)
