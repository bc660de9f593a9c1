"""The results layout: every folder a stage writes, relative to the results folder, built here
once. Stages join them to the results folder; the report reads through the same functions."""
from __future__ import annotations

from pathlib import PurePosixPath as P

from experiments.core.names import CELLS, final_run

CONV = P("conv")
DATA = P("data")
SPLIT = DATA / "split.json"
CACHE = P("cache")          # decoded images, reused across builds
AUDIT = P("audit")
INTERPRET = P("interpret")  # the selection and the measures (both networks) live here
SELECTION = INTERPRET / "selection.json"
MEASURES = INTERPRET / "measures.json"
HELDOUT = P("test") / "test.json"  # the finals on a test split no choice saw
BUDGET = P("budget")        # --budget: the plan (plan.json) and the speed it was priced at (speed.json)


def search(family: str) -> P:
    return P("search") / family


def levers(family: str) -> P:
    return P("levers") / family


def cell(family: str, cell_name: str) -> P:
    return P("ablation") / f"{family}-{cell_name}"


def cells(family: str) -> dict[str, P]:
    return {c: cell(family, c) for c in CELLS}


def full_rung(family: str) -> P:
    return P("ablation") / f"{family}-full"


def summary(family: str) -> P:
    return P("ablation") / f"{family}-summary"


def final(family: str) -> P:
    return P("final") / final_run(family)


def interpret(family: str) -> P:
    return INTERPRET / family


def out(rel: P) -> str:
    """A stage output as the build engine spells it ({results}/...)."""
    return f"{{results}}/{rel}"
