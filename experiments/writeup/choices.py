"""Sentences about the study's choices, each from a tested verdict: how the search's rule picked
the architecture (experiments.writeup.verdicts.search_verdict), whether the cell the final uses
beat the runner-up by more than training noise (`best_cell_verdict`), and what else than batch norm
or dropout the compared cells differ in (their rates, `rate_verdict`)."""
from __future__ import annotations

from experiments.stats import NO_CHANGE, effect_verdict, is_number
from experiments.writeup.formats import MISSING, pct, pts


def best_cell_verdict(summary: dict) -> dict:
    """The final's cell against the runner-up on the rung that chose it (the largest below the full
    split): the difference paired over the seeds both trained (same seed, same batch order), "beyond
    noise" where its 95% interval excludes 0, "indistinguishable" where it does not, "one run each"
    where a single seed leaves the noise unmeasured."""
    rungs = sorted(summary["rungs"], key=lambda r: r["n_train"])
    rung = rungs[-2] if len(rungs) > 1 else rungs[-1]
    cells = {c["cell"]: c for c in rung["cells"] if is_number(c.get("mean"))}
    best = summary["best"]["cell"]
    out = {"best": best, "n_train": rung["n_train"], "runner_up": None, "word": "no runner-up", "n": 0,
           "difference": None, "low": None, "high": None}
    others = [c for name, c in cells.items() if name != best]
    if best not in cells or not others:
        return out
    runner = max(others, key=lambda c: c["mean"])
    per_seed = [a - b for a, b in zip(cells[best]["val_acc"], runner["val_acc"]) if is_number(a) and is_number(b)]
    v = effect_verdict(per_seed, "beyond noise", "beyond noise", "indistinguishable")
    out.update(runner_up=runner["cell"], best_mean=cells[best]["mean"], runner_mean=runner["mean"], n=v["n"],
               difference=cells[best]["mean"] - runner["mean"])
    if v["n"] < 2:
        return {**out, "word": "one run each"}
    # a zero spread over seeds ("not estimable", "no change") leaves no interval to exclude 0: no difference shown
    word = v["word"] if v["word"] in ("beyond noise", "indistinguishable") else "indistinguishable"
    return {**out, "difference": v["mean"], "low": v["low"], "high": v["high"], "word": word}


TWINS = {"bn_effect": (("bn", "plain"), ("bn-dropout", "dropout")),
         "dropout_effect": (("dropout", "plain"), ("bn-dropout", "bn"))}


def rate_verdict(cells: list[dict], tuned: bool) -> dict:
    """For each main effect, whether the cells it compares also train at different rates:
    "same rate" (the effect is the switch's alone), "own tuned rate" (each cell at its own best
    rate: fair, but the effect includes what the rate buys), or "pair" (fixed rates that differ:
    the effect is of the switch together with its rate)."""
    lr = {c["cell"]: c.get("lr") for c in cells}
    out = {}
    for key, twins in TWINS.items():
        differ = any(lr.get(a) != lr.get(b) for a, b in twins)
        out[key] = "same rate" if not differ else "own tuned rate" if tuned else "pair"
    return {"effects": out, "lr": lr}


def rate_sentence(v: dict) -> str:
    """What the compared cells differ in besides the switch, named."""
    lr = ", ".join(f"{cell} {rate:g}" for cell, rate in v["lr"].items() if is_number(rate))
    if not lr:  # results that recorded no rates: nothing to name
        return ""
    words = v["effects"]
    if all(w == "same rate" for w in words.values()):
        return f"Every cell trains at one learning rate ({lr}): each effect is its switch's alone."
    said = {"pair": "{label} together with its rate (fixed rates that differ), not {label} alone",
            "own tuned rate": "{label} with each cell at its own tuned rate (fair, but including what the rate buys)",
            "same rate": "{label} alone (equal rates)"}
    parts = [said[words[key]].format(label=label) for key, label in (("bn_effect", "batch norm"),
                                                                      ("dropout_effect", "dropout"))]
    return f"Learning rates: {lr}; so the effects measure {parts[0]}, and {parts[1]}."


def best_cell_sentence(v: dict) -> str:
    """Why the final uses its cell, with the comparison that chose it and what its noise allows."""
    if v["word"] == "no runner-up":
        return f"the only ablation cell trained on {v['n_train']:,} images ({v['best']})"
    head = (f"the ablation cell with the highest mean validation accuracy on {v['n_train']:,} training images "
            f"({v['best']}, {pct(v['best_mean'], 1)} against {pct(v['runner_mean'], 1)} for {v['runner_up']}, the "
            "runner-up")
    if v["word"] == "one run each":
        return (head + ": one run each, so training noise is not measured and the choice is the rule's "
                "(highest accuracy), not a finding)")
    spread = f"{pts(v['difference'])} points, 95% interval {pts(v['low'])} to {pts(v['high'])} over {v['n']} seeds"
    if v["word"] == "beyond noise":
        return head + f": {spread}, beyond training noise)"
    return (head + f": {spread}, so the two are indistinguishable and the rule, highest mean, broke the tie)")


