"""The one rule for low precision on a CPU: bf16 only where torch computes it natively."""
import pytest
import torch

from experiments.engine import devices, provenance

CAPS = ("CNN_REPORT_FP32", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS",
        "OPENBLAS_CORETYPE")


@pytest.fixture
def bf16_cpu(monkeypatch):
    """A CPU that has AVX-512 bf16, with no cap set."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    for var in CAPS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize("var, cap, expected", [
    (None, None, torch.bfloat16),
    ("ONEDNN_MAX_CPU_ISA", "AVX2", None),           # how an AVX2-only laptop is timed on this CPU
    ("DNNL_MAX_CPU_ISA", "avx512_core", None),      # the old name, any case; AVX-512 without bf16
    ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16", torch.bfloat16),
    ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX", torch.bfloat16),
    ("ONEDNN_MAX_CPU_ISA", "ALL", torch.bfloat16),
    ("CNN_REPORT_FP32", "1", None),
    ("ATEN_CPU_CAPABILITY", "avx2", torch.bfloat16),  # ATen's cap leaves oneDNN's bf16 matmuls native
])
def test_bf16_only_where_onednn_may_use_the_cpus_bf16_instructions(bf16_cpu, var, cap, expected):
    if var:
        bf16_cpu.setenv(var, cap)
    assert devices.autocast_dtype(torch.device("cpu")) == expected
    assert devices.newton_schulz_dtype(torch.device("cpu")) == (expected or torch.float32)


def test_a_cpu_without_bf16_gets_float32_whatever_the_caps(bf16_cpu):
    bf16_cpu.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    bf16_cpu.setenv("ONEDNN_MAX_CPU_ISA", "ALL")
    assert devices.autocast_dtype(torch.device("cpu")) is None


def test_a_time_measured_under_capped_kernels_says_so(bf16_cpu):
    assert "held" not in provenance.cpu_flags()
    bf16_cpu.setenv("ATEN_CPU_CAPABILITY", "avx2")
    bf16_cpu.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    bf16_cpu.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    bf16_cpu.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert provenance.kernel_caps() == "ATen avx2, oneDNN AVX2, OpenBLAS Haswell"
    assert provenance.cpu_flags().endswith("; kernels held to ATen avx2, oneDNN AVX2, OpenBLAS Haswell")
