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

`result_ratios` measures how far a result went (docs/quality.md, "Measuring a result"), as means of
per-layer ratios so that no layer dominates (raw Gram distances differ by orders of magnitude
between layers: summed, relu4_1's alone decided the ratio). Its style ratio is the mean over the
texture layers relu1_1 ... relu4_1 of each layer's Gram distance to the painting over the photo's
(0 = the painting's statistics, 1 = no closer than the photo); its content ratio the mean over
relu4_2 and relu5_1 of each layer's distance to the photo over the painting's (0 = the photo, 1 = as
far as the painting). relu5_1 is judged with the content because its units see whole objects
(156 px): on 16 photos outside the repository, where the painting's objects moved in (a wave over
two dogs, the Night Café's furniture in a garden) relu4_2's ratio alone rose from ~0.3 to ~0.5 and
relu5_1's from ~0.35 to ~0.7, while coarse-luminance and edge measures did not separate the two.
A result that looks painted with its subject kept scores style <= `STYLE_MAX` and content in
`CONTENT_BAND` (`in_band`).
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

#: The layers of `result_ratios`' style ratio (texture) and content ratio (layout and objects).
STYLE_MEASURE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
CONTENT_MEASURE_LAYERS = ("relu4_2", "relu5_1")
#: The layers `result_ratios` looks through: the paper's style layers and the content measure's.
MEASURE_LAYERS = (*STYLE_LAYERS, "relu4_2")
#: "Painted, subject recognisable" (derived by viewing results: docs/quality.md).
STYLE_MAX, CONTENT_BAND = 0.06, (0.15, 0.45)

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


def _region_loss(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor | None) -> torch.Tensor:
    """`content_loss`, or with `region` ((H, W) weights at the image's size) its weighted mean over the map."""
    if region is None:
        return content_loss(a, b)
    weights = F.interpolate(region[None, None].to(a), size=a.shape[-2:], mode="area")  # each cell's share
    return (weights * torch.square(a - b)).sum() / (weights.sum() * a.shape[1])


@torch.no_grad()
def result_ratios(
    output: torch.Tensor,
    photo: torch.Tensor,
    style: torch.Tensor,
    extractor: FeatureExtractor | None = None,
    *,
    region: torch.Tensor | None = None,
) -> dict[str, float]:
    """{"style": style ratio, "content": content ratio} of a normalised (1, 3, H, W) result; see the module.

    `region` ((H, W) weights in [0, 1], e.g. a bool mask of the moving pixels) restricts the content
    ratio to those pixels (each feature cell weighted by its share of them); the style ratio is a
    statistic of the whole picture and is not restricted.
    """
    ext = extractor if extractor is not None else FeatureExtractor(MEASURE_LAYERS, device=photo.device)
    missing = set(MEASURE_LAYERS) - set(ext.layers)
    if region is not None and (region.shape != photo.shape[-2:] or not region.any()):
        raise NSTError(f"region must be a non-empty (H, W) map at the photo's size {tuple(photo.shape[-2:])}")
    if missing:
        raise NSTError(f"the extractor does not tap {sorted(missing)}; build it with layers=MEASURE_LAYERS")
    out, ph, st = ext(output), ext(photo), ext(style)
    # The style image at the photo's size, for the content distance (feature maps must align).
    resized = ext(F.interpolate(style, size=photo.shape[-2:], mode="bilinear", align_corners=False))

    def style_ratio(n: str) -> float:
        target = gram(st[n].float())
        return float(style_loss(out[n].float(), target) / style_loss(ph[n].float(), target))

    def content_ratio(n: str) -> float:
        return float(
            _region_loss(out[n].float(), ph[n].float(), region)
            / _region_loss(resized[n].float(), ph[n].float(), region)
        )

    return {
        "style": sum(map(style_ratio, STYLE_MEASURE_LAYERS)) / len(STYLE_MEASURE_LAYERS),
        "content": sum(map(content_ratio, CONTENT_MEASURE_LAYERS)) / len(CONTENT_MEASURE_LAYERS),
    }


def in_band(ratios: dict[str, float]) -> bool:
    """Whether `result_ratios` are in the "painted, subject recognisable" band."""
    return ratios["style"] <= STYLE_MAX and CONTENT_BAND[0] <= ratios["content"] <= CONTENT_BAND[1]


def _patch_rows(pixels: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """Up to `n` random 3x3 RGB patches of (1, 3, H, W) pixels, one per row: (n, 27)."""
    rows = F.unfold(pixels.float(), 3)[0].T  # (positions, 27)
    pick = torch.randperm(len(rows), generator=generator)[:n]
    return rows[pick]


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, *, directions: int = 64, seed: int = 0) -> float:
    """Mean 1-D Wasserstein distance between two point clouds (rows) along random unit directions."""
    g = torch.Generator().manual_seed(seed)
    d = F.normalize(torch.randn(a.shape[1], directions, generator=g), dim=0)
    q = torch.linspace(0, 1, 256)
    pa, pb = torch.quantile(a @ d, q, dim=0), torch.quantile(b @ d, q, dim=0)
    return float((pa - pb).abs().mean())


def _edges(pixels: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude of the luminance at half size: where the picture's shapes are outlined."""
    y = (pixels.float() * pixels.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    y = F.avg_pool2d(y, 2)
    gx, gy = y[..., :, 1:] - y[..., :, :-1], y[..., 1:, :] - y[..., :-1, :]
    return (gx[..., :-1, :] ** 2 + gy[..., :, :-1] ** 2).sqrt()


@torch.no_grad()
def patch_ratios(
    output: ImageLike, photo: ImageLike, painting: ImageLike, *, n: int = 20000
) -> dict[str, float]:
    """A second judge, without VGG: {"style": patch-statistics ratio, "content": edge ratio}.

    style: the sliced Wasserstein distance between the result's 3x3 RGB patches and the painting's
    (palette and the finest texture, at full and half size), over the photo's distance to the
    painting (0 = the painting's patches, 1 = no closer than the photo). content: the mean
    difference of the luminance edges from the photo's, over the painting's (at the photo's size);
    0 = the photo's outlines, 1 = as different as the painting's. For results judged also by
    `result_ratios`, whose Gram matrices some methods (whitening and colouring) aim at directly.
    """
    out, ph, pa = (as_pixels(x) for x in (output, photo, painting))
    if min(ph.shape[-2:]) < 8:
        raise NSTError(f"the photo is {tuple(ph.shape[-2:])} px: patch_ratios needs at least 8 px a side")
    if out.shape != ph.shape:
        raise NSTError(
            f"the result is {tuple(out.shape[-2:])} px and the photo {tuple(ph.shape[-2:])}: judge them at one size"
        )
    style = []
    for scale in (1, 2):
        o, p, s = (F.avg_pool2d(x, scale) if scale > 1 else x for x in (out, ph, pa))
        g = torch.Generator().manual_seed(scale)
        rows = [_patch_rows(x, n, g) for x in (o, p, s)]
        style.append(sliced_wasserstein(rows[0], rows[2]) / max(sliced_wasserstein(rows[1], rows[2]), 1e-8))
    resized = F.interpolate(pa, size=ph.shape[-2:], mode="bilinear", align_corners=False)
    e_photo = _edges(ph)
    content = (_edges(out) - e_photo).abs().mean() / (_edges(resized) - e_photo).abs().mean().clamp_min(1e-8)
    return {"style": sum(style) / len(style), "content": float(content)}
