"""Reading finished runs back: their metrics and their trained models."""
from __future__ import annotations

from pathlib import Path

import torch

from experiments.errors import UserError
from experiments.io import read_json
from experiments.models import build_model


def read_metrics(run_dir: Path) -> dict:
    path = Path(run_dir) / "metrics.json"
    if not path.exists():
        raise UserError(f"{run_dir}: no metrics.json; the run has not finished (rerun `invoke all`)")
    return read_json(path)


def load_model(run_dir: Path, device: str = "cpu") -> torch.nn.Module:
    """The trained model of a finished run, float32, eval mode."""
    run_dir = Path(run_dir)
    cfg = read_json(run_dir / "config.json") if (run_dir / "config.json").exists() else None
    if cfg is None or not (run_dir / "model.pt").exists():
        raise UserError(f"{run_dir}: no finished model (config.json + model.pt) to load")
    model = build_model(cfg["model"])
    try:
        state = torch.load(run_dir / "model.pt", map_location=device, weights_only=True)
        model.load_state_dict(state)
    except Exception as err:  # a truncated or foreign file: say which
        raise UserError(f"{run_dir / 'model.pt'} cannot be loaded ({type(err).__name__}: {err})") from None
    return model.to(device).eval()


def finished_runs(results: Path) -> dict[str, Path]:
    """Every finished run under results/, by run name: the finals and each ablation seed."""
    runs = {}
    for metrics in sorted(Path(results).glob("final/*/metrics.json")) + \
            sorted(Path(results).glob("ablation/*/*/metrics.json")):
        runs[read_json(metrics)["run"]] = metrics.parent
    return runs
