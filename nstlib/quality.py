"""Measures of a stylised image's quality that the loss does not show.

`border_ratio` compares the fine detail (mean absolute Laplacian) in a thin frame along the
image's four edges with the detail inside it; `border_excess` divides an output's ratio by
the ratio of the photo it came from, so a value near 1 means the edges are no busier than
the photo's own edges. With d2l's weights the README example scores 1.96 (coloured
speckle in its outer pixels, from VGG's zero padding), 1.13 with reflected padding
(`FeatureExtractor(padding="reflect")`, the recipes' extractor); at the defaults 0.99 as saved.

Against the whole interior, the ratio also rises when the style adds its texture evenly to a
photo whose edges are calm (sky, blurred background), or smooths a busy interior: at the
defaults castle-maintenon scores 1.72 with a band exactly as busy as the 8 px inside it.
`ring=8` compares the band with the 8 px just inside it instead, which mainly an edge effect
raises (castle 1.26).

`result_ratios` measures how far a result went (docs/quality.md, "Measuring a result"): its style
ratio is its Gram distance to the painting over the photo's (summed over relu1_1 ... relu5_1;
0 = the painting's statistics, 1 = no closer than the photo), its content ratio its relu4_2
distance to the photo over the painting's (0 = the photo, 1 = as far as the painting). A result
that looks painted with its subject kept scores style <= 0.06 and content 0.15 ... 0.6.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from .errors import NSTError
from .features import STYLE_LAYERS, FeatureExtractor
from .images import to_pixels, to_rgb
from .losses import content_loss, gram, style_loss

#: The layers `result_ratios` looks through: the paper's style layers and Gatys' content layer.
MEASURE_LAYERS = (*STYLE_LAYERS, "relu4_2")

ImageLike = Image.Image | torch.Tensor | np.ndarray

_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def as_pixels(image: ImageLike) -> torch.Tensor:
    """PIL image, (H, W, 3) uint8 array, or normalised (1, 3, H, W) tensor -> (1, 3, H, W) RGB in [0, 1]."""
    if isinstance(image, Image.Image):
        image = np.asarray(to_rgb(image))
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[-1] != 3:
            raise NSTError(f"expected an (H, W, 3) array, got shape {image.shape}")
        scale = 255.0 if image.dtype == np.uint8 else 1.0
        pixels = torch.from_numpy(image.astype(np.float32) / scale).permute(2, 0, 1)[None]
        return pixels.clamp(0, 1)
    x = image.detach().to("cpu", torch.float32)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[:2] != (1, 3):
        raise NSTError(f"expected one normalised (1, 3, H, W) image, got shape {tuple(image.shape)}")
    return to_pixels(x).clamp(0, 1)  # what postprocess shows


def laplacian_magnitude(image: ImageLike) -> torch.Tensor:
    """|5-point Laplacian| per pixel, mean over RGB, as an (H, W) map (edges mirror-padded)."""
    x = as_pixels(image)
    kernel = _LAPLACIAN.view(1, 1, 3, 3).repeat(3, 1, 1, 1)
    lap = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), kernel, groups=3)
    return lap.abs().mean(dim=1)[0]


def distance_to_edge(h: int, w: int) -> torch.Tensor:
    """(H, W) map of each pixel's distance in px to the nearest image edge (0 on the edge)."""
    rows = torch.arange(h).view(-1, 1)
    cols = torch.arange(w).view(1, -1)
    return torch.minimum(torch.minimum(rows, h - 1 - rows), torch.minimum(cols, w - 1 - cols))


def border_ratio(image: ImageLike, *, band: int = 4, ring: int | None = None) -> float:
    """Mean |Laplacian| in the outer `band`-px frame over the mean inside it (or in the next `ring` px)."""
    lap = laplacian_magnitude(image)
    h, w = lap.shape
    depth = band + (ring or 0)
    if band < 1 or (ring is not None and ring < 1) or min(h, w) <= 2 * depth:
        raise NSTError(
            f"band and ring must be >= 1 px and leave an interior; got band={band}, ring={ring} on {w}x{h} px"
        )
    dist = distance_to_edge(h, w)
    inside = (dist >= band) if ring is None else (dist >= band) & (dist < depth)
    reference = lap[inside].mean()
    if reference <= 0:
        raise NSTError("the inside is flat (no detail to compare the border with)")
    return float(lap[dist < band].mean() / reference)


def border_excess(output: ImageLike, photo: ImageLike, *, band: int = 4, ring: int | None = None) -> float:
    """border_ratio(output) / border_ratio(photo): > 1 means the output's edges are busier."""
    return border_ratio(output, band=band, ring=ring) / border_ratio(photo, band=band, ring=ring)


@torch.no_grad()
def result_ratios(
    output: torch.Tensor, photo: torch.Tensor, style: torch.Tensor, extractor: FeatureExtractor | None = None
) -> dict[str, float]:
    """{"style": style ratio, "content": content ratio} of a normalised (1, 3, H, W) result; see the module."""
    ext = extractor if extractor is not None else FeatureExtractor(MEASURE_LAYERS, device=photo.device)
    missing = set(MEASURE_LAYERS) - set(ext.layers)
    if missing:
        raise NSTError(f"the extractor does not tap {sorted(missing)}; build it with layers=MEASURE_LAYERS")
    out, ph, st = ext(output), ext(photo), ext(style)
    # The style image at the photo's size, for the content distance (feature maps must align).
    resized = ext(F.interpolate(style, size=photo.shape[-2:], mode="bilinear", align_corners=False))

    def gram_distance(a: dict[str, torch.Tensor]) -> float:
        return sum(float(style_loss(a[n].float(), gram(st[n].float()))) for n in STYLE_LAYERS)

    def content_distance(a: dict[str, torch.Tensor]) -> float:
        return float(content_loss(a["relu4_2"].float(), ph["relu4_2"].float()))

    return {
        "style": gram_distance(out) / gram_distance(ph),
        "content": content_distance(out) / content_distance(resized),
    }
