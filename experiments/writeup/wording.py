"""The report's interpretation sentences for Problem 2 (those of Problems 3-4: figure_wording.py), from
`experiments.writeup.verdicts`: each claim names the number it rests on, and a missing number is said to be
missing, never printed as "nan" or "None". `family_verdicts(family)` is what the report adds to each family."""
from __future__ import annotations

from experiments.core.names import CELLS
from experiments.stats import (LEVEL, MULTIPLE, NO_CHANGE, NO_VERDICT, NOT_MEASURED, TRAINED_FACTOR, adjust_table,
                               effect_verdict, finite_mean, is_number, moments_verdict, unpaired_verdict)
from experiments.writeup.choices import (best_cell_sentence, best_cell_verdict, final_runs, lineage_sentence,
                                         rate_sentence, rate_verdict, search_margin_sentence, search_sentence)
from experiments.writeup.figure_wording import gabor_sentence
from experiments.writeup.formats import pct, plural, pts, pvalue, rung_plan, runs_text
from experiments.writeup.map_verdicts import gabor_verdict
from experiments.writeup.verdicts import INTERACTION_WORDS as INTERACTION, near_chance_cells, search_margin_verdict
from experiments.writeup.verdicts import search_verdict, underfit_cells

EFFECTS = (("bn_effect", "batch norm"), ("dropout_effect", "dropout"),
           ("interaction", "interaction (BN changes dropout’s effect by)"),
           ("bn_in_final", "batch norm in the final's cell"),
           ("dropout_in_final", "dropout in the final's cell"))
IN_FINAL_NAMES = {"bn_in_final": "Batch norm", "dropout_in_final": "Dropout"}
TIMES = {2: "twice", 3: "three times"}


# ---------------------------------------------------------------- Problem 2

def interval_text(v: dict) -> str:
    """The 95% interval in points, or why there is none."""
    if v["low"] is not None:
        return f"{pts(v['low'])} to {pts(v['high'])}"
    return f"{v['word']} ({v['reason']})"


def basis_sentence(v: dict) -> str:
    """What a rung's intervals are computed over, said once before its effects; for one run per cell,
    also when the build measured no seed spread to set beside them."""
    if v.get("unit") == "image":
        unmeasured = ("" if v.get("seed_spread") else " No cell ran at several seeds in this build, so how far another "
                      "training run would move them is not measured.")
        return ("One training run per cell for the 2x2 effects, so they carry no verdict; their intervals, over "
                "validation images, measure scoring precision, not training noise." + unmeasured)
    return f"Intervals are paired t over {v['n']} seeds (same batch order per seed)."


def effect_sentence(key: str, v: dict) -> str:
    """One effect's verdict with its mean and interval (points)."""
    missing = f"; {plural(v['n_missing'], 'seed')} not recorded" if v.get("n_missing") else ""
    adjusted = f"; Benjamini-Hochberg adjusted p {pvalue(v['p_adjusted'])}" if is_number(v.get("p_adjusted")) else ""
    numbers = f"{pts(v['mean'])} points, 95% interval {interval_text(v)}{missing}{adjusted}"
    noise = "seed noise"
    if v["word"] == NO_VERDICT:
        return one_run_sentence(key, v)
    if key in IN_FINAL_NAMES:
        how = ("pooled t over the runs, the final's repeats measuring a run's noise" if v.get("unit") == "run"
               else "paired t over seeds")
        name = (f"{IN_FINAL_NAMES[key]} in the final's cell ({v['cells'][0]} against {v['cells'][1]} on the full split, "
                f"{runs_text(v)}; {how})")
        return _seed_sentence(name, v, numbers)
    if key == "interaction":
        if v["clear"]:
            return f"The two interact: with batch norm on, dropout's effect changes by {numbers}; the interval excludes 0."
        if v["word"] == "no clear interaction":
            return f"We see no interaction beyond {noise} ({numbers}; the interval includes 0)."
        return _unjudged("The interaction", v)
    return _seed_sentence({"bn_effect": "Batch norm", "dropout_effect": "Dropout"}[key], v, numbers)


