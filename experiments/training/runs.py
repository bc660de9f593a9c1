"""Reading finished runs back: their trained models, and where every finished run is."""
from __future__ import annotations

from pathlib import Path

import torch

from experiments.engine.errors import UserError
from experiments.engine.io import read_json
from experiments.training.models import PatchWhitening, build_model


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


def load_initial_model(run_dir: Path, trained: torch.nn.Module | None = None) -> torch.nn.Module:
    """The finished run's model as it was before its first step: built from the run's config under its
    seed, as train_run builds it (the global seed, then build_model, nothing random in between), with the
    frozen whitening filters and the input statistics (set from data, not from the seed) taken from the
    trained model (`trained`, when the caller has loaded it already). Problem 3's untrained control: what
    training changed in the filters."""
    trained = trained if trained is not None else load_model(run_dir)
    cfg = read_json(Path(run_dir) / "config.json")
    with torch.random.fork_rng(devices=[]):  # the caller's random state stays as it was
        torch.manual_seed(cfg["train"]["seed"])
        model = build_model(cfg["model"])
    state = model.state_dict()
    frozen = {name for name, p in trained.named_parameters() if not p.requires_grad}
    frozen |= {name for name, _ in trained.named_buffers() if name in ("mean", "std")}
    state.update({name: value for name, value in trained.state_dict().items() if name in frozen})
    model.load_state_dict(state)
    with torch.no_grad():  # the whitening bias trains for the first epochs; init_whitening starts it at 0
        for layer in (m for m in model.modules() if isinstance(m, PatchWhitening)):
            layer.bias.zero_()
    return model.eval()


def finished_runs(results: Path) -> dict[str, Path]:
    """Every finished run under results/, by run name: the finals and each ablation seed."""
    runs = {}
    for metrics in sorted(Path(results).glob("final/*/metrics.json")) + \
            sorted(Path(results).glob("ablation/*/*/metrics.json")):
        runs[read_json(metrics)["run"]] = metrics.parent
    return runs
