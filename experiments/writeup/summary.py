"""The report's first page: each homework item answered in at most three sentences, with its
number and a pointer to the evidence. No judgement is made here: every verdict word is one the
sections below compute (experiments.writeup.wording, choices, verdicts, map_findings); this module
only says it briefly. `summary_items(context)` takes the report's context (report.build_context)."""
from __future__ import annotations

from experiments.core.names import CELLS
from experiments.stats import NO_VERDICT, NOT_MEASURED, UNCLEAR
from experiments.training.loss_points import loss_curve
from experiments.writeup.choices import element_words, family_runs_sentence, family_runs_verdict
from experiments.writeup.faithfulness_wording import reconciled
from experiments.writeup.formats import dec, pct, plural, pts, runs_text
from experiments.writeup.verdicts import near_chance_cells, order_verdict
from experiments.writeup.wording import effect_phrase

RATE_WORDS = {"pair": " together with its learning rate (the compared variants train at different fixed rates)",
              "own tuned rate": " (each variant at its own tuned learning rate)", "same rate": ""}


def summary_items(ctx: dict) -> list[dict]:
    """[{"item", "text", "ref"}]: P1; P2 (a)-(f) per family and the families compared; P3 (a), (b);
    P4; P5; P6."""
    items = [conv_item(ctx["tester"], ctx["bench"], ctx["notebook"])]
    for f in ctx["families"]:
        items += family_items(f, ctx["heldout"]["rows"][f["name"]])
    items.append(order_item(ctx["heldout"].get("validation_pair"), ctx["families"]))
    items += [feature_item(ctx["families"]), gabor_item(ctx["families"])]
    findings = ctx["measures"]["findings"]
    area = ctx["measures"].get("centre_area")
    items += [maps_item("P4", "cam", findings["cam"], ctx["families"], area),
              maps_item("P5", "saliency", findings["saliency"], ctx["families"], area)]
    items.append(dataset_item(ctx["reflection"]))
    return items


def conv_item(tester: dict, bench: dict, notebook: dict) -> dict:
    cases = tester["cases"]
    passed = sum(c["passed"] for c in cases)
    worst = max(max(c["err_Z"], c["err_dLdA"], c["err_dLdW"]) for c in cases) if cases else None
    ratios = [c["ratio"] for c in bench["cases"]]
    span = f"{min(ratios):.2f}×" if ratios and min(ratios) == max(ratios) else \
        f"{min(ratios):.2f}–{max(ratios):.2f}×" if ratios else ""
    speed = f" Forward and backward take {span} PyTorch's time on the benchmark shapes." if ratios else ""
    verdict = "every case passes" if passed == len(cases) else f"{plural(len(cases) - passed, 'case')} FAIL"
    course = ""
    if notebook.get("given"):
        failed = notebook["n_failed"]
        course = (f" The course's {notebook['name']} ran {len(notebook['cells'])} code cells against it: "
                  + (f"{failed} FAILED." if failed else "none failed."))
    return {"item": "P1", "ref": "p1",
            "text": f"The NumPy Conv2D matches PyTorch's forward and backward on {passed} of {len(cases)} tester cases "
                    f"(largest error {worst:.1e}, tolerance {tester['tolerance']:.0e}): {verdict}.{speed}{course}"}


def complete_rung(rungs: list[dict]) -> dict:
    """The largest rung where every cell trained: where the 2x2 effects are read."""
    return [r for r in rungs if len(r["cells"]) == len(CELLS)][-1]


def run_words(final: dict, n_train: int) -> str:
    """The regime a verdict holds in: ' (8 epochs, 16 optimizer steps a run)'."""
    epochs, batch = final.get("epochs"), (final.get("train") or {}).get("batch_size")
    if not epochs or not batch:
        return ""
    return f" ({plural(epochs, 'epoch')}, {plural(n_train // batch * epochs, 'optimizer step')} a run)"


def effect_answer(name: str, row: dict | None, rate: str, n_train: int, say_where: bool = True,
                  final: dict | None = None) -> str:
    """One effect in a sentence: its verdict word and numbers, over what (the training images, and the
    regime from the `final` run's record), and what else differs."""
    if row is None:
        return f"{name}: not measured."
    differs = RATE_WORDS.get(rate, "") if say_where else ""
    where = f"on {n_train:,} training images{run_words(final or {}, n_train)}" if say_where else "there"
    if row["word"] == NO_VERDICT:
        return (f"{name}{differs}: {pts(row['mean'])} points {where}, one training run per variant: no verdict "
                "(seed noise not measured).")
    numbers = (f"{pts(row['mean'])} points (95% interval {pts(row['low'])} to {pts(row['high'])}, {runs_text(row)} "
               f"{where})" if row["low"] is not None else f"{pts(row['mean'])} points ({runs_text(row)} {where})")
    phrase = effect_phrase(row) or row["word"]
    if row["word"] in ("helps", "hurts"):
        return f"{name}{differs} {phrase}: {numbers}."
    return f"{name}{differs}: {phrase}; {numbers}."


