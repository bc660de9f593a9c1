"""Reading finished runs back: their trained models, and where every finished run is."""
from __future__ import annotations

from pathlib import Path

import torch

from experiments.engine.errors import UserError
from experiments.engine.io import read_json
from experiments.training.models import build_model


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
