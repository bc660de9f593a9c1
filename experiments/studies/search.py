"""Problem 2 (b) "how we arrived": a recorded architecture search per family.

Each candidate trains under one short budget (same data subset, epochs, lr, BN on, no dropout);
the table of validation accuracy, parameters, FLOPs and time is the evidence, and the choice
follows from it by a stated rule.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.engine.errors import UserError
from experiments.engine.io import write_json
from experiments.engine.units import map_units
from experiments.training.data import subset
from experiments.training.models import build_model, candidate, describe
from experiments.training.train import Diverged, train_run, validate_train_config

# What the rule is, not what it found: experiments.writeup.verdicts.search_verdict checks the recorded
# choice against it and says whether the budget was binding or nothing fitted.
RULE = ("the most accurate candidate (fewer FLOPs breaking a tie) whose projected final training ({epochs} "
        "on {n} images) fits {minutes} at the measured speed (median epoch; on a CPU its CPU time over the cores, what it costs alone); "
        "if none fits, the fastest. A candidate that diverges at the search's rate is never chosen. A candidate "
        "whose speed, timed on a few training steps first, already projects past the budget is not trained")


def rule_text(epochs: int, n_train: int, limit_minutes: float | None) -> str:
    """The rule as the report prints it, for the final's epochs and images and its time limit."""
    return RULE.format(epochs=f"{epochs} epoch{'s' if epochs != 1 else ''}", n=f"{n_train:,}",
                       minutes=f"{limit_minutes:g} minutes" if limit_minutes is not None else "unlimited time")


PROBE_STEPS = 3  # timed training steps (after one untimed) that decide whether a candidate is trained


def planned_runs(family: str, search: dict, n_full: int) -> list[tuple[str, int, int]]:
    """(candidate, training images, epochs) of each run `run_search` may train: every candidate on the
    search's subset (a candidate the probe puts past the final's limit is only probed)."""
    return [(name, min(n_full, search["train_limit"] or n_full), search["epochs"])
            for name in search["candidates"][family]]


def run_search(family: str, prepared, out_dir: Path, params: dict, device: str) -> dict:
    search, train = params["search"], params["train"]
    final = params.get("final", {"epochs": 1, "max_minutes": float("inf")})
    data = subset(prepared, search["train_limit"])
    cfg = {**train, "epochs": search["epochs"], "lr": search["lr"], "seed": 0}
    models = {name: candidate(name, batchnorm=True, dropout=0.0, extra=params.get("models"))
              for name, _, _ in planned_runs(family, search, len(prepared.train_y))}
    wrong = [n for n, cfg in models.items() if cfg["family"] != family]
    if wrong:
        raise UserError(f"search.candidates.{family} names {wrong}, which are not {family} architectures")
    # the probes and the trainings are independent units (Ray tasks under --executor ray)
    past = final["max_minutes"] / (len(prepared.train_y) * final["epochs"])  # per image: past the budget
    per_image = map_units(probe_minutes, [(m, cfg, data, device, past) for m in models.values()])
    probed = {name: p * len(prepared.train_y) * final["epochs"] for name, p in zip(models, per_image)}
    # a candidate projecting past the budget could not be the choice: not trained (unless none fits,
    # then the fastest is, as the rule falls back to it)
    to_train = [n for n in models if probed[n] <= final["max_minutes"]] or [min(probed, key=probed.get)]
    trained = dict(zip(to_train, map_units(train_candidate, [(f"search-{n}", models[n], cfg, data, Path(out_dir) / n,
                                                              device) for n in to_train])))
    rows = []
    for name, model_cfg in models.items():
        m = trained.get(name)
        if m is None or m["diverged"]:
            info = describe(build_model(model_cfg))
            rows.append({"name": name, "model": model_cfg, "val_acc": None, "trained": m is not None,
                         "diverged": m is not None, "lr": cfg["lr"], "divergence": m["divergence"] if m else None,
                         "params": info["params"], "flops": info["flops"], "seconds": None,
                         "projected_final_minutes": round(probed[name], 1)})
            continue
        # project from the median epoch's CPU time over the cores (on a GPU, wall time): other load on
        # a shared machine, or one slow first epoch, must not change which architecture is chosen
        key = "cpu_seconds" if m["device"] == "cpu" else "seconds"
        per_image = float(np.median([h[key] for h in m["history"]])) / len(data.train_y)
        rows.append({"name": name, "model": model_cfg, "val_acc": m["val_acc"], "trained": True, "diverged": False,
                     "lr": cfg["lr"], "params": m["params"], "flops": m["flops"], "seconds": m["seconds"],
                     "projected_final_minutes": round(per_image * len(prepared.train_y) * final["epochs"] / 60, 1)})
    if all(r["diverged"] for r in rows if r["trained"]):
        raise UserError(f"search ({family}): every candidate trained ({', '.join(to_train)}) diverged at the search's "
                        f"learning rate {cfg['lr']}; lower search.lr (e.g. --set search.lr={cfg['lr'] / 4:g}) or "
                        "change the candidates")
    chosen = choose(rows, final["max_minutes"])
    limit = final["max_minutes"] if np.isfinite(final["max_minutes"]) else None  # None: no limit
    record = {"family": family, "budget": {"epochs": search["epochs"], "n_train": len(data.train_y),
                                           "lr": search["lr"], "seeds": [cfg["seed"]]},
              "final_budget": {"epochs": final["epochs"], "n_train": len(prepared.train_y), "max_minutes": limit},
              "candidates": rows, "chosen": chosen,
              "rule": rule_text(final["epochs"], len(prepared.train_y), limit)}
    write_json(Path(out_dir) / "search.json", record)
    return record


