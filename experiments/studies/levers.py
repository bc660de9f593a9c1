"""Problem 2 (b) "how we arrived": what each lever of the recipe is worth, measured one at a time.

The search's chosen candidate, trained again under the search's budget (same subset and epochs) at a
fresh seed, is the reference; each row changes one thing back (or, for GELU, to airbench's choice that our
interpretability rules out) and trains again. Test-time augmentation needs no training: the
reference model is scored with the lesser TTA. One seed per row: the table says how large an
effect is at this budget, not whether it is larger than seed noise.
"""
from __future__ import annotations

from pathlib import Path

from experiments.engine.io import read_json, write_json
from experiments.training.data import subset
from experiments.training.models import build_model
from experiments.training.scoring import predict, score, to_tensor_images
from experiments.training.train import Diverged, train_run

# name: (what the recipe does, the variant trained instead, model changes, training changes)
SEED_STEP = 1  # the study's seed: the search's plus this, so neither its reference nor its variants were chosen
LEVERS = {
    "whitening": ("frozen 2×2 patch-whitening stem", "learned 3×3 conv stem (32 channels)",
                  {"stem": "conv", "stem_width": 32, "stem_kernel": 3}, {}),
    "bn_frozen_scale": ("BN scale fixed at 1, fast statistics", "standard BN", {"bn_frozen_scale": False}, {}),
    "dirac": ("identity-initialised convs", "He-initialised convs", {"dirac": False}, {}),
    # the recipe's head rate is set for the small init (see recipe.param_groups); the variant keeps
    # that rate, so only the init changes
    "small_head": ("classifier initialised near zero", "He-initialised classifier, same rate", {"head_init": "he"},
                   {"head_lr_ratio": "same rate"}),
    "muon": ("Muon on the filters", "Nesterov SGD on everything (the earlier recipe, lr scaled to the batch)", {},
             {"optimizer": "sgd", "lr": 0.8, "momentum": 0.9, "weight_decay": 5e-4, "warmup": 0.2}),
    "alternating_flip": ("alternating flips", "independent random flips", {}, {"flip": "random"}),
    "relu": ("ReLU (kept: guided backprop needs it)", "GELU (airbench's choice)", {"activation": "gelu"}, {}),
}


def measured_on(levers: dict, family: str) -> bool:
    """Whether the lever study runs on this family under the profile's `levers` section."""
    return bool(levers["run"]) and family in levers["families"]


def planned_runs(family: str, levers: dict, search: dict, n_full: int) -> list[tuple[str, int, int]]:
    """(family, training images, epochs) of each run `run_levers` trains: the reference and each
    lever's variant, under the search's budget (what the budget's planner prices)."""
    if not measured_on(levers, family):
        return []
    return [(family, min(n_full, search["train_limit"] or n_full), search["epochs"])] * (1 + len(LEVERS))


def run_levers(family: str, search_dir: Path, prepared, out_dir: Path, params: dict, device: str) -> dict:
    """Train each lever's variant under the search budget; write levers.json (a record saying the
    study was not run, when the profile turns it off)."""
    search_dir, out_dir = Path(search_dir), Path(out_dir)
    if not measured_on(params, family):
        why = ("this profile does not run the lever study" if not params["run"] else
               f"the levers belong to the recipe both families share; measured on the {', '.join(params['families'])} family")
        record = {"family": family, "levers": [], "skipped": why}
        write_json(out_dir / "levers.json", record)
        return record
    search = read_json(search_dir / "search.json")
    chosen = next(c for c in search["candidates"] if c["name"] == search["chosen"])
    won = read_json(search_dir / chosen["name"] / "metrics.json")
    data = subset(prepared, search["budget"]["n_train"])
    # the reference is the chosen candidate trained afresh: its search run won a comparison on these
    # validation images and would read high against the variants
    ref_dir = out_dir / "reference"
    ref = train_run(f"levers-{family}-reference", won["model"], {**won["train"], "seed": won["train"]["seed"] + SEED_STEP},
                    data, ref_dir, device)
    rows = []
    for name, (recipe, variant, model_change, train_change) in LEVERS.items():
        model_cfg, train_cfg = {**ref["model"], **model_change}, {**ref["train"], **train_change}
        if train_cfg.get("head_lr_ratio") == "same rate":
            fan_in = build_model(ref["model"]).classifier.in_features
            train_cfg["head_lr_ratio"] = ref["train"]["head_lr_ratio"] / fan_in ** 2
        row = {"lever": name, "recipe": recipe, "variant": variant}
        try:
            m = train_run(f"levers-{family}-{name}", model_cfg, train_cfg, data, out_dir / name, device)
            rows.append({**row, "val_acc": m["val_acc"], "change": ref["val_acc"] - m["val_acc"],
                         "seconds_per_epoch": m["seconds"] / m["epochs"], "diverged": False})
        except Diverged as err:  # a variant that cannot train at the recipe's rates is a finding too
            print(err, flush=True)
            rows.append({**row, "val_acc": None, "change": None, "seconds_per_epoch": None, "diverged": True})
    rows.append(_tta_row(ref_dir, ref, prepared, device))
    record = {"family": family, "reference": {"candidate": chosen["name"], "val_acc": ref["val_acc"],
                                              "seconds_per_epoch": ref["seconds"] / ref["epochs"]},
              "budget": search["budget"], "seeds": [ref["train"]["seed"]], "levers": rows}
    write_json(out_dir / "levers.json", record)
    return record


def _tta_row(ref_dir: Path, ref: dict, prepared, device: str) -> dict:
    """The reference model scored with flip-only TTA: what the translated views add."""
    import torch

    from experiments.engine.devices import resolve_device
    from experiments.training.runs import load_model
    dev = resolve_device(device)
    val_x, val_y = to_tensor_images(prepared.val_x, dev), torch.as_tensor(prepared.val_y)
    acc = score(predict(load_model(ref_dir, str(dev)), val_x, dev, ref["train"]["eval_batch_size"], tta="flip"),
                val_y)["acc"]
    return {"lever": "tta", "recipe": f"{ref['train']['tta']} test-time augmentation", "variant": "flip only",
            "val_acc": acc, "change": ref["val_acc"] - acc, "seconds_per_epoch": None, "diverged": False}
