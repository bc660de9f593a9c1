"""The words under each map figure, generated from the measurements: a sentence is only as
strong as the number behind it (thresholds in `sanity.py` and `faithfulness.py`)."""
from __future__ import annotations

from experiments.interpret.faithfulness import FAITHFUL_MARGIN
from experiments.interpret.sanity import SANITY_THRESHOLD

NARROW = 0.2  # a correlation within this of the threshold is a narrow pass, not "changes a lot"
# What Adebayo et al. (2018) found under model-parameter randomisation.
LITERATURE = {"changes": "Adebayo et al. (2018), who found that Grad-CAM maps (of which CAM and HiResCAM are "
                         "close relatives) change a lot when the weights are randomised",
              "stays": "Adebayo et al. (2018), who found guided backpropagation maps nearly unchanged when the weights "
                       "are randomised, much like an edge detector of the input"}


def sanity_sentence(method: str, m: dict, expected: str) -> str:
    rho = m["randomization_rank_correlation"]
    if SANITY_THRESHOLD - NARROW <= rho < SANITY_THRESHOLD:
        text = (f"With the weights re-initialised the {method} maps change, but only partly (mean rank correlation "
                f"{rho:.2f} with the trained model's maps, just below {SANITY_THRESHOLD}): they depend on what the "
                "network learned, yet much of their structure comes from the architecture and the image; the method "
                "passes the randomisation sanity check, narrowly")
    elif rho < SANITY_THRESHOLD:
        text = (f"With the weights re-initialised the {method} maps change a lot (mean rank correlation {rho:.2f} "
                f"with the trained model's maps, below {SANITY_THRESHOLD}), so they depend on what the network "
                "learned: the method passes the randomisation sanity check")
    else:
        text = (f"With the weights re-initialised the {method} maps stay similar (mean rank correlation {rho:.2f}, "
                f"not below {SANITY_THRESHOLD}), so much of what they show comes from the architecture and the image "
                "rather than the learned weights: the method fails the randomisation sanity check, and its pictures "
                "should not be read as the model's reasoning")
    agrees = (rho < SANITY_THRESHOLD) == (expected == "changes")
    return f"{text}. This {'agrees with' if agrees else 'differs from'} {LITERATURE[expected]}."


def faithfulness_sentence(m: dict) -> str:
    d, dr, i, ir = m["deletion_auc"], m["random_deletion_auc"], m["insertion_auc"], m["random_insertion_auc"]
    del_ok, ins_ok = d < dr - FAITHFUL_MARGIN, i > ir + FAITHFUL_MARGIN
    numbers = (f"deletion AUC {d:.3f} vs {dr:.3f} for random maps (lower is better), insertion AUC {i:.3f} vs "
               f"{ir:.3f} (higher is better), margin {FAITHFUL_MARGIN}")
    if del_ok and ins_ok:
        return f"The highlighted pixels matter to the prediction more than random ones: {numbers}."
    if del_ok or ins_ok:
        return (f"Faithfulness is mixed: {numbers}; only the {'deletion' if del_ok else 'insertion'} test beats "
                "random maps by the margin.")
    return f"The maps are not more faithful than random ones: {numbers}."


def describe_method(method: str, m: dict, expected: str = "changes") -> str:
    """Interpretation of one method's measurements; `expected` is what the literature reports
    under randomisation ("changes" or "stays")."""
    if not m.get("n_images", 1):
        return "No validation images were selected, so there is nothing to measure."
    blank, n = m.get("blank_maps", 0), m["n_images"]
    if 2 * blank >= n:
        return (f"{method} fails on these images: {blank} of {n} maps are blank (no location raises the class "
                "score), so the pictures show nothing and the sanity and faithfulness numbers cannot be read.")
    parts = [f"{blank} of {n} maps are blank (no location raises the class score); the numbers include them."] if blank else []
    parts.append(sanity_sentence(method, m, expected))
    if "randomization_rank_correlation_signed" in m:
        signed = m["randomization_rank_correlation_signed"]
        parts.append(f"(For the signed gradient the rank correlation is {signed:.2f}.)")
    parts.append(faithfulness_sentence(m))
    return " ".join(parts)


def describe_cam(m: dict) -> str:
    """CAM / HiResCAM: the literature expects the maps to change under randomisation."""
    return describe_method(m.get("method", "CAM"), m, "changes")


def describe_guided(m: dict) -> str:
    """Guided backpropagation: the literature expects the maps to barely change."""
    return describe_method(m.get("method", "guided backpropagation"), m, "stays")
