"""Problem 4: class activation maps. One base owns the mechanism (capturing the last conv feature
map, the output of `model.features`, batching, upsampling to the input size, normalising to
[0, 1]); each method only says how it weights the feature maps.

- `CAM` (Zhou et al. 2016): M_c = ReLU(sum_k w_{c,k} f_k) with w the final linear layer's weights.
  Exact, no gradients, but only defined when the head is global average pooling -> linear. The ReLU
  is HiResCAM's, so both families' maps are post-processed alike (a signed CAM, min-max scaled, can
  never be blank and spreads its mass over the frame); on a GAP head the gradient is w_{c,k} / (h w)
  at every position, so ReLU'd CAM and HiResCAM coincide after scaling (tested).
- `GradCAM` (Selvaraju et al. 2017): M_c = ReLU(sum_k a_k f_k), a_k = spatial mean of d y_c / d f_k;
  the gradient generalisation that works for any differentiable head.
- `HiResCAM` (Draelos & Carin 2020): M_c = ReLU(sum_k (d y_c / d f_k) * f_k), the gradient kept per
  position. Used for the `dense` family: its flatten head weighs each position separately, and
  Grad-CAM's spatial average of the gradient throws that away (on our dense-final it made the
  weighted sum negative everywhere, so every map was blank). For a GAP head the two coincide.
"""
from __future__ import annotations

import torch

from experiments.interpret.maps import inspecting, normalize_maps, upsample


class ActivationMap:
    """Maps (N, H, W) in [0, 1] for one class per image; the model is left as it was."""
    name = "base"
    needs_grad = False
    caption = ""

    def __init__(self, model: torch.nn.Module, batch_size: int = 64):
        self.model = model
        self.batch_size = batch_size

    def weigh(self, feats: torch.Tensor, grads: torch.Tensor | None, classes: torch.Tensor) -> torch.Tensor:
        """(N, K, h, w) feature maps [and d y_c / d feature maps] -> raw maps (N, h, w)."""
        raise NotImplementedError

    def __call__(self, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        classes = torch.as_tensor(classes, dtype=torch.long).view(-1)
        if len(images) == 0:
            return torch.zeros(0, *images.shape[-2:])
        with inspecting(self.model):
            raw = torch.cat([self._raw(images[i:i + self.batch_size], classes[i:i + self.batch_size])
                             for i in range(0, len(images), self.batch_size)])
        return normalize_maps(upsample(raw, images.shape[-1]))

    def _raw(self, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        captured = {}
        handle = self.model.features.register_forward_hook(lambda m, i, out: captured.__setitem__("feats", out))
        try:
            with torch.set_grad_enabled(self.needs_grad):
                x = images.detach().clone().requires_grad_(self.needs_grad)  # a graph even with frozen weights
                logits = self.model(x)
                feats = captured["feats"]
                grads = None
                if self.needs_grad:
                    score = logits.gather(1, classes.view(-1, 1)).sum()
                    grads = torch.autograd.grad(score, feats)[0].detach().float()
        finally:
            handle.remove()
        return self.weigh(feats.detach().float(), grads, classes).detach()


class CAM(ActivationMap):
    name = "CAM"
    caption = ("Class activation maps (Zhou et al. 2016): the final linear layer's weights for the class applied "
               "to the last convolutional feature maps (exact, no gradients, because this head is global average "
               "pooling into one linear layer), followed by a ReLU as HiResCAM's maps are (on this head the two coincide), "
               "upsampled bilinearly to 32x32 and min-max scaled per image.")

    def weigh(self, feats, grads, classes):
        weights = self.model.classifier.weight.detach().float()[classes]  # (N, K)
        if weights.shape[1] != feats.shape[1]:
            raise ValueError(f"CAM needs global average pooling into the last linear layer; this classifier takes "
                             f"{weights.shape[1]} inputs, the feature map has {feats.shape[1]} channels (use HiResCAM)")
        return torch.relu(torch.einsum("nk,nkhw->nhw", weights, feats))


class GradCAM(ActivationMap):
    name = "Grad-CAM"
    needs_grad = True
    caption = ("Grad-CAM (Selvaraju et al. 2017) on the last convolutional feature map: CAM as defined needs global "
               "average pooling into one linear layer, which the dense head (flatten, hidden layer) does not have, so "
               "each channel is weighted by the spatially averaged gradient of the class score, followed by a ReLU; "
               "upsampled bilinearly to 32x32 and min-max scaled per image.")

    def weigh(self, feats, grads, classes):
        alpha = grads.mean(dim=(2, 3))  # (N, K)
        return torch.relu(torch.einsum("nk,nkhw->nhw", alpha, feats))


class HiResCAM(ActivationMap):
    name = "HiResCAM"
    needs_grad = True
    caption = ("HiResCAM (Draelos & Carin 2020), the gradient generalisation of CAM, on the last convolutional "
               "feature map: CAM as defined needs global average pooling into one linear layer, which the dense head "
               "(flatten, hidden layer) does not have, so each feature value is weighted by the gradient of the class "
               "score at its own position (Grad-CAM would average that gradient over positions, which a flatten head "
               "makes meaningless), summed over channels, followed by a ReLU; upsampled bilinearly to 32x32 and "
               "min-max scaled per image.")

    def weigh(self, feats, grads, classes):
        return torch.relu((grads * feats).sum(1))


@torch.no_grad()
def map_grain(model: torch.nn.Module, images: torch.Tensor) -> int:
    """The side of the last feature map, whose cells a CAM weighs before it is upsampled to the image."""
    captured = {}
    handle = model.features.register_forward_hook(lambda m, i, out: captured.__setitem__("side", out.shape[-1]))
    try:
        with inspecting(model):
            model(images[:1])
    finally:
        handle.remove()
    return int(captured["side"])


def method_for(model: torch.nn.Module) -> ActivationMap:
    """CAM where it is defined (GAP -> linear head), HiResCAM otherwise."""
    return CAM(model) if getattr(model, "family", None) == "gap" else HiResCAM(model)
