"""`invoke bench-train`'s record: the peak, each part of a training step, and the shares derived
from them (what the numbers are, not how fast: speed is measured by running it, not by a test)."""
import pytest

from experiments.training.bench import describe_bench, run_bench
from experiments.training.profiles import load_profile

TINY = {"family": "gap", "widths": [8, 16], "stem": "whiten", "dirac": True, "head_init": "small"}


def test_the_record_splits_a_step_into_its_parts_and_relates_it_to_the_peak_of_its_type():
    train = load_profile("smoke")["train"]
    record = run_bench({"tiny": TINY}, batch=8, train=train, device="cpu", steps=1)
    row = record["models"][0]
    assert set(row["ms"]) == {"augment", "forward_backward", "optimizer"}
    assert abs(row["step_ms"] - sum(row["ms"].values())) < 1e-9, "the step is its parts"
    assert row["peak_gflops"] == record["peak_gflops"][row["precisions"]["forward"]], "against its own type's peak"
    assert row["gflops"] * row["step_ms"] / 1000 * 1e9 == pytest.approx(row["step_flops"])
    assert 0 < row["optimizer_share"] < 1 and row["fraction_without_optimizer"] > row["fraction_of_peak"]
    text = describe_bench(record, "AVX2 FMA")
    assert "AVX2 FMA" in text and "tiny at batch 8" in text and "optimizer (Muon)" in text
