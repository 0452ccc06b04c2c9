"""The decoders: VGG-19 mirrored from one relu{b}_1 layer back to pixels (Li et al. 2017).

Each decoder undoes the encoder up to its layer: a 3x3 convolution for each of VGG's, in reverse,
with nearest-neighbour upsampling where VGG pools. Mirrored padding, as in the course's extractor,
so the picture's edge is not a dark frame. The decoder of relu{b}_1 ends with the whole decoder of
relu{b-1}_1 (see `LAYOUTS`), which is how a deeper one starts from a shallower one's weights.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import NSTError
from ..features import BORDER_PADDING, FeatureExtractor
from ..images import from_pixels

#: The layers a decoder can invert, shallow to deep: the first ReLU of each VGG block.
LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")

#: VGG-19's convolutions up to each level, (in, out) channels; "M" is a pool. The decoder runs them backwards.
_VGG = [(3, 64), (64, 64), "M", (64, 128), (128, 128), "M", (128, 256), (256, 256), (256, 256), (256, 256), "M",
        (256, 512)]  # fmt: skip
_DEPTH = {"relu1_1": 1, "relu2_1": 4, "relu3_1": 7, "relu4_1": 12}  # entries of _VGG up to the level


def layout(level: str) -> list[tuple[int, int] | str]:
    """The decoder of `level` as a list of convolutions (in, out) and "U" (2x upsampling), input first."""
    if level not in _DEPTH:
        raise NSTError(f"no decoder for {level!r}; choose one of {', '.join(LEVELS)}")
    out: list[tuple[int, int] | str] = []
    for entry in reversed(_VGG[: _DEPTH[level]]):
        out.append("U" if entry == "M" else (entry[1], entry[0]))  # each conv backwards: out -> in
    return out


#: Every decoder's layout (read in chapter 10): relu2_1's ends with relu1_1's single conv, and so on.
LAYOUTS = {level: layout(level) for level in LEVELS}


class Decoder(nn.Module):
    """VGG-19 features at `level` (N, C, H/s, W/s) -> RGB pixels (N, 3, H, W), about [0, 1]."""

    def __init__(self, level: str = "relu3_1") -> None:
        super().__init__()
        self.level = level
        self.config = {"level": level}
        steps = layout(level)
        layers: list[nn.Module] = []
        for i, step in enumerate(steps):
            if step == "U":
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            layers.append(nn.Conv2d(*step, kernel_size=3, padding=1, padding_mode="reflect"))
            if i < len(steps) - 1:  # the last conv gives pixels: no ReLU after it
                layers.append(nn.ReLU(inplace=True))
        self.net = nn.Sequential(*layers)

    @property
    def stride(self) -> int:
        """How many pixels one feature position spans (2 per pool up to the level)."""
        return 2 ** sum(1 for s in layout(self.level) if s == "U")

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Pixels from features: (N, C, h, w) -> (N, 3, h * stride, w * stride)."""
        return self.net(features)

    def warm_start(self, other: Decoder) -> int:
        """Copy another decoder's weights: all of one of this level, or a shallower one's into this one's tail.

        Returns how many convolutions it copied. The decoder of relu{b}_1 ends with the decoder of
        relu{b-1}_1, layer for layer, so training starts with the finer part already able to paint
        pixels from mid-level features.
        """
        mine = [m for m in self.net if isinstance(m, nn.Conv2d)]
        theirs = [m for m in other.net if isinstance(m, nn.Conv2d)]
        if other.level == self.level:
            self.load_state_dict(other.state_dict())
            return len(mine)
        if len(theirs) >= len(mine):
            raise NSTError(
                f"{other.level} is not shallower than {self.level}; warm-start from a shallower decoder"
            )
        for a, b in zip(mine[len(mine) - len(theirs) :], theirs):
            a.load_state_dict(b.state_dict())
        return len(theirs)


def pad_to_stride(x: torch.Tensor, stride: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Mirror-pad (N, C, H, W) on the right and bottom to multiples of `stride`; returns it and (H, W) to crop back."""
    h, w = x.shape[-2:]
    ph, pw = -h % stride, -w % stride
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
    return x, (h, w)


def encoder_for(levels: tuple[str, ...], *, device: torch.device | str = "cpu", net=None) -> FeatureExtractor:
    """The frozen VGG-19 the decoders invert: the course's extractor with mirrored padding (as `stylize`)."""
    return FeatureExtractor(levels, net=net, device=device, padding=BORDER_PADDING)


def reconstruct(decoder: Decoder, encoder: FeatureExtractor, pixels: torch.Tensor) -> torch.Tensor:
    """The decoder's picture of `pixels`' own features (no style): (1, 3, H, W) in, same shape out."""
    padded, (h, w) = pad_to_stride(pixels, decoder.stride)
    return decoder(encoder(from_pixels(padded), layers=[decoder.level])[decoder.level])[..., :h, :w]