def effect_phrase(v: dict) -> str | None:
    """An effect's verdict over seeds in the words the answers page and the body both print (None for
    a word that needs its own sentence): adjusted and unadjusted named where they differ."""
    if v["word"] in ("helps", "hurts"):
        return f"clearly {v['word']}"
    if v["word"] == "no clear effect" and v.get("reason") == MULTIPLE:
        return ("no clear effect once adjusted for the family's several tests (Benjamini-Hochberg); unadjusted, "
                "its interval excludes 0")
    if v["word"] == "no clear effect":
        return "no effect beyond seed noise (the interval includes 0)"
    return None


def _seed_sentence(name: str, v: dict, numbers: str) -> str:
    phrase = effect_phrase(v)
    if v["word"] in ("helps", "hurts"):
        return f"{name} {phrase} here: {numbers}."
    return f"{name}: {phrase}; {numbers}." if phrase else _unjudged(name, v)


def one_run_sentence(key: str, v: dict) -> str:
    """An effect measured with one training run per cell: its numbers, what their interval measures,
    and the largest seed-to-seed spread the build measured for those cells; no verdict word."""
    name = dict(EFFECTS)[key]
    spread = v.get("seed_spread")
    beside = (f"; these cells' largest seed spread: {100 * spread['range']:.1f} points at {spread['n_train']:,} images"
              if spread else "")
    return f"{name[0].upper()}{name[1:]} {pts(v['mean'])} points ({interval_text(v)} over {v['n']:,} images{beside})."


def _unjudged(name: str, v: dict) -> str:
    if v["word"] == NO_CHANGE:
        return f"{name} is {v['reason']} (the same accuracy with and without it): no change."
    if v["word"] == NOT_MEASURED:
        return f"{name} was not measured ({v['reason']})."
    return f"{name} is not estimable from these runs ({v['reason']}; mean {pts(v['mean'])} points): no verdict."


def rung_verdicts(rung: dict, spreads: dict[str, dict]) -> list[dict]:
    """The effects of one rung of the ladder, each judged by its 95% interval over seeds (an effect
    over images gets its numbers and the cells' largest measured seed spread, no word)."""
    rows = []
    for key, label in EFFECTS:
        if key not in rung["effects"]:
            continue
        e = rung["effects"][key]
        words = INTERACTION if key == "interaction" else ()
        if e.get("unit") == "image":
            v = moments_verdict(e["mean"], e["sd"], e["n"], 0, *words, unit="image")
        elif e.get("unit") == "run":
            v = unpaired_verdict(e["mean"], e["sd"], e["n_on"], e["n_off"], *words)
        else:
            v = effect_verdict(e["per_seed"], *words)
        cells = e.get("cells") or list(spreads)
        widest = max((spreads[c] for c in cells if spreads.get(c)), key=lambda s: s["range"], default=None)
        rows.append({"key": key, "label": label, "per_seed": e.get("per_seed", []), "cells": cells, **v,
                     "seed_spread": widest})
    return rows


def largest_seed_spreads(ablation: dict) -> dict[str, dict | None]:
    """Per cell, the largest seed-to-seed accuracy range measured on any rung, with where."""
    out = {}
    for rung in ablation["rungs"]:
        for c in rung["cells"]:
            r = c.get("seed_range")
            if is_number(r) and (out.get(c["cell"]) is None or r > out[c["cell"]]["range"]):
                out[c["cell"]] = {"range": r, "cell": c["cell"], "n_train": rung["n_train"]}
            out.setdefault(c["cell"], None)
    return out


def judged_table(rungs: list[dict]) -> None:
    """Adjust the seed-level verdicts of one table (all rungs of a family) together, then word them."""
    rows = [row for r in rungs for row in r["rows"]]
    said = None  # a seed spread is said once, not again for the next effect that has the same one
    for row, adjusted in zip(rows, adjust_table(rows)):
        row.update(adjusted)
        spread = row.get("seed_spread")
        row["sentence"] = effect_sentence(row["key"], {**row, "seed_spread": None if spread == said else spread})
        said = spread if row["word"] == NO_VERDICT else said


