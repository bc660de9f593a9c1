"""Checkpoints: written atomically every epoch, with every RNG state, so a resumed run equals an
uninterrupted one; a damaged file is one clear error."""
from __future__ import annotations

from pathlib import Path

import torch

from experiments.engine.errors import UserError
from experiments.engine.io import atomic_write


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise UserError(f"checkpoint {path} is damaged ({type(err).__name__}: {err}); "
                        f"delete it to restart that run") from None


def rng_state(gen: torch.Generator) -> dict:
    state = {"data": gen.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(gen: torch.Generator, state: dict) -> None:
    gen.set_state(state["data"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