def search_sentence(v: dict) -> str:
    """How the rule applied to the recorded candidates, and which diverged at the search's rate."""
    names = v.get("diverged") or []
    it, has = ("it", "it has") if len(names) == 1 else ("them", "they have")
    return _rule_sentence(v) + (f" {', '.join(names)} diverged at the search's learning rate ({v['lr']:g}), so {has} "
                                f"no accuracy and the rule does not consider {it}." if names else "")


def _rule_sentence(v: dict) -> str:
    limit = f"{v['max_minutes']:g} minutes" if v["max_minutes"] is not None else "no time limit"
    if v["word"] == "most accurate that fits":
        names = v.get("untrained") or []
        untrained = (f" {' and '.join(names)} projected past the budget on a few timed steps and "
                     f"{'were' if len(names) > 1 else 'was'} not trained." if names else "")
        binding = (untrained or " The budget was binding: a more accurate candidate's projected final training does "
                   "not fit.") if v["binding"] else " The most accurate candidate also fits, so the budget did not decide."
        return (f"{v['n_fit']} of {v['n_candidates']} candidates fit {limit}; the most accurate of them is "
                f"{v['chosen']}.{binding}")
    if v["word"] == "none fits: fastest chosen":
        return (f"No candidate's projected final training fits {limit}, so the rule fell back to the fastest, "
                f"{v['chosen']}; the final run will exceed the budget.")
    if v["word"] == "budget not recorded":
        return (f"The search did not record the final budget, so whether {v['chosen']} follows the rule "
                "cannot be checked.")
    return (f"The recorded choice, {v['chosen']}, is not what the rule gives for these numbers "
            f"({v['expected'] or MISSING}).")




def element_words(model: dict) -> str:
    """Where a gap network's NiN or ResNet element sits, from its config."""
    parts = []
    if model.get("residual"):
        parts.append("each stage's second 3x3 convolution is a residual branch, ReLU(h + BN(conv(h))) (ResNet's "
                     "skip connection)")
    k = int(model.get("mlpconv") or 0)
    if k:
        parts.append(f"{'a 1x1 convolution' if k == 1 else f'{k} 1x1 convolutions'}, each with its ReLU, after each "
                     "stage's 3x3 convolutions (NiN's mlpconv, a small MLP applied at every location)")
    return "; ".join(parts)


def final_runs(ablation: dict) -> list:
    """The validation accuracies of the final's cell on the full split: the final and its repeats."""
    full = ablation["rungs"][-1]
    return next((c["val_acc"] for c in full["cells"] if c["cell"] == ablation["best"]["cell"]), [])


def search_margin_sentence(v: dict) -> str:
    """How far the search's choice led its runner-up, against a training run's noise in the finals' regime."""
    if v["word"] == "no runner-up":
        return ""
    lead = (f"{v['chosen']} led the runner-up, {v['runner_up']}, by {pts(v['margin'])} points on one search run "
            "each")
    if v["word"] == "noise not measured":
        return lead + "; how far two runs of one network differ was not measured here, so the lead is the rule's choice."
    noise = (f"two training runs of the final differ by up to {pts(v['band'])} points (95%, from the sd of its "
             f"{v['n_runs']} runs, {pts(v['sd'])} points)")
    if v["word"] == "a tie":
        return f"{lead}; {noise}, so this is a tie, which the rule broke by the higher score."
    return (f"{lead}; {noise}, so the lead is larger than a training run's noise (the search's shorter runs may "
            "vary more).")


def lineage_sentence(family: str, search: dict, model: dict) -> str:
    """What puts the gap family in NiN's or ResNet's vein, from the final's config (the element and where it
    sits, and the global-average-pooling head), and which other elements the search tried under one recipe."""
    if family != "gap":
        return ""
    element = element_words(model)
    head = (f"Its nonlinearities inside the convolutional part: {element}. It ends in NiN's global-average-pooling "
            "head, straight into the classifier." if element else
            "Its only NiN element is the head: global average pooling straight into the classifier.")

    def score(c):
        if c.get("diverged"):
            return f"diverged at lr {c['lr']:g}"
        return f"{pct(c['val_acc'], 1)}" if is_number(c.get("val_acc")) else "not trained (projected past the budget)"
    others = [c for c in search["candidates"] if c["name"] != search["chosen"]]
    if not others:
        return head
    def short(model):
        k = int(model.get("mlpconv") or 0)
        parts = (["residual stages"] if model.get("residual") else []) + \
            ([f"{'one' if k == 1 else k} 1x1 mlpconv layer{'s' if k > 1 else ''} a stage"] if k else [])
        return " and ".join(parts) or "no mlpconv or residual stage"
    tried = "; ".join(f"{c['name']} ({short(c['model'])}) {score(c)}" for c in others)
    return head + f" The search also tried, under the same recipe: {tried}."