def ablation_verdicts(ablation: dict) -> dict:
    """Per rung: the effects with verdicts; the paragraph first on the network handed in (its twins on the
    full split), then the 2x2 where all four cells trained; the ladder and the fit gap beside it."""
    spreads = largest_seed_spreads(ablation)
    rungs = [{"n_train": r["n_train"], "seeds": r["seeds"], "rows": rung_verdicts(r, spreads), "plan": rung_plan(r),
              "cells": [{**c, "fit_gap_mean": finite_mean(c.get("fit_gap"))} for c in r["cells"]]}
             for r in ablation["rungs"]]
    judged_table(rungs)
    full = rungs[-1]
    # the 2x2 is read on the largest rung where every cell trained: the full split unless the
    # profile trains only the final's cells there
    complete = [r for r in rungs if len(r["cells"]) == len(CELLS)][-1]
    rates = rate_verdict(ablation["cells"], any(ablation.get("tuning", {}).values()))
    in_final = [row for row in full["rows"] if row["key"] in IN_FINAL_NAMES]
    head = (f"On the network handed in (the full split, {full['n_train']:,} images, as the final was trained): "
            + " ".join(row["sentence"] for row in in_final) + " " if in_final else "")
    text = head + regime_sentence(full, complete) + " " + basis_sentence(complete["rows"][0]) + " " + \
        rate_sentence(rates) + " " + " ".join(row["sentence"] for row in complete["rows"] if row not in in_final)
    # what the ladder and the fit gap add is read beside the per-rung table (the report's appendix)
    more = " ".join([ladder_sentence(rungs), fit_gap_sentence(complete), underfit_sentence(complete)]
                    + [near_chance_sentence(r, ablation.get("chance")) for r in rungs])
    reruns = [n for r in ablation["rungs"] for n in rerun_notes({"seeds": r["seeds"], "cells": _with_lr(r, ablation),
                                                                  "n_train": r["n_train"]})]
    # the figure of effects against training-set size says more than the table only along a ladder
    return {"rungs": rungs, "full": full, "text": text.strip(), "more": " ".join(more.split()), "reruns": reruns,
            "level": LEVEL,
            "ladder_figure": len(rungs_with_effects(rungs)) > 1,
            "tuned": any(ablation.get("tuning", {}).values()),  # a rate was chosen by tuning runs
            "rates": rates}


def regime_sentence(full: dict, complete: dict) -> str:
    """Where the 2x2 effects (all four cells) are read, against the full split (the network handed in)."""
    if complete is full:
        return "All four cells also trained on the full split, so the 2x2 effects are read there too."
    trained = " and ".join(c["cell"] for c in full["cells"])
    return (f"Only {trained} trained on the full split ({full['n_train']:,} images), so the 2x2 effects, all four "
            f"cells, are read at {complete['n_train']:,} images, fewer than the network handed in was trained on.")


def _with_lr(rung: dict, ablation: dict) -> list[dict]:
    lr = {c["cell"]: c["lr"] for c in ablation["cells"]}
    return [{**c, "lr": lr.get(c["cell"])} for c in rung["cells"]]


def rungs_with_effects(rungs: list[dict]) -> list[dict]:
    """The rungs where a main effect was measured: what the ladder's sentence and figure compare."""
    return [r for r in rungs if any(row["key"] in ("bn_effect", "dropout_effect") for row in r["rows"])]


def ladder_sentence(rungs: list[dict]) -> str:
    """Each main effect at the smallest rung and at the full split, with its verdict word at each."""
    rungs = rungs_with_effects(rungs)
    if len(rungs) < 2:
        return ""
    first, last = rungs[0], rungs[-1]
    parts = []
    for a, b in zip(first["rows"], last["rows"]):
        if a["key"] == "interaction":
            continue
        parts.append(f"{a['label']} {pts(a['mean'])} points ({a['word']}) at {first['n_train']:,} images against "
                     f"{pts(b['mean'])} ({b['word']}) at {last['n_train']:,}")
    return "Along the ladder: " + "; ".join(parts) + "."


