"""The images every method and both networks show: the same deterministic validation images,
some classified correctly with high confidence, some misclassified, spread across classes."""
from __future__ import annotations

import torch

from experiments.interpret.maps import probabilities

RULE = ("correct: classified correctly by every network, ranked by the smallest true-class confidence over the "
        "networks, highest first; "
        "incorrect: misclassified by at least one network, most confident wrong answer first; at most one image "
        "per true class in each group; ties broken by the lower validation index")


def select_images(models: dict, images: torch.Tensor, labels: torch.Tensor,
                  n_correct: int, n_incorrect: int) -> dict:
    """Indices into `images` plus each model's prediction and confidence on them.

    correct: right for every model, ranked by the lowest confidence any model gives the true
    class; incorrect: wrong for at least one model, ranked by the most confident wrong answer.
    At most one image per (true) class in each group; ties broken by index.
    """
    labels = torch.as_tensor(labels, dtype=torch.long).view(-1)
    probs = {name: probabilities(model, images) for name, model in models.items()}
    preds = {name: p.argmax(1) for name, p in probs.items()}
    right = torch.stack([preds[n] == labels for n in models]).all(0)
    true_conf = torch.stack([probs[n].gather(1, labels.view(-1, 1)).squeeze(1) for n in models]).min(0).values
    wrong_conf = torch.stack([torch.where(preds[n] != labels, probs[n].max(1).values, torch.zeros(len(labels)))
                              for n in models]).max(0).values
    correct = _one_per_class(right, true_conf, labels, n_correct)
    incorrect = _one_per_class(~right, wrong_conf, labels, n_incorrect)
    items = [{"index": i, "group": group, "label": int(labels[i]),
              "pred": {n: int(preds[n][i]) for n in models},
              "conf": {n: round(float(probs[n][i].max()), 4) for n in models}}
             for group, indices in (("correct", correct), ("incorrect", incorrect)) for i in indices]
    return {"items": items, "rule": RULE, "accuracy": {n: float((preds[n] == labels).float().mean()) for n in models}}


def _one_per_class(mask: torch.Tensor, score: torch.Tensor, labels: torch.Tensor, n: int) -> list[int]:
    best = {}
    for i in torch.nonzero(mask).flatten().tolist():  # ascending index: earlier wins ties
        c = int(labels[i])
        if c not in best or score[i] > score[best[c]]:
            best[c] = i
    ranked = sorted(best.values(), key=lambda i: (-float(score[i]), i))
    return ranked[:n]
