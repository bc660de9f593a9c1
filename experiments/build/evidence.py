"""The steps of evidence a `--budget` plan buys after the finals' accuracy (experiments/build/budget.py),
first bought first: each a name, what it buys in words, and its changes to the smallest report."""
from __future__ import annotations

# The evidence, first bought first (after the climb to PLATEAU, `purchase_order`), as changes to the smallest
# report: (i) answers every item; (ii)-(v) judge batch norm and dropout on the networks handed in, trained as
# the finals were (each twin of the final's cell, the final's cell again to measure a run's noise there; the
# families compared over those repeats); then the small training set's seeds, the rates' tuning, the lever
# study and the fourth cell on the full split. A step is two to four runs: one or two a family.
EVIDENCE = (
    ("i", "the smallest complete report: the search's candidates ranked, both finals, each batch-norm x dropout "
          "cell once on the smallest training set", {}),
    ("ii", "each twin of the final (batch norm alone changed, dropout alone changed) once, trained as the final was",
     {"ablation": {"twin_seeds": [0]}}),
    ("iii", "the final's variant trained a second time (a training run's noise in the finals' regime)",
     {"ablation": {"final_seeds": [0, 1]}}),
    ("iv", "the final's variant a third time (verdicts on the twins, families compared over three runs each)",
     {"ablation": {"final_seeds": [0, 1, 2]}}),
    ("v", "each twin a second time", {"ablation": {"twin_seeds": [0, 1]}}),
    ("vi", "each cell at 3 seeds on the smallest training set (how each effect changes with fewer images)",
     {"ablation": {"seeds": [0, 1, 2]}}),
    ("vii", "each cell's learning rate tuned (two rates, and up to two more where the best is at an end)",
     {"ablation": {"lr_grid": [0.12, 0.24], "lr_walk": 2, "overrides": {}}}),
    ("viii", "the lever study (each trick of the recipe switched off once, on the gap family)",
     {"levers": {"run": True, "families": ["gap"]}}),
    ("ix", "the fourth cell once on the full split (the 2x2 effects as the finals were trained)",
     {"ablation": {"full_seeds": [0]}}),
)
# The stages whose parameters each step changes: a step can be dropped mid-build only before they start
STEP_KINDS = {"ii": ("full",), "iii": ("full",), "iv": ("full",), "v": ("full",), "vi": ("cell",),
              "vii": ("cell",), "viii": ("levers",), "ix": ("full",)}
# The steps in the finals' regime: no later step is bought while one of them is left out (a lever study or
# small-set seeds do not answer (c) and (d) on the networks handed in; the minutes stay, and the plan names
# the run it could not fit)
FINALS_REGIME = ("ii", "iii", "iv", "v")
