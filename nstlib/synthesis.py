"""The image as parameters: what the optimiser changes is the picture itself."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .errors import NSTError, check_choice
from .images import from_pixels, to_pixels

INITS = ("content", "noise", "style")
PARAMETRIZATIONS = ("pixels", "fourier")


def init_image(
    content: torch.Tensor, style: torch.Tensor | None = None, init: str = "content", seed: int = 0
) -> torch.Tensor:
    """Starting picture, shaped like the content: a copy of it, white noise, or the style.

    "noise" draws every pixel uniformly from [0, 1] (then normalises), as Gatys et al. do;
    "style" resizes the style image to the content's size (bilinear), once per photo of a batch.
    """
    if check_choice("init", init, INITS) == "content":
        return content.detach().clone()
    if init == "noise":
        gen = torch.Generator().manual_seed(seed)  # CPU generator: same noise on every device
        return from_pixels(torch.rand(content.shape, generator=gen).to(content))
    if style is None:
        raise NSTError("init='style' needs the style image")
    start = F.interpolate(style.detach(), size=content.shape[-2:], mode="bilinear", align_corners=False)
    return start.expand(content.shape[0], -1, -1, -1).contiguous()


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


class FourierImage(nn.Module):
    """A (1, 3, H, W) image held as its start plus a change stored as a scaled 2-D spectrum.

    Frequency f's coefficient is multiplied by (f / f_lowest) ** -decay, so one optimiser step
    moves coarse structure more than pixel-level noise: a preconditioner, after Mordvintsev et
    al. 2018 ("Differentiable Image Parameterizations"). It reaches a given loss in fewer
    L-BFGS passes than pixels (measured in benchmarks/); the optimum is the same, as any image
    is some start + spectrum. With all coefficients zero, forward() returns the start exactly.
    """

    def __init__(self, image: torch.Tensor, decay: float = 0.5) -> None:
        super().__init__()
        if not decay >= 0:
            raise NSTError(f"decay must be >= 0 (0 = every frequency alike), got {decay}")
        h, w = image.shape[-2:]
        fy = torch.fft.fftfreq(h).view(-1, 1)
        fx = torch.fft.rfftfreq(w).view(1, -1)
        lowest = 1.0 / max(h, w)  # the DC term gets the lowest frequency's scale, not infinity
        freq = torch.sqrt(fx**2 + fy**2).clamp(min=lowest)
        self.register_buffer("start", image.detach().clone())
        self.register_buffer("scale", (freq / lowest).pow(-decay).to(image))
        # real and imaginary parts as a last axis of 2: L-BFGS works on real tensors
        self.weight = nn.Parameter(image.new_zeros(*image.shape[:-1], w // 2 + 1, 2))

    def forward(self) -> torch.Tensor:
        """The current image: start + inverse FFT of the scaled spectrum."""
        spectrum = torch.view_as_complex(self.weight) * self.scale
        return self.start + torch.fft.irfft2(spectrum, s=self.start.shape[-2:], norm="ortho")


class InRange(nn.Module):
    """Another image module's picture with its pixels clamped to [0, 1]: the loss sees what is saved.

    The optimiser may push pixels past the displayable range, and `postprocess` clamps them when
    a result is shown or saved; on some pairs that clamp undoes much of the style (flower /
    Composition VIII at 256 px: style ratio 0.030 as optimised, 0.127 as the command line saved it).
    Clamping in the forward pass optimises the saved picture instead (0.035 saved with the 8-px
    mirrored margin used then, 0.031 with reflected padding: benchmarks/results/quality-cpu.md).
    A clamped pixel gets no gradient of its own, but in a `FourierImage` every coefficient moves
    every pixel.
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self) -> torch.Tensor:
        """The inner image, clamped to the displayable range (normalised like the input)."""
        return from_pixels(to_pixels(self.inner()).clamp(0, 1))


def parametrize(image: torch.Tensor, parametrization: str = "pixels", *, in_range: bool = False) -> nn.Module:
    """The image as parameters: `SynthesizedImage` ("pixels") or `FourierImage` ("fourier").

    `in_range=True` wraps it in `InRange`, so the loss sees the picture as it will be saved.
    """
    if check_choice("parametrization", parametrization, PARAMETRIZATIONS) == "pixels":
        synth: nn.Module = SynthesizedImage(image)
    else:
        synth = FourierImage(image)
    return InRange(synth) if in_range else synth
