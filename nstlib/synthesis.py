"""The image as parameters: what the optimiser changes is the picture itself."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .errors import NSTError
from .images import IMAGENET_MEAN, IMAGENET_STD

INITS = ("content", "noise", "style")


def init_image(
    content: torch.Tensor, style: torch.Tensor | None = None, init: str = "content", seed: int = 0
) -> torch.Tensor:
    """Starting picture, shaped like the content: a copy of it, white noise, or the style.

    "noise" draws every pixel uniformly from [0, 1] (then normalises), as Gatys et al. do;
    "style" resizes the style image to the content's size (bilinear).
    """
    if init == "content":
        return content.detach().clone()
    if init == "noise":
        gen = torch.Generator().manual_seed(seed)  # CPU generator: same noise on every device
        pixels = torch.rand(content.shape, generator=gen).to(content)
        mean = content.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = content.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (pixels - mean) / std
    if init == "style":
        if style is None:
            raise NSTError("init='style' needs the style image")
        return F.interpolate(style.detach(), size=content.shape[-2:], mode="bilinear", align_corners=False)
    raise NSTError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")


class SynthesizedImage(nn.Module):
    """A (1, 3, H, W) normalised image held as an nn.Parameter, so optimisers can update it."""

    def __init__(self, image: torch.Tensor) -> None:
        super().__init__()
        # contiguous: L-BFGS views the gradient as one flat vector
        self.weight = nn.Parameter(image.detach().clone().contiguous())

    @classmethod
    def from_init(
        cls, content: torch.Tensor, style: torch.Tensor | None = None, init: str = "content", seed: int = 0
    ) -> SynthesizedImage:
        """Build one from `init_image`'s starting points."""
        return cls(init_image(content, style, init, seed))

    def forward(self) -> torch.Tensor:
        """The current image."""
        return self.weight
