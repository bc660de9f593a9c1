"""The names every layer agrees on: the two families, the ablation's cells and their switches, and
the two kinds of saliency map. Defined here once; everything else imports them."""
from __future__ import annotations

FAMILIES = ("dense", "gap")
# each batch-norm x dropout cell of the ablation: (batch norm on, dropout on)
CELL_SWITCHES = {"plain": (False, False), "bn": (True, False), "dropout": (False, True), "bn-dropout": (True, True)}
CELLS = tuple(CELL_SWITCHES)


def dropout_sibling(cell: str) -> str:
    """The cell that differs from `cell` only in dropout."""
    bn, drop = CELL_SWITCHES[cell]
    return next(c for c, switches in CELL_SWITCHES.items() if switches == (bn, not drop))


MAP_KINDS = ("cam", "saliency")  # class activation maps and guided-backprop saliency


def final_run(family: str) -> str:
    """The name of a family's final model (and of its run folder)."""
    return f"{family}-final"


def stage_group(stage: str) -> str:
    """The part of the study a stage belongs to, as a budget's plan and the report total them."""
    kind = stage.split("-")[0]
    if kind == "ablation":
        return "full split" if stage.endswith("-full") else "summaries" if stage.endswith("-summary") else \
            "ablation cells"
    if kind in ("select", "features", "cam", "saliency", "interpret"):
        return "interpretation"
    return {"conv": "conv, data, audit", "notebook": "conv, data, audit", "data": "conv, data, audit", "audit": "conv, data, audit",
            "final": "finals", "levers": "lever study", "search": "search"}.get(kind, kind)
