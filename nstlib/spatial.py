"""Spatial control (Gatys et al. 2017): masks decide which style goes where.

A mask is a (1, 1, H, W) float tensor with 1 inside its region and 0 outside, at the content's
size. Build one from a rectangle, from a colour in the content photo, or from a black-and-white
image file (`load_mask`). `GuidedStyleTransferLoss` measures each region's style with a *guided*
Gram matrix: the features multiplied by the region's mask (downsampled to each layer), divided by
the sum of the squared mask (the region's area where the mask is 0 or 1), so a small region is
held to the same statistics as a large one, also where pooling leaves fractional edges.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from .errors import NSTError
from .features import STYLE_LAYERS, FeatureExtractor
from .images import load_image, to_pixels
from .losses import BufferDict, StyleTransferLoss, blend_weights, gram

#: At most this share of a mask's pixels may be gray (anti-aliased edges); more is refused.
MAX_GRAY_SHARE = 0.05


def rectangle_mask(
    shape: tuple[int, int],
    top: float,
    left: float,
    bottom: float,
    right: float,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """1 inside the rectangle given in fractions of (height, width), e.g. top=0, bottom=0.5."""
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        raise NSTError(
            f"rectangle must satisfy 0 <= top < bottom <= 1 and 0 <= left < right <= 1, got {(top, left, bottom, right)}"
        )
    h, w = shape
    mask = torch.zeros(1, 1, h, w, device=device)
    mask[..., round(top * h) : round(bottom * h), round(left * w) : round(right * w)] = 1
    return mask


def color_mask(image: torch.Tensor, rgb: Sequence[float], tolerance: float = 0.25) -> torch.Tensor:
    """1 where a normalised image's pixel is within `tolerance` (RGB distance, 0..1 scale) of `rgb`."""
    target = torch.tensor([float(v) for v in rgb], device=image.device).view(1, 3, 1, 1)
    if target.max() > 1:
        target = target / 255  # given as 0..255
    distance = (to_pixels(image) - target).norm(dim=1, keepdim=True)
    return (distance <= tolerance).float()


def load_mask(path: str | Path, shape: tuple[int, int]) -> torch.Tensor:
    """Read a black-and-white mask file (white = region) at the content's (height, width).

    A mask with the content's aspect ratio but another size is resized, with a warning; one
    with another aspect ratio, or with more than 5% gray pixels, is refused.
    """
    img = load_image(path).convert("L")
    h, w = shape
    if abs(img.width / img.height - w / h) > 0.01 * (w / h):
        raise NSTError(
            f"{path}: mask is {img.width}x{img.height} px, the content {w}x{h}: different aspect ratio; "
            "draw the mask on a copy of the content image"
        )
    if img.size != (w, h):
        warnings.warn(f"{path}: mask resized from {img.width}x{img.height} to {w}x{h} px", stacklevel=2)
        img = img.resize((w, h), Image.Resampling.NEAREST)
    a = np.asarray(img, dtype=np.float32) / 255
    gray = float(((a > 0.1) & (a < 0.9)).mean())
    if gray > MAX_GRAY_SHARE:
        raise NSTError(
            f"{path}: not a black-and-white mask ({gray:.0%} of pixels are gray); paint the region "
            "pure white on black, or threshold the image first"
        )
    return torch.from_numpy((a >= 0.5).astype(np.float32))[None, None]


def _check_masks(masks: Sequence[torch.Tensor], shape: tuple[int, int]) -> list[torch.Tensor]:
    out = []
    for i, m in enumerate(masks):
        if m.dim() != 4 or m.shape[:2] != (1, 1):
            raise NSTError(f"mask {i + 1} must have shape (1, 1, H, W), got {tuple(m.shape)}")
        if tuple(m.shape[-2:]) != shape:
            raise NSTError(
                f"mask {i + 1} is {tuple(m.shape[-2:])} (H, W), the content {shape}; resize it to the content"
            )
        if m.min() < 0 or m.max() > 1:
            raise NSTError(f"mask {i + 1} has values outside [0, 1]")
        if m.sum() == 0:
            raise NSTError(f"mask {i + 1} is empty: no pixel belongs to its region")
        out.append(m.float())
    return out


