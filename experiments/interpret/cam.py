"""Problem 4: class activation maps. One base owns the hook on the last conv feature map
(`model.features`), upsampling and normalisation; each method only says how it weights the maps.

- `CAM` (Zhou et al. 2016): M_c = sum_k w_{c,k} f_k with w the final linear layer. Exact only
  when the head is global average pooling -> linear (the `gap` family).
- `GradCAM` (Selvaraju et al. 2017): weights = spatial mean of d y_c / d f_k, then ReLU; the
  gradient generalisation that works for a dense head.
"""
from __future__ import annotations

import torch


class ActivationMap:
    name = "base"

    def __init__(self, model: torch.nn.Module):
        self.model = model

    def raw(self, feats: torch.Tensor, grads: torch.Tensor | None, classes: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    needs_grad = False

    def __call__(self, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Maps (N, 32, 32) in [0, 1] for `classes` (N,), upsampled to the input size."""
        from experiments.interpret.maps import normalize_maps, upsample
        captured = {}

        def keep(module, inputs, output):
            captured["feats"] = output
            if self.needs_grad:
                output.register_hook(lambda g: captured.__setitem__("grads", g))
        handle = self.model.features.register_forward_hook(keep)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.set_grad_enabled(self.needs_grad):
                logits = self.model(images)
                if self.needs_grad:
                    self.model.zero_grad(set_to_none=True)
                    logits.gather(1, classes.view(-1, 1)).sum().backward()
            raw = self.raw(captured["feats"].detach().float(),
                           captured.get("grads", None) if self.needs_grad else None, classes)
        finally:
            handle.remove()
            self.model.train(was_training)
            self.model.zero_grad(set_to_none=True)
        return normalize_maps(upsample(raw.detach(), images.shape[-1]))


class CAM(ActivationMap):
    name = "CAM"

    def raw(self, feats, grads, classes):
        weights = self.model.classifier.weight.detach().float()[classes]  # (N, K)
        return torch.einsum("nk,nkhw->nhw", weights, feats)


class GradCAM(ActivationMap):
    name = "Grad-CAM"
    needs_grad = True

    def raw(self, feats, grads, classes):
        alpha = grads.float().mean(dim=(2, 3))  # (N, K)
        return torch.relu(torch.einsum("nk,nkhw->nhw", alpha, feats))


def method_for(model: torch.nn.Module) -> ActivationMap:
    """CAM where it is defined (GAP -> linear head), Grad-CAM otherwise."""
    return CAM(model) if getattr(model, "family", None) == "gap" else GradCAM(model)
