"""The feed-forward network: Johnson et al. 2016's image transformer with Ulyanov et al.'s instance norm.

Shapes for a (N, 3, H, W) photo in pixels [0, 1] at the default `width=16` (half Johnson's 32):

    stem    9x9 conv, 16 ch            (N, 16, H,   W)
    down    3x3 stride 2 convs, 32, 64 (N, 64, H/4, W/4)
    blocks  5 residual blocks of 64    (N, 64, H/4, W/4)
    up      2x nearest + 3x3 conv, 32, 16  (N, 16, H, W)
    head    9x9 conv to 3, sigmoid     (N, 3, H, W): pixels in [0, 1]

Every convolution pads by reflection (zero padding paints a frame, as it does for the optimised
image) and upsampling is nearest-neighbour then a convolution: a transposed convolution's uneven
overlap leaves a checkerboard. H and W need not be multiples of 4: the output is cropped or padded
back to the photo's size.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import NSTError, check_choice, check_count

#: Normalisations a layer can use: per image ("instance", Ulyanov et al.) or per batch ("batch").
NORMS = ("instance", "batch")


def _norm(channels: int, norm: str) -> nn.Module:
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.BatchNorm2d(channels)


class ConvLayer(nn.Sequential):
    """Reflection-padded convolution, optionally after a 2x upsampling, then norm and ReLU."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, *, stride: int = 1, up: bool = False, norm: str | None
    ) -> None:
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")] if up else []
        layers.append(nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, padding_mode="reflect"))
        if norm is not None:
            layers += [_norm(c_out, norm), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions whose output is added to the input (He et al.; Johnson's blocks)."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, norm=norm)
        self.conv2 = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"), _norm(channels, norm)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + F(x): the block only has to learn a change."""
        return x + self.conv2(self.conv1(x))


class TransformerNet(nn.Module):
    """Photo in, stylised photo out, in one pass: pixels (N, 3, H, W) in [0, 1] -> the same shape."""

    def __init__(self, *, width: int = 16, blocks: int = 5, norm: str = "instance") -> None:
        super().__init__()
        check_count("width", width, 1)
        check_count("blocks", blocks, 0)
        check_choice("norm", norm, NORMS)
        self.config = {"width": width, "blocks": blocks, "norm": norm}
        w = width
        self.down = nn.Sequential(
            ConvLayer(3, w, 9, norm=norm),
            ConvLayer(w, 2 * w, 3, stride=2, norm=norm),
            ConvLayer(2 * w, 4 * w, 3, stride=2, norm=norm),
        )
        self.blocks = nn.Sequential(*(ResidualBlock(4 * w, norm) for _ in range(blocks)))
        self.up = nn.Sequential(
            ConvLayer(4 * w, 2 * w, 3, up=True, norm=norm),
            ConvLayer(2 * w, w, 3, up=True, norm=norm),
            ConvLayer(w, 3, 9, norm=None),
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Stylise a batch of RGB images in [0, 1]; the output has the input's height and width."""
        if pixels.dim() != 4 or pixels.shape[1] != 3:
            raise NSTError(f"expected (N, 3, H, W) pixels, got shape {tuple(pixels.shape)}")
        h, w = pixels.shape[-2:]
        if min(h, w) < 16:
            raise NSTError(f"the photo is {w}x{h} px; the network needs at least 16 px a side")
        y = self.up(self.blocks(self.down(pixels)))
        # Two stride-2 convolutions and two 2x upsamplings give back H rounded up to a multiple of 4.
        y = F.pad(y, (0, max(0, w - y.shape[-1]), 0, max(0, h - y.shape[-2])), mode="replicate")
        return torch.sigmoid(y[..., :h, :w])

    def parameter_count(self) -> int:
        """How many numbers training learns."""
        return sum(p.numel() for p in self.parameters())