def untrained_twin(cells: list[str], av: dict, chance) -> str:
    """A sentence where one of the compared variants stayed near chance on the full split (it did not train
    at its learning rate, so the effect is of training at all, not of the switch alone)."""
    low = near_chance_cells([c for c in av["full"]["cells"] if c["cell"] in cells], chance)
    return "".join(f" {c['cell']} stayed near chance ({pct(c['mean'], 1)}) at its learning rate "
                   f"{av['rates']['lr'].get(c['cell'])}: the recipe did not train it there, so this difference is "
                   "whether the network trained at all." for c in low)


def effect_answers(label: str, key: str, av: dict, final: dict | None = None, chance=None) -> str:
    """An effect on the network handed in first: its switch changed alone in the final's cell, trained as
    the final was (the full split); then, as a supplement, on the smaller training sets: where a verdict
    over seeds exists (the largest such set), and where all four cells trained last, if elsewhere."""
    rate = av["rates"]["effects"].get(key)
    in_final = next((r for r in av["full"]["rows"] if r["key"] == IN_FINAL[key]), None)

    def row(rung):
        return next((r for r in rung["rows"] if r["key"] == key), None)
    judged = [r for r in av["rungs"] if row(r) and row(r)["word"] != NO_VERDICT]
    complete = complete_rung(av["rungs"])
    shown = ([judged[-1]] if judged else []) + ([complete] if not judged or judged[-1] is not complete else [])
    if in_final is not None:
        rates = {"own tuned rate": ", each at its own tuned learning rate",
                 "pair": ", each at its own fixed learning rate"}.get(rate, "")
        first = effect_answer(f"{label} in the final's variant ({in_final['cells'][0]} against "
                              f"{in_final['cells'][1]}{rates}, trained as the final was)", in_final, "same rate",
                              av["full"]["n_train"], final=final) + untrained_twin(in_final["cells"], av, chance)
        shown = [r for r in shown if r is not av["full"]]
        return " ".join([first] + [effect_answer(f"On {r['n_train']:,} images (all four variants), {label.lower()}",
                                                 row(r), rate, r["n_train"], say_where=False) for r in shown])
    return " ".join(effect_answer(label if i == 0 else f"On {r['n_train']:,} images, {label.lower()}", row(r), rate,
                                  r["n_train"], say_where=i == 0, final=final) for i, r in enumerate(shown))


IN_FINAL = {"bn_effect": "bn_in_final", "dropout_effect": "dropout_in_final"}


def family_items(f: dict, held: dict) -> list[dict]:
    name, v = f["name"], f["verdicts"]
    ref = f"p2-{name}"
    av = v["ablation"]
    trained = sum(1 for c in f["search"]["candidates"] if c.get("val_acc") is not None and not c.get("diverged"))
    element = element_words(f["arch"]["model"])
    element = f"In NiN's or ResNet's vein: {element}. " if element else ""
    m = v["search_margin"]
    margin = {"a tie": f"; its lead over {m['runner_up']} is within a training run's noise, a tie",
              "a lead": f"; its lead over {m['runner_up']} exceeds a training run's noise"}.get(m["word"], "")
    arch = (f"{name}-final: widths {'/'.join(map(str, f['arch']['model']['widths']))}, {f['arch']['params']:,} "
            f"parameters, {f['arch']['flops'] / 1e6:.1f} MFLOPs per image, batch norm "
            f"{'on' if f['arch']['model']['batchnorm'] else 'off'}, dropout {f['arch']['model']['dropout']}. "
            f"{element}The search chose {f['search']['chosen']} from {plural(trained, 'trained candidate')} by its "
            f"rule ({v['search']['word']}{margin}); of its four batch-norm × dropout variants the final is "
            f"{v['best_cell']['best']} ({best_cell_phrase(v['best_cell'])}).")
    test = (f"; held-out test {pct(held['test']['accuracy'], 2)}" if held.get("test") else "")
    return [
        {"item": f"P2 (a, b) {name}", "ref": ref, "text": arch},
        {"item": f"P2 (c) {name}", "ref": ref,
         "text": effect_answers("Batch norm", "bn_effect", av, f["final"], f["ablation"].get("chance"))},
        {"item": f"P2 (d) {name}", "ref": ref,
         "text": effect_answers("Dropout", "dropout_effect", av, f["final"], f["ablation"].get("chance"))},
        {"item": f"P2 (e) {name}", "ref": f"{ref}-loss", "text": loss_answer(f["final"])},
        {"item": f"P2 (f) {name}", "ref": f"{ref}-acc",
         "text": f"{pct(f['final']['val_acc'], 2)} validation accuracy (95% Wilson interval "
                 f"{pct(held['val']['interval'][0], 2)} to {pct(held['val']['interval'][1], 2)}, "
                 f"{held['val']['n']:,} images){test}."},
    ]


