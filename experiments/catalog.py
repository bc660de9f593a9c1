"""Names every layer of the build agrees on: the families, the ablation cells, and which source
files make a trained run (so a change there retrains and a change elsewhere reuses).

Kept free of heavy imports: the stage table, the report and training all read it.
"""
from __future__ import annotations

FAMILIES = ("dense", "gap")
CELLS = ("plain", "bn", "dropout", "bn-dropout")
# The code a trained model depends on: the loop and recipe, the architectures, and the data
# pipeline (decoding, split, subsets). Part of every run's identity.
TRAINING_CODE = ("experiments/train.py", "experiments/recipe.py", "experiments/models.py", "experiments/data.py")
INTERPRET_CODE = ("experiments/interpret/*.py", "experiments/runs.py", "experiments/models.py")
