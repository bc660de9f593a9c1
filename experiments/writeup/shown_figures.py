"""What the figures of Problems 3-5 show, in sentences built from the numbers their stages recorded
with them: a feature-map grid too coarse to show shapes, a filter grid that is (or is not) still its
initialisation, and the maps of the images shown, image by image (where each peaks, how much of it
lies in the central square, whether the predicted and the true class's maps differ)."""
from __future__ import annotations

from experiments.writeup.formats import pct, plural
from experiments.writeup.map_verdicts import INSENSITIVE, SENSITIVE

TINY_MAP = 3  # maps of at most this many pixels a side show where a channel responds, not a shape


def feature_map_note(layer: dict) -> str:
    """For a feature-map grid whose tiles cannot show a shape, the sentence that replaces it in the
    main body (the grid goes to the appendix); '' for one that can."""
    h, w = layer["map_size"]
    if max(h, w) > TINY_MAP:
        return ""
    constant = layer.get("constant_channels") or 0
    return (f"Conv layer {layer['layer']}'s maps are {h}×{w}: each says at which of {h * w} positions a channel "
            f"responds to this image, not what shape it responds to, so its grid of {layer['channels_shown']} tiles "
            f"is in Appendix C; {constant} of the {layer['channels_shown']} channels are constant for this image.")


def filter_change_sentence(layer: dict) -> str:
    """How many of a layer's filters training moved from their initialisation (features.json's
    `change`), so a grid that still shows its initialisation is not read as learned filters."""
    change = layer.get("change")
    if not change or not layer.get("learned", True):  # a frozen layer's caption says so
        return ""
    moved, of, limit = change["changed"], change["of"], pct(change["threshold"], 0)
    median = pct(change["median_change"], 0)
    if moved == 0:
        return (f"None of the {of} filters moved more than {limit} of its initial size in training (median "
                f"{median}): this grid still shows the initialisation, not learned filters.")
    if moved == of:
        return (f"Training moved every one of the {of} filters more than {limit} of its initial size (median "
                f"{median}): these are learned filters.")
    return (f"Training moved {moved} of the {of} filters more than {limit} of its initial size (median {median}); "
            f"the other {of - moved} still show their initialisation.")


def grain_sentence(method: str, grain: int | None, size: int = 32) -> str:
    """What a map's grain lets it say."""
    if not grain:
        return ""
    name = method[:1].upper() + method[1:]  # it starts the sentence
    if grain >= size:
        return f"{name} gives a value per pixel."
    return (f"{name}'s maps are {grain}×{grain} cells (the last feature map) upsampled to {size}×{size}: they "
            "can say which part of the image holds the evidence, not which pixels.")


def shown_maps_sentences(record: dict, classes: list[str], trusted: bool = True) -> str:
    """The images shown for one network and method (cam.json or saliency.json), image by image;
    `trusted`: the method passed its randomisation sanity check on this network (else no sentence says
    the maps show where the network looked)."""
    m = record.get("metrics", {})
    shown = m.get("shown")
    if not shown:
        return ""
    name = lambda it: classes[it["label"]] if it["label"] < len(classes) else str(it["label"])  # noqa: E731
    parts = [grain_sentence(record["method"], m.get("grain")),
             _correct_sentence([it for it in shown if it["group"] == "correct" and it["peak"]], name,
                               m.get("centre_area")),
             _wrong_sentence([it for it in shown if it["label"] != it["pred"]], classes, name, trusted)]
    return " ".join(p for p in parts if p)


def _correct_sentence(items: list[dict], name, area) -> str:
    if not items:
        return ""
    centred = [name(it) for it in items if it["peak"] == "centre"]
    elsewhere = [f"{name(it)}: {it['peak']}" for it in items if it["peak"] != "centre"]
    where = []
    if centred:
        where.append(f"in the centre for {len(centred)} ({', '.join(centred)})")
    if elsewhere:
        where.append(f"elsewhere for {len(elsewhere)} ({'; '.join(elsewhere)})")
    masses = [it["centre_mass"] for it in items if it["centre_mass"] is not None]
    mass = (f"; the central square holds {pct(min(masses), 0)} to {pct(max(masses), 0)} of a map's mass "
            f"({pct(area, 0)} for a map without preference)" if masses and area else "")
    return f"On the {plural(len(items), 'correctly classified image')} the map peaks {' and '.join(where)}{mass}."


def _wrong_sentence(items: list[dict], classes: list[str], name, trusted: bool = True) -> str:
    measured = [it for it in items if it["pred_true_rho"] is not None]
    if not measured:
        return ""

    def label(it):
        return f"{name(it)} as {classes[it['pred']] if it['pred'] < len(classes) else it['pred']}, " \
               f"{it['pred_true_rho']:.2f}"
    differ = [label(it) for it in measured if it["pred_true_rho"] < SENSITIVE]
    same = [label(it) for it in measured if it["pred_true_rho"] >= INSENSITIVE]
    partly = [label(it) for it in measured if SENSITIVE <= it["pred_true_rho"] < INSENSITIVE]
    groups = [(differ, f"to different places (rank correlation below {SENSITIVE:g})"),
              (partly, f"partly to the same places ({SENSITIVE:g} to {INSENSITIVE:g})"),
              (same, f"to much the same places ({INSENSITIVE:g} or more)")]
    said = "; ".join(f"{w} for {len(g)} ({'; '.join(g)})" for g, w in groups if g)
    text = (f"Of the {plural(len(measured), 'image')} this network gets wrong, the maps of the predicted and of the "
            f"true class point {said}.")
    if same and not trusted:
        text += (" Where they coincide the map is much the same whichever class it explains; as this method did "
                 "not pass its sanity check on this network, that is no evidence of where the network looked.")
    elif same:
        text += (" Where they coincide the map shows where the network looked, not why it chose the wrong class.")
    elif differ and not partly:
        text += " For each wrong answer the network found its evidence elsewhere than where the true class's lies."
    return text