def best_cell_phrase(v: dict) -> str:
    if v["word"] == "beyond noise":
        return f"beats the runner-up, {v['runner_up']}, beyond training noise"
    if v["word"] == "indistinguishable":
        return f"indistinguishable from {v['runner_up']}: the rule's tie-break chose it"
    if v["word"] == "one run each":
        return f"ahead of {v['runner_up']} on one run each: the rule's choice, not a finding"
    return "the only variant trained"


def loss_answer(final: dict) -> str:
    """The final run's loss curves in numbers: where each ended and where validation loss was lowest."""
    h = final["history"]
    if not h:
        return "No loss curve was recorded."
    curve = loss_curve(h)
    if len(h) == 1:
        if len(curve["val"]) < 2:
            return (f"After its one epoch the training loss (on augmented batches) was {dec(h[0]['train_loss'], 3)} "
                    f"and the validation loss {dec(h[0]['val_loss'], 3)}: one point, no curve.")
        first = curve["val"][0]
        return (f"Within its one epoch ({len(curve['train'])} training and {len(curve['val'])} validation points) the "
                f"training loss (on augmented batches) went from {dec(curve['train'][0][1], 3)} to "
                f"{dec(curve['train'][-1][1], 3)} and the validation loss from {dec(first[1], 3)} (at "
                f"{first[0]:.2f} of the epoch) to {dec(curve['val'][-1][1], 3)}.")
    low = min(h, key=lambda e: e["val_loss"])
    lowest = ("its lowest at the last epoch" if low is h[-1]
              else f"its lowest was {dec(low['val_loss'], 3)} at epoch {low['epoch']}")
    return (f"Over {len(h)} epochs ({len(curve['train'])} training and {len(curve['val'])} validation points) the "
            f"training loss (on augmented batches) went from {dec(curve['train'][0][1], 3)} to "
            f"{dec(curve['train'][-1][1], 3)}; the validation loss ended at {dec(h[-1]['val_loss'], 3)}, {lowest}.")


def order_item(pair: dict | None, families: list[dict]) -> dict:
    """The families compared over training runs (`family_runs_verdict`), then the two networks handed in
    over the validation images (McNemar): a statement about these two networks, not about the families."""
    text = family_runs_sentence(family_runs_verdict(families))
    v = order_verdict(pair)
    if v["word"] != "not measured":
        (a, x), (b, y) = v["only"].items()
        images = f"the {v['n']:,} validation images" if v.get("n") else "the validation images"
        counts = (f"of {images}, {x:,} are right only for {a}-final and {y:,} only for {b}-final; the rest both get "
                  "right or both get wrong")
        text += (f" Scored on the same images ({counts}), the two networks handed in differ beyond chance "
                 f"(McNemar p = {v['p']:.2g}): a fact about these two networks." if v["word"] == "ordered" else
                 f" Scored on the same images ({counts}), the two networks handed in are not told apart "
                 f"(McNemar p = {v['p']:.2f}).")
    return {"item": "P2 families", "ref": "p2-heldout", "text": text}


def feature_item(families: list[dict]) -> dict:
    parts = []
    for f in families:
        last = f["layers"][-1]
        dead = last.get("constant_channels")
        numbers = [str(layer["layer"]) for layer in f["layers"]]
        parts.append(f"{f['name']}'s conv layers {', '.join(numbers[:-1])} and {numbers[-1]}" if len(numbers) > 1 else
                     f"{f['name']}'s conv layer {numbers[0]}")
        if dead:
            parts[-1] += f", {dead} of the last one's {last['channels_shown']} maps constant for the image shown"
    return {"item": "P3 (a)", "ref": "p3a",
            "text": "Feature maps after the ReLU of the first, a middle and the last convolution, for one validation "
                    "image in both networks: " + "; ".join(parts) + "."}


def gabor_item(families: list[dict]) -> dict:
    parts = []
    for f in families:
        v, g = f["verdicts"]["gabor"], f["gabor"]
        parts.append(f"{f['name']}: {v['answer']} ({pct(g.get('fraction'))} of the {g.get('n_filters')} effective "
                     f"filters reach R² ≥ {g.get('threshold')}, phase-randomised copies {pct(g.get('null_fraction'))}"
                     + (f", the same filters at initialisation {pct(v['init_fraction'])}" if v.get("init_fraction")
                        is not None else "") + ")")
    return {"item": "P3 (b) Gabor-like?", "ref": "p3b", "text": "; ".join(parts) + "."}