def guided_gram(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Gram matrix of the features inside `mask` (at the features' size), divided by C * sum(mask^2)."""
    n, c, h, w = x.shape
    f = (x * mask).reshape(n, c, h * w)
    # Each position enters the product with weight mask^2, so mask^2 is what to divide by: a
    # fractional edge (a pooled mask at a deep layer) then does not shrink a small region's Gram.
    return f @ f.transpose(1, 2) / (c * mask.square().sum().clamp_min(1e-8))


class GuidedGramStyle(nn.Module):
    """The style term of a guided loss: style i applies only inside masks[i] (a style may be None).

    Per layer, the sum over regions of `region_weights[i]` times the style loss between the
    guided Gram of the image inside mask i and the style's own Gram. Regions whose style is
    None are held to the content alone. `region_weights` are proportions scaled to average 1:
    equal weights, e.g. [1, 1], are the default; [3, 1] gives 1.5 and 0.5.
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor | None],
        masks: Sequence[torch.Tensor],
        layers: Sequence[str] = STYLE_LAYERS,
        *,
        region_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if len(styles) != len(masks):
            raise NSTError(
                f"{len(styles)} styles for {len(masks)} masks; give one mask per style (None for 'no style')"
            )
        if all(s is None for s in styles):
            raise NSTError("give at least one style for the regions")
        masks = _check_masks(masks, tuple(content.shape[-2:]))
        weights = [len(styles) * w for w in blend_weights(region_weights, len(styles))]
        self.layers = tuple(layers)
        self.regions = []  # (weight, {layer: mask at that layer's size}, {layer: target Gram})
        self.region_tensors = nn.ModuleList()  # the same dicts, registered: they follow .to()
        with torch.no_grad():
            sizes = {n: f.shape[-2:] for n, f in extractor(content).items()}
            for i, (style, mask, weight) in enumerate(zip(styles, masks, weights, strict=True)):
                if style is None:
                    continue
                extractor.check_input(style, f"style image {i + 1}")
                feats = extractor(style)
                targets = BufferDict({n: gram(feats[n]).float() for n in self.layers})
                layer_masks = BufferDict(
                    {n: F.adaptive_avg_pool2d(mask.to(content), sizes[n]) for n in self.layers}
                )
                self.regions.append((weight, layer_masks, targets))
                self.region_tensors.extend([layer_masks, targets])

    def forward(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Per layer: the weighted sum over regions of the guided-Gram style losses."""
        out = {}
        for n in (n for n in self.layers if n in feats):  # a loss leaves out layers it weighs 0
            out[n] = sum(
                w * torch.square(guided_gram(feats[n], masks[n]) - targets[n]).mean()
                for w, masks, targets in self.regions
            )
        return out


class GuidedStyleTransferLoss(StyleTransferLoss):
    """Gatys' objective with a `GuidedGramStyle` style term: each style only inside its mask.

    Outside every styled region the style term exerts no pull, so the photo stays as it was,
    apart from a margin of a few pixels that the deeper layers' receptive fields reach across
    the border. Options after `masks` are `StyleTransferLoss`'s.
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor | None],
        masks: Sequence[torch.Tensor],
        *,
        region_weights: Sequence[float] | None = None,
        style_layers: Sequence[str] = STYLE_LAYERS,
        **options,
    ) -> None:
        term = GuidedGramStyle(extractor, content, styles, masks, style_layers, region_weights=region_weights)
        options.setdefault("content_reference", next(s for s in styles if s is not None))
        super().__init__(extractor, content, term, style_layers=style_layers, **options)