def validation_choices(families: list[dict]) -> list[str]:
    """What the validation images chose in this build, as the report names it: the architecture where a
    search compared trained candidates, each cell's learning rate where a rate was tuned, the best cell
    where it had a runner-up. A choice that was not made is not named."""
    made = {"the architecture": any(sum(c.get("trained", True) and not c.get("diverged") for c in
                                        f["search"]["candidates"]) > 1 for f in families),
            "each cell's learning rate": any(f["verdicts"]["ablation"]["tuned"] for f in families),
            "the best cell": any(f["verdicts"]["best_cell"]["runner_up"] for f in families)}
    return [name for name, was in made.items() if was]


def family_runs_verdict(families: list[dict]) -> dict:
    """The two families compared over training runs, as every training choice is: each family's final
    cell (its best) at the seeds both trained, on the largest training set where both have two or
    more, paired by seed; "ordered" where the 95% interval of the difference excludes 0 ("better"
    names the family ahead), "indistinguishable" where it does not, "one run each" where no training
    set has two seeds of both. Also what else than the trunk's end differs: their parameters."""
    a, b = families
    out = {"word": "one run each", "better": None, "n": 0, "n_train": None, "mean": None, "low": None, "high": None,
           "pair": (a["name"], b["name"]), "params": {f["name"]: f["arch"].get("params") for f in families},
           "hidden": {f["name"]: f["arch"]["model"]["hidden"] for f in families if f["arch"]["model"].get("hidden")}}
    runs = {f["name"]: _final_cell_runs(f) for f in families}
    for n_train in sorted(set(runs[a["name"]]) & set(runs[b["name"]]), reverse=True):
        ra, rb = runs[a["name"]][n_train], runs[b["name"]][n_train]
        seeds = sorted(set(ra) & set(rb))
        if len(seeds) >= 2:  # an interval needs two runs of each, and a spread (equal runs leave none)
            v = effect_verdict([ra[s] - rb[s] for s in seeds], "ahead", "behind", "indistinguishable")
            if v["word"] == NO_CHANGE:  # every seed tied exactly: a difference of 0, not a missing interval
                v = {**v, "low": 0.0, "high": 0.0, "mean": 0.0}
            if v["low"] is None:
                continue
            word = "ordered" if v["clear"] else "indistinguishable"
            better = (a["name"] if v["mean"] > 0 else b["name"]) if v["clear"] else None
            return {**out, "word": word, "better": better, "n": v["n"], "n_train": n_train, "mean": v["mean"],
                    "low": v["low"], "high": v["high"], "epochs": a["final"]["epochs"],
                    "steps": n_train // a["final"]["train"]["batch_size"] * a["final"]["epochs"]}
    return out


def _final_cell_runs(family: dict) -> dict[int, dict[int, float]]:
    """{training images: {seed: validation accuracy}} of the family's final cell, on each training set."""
    best = family["ablation"]["best"]["cell"]
    out = {}
    for rung in family["ablation"]["rungs"]:
        cell = next((c for c in rung["cells"] if c["cell"] == best), None)
        if cell:
            out[rung["n_train"]] = {s: v for s, v in zip(cell.get("seeds", rung["seeds"]), cell["val_acc"])
                                    if is_number(v)}
    return out


def family_runs_sentence(v: dict) -> str:
    """The families' verdict over training runs, with the regime it holds in and what else differs."""
    a, b = v["pair"]
    if v["word"] == "one run each":
        head = ("Which family is better is not judged: no training set has two or more runs of both families' final "
                "cells, and a verdict about a training choice needs its seed noise.")
    else:
        over = (f"over {v['n']} training runs of each family's final cell on {v['n_train']:,} images ({v['epochs']} "
                f"epoch{'s' if v['epochs'] != 1 else ''}, {v['steps']} optimizer steps a run), {a} minus {b} is "
                f"{pts(v['mean'])} points (95% interval {pts(v['low'])} to {pts(v['high'])})")
        head = (f"{v['better']} is the better family here: {over}." if v["word"] == "ordered" else
                f"Which family is better is not resolved here (the interval includes 0): {over}.")
    params = v["params"]
    if all(is_number(p) for p in params.values()):
        hidden = {name: f" and a {units}-unit hidden layer" for name, units in v["hidden"].items()}
        head += (f" They also differ in size: {a}-final {params[a]:,} parameters{hidden.get(a, '')}, "
                 f"{b}-final {params[b]:,}{hidden.get(b, '')}.")
    return head