def train_candidate(name: str, model_cfg: dict, cfg: dict, data, run_dir: Path, device: str) -> dict:
    """A candidate's search run: its metrics with "diverged": False, or, where it diverged at the
    search's rate, {"diverged": True, "divergence": what was seen}: a result of the search, not a
    crash (the candidates compare at one rate, so it is not retried lower)."""
    try:
        return {**train_run(name, model_cfg, cfg, data, run_dir, device), "diverged": False}
    except Diverged as err:
        print(err, flush=True)
        return {"run": name, "diverged": True, "divergence": str(err)}


train_candidate.unit_words = "candidates trained"  # the progress line's words


def choose(rows: list[dict], max_minutes: float) -> str:
    """The most accurate candidate that fits the final budget (the fastest one if none fits);
    candidates the probe left untrained, or that diverged, have no accuracy and no say."""
    rows = [r for r in rows if r.get("trained", True) and not r.get("diverged", False)]
    fits = [r for r in rows if r["projected_final_minutes"] <= max_minutes]
    if not fits:
        return min(rows, key=lambda r: r["projected_final_minutes"])["name"]
    return max(fits, key=lambda r: (r["val_acc"], -r["flops"]))["name"]


def probe_minutes(model_cfg: dict, cfg: dict, data, device: str, past: float = float("inf")) -> float:
    """Minutes per training image (per epoch) of this candidate, timed on PROBE_STEPS steps of
    the recipe at its batch size (on a CPU its work: CPU time over the cores a quiet machine gives,
    as the projection uses, so other load does not change the choice). It stops early once the steps
    timed already put the mean of PROBE_STEPS past `past` (minutes per image), whatever the rest would
    take: the same verdict (projects past the budget) for less time; the mean of the steps timed."""
    import time

    import torch

    from experiments.engine.devices import autocast_dtype, resolve_device
    from experiments.engine.threads import cores_alone
    from experiments.training.recipe import base_flips, make_optimizer, store_matrix_weights
    from experiments.training.scoring import to_tensor_images
    from experiments.training.steps import augmented_batch, train_step
    cfg = validate_train_config(cfg)  # the recipe's defaults filled in, once
    dev = resolve_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(cores_alone())
    model = build_model(model_cfg, data.mean, data.std)
    store_matrix_weights(model, autocast_dtype(dev) if cfg["matrix_weights"] == "low" else None)
    model = model.to(dev, memory_format=torch.channels_last).train()
    opt = make_optimizer(model, cfg)
    bs = min(cfg["batch_size"], len(data.train_y))
    x, y = to_tensor_images(data.train_x[:bs], dev), torch.as_tensor(data.train_y[:bs], device=dev)
    idx = torch.arange(bs, device=dev)
    base = base_flips(bs, cfg["seed"]) if cfg["flip"] == "alternate" else None
    gen = torch.Generator().manual_seed(0)
    clock = time.process_time if dev.type == "cpu" else time.time
    cores = cores_alone() if dev.type == "cpu" else 1
    timed = []  # minutes per image of each timed step
    for step in range(PROBE_STEPS + 1):
        t0 = clock()  # the last step was synchronised at its end
        train_step(model, opt, augmented_batch(x, idx, 0, cfg, base, gen), y, cfg, dev)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if step == 0:  # the first step sets up kernels: not timed
            continue
        timed.append((clock() - t0) / cores / bs / 60)
        if sum(timed) / PROBE_STEPS > past:  # the later steps can only add to the mean
            break
    return float(np.mean(timed))


probe_minutes.unit_words = "candidates timed"  # the progress line's words
