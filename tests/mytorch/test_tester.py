"""The homework's tester: every case passes, the JSON has its schema, and it can fail."""
import json

import mytorch.tester as tester


def test_tester_passes_every_case_and_prints_its_table(capsys):
    result = tester.run_tester()
    assert result["all_passed"] and len(result["cases"]) == len(tester.CASES)
    saved = json.loads(json.dumps(result))  # what the conv stage writes: plain JSON
    assert saved == result
    assert saved["tolerance"] == 1e-10
    for case in saved["cases"]:
        assert set(case) == {"name", "input_shape", "kernel_shape", "stride", "padding",
                             "err_Z", "err_dLdA", "err_dLdW", "passed"}
        assert len(case["input_shape"]) == len(case["kernel_shape"]) == 4
        assert len(case["stride"]) == len(case["padding"]) == 2
    assert "basic 3x3" in capsys.readouterr().out


def test_tester_reports_a_broken_backward(monkeypatch):
    original = tester.Conv2D.backward

    def off_by_a_bit(self, dLdZ):
        return original(self, dLdZ) * (1 + 1e-6)
    monkeypatch.setattr(tester.Conv2D, "backward", off_by_a_bit)
    result = tester.run_tester()
    assert not result["all_passed"]
    assert all(not r["passed"] for r in result["cases"] if r["err_dLdA"] > 0)
