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


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The low-precision type worth using here, or None for float32."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if os.environ.get("CNN_REPORT_FP32") != "1" and torch.cpu._is_avx512_bf16_supported():
        return torch.bfloat16
    return None


def autocast(device: torch.device):
    dtype = autocast_dtype(device)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
