"""The temporal loss (Ruder et al. 2016), added to the course's objective as one more term.

E_temporal = mean over pixels of c(x) * (x_t(x) - warp(x_{t-1})(x))^2, on RGB in [0, 1], with c the
reliability mask (0 on occluded pixels, 1 elsewhere: `flow.reliable`). Like the normalised
objective's other terms it is divided by its value at a reference, here the frame's own photo: 1
means "as far from the warped previous result as the unstylised photo is", so a weight of 1 trades
that distance against the whole content term (1 at the painting) and `strength` x the style term
(1 at the photo). Ruder et al.'s raw weight 1e3 against content 5 and style 1e2 does not carry over.

The frame-difference loss (Xu, Xiong & Hu 2021, "FDB") needs no flow: the result's change from the
previous result should equal the photo's change from the previous photo, everywhere,
mean of ((x_t - x_{t-1}) - (I_t - I_{t-1}))^2 in RGB plus the same on VGG features (Xu et al. use
both; they trained feed-forward networks with it). Normalised the same way, at the frame's photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..features import FeatureExtractor
from ..images import to_pixels
from ..losses import LossTerms, StyleTransferLoss


@dataclass
class VideoTerms(LossTerms):
    """`LossTerms` plus the weighted temporal term (already in `total`)."""

    temporal: torch.Tensor | None = None


def _normaliser(value: torch.Tensor) -> torch.Tensor:
    """A term's value at the photo as its divisor; 1 where that is 0 (nothing to normalise by)."""
    return value if value > torch.finfo(torch.float32).tiny else torch.ones_like(value)


class TemporalLoss(nn.Module):
    """Masked mean squared RGB difference to the warped previous result, 1 at the frame's own photo."""

    def __init__(self, warped_previous: torch.Tensor, mask: torch.Tensor, photo: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", to_pixels(warped_previous.detach().float()))
        self.register_buffer("mask", mask.detach().float().to(warped_previous.device))
        with torch.no_grad():
            # an empty mask (a scene cut) makes the term 0 whatever the divisor
            self.register_buffer("scale", _normaliser(self.raw(photo.float())))

    def raw(self, image: torch.Tensor) -> torch.Tensor:
        """The unnormalised term of a normalised (1, 3, H, W) image."""
        return (self.mask * torch.square(to_pixels(image) - self.target)).mean()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """The term divided by its value at the photo."""
        return self.raw(image) / self.scale


class FrameDifferenceLoss(nn.Module):
    """Xu et al.'s frame-difference loss: ((x_t - x_{t-1}) - (I_t - I_{t-1}))^2 in RGB and features; 1 at the photo.

    `previous` is the previous *result* as it is (no flow), `previous_photo` and `photo` the two
    photos, all normalised (1, 3, H, W). `features` (optional) adds the same difference on its
    layers, each term divided by its value at the photo and the terms averaged.
    """

    def __init__(
        self,
        previous: torch.Tensor,
        previous_photo: torch.Tensor,
        photo: torch.Tensor,
        *,
        features: FeatureExtractor | None = None,
    ) -> None:
        super().__init__()
        self.features = features
        with torch.no_grad():
            # (x_t - x_{t-1}) - (I_t - I_{t-1}) = x_t - (x_{t-1} + I_t - I_{t-1}): one fixed target per space
            self.register_buffer(
                "target", to_pixels(previous.float() + photo.float() - previous_photo.float())
            )
            self.targets = {}
            if features is not None:
                now, before, past = (
                    features(photo.float()),
                    features(previous_photo.float()),
                    features(previous.float()),
                )
                self.targets = {n: (past[n] + now[n] - before[n]).detach() for n in features.layers}
            self.scales = {k: _normaliser(v) for k, v in self.raw(photo.float()).items()}

    def raw(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unnormalised terms of a normalised (1, 3, H, W) image: "pixels" and one per feature layer."""
        terms = {"pixels": torch.square(to_pixels(image) - self.target).mean()}
        if self.features is not None:
            got = self.features(image)
            terms |= {n: torch.square(got[n] - t).mean() for n, t in self.targets.items()}
        return terms

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """The mean of the terms, each divided by its value at the photo."""
        terms = self.raw(image)
        return sum(terms[k] / self.scales[k] for k in terms) / len(terms)


class WithTemporal(nn.Module):
    """The course's objective (`StyleTransferLoss`) plus `weight` x a temporal term; returns `VideoTerms`."""

    def __init__(
        self, base: StyleTransferLoss, temporal: TemporalLoss | FrameDifferenceLoss, *, weight: float
    ) -> None:
        super().__init__()
        self.base, self.temporal, self.weight = base, temporal, float(weight)

    def forward(self, image: torch.Tensor) -> VideoTerms:
        """The base terms, with the weighted temporal term added to the total."""
        terms = self.base(image)
        t = self.weight * self.temporal(image.float())
        return VideoTerms(terms.content, terms.style, terms.tv, terms.total + t, terms.style_per_layer, t)
