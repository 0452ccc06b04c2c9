"""The temporal loss (Ruder et al. 2016), added to the course's objective as one more term.

E_temporal = mean over pixels of c(x) * (x_t(x) - warp(x_{t-1})(x))^2, on RGB in [0, 1], with c the
reliability mask (0 on occluded pixels, 1 elsewhere: `flow.reliable`). Like the normalised
objective's other terms it is divided by its value at a reference, here the frame's own photo: 1
means "as far from the warped previous result as the unstylised photo is", so a weight of 1 trades
that distance against the whole content term (1 at the painting) and `strength` x the style term
(1 at the photo). Ruder et al.'s raw weight 1e3 against content 5 and style 1e2 does not carry over.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..images import to_pixels
from ..losses import LossTerms, StyleTransferLoss


@dataclass
class VideoTerms(LossTerms):
    """`LossTerms` plus the weighted temporal term (already in `total`)."""

    temporal: torch.Tensor | None = None


class TemporalLoss(nn.Module):
    """Masked mean squared RGB difference to the warped previous result, 1 at the frame's own photo."""

    def __init__(self, warped_previous: torch.Tensor, mask: torch.Tensor, photo: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", to_pixels(warped_previous.detach().float()))
        self.register_buffer("mask", mask.detach().float().to(warped_previous.device))
        self.register_buffer("scale", torch.ones(()))
        with torch.no_grad():
            at_photo = self.raw(photo.float())
        # an empty mask (a scene cut) makes the term 0 whatever the divisor
        if at_photo > torch.finfo(torch.float32).tiny:
            self.scale = at_photo

    def raw(self, image: torch.Tensor) -> torch.Tensor:
        """The unnormalised term of a normalised (1, 3, H, W) image."""
        return (self.mask * torch.square(to_pixels(image) - self.target)).mean()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """The term divided by its value at the photo."""
        return self.raw(image) / self.scale


class WithTemporal(nn.Module):
    """The course's objective (`StyleTransferLoss`) plus `weight` x a `TemporalLoss`; returns `VideoTerms`."""

    def __init__(self, base: StyleTransferLoss, temporal: TemporalLoss, *, weight: float) -> None:
        super().__init__()
        self.base, self.temporal, self.weight = base, temporal, float(weight)

    def forward(self, image: torch.Tensor) -> VideoTerms:
        """The base terms, with the weighted temporal term added to the total."""
        terms = self.base(image)
        t = self.weight * self.temporal(image.float())
        return VideoTerms(terms.content, terms.style, terms.tv, terms.total + t, terms.style_per_layer, t)
