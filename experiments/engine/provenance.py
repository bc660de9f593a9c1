"""What produced a stage's results: recorded with the stage when it runs, so a report rendered
later (after a `git pull`, on another machine) names the code, libraries and hardware that did
the work, not those present at render time."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from experiments.engine.paths import REPO

LIBRARIES = ("torch", "torchvision", "numpy")


def git_state() -> dict:
    """{"commit": short sha or None, "dirty": bool or None}: None where git cannot tell."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=5)
    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
        return {"commit": head.stdout.strip(), "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo), else what platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


# the vector extensions that decide how fast torch runs on a CPU (bf16 is native only with the last two)
SPEED_FLAGS = {"avx2": "AVX2", "fma": "FMA", "avx512f": "AVX-512", "avx512_bf16": "bf16",
               "amx_bf16": "AMX bf16"}


# the settings that hold the kernels below what the CPU has: torch's (ATen's own, oneDNN's, MKL's)
# and NumPy's OpenBLAS (mytorch's convolution)
KERNEL_CAPS = {"ATEN_CPU_CAPABILITY": "ATen", "ONEDNN_MAX_CPU_ISA": "oneDNN", "DNNL_MAX_CPU_ISA": "oneDNN",
               "MKL_ENABLE_INSTRUCTIONS": "MKL", "OPENBLAS_CORETYPE": "OpenBLAS"}


def kernel_caps() -> str:
    """'ATen avx2, oneDNN AVX2, MKL AVX2, OpenBLAS Haswell' where the environment holds the kernels
    below the CPU's flags (how this project times an AVX2-only CPU on an AVX-512 one), '' where nothing does."""
    caps = {}
    for var, library in KERNEL_CAPS.items():
        if os.environ.get(var, "").strip() and library not in caps:
            caps[library] = os.environ[var].strip()
    return ", ".join(f"{library} {value}" for library, value in caps.items())


def cpu_flags() -> str:
    """'AVX2 FMA', 'AVX2 FMA AVX-512 bf16', ...: the CPU's speed-deciding flags (Linux
    /proc/cpuinfo), 'flags unknown' elsewhere; with the kernels' caps when set ('...; kernels held to
    ATen avx2, oneDNN AVX2'), since a time is then the capped kernels' time."""
    flags = "flags unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                flags = " ".join(label for flag, label in SPEED_FLAGS.items() if flag in present) or "no AVX2"
                break
    except OSError:
        pass
    caps = kernel_caps()
    return f"{flags}; kernels held to {caps}" if caps else flags


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in LIBRARIES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def collect(device: str) -> dict:
    """The provenance of work done now on `device` ("auto", "cpu" or "cuda")."""
    import torch

    from experiments.engine.devices import autocast_dtype, dtype_name, resolve_device
    from experiments.engine.threads import cores_alone
    dev = resolve_device(device)
    return {**git_state(), "versions": versions(), "cpu": cpu_model(), "cpu_flags": cpu_flags(),
            "cpu_count": os.cpu_count(),
            "threads": cores_alone(), "device": str(dev),
            "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
            "precision": dtype_name(autocast_dtype(dev))}


def commit_label(prov: dict | None) -> str:
    """'git 1a2b3c4', with '+ uncommitted changes' when the tree was dirty; says when unknown."""
    if not prov:
        return "not recorded"
    if not prov.get("commit"):
        return "not a git checkout"
    return f"git {prov['commit']}" + (" + uncommitted changes" if prov.get("dirty") else "")


def summarize(records: dict[str, dict | None], training_stages: tuple[str, ...]) -> dict:
    """What the report says about how its results were made, from the stage records (stage name
    -> record, None when the stage never ran). Libraries and hardware are those of the stages
    that trained the final models; commits are listed with the stages they made."""
    provs = {name: rec.get("provenance") for name, rec in records.items() if rec}
    commits: dict[str, list[str]] = {}
    for name, prov in provs.items():
        commits.setdefault(commit_label(prov), []).append(name)
    trained = [provs[n] for n in training_stages if provs.get(n)]
    distinct = lambda key: list(dict.fromkeys(  # noqa: E731 (order-keeping unique values)
        str(p[key]) if not isinstance(p[key], dict) else ", ".join(f"{k} {v}" for k, v in p[key].items())
        for p in trained))
    finished = [rec["finished"] for rec in records.values() if rec and rec.get("finished")]
    return {"commits": [{"label": label, "stages": names} for label, names in commits.items()],
            "stage_commit": {name: commit_label(prov) for name, prov in provs.items()},
            "versions": distinct("versions"), "cpu": distinct("cpu"), "device": distinct("device"),
            "cpu_flags": list(dict.fromkeys(p["cpu_flags"] for p in trained if p.get("cpu_flags"))),
            "precision": distinct("precision"), "threads": distinct("threads"),
            "gpu": [g for g in distinct("gpu") if g != "None"],
            "date": max(finished)[:10] if finished else None}