SANITY_BRIEF = {"passes": "they change when the weights are re-initialised (the sanity check passes)",
                "fails": "a re-initialised network draws much the same maps (the sanity check fails)"}
FAITHFUL_BRIEF = {"faithful": "the pixels they rank first are ones the prediction depends on (deletion and insertion "
                              "both beat random maps as smooth as them)",
                  "mixed": "only one of deletion and insertion beats random maps as smooth as them",
                  UNCLEAR: "whether they beat random maps as smooth as them is unclear",
                  "not more faithful than random": "they rank pixels no better than random maps as smooth as them",
                  NOT_MEASURED: "their faithfulness was not measured"}
BASELINE_BRIEF = {"faithful": "; they also beat the network's own mean map (their ranking is specific to the image)",
                  "mixed": "; against the network's own mean map, only one of the two tests beats it",
                  "not more faithful than random": "; the network's own mean map, the same for every image, does as "
                                                   "well (the advantage is where it usually looks)"}
CENTRE_BRIEF = {"centred": "more than a map without preference would put there", "off-centre": "less than a map "
                "without preference would put there", UNCLEAR: "no clear preference for the centre"}


def map_brief(r: dict, area: float) -> str:
    """One network's map findings (experiments.writeup.map_findings.family_findings) in two or three
    sentences: the sanity check, faithfulness and where the evidence sits, and, where the sanity check
    and faithfulness point different ways, what that means."""
    s, c = r["sanity"], r["centre"]["correct"]
    sanity = SANITY_BRIEF.get(s["word"], f"the sanity check is {s['word']}")
    centre = (f"On correctly classified images the central square ({pct(area)} of the image) holds {pct(c['mean'], 1)} "
              f"of their mass: {CENTRE_BRIEF.get(c['word'], c['word'])}" if c["low"] is not None else
              "Too few non-blank maps of correctly classified images to say where the evidence sits")
    classes = r["classes"]["word"]
    base = BASELINE_BRIEF.get(r["baseline"]["overall"]["word"], "")
    text = (f"Its {r['method']} maps: {sanity}; {FAITHFUL_BRIEF.get(r['overall']['word'], 'their faithfulness: ' + r['overall']['word'])}{base}. {centre}; for "
            f"misclassified images they are {classes if classes != UNCLEAR else 'of unclear class sensitivity'}.")
    both = reconciled(r["overall"]["word"], s["word"])
    return f"{text} {both}" if both else text


SANITY_PLAIN = {"passes": "depend on what the network learned (they change when its weights are re-initialised)",
                "fails": "barely change when its weights are re-initialised, so they show the image and the "
                         "architecture more than what the network learned",
                UNCLEAR: "may or may not depend on what the network learned (the re-initialisation check is unclear)",
                "inconclusive": "could not be checked against re-initialised weights (too many blank maps)"}
FAITHFUL_PLAIN = {"faithful": "the pixels they rank first matter to the prediction more than those that random maps "
                              "as smooth as them rank first",
                  "mixed": "only one of the two pixel-removal tests shows them better than random maps",
                  UNCLEAR: "whether they pick out pixels that matter better than random maps is unclear",
                  "not more faithful than random": "they pick out pixels that matter no better than random maps",
                  NOT_MEASURED: "whether they pick out pixels that matter was not measured"}
CENTRE_PLAIN = {"centred": "more than a map with no preference would", "off-centre": "less than a map with no "
                "preference would", UNCLEAR: "about what a map with no preference would"}


def maps_item(item: str, kind: str, found: dict, families: list[dict], area: float | None = None) -> dict:
    """One plain sentence per network: whether its maps depend on what it learned, whether they pick out
    pixels that matter, and how much of them lies in the central square (the verdicts of map_findings)."""
    parts = []
    for f in families:
        r = found["families"][f["name"]]
        c = r["centre"]["correct"]
        sanity = SANITY_PLAIN.get(r["sanity"]["word"], f"have a sanity check that is {r['sanity']['word']}")
        centre = (f"; on correctly classified images {pct(c['mean'])} of a map lies in the central square "
                  f"({pct(area)} of the image), {CENTRE_PLAIN.get(c['word'], c['word'])}"
                  if c["low"] is not None and area else "")
        parts.append(f"{f['name']}-final's {r['method']} maps {sanity}; "
                     f"{FAITHFUL_PLAIN.get(r['overall']['word'], r['overall']['word'])}{centre}.")
    return {"item": item, "ref": item.lower(), "text": " ".join(parts)}


def dataset_item(reflection: dict) -> dict:
    d = reflection["duplicates"]
    return {"item": "P6", "ref": "p6",
            "text": f"{pct(reflection['rate'], 2)} of the validation images have a near-duplicate in the training "
                    f"set. {d['sentence']} The reflection on Chapter 8 follows from this audit."}
