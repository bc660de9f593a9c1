"""Which device work runs on, and the low-precision type worth using there."""
from __future__ import annotations

import os

import torch

from experiments.engine.errors import UserError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but torch sees no CUDA GPU (use auto or cpu)")
    if name not in ("cpu", "cuda"):
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


# oneDNN's instruction sets from the oldest; bf16 is native from AVX512_CORE_BF16 on (later
# names, the AVX10 and AMX ones, all include it)
ONEDNN_BELOW_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI")


def onednn_isa_cap() -> str | None:
    """The instruction set oneDNN (torch's CPU convolutions and bf16 matmuls) is held to by
    ONEDNN_MAX_CPU_ISA (or its old name DNNL_MAX_CPU_ISA), None when unset."""
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    return cap if cap not in ("", "ALL", "DEFAULT") else None


def cpu_bf16_native() -> bool:
    """Whether torch computes bf16 natively on this CPU: the CPU has AVX-512 bf16 (AMX CPUs have it)
    and oneDNN is not held below it (ONEDNN_MAX_CPU_ISA=AVX2, say, makes a bf16 matmul 100x slower
    than float32 on a CPU that has it), and CNN_REPORT_FP32=1 does not force float32."""
    if os.environ.get("CNN_REPORT_FP32") == "1" or onednn_isa_cap() in ONEDNN_BELOW_BF16:
        return False
    return torch.cpu._is_avx512_bf16_supported()


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The low-precision type this device computes natively, or None for float32. The one rule for
    every low-precision choice (autocast, stored filters, Muon's Newton-Schulz): a CPU without
    native bf16 gets float32, since torch emulates bf16 there 30-100x slower."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_bf16_native() else None


def dtype_name(dtype: torch.dtype | None) -> str:
    """'bfloat16', 'float32', ...: how runs record a type (None, no low precision: float32)."""
    return str(dtype or torch.float32).replace("torch.", "")


def newton_schulz_dtype(device: torch.device) -> torch.dtype:
    """Muon's Newton-Schulz iteration: bfloat16 where it is native (airbench's choice), else float32
    (float16's range is too narrow for the quintic's intermediate powers)."""
    return torch.bfloat16 if autocast_dtype(device) == torch.bfloat16 else torch.float32


def precisions(device: torch.device, matrix_weights: str, optimizer: str = "muon") -> dict[str, str]:
    """Which type each part of a training run computes in here, by the rule above: recorded with
    the run so a reader knows what ran where."""
    low = autocast_dtype(device)
    return {"forward": dtype_name(low), "matrix_weights": dtype_name(low if matrix_weights == "low" else None),
            "newton_schulz": dtype_name(newton_schulz_dtype(device)) if optimizer == "muon" else "none"}


def autocast(device: torch.device):
    dtype = autocast_dtype(device)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
