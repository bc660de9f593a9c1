"""airbench94_muon's training hyperparameters (Keller Jordan) under this project's constraints:
the recipe's defaults. Plain data, free of torch, so the profiles and the command line's help can
read it without loading the trainer. What each key does is experiments/training/recipe.py's."""
from __future__ import annotations

# Muon on the filters at `lr`, Nesterov SGD on the rest at lr * ratio (loss summed over the batch),
# decoupled decay 2e-6 * batch per step; airbench's rates were set for lr 0.24
RECIPE = {"batch_size": 2000, "label_smoothing": 0.2, "weight_decay": 0.004, "momentum": 0.85, "warmup": 0.0}
RECIPE_DEFAULTS = {"optimizer": "muon", "muon_momentum": 0.6, "bias_lr_ratio": 0.053 / 0.24,
                   "head_lr_ratio": 0.67 / 0.24, "whiten_bias_epochs": 3, "flip": "alternate",
                   "tta": "flip-translate", "matrix_weights": "low",
                   "translate": 2,  # pixels of random shift in augmentation
                   "epoch_val_limit": None}  # validation images in the per-epoch curve (None: all)
