"""When a run records its loss curve inside the epochs (P2(e) needs a curve even from a 1-epoch final),
and the curve read back from a run's history. No torch here: the budget's planner prices the
validation passes it adds."""
from __future__ import annotations

import math

# The loss curve inside the epochs (P2(e) needs a curve even from a 1-epoch final): the training loss every
# few steps, at most TRAIN_POINTS a run, and the validation loss (on the curve's images) at evenly spaced
# steps, as many as cost at most VAL_SHARE of the run's training (a pass over 1,000 images is 0.7% of an
# epoch on 45,000), MAX_VAL_POINTS at most; every epoch's end is scored as before
TRAIN_POINTS, VAL_SHARE, MAX_VAL_POINTS = 60, 0.08, 16


def loss_point_steps(steps_per_epoch: int, epochs: int, n_train: int, n_curve: int) -> tuple[int, int]:
    """(training loss every k steps, validation loss every k steps) of a run; the second is 0 where
    even one point within an epoch costs more than VAL_SHARE (short runs have their epoch ends)."""
    total = steps_per_epoch * epochs
    points = min(MAX_VAL_POINTS, int(VAL_SHARE * 3 * n_train * epochs / max(1, n_curve)))
    val_every = math.ceil(total / points) if points > epochs else 0
    return max(1, math.ceil(total / TRAIN_POINTS)), val_every


def mid_epoch_val_points(steps_per_epoch: int, epochs: int, n_train: int, n_curve: int) -> int:
    """Validation passes a run makes besides its epochs' ends."""
    val_every = loss_point_steps(steps_per_epoch, epochs, n_train, n_curve)[1]
    total = steps_per_epoch * epochs
    return total // val_every - total // (val_every * steps_per_epoch // math.gcd(val_every, steps_per_epoch)) \
        if val_every else 0


def loss_curve(history: list[dict]) -> dict[str, list[tuple[float, float]]]:
    """{"train": [(epoch, loss)], "val": [(epoch, loss)], "val_acc": [(epoch, %)]}: epochs as fractions."""
    out = {"train": [], "val": [], "val_acc": [(h["epoch"], 100 * h["val_acc"]) for h in history if "val_acc" in h]}
    for h in history:
        points, steps = h.get("points"), h.get("steps_per_epoch")
        if points and steps:
            for key in ("train", "val"):
                out[key] += [(step / steps, loss) for step, loss in points[key]]
        else:
            out["train"].append((h["epoch"], h["train_loss"]))
            out["val"].append((h["epoch"], h["val_loss"]))
    return out
