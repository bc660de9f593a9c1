"""The names every layer agrees on: the two families, the ablation's cells and their switches, and
the two kinds of saliency map. Defined here once; everything else imports them."""
from __future__ import annotations

from dataclasses import dataclass

FAMILIES = ("dense", "gap")
# each batch-norm x dropout cell of the ablation: (batch norm on, dropout on)
CELL_SWITCHES = {"plain": (False, False), "bn": (True, False), "dropout": (False, True), "bn-dropout": (True, True)}
CELLS = tuple(CELL_SWITCHES)


def dropout_sibling(cell: str) -> str:
    """The cell that differs from `cell` only in dropout."""
    bn, drop = CELL_SWITCHES[cell]
    return next(c for c, switches in CELL_SWITCHES.items() if switches == (bn, not drop))


def bn_sibling(cell: str) -> str:
    """The cell that differs from `cell` only in batch norm."""
    bn, drop = CELL_SWITCHES[cell]
    return next(c for c, switches in CELL_SWITCHES.items() if switches == (not bn, drop))


def twins(cell: str) -> dict[str, str]:
    """The final's twins: {the switch changed ("bn" or "dropout"): the cell that differs from `cell` in it alone}."""
    return {"bn": bn_sibling(cell), "dropout": dropout_sibling(cell)}


MAP_KINDS = ("cam", "saliency")  # class activation maps and guided-backprop saliency


def final_run(family: str) -> str:
    """The name of a family's final model (and of its run folder)."""
    return f"{family}-final"


@dataclass(frozen=True)
class StageId:
    """A stage's identity as data: its kind, and the family and ablation cell it is for where it has
    them. Its name (the key of its record on disk) is made here and nowhere else; code that has a name
    looks its identity up (`stage_id`), never splits it."""
    kind: str
    family: str | None = None
    cell: str | None = None

    @property
    def name(self) -> str:
        spelled = {"cell": ("ablation", self.family, self.cell), "full": ("ablation", self.family, "full"),
                   "summary": ("ablation", self.family, "summary"), "measures": ("interpret", "measures")}
        return "-".join(spelled.get(self.kind, (self.kind, self.family)) if self.family or self.kind in spelled
                        else (self.kind,))

    @property
    def group(self) -> str:
        """The part of the study it belongs to, as a budget's plan and the report total them."""
        return GROUPS[self.kind]


GROUPS = {"conv": "conv, data, audit", "notebook": "conv, data, audit", "data": "conv, data, audit",
          "audit": "conv, data, audit", "search": "search", "levers": "lever study", "cell": "ablation cells",
          "final": "finals", "full": "full split", "summary": "summaries", "select": "interpretation",
          "features": "interpretation", "cam": "interpretation", "saliency": "interpretation",
          "measures": "interpretation", "test": "test", "report": "report"}
# Every stage, in the order the build runs them (experiments/build/stages.py gives each its work)
STAGE_IDS = (
    *(StageId(k) for k in ("conv", "notebook", "data", "audit")),
    *(StageId(kind, f) for kind in ("search", "levers") for f in FAMILIES),
    *(StageId("cell", f, c) for f in FAMILIES for c in CELLS),
    *(StageId(kind, f) for kind in ("final", "full", "summary") for f in FAMILIES),
    StageId("select"),
    *(StageId(kind, f) for f in FAMILIES for kind in ("features", *MAP_KINDS)),
    *(StageId(k) for k in ("measures", "test", "report")),
)
_BY_NAME = {s.name: s for s in STAGE_IDS}


def stage_id(name: str) -> StageId:
    """The identity of the stage called `name` (a lookup in STAGE_IDS)."""
    return _BY_NAME[name]


def stage_group(stage: str) -> str:
    """The part of the study the stage called `stage` belongs to."""
    return stage_id(stage).group