def near_chance_sentence(rung: dict, chance) -> str:
    """The cells whose mean accuracy on a rung is below twice a guess's: they did not train there
    (the rule by which the ablation's rate tuning calls a run untrained, verdicts.TRAINED_FACTOR)."""
    low = near_chance_cells(rung["cells"], chance)
    if not low:
        return ""
    listed = " and ".join(f"{c['cell']} ({pct(c['mean'], 1)})" for c in low)
    return (f"At {rung['n_train']:,} images {listed} stay{'s' if len(low) == 1 else ''} below {TIMES[TRAINED_FACTOR]} chance "
            f"({pct(chance, 0)} for a guess): trained as the final is (the same widths, epochs and recipe), that network barely trains.")


def fit_gap_sentence(rung: dict) -> str:
    """How much better each cell does on its own training images than on validation (no TTA), and
    how dropout changes that gap, averaged over BN off and on."""
    gap = {c["cell"]: c["fit_gap_mean"] for c in rung["cells"]}
    if not all(is_number(gap.get(c)) for c in ("plain", "bn", "dropout", "bn-dropout")):
        return "The train − validation gap was not recorded for every cell."
    listed = ", ".join(f"{c} {pts(g)}" for c, g in gap.items())
    change = ((gap["dropout"] - gap["plain"]) + (gap["bn-dropout"] - gap["bn"])) / 2
    direction = ("leaves that gap unchanged on average" if round(100 * change, 1) == 0 else
                 f"{'narrows' if change < 0 else 'widens'} that gap by {abs(100 * change):.1f} points on average")
    return (f"On the {rung['n_train']:,} images, training accuracy (un-augmented, no TTA) exceeds validation accuracy by "
            f"{listed} points; dropout {direction}.")


def underfit_sentence(rung: dict) -> str:
    """The cells that fit their own training images far worse than the best cell does: their
    validation accuracy is held back by optimisation in this budget, not by overfitting."""
    train = {c["cell"]: finite_mean(c.get("train_acc") or []) for c in rung["cells"]}
    top, low = underfit_cells(train)
    if not low:
        return ""
    listed = " and ".join(f"{c} ({pct(train[c], 1)})" for c in low)
    return (f"Un-augmented, {listed} fit{'s' if len(low) == 1 else ''} far fewer of {'its' if len(low) == 1 else 'their'}"
            f" own training images than {top} ({pct(train[top], 1)}): on this many training images they underfit, so what holds "
            f"them back is how far the training budget takes them, not overfitting.")


def rerun_notes(ablation: dict) -> list[dict]:
    """Seeds that diverged at their cell's learning rate: rerun lower (the factor 2 ** lr_halvings
    and the rate used), or diverged at every retry (no accuracy; left out of the effects)."""
    notes = []
    where = f" at {ablation['n_train']:,} images" if "n_train" in ablation else ""
    for c in ablation["cells"]:
        accs = c.get("val_acc") or []
        diverged = c.get("diverged") or [not is_number(a) for a in accs]
        for i, (seed, halvings) in enumerate(zip(ablation["seeds"], c.get("lr_halvings") or [])):
            if not is_number(halvings) or halvings <= 0:
                continue
            factor = 2 ** int(halvings)
            if i < len(diverged) and diverged[i]:
                text = f"{c['cell']} seed {seed}{where} diverged at every rate down to 1/{factor} and has no accuracy"
            else:
                text = f"{c['cell']} seed {seed}{where} rerun at 1/{factor} of the rate ({c['lr'] / factor:g})"
            notes.append({"cell": c["cell"], "seed": seed, "factor": factor, "text": text})
    return notes


# ---------------------------------------------------------------- per family

def family_verdicts(family: dict) -> dict:
    """Every verdict of one family's context (see experiments.writeup.report.family_context)."""
    search = search_verdict(family["search"])
    gabor = gabor_verdict(family["gabor"])
    best = best_cell_verdict(family["ablation"])
    margin = search_margin_verdict(family["search"], final_runs(family["ablation"]))
    return {"ablation": ablation_verdicts(family["ablation"]),
            "search": {**search, "sentence": search_sentence(search)},
            "search_margin": {**margin, "sentence": search_margin_sentence(margin)},
            "best_cell": {**best, "sentence": best_cell_sentence(best)},
            "gabor": {**gabor, "sentence": gabor_sentence(family["gabor"], gabor)},
            "lineage": lineage_sentence(family["name"], family["search"], family["arch"]["model"])}
