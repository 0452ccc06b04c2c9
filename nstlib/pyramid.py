"""Coarse-to-fine: optimise a small image first, upsample it, refine at the next size."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn import functional as F

from .errors import NSTError
from .features import FeatureExtractor
from .losses import StyleTransferLoss
from .synthesis import init_image, parametrize
from .training import TrainResult, train


def rescale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Resize a (1, 3, H, W) image by `factor` (antialiased bilinear, at least 1 px a side)."""
    if factor == 1:
        return x
    size = [max(1, round(s * factor)) for s in x.shape[-2:]]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=factor < 1)


def pyramid_stylize(
    content: torch.Tensor,
    style: torch.Tensor | Sequence[torch.Tensor | None],
    extractor: FeatureExtractor,
    *,
    steps: Sequence[int] = (150, 100),
    make_loss: Callable[..., StyleTransferLoss] = StyleTransferLoss,
    init: str = "content",
    seed: int = 0,
    parametrization: str = "pixels",
    stop_below: float | None = None,
    **train_kwargs,
) -> TrainResult:
    """Stylise at len(steps) sizes, each twice the previous; the last is the content's own size.

    Content and style shrink by the same factor at each level, so the strokes keep their size
    relative to the picture. `steps[k]` steps run at level k; `stop_below` applies at the full
    size only. Between levels only the change is upsampled: level k+1 starts from its own
    `init` image plus upsample(result k - start image k), so the photo keeps its full-size
    detail. `make_loss(extractor, content, style)` builds each level's objective (default:
    `StyleTransferLoss` with its defaults); it gets `style` as given, rescaled (a list stays a
    list; None entries stay None). Each level holds its image as `parametrization` says
    ("pixels" or "fourier", see `parametrize`). The returned history runs on across levels, with a "level"
    entry (0 = coarsest) per step. It gives large outputs the painting's large shapes; it does not
    reach Gatys' loss sooner than single scale (measured in chapter 7: a Gram matrix measures patterns
    of a fixed size in pixels, so what the coarse level matched is not what the full-size loss weighs).
    """
    if not steps or any(not isinstance(n, int) or n < 0 for n in steps):
        raise NSTError(f"steps must be a non-empty list of whole numbers >= 0, got {list(steps)}")
    levels = len(steps)
    smallest = min(content.shape[-2:]) / 2 ** (levels - 1)
    if levels > 1 and smallest < extractor.min_size:  # one level: the loss names the image
        raise NSTError(
            f"{levels} pyramid levels shrink the content to {smallest:.0f} px, below the "
            f"{extractor.min_size} px the network needs; use fewer levels or a larger image"
        )
    image: torch.Tensor | None = None
    change: torch.Tensor | None = None  # what the coarser levels did to their start image
    history: dict[str, list[float]] = {}
    evaluations, seconds = 0, 0.0
    for level, n in enumerate(steps):
        factor = 0.5 ** (levels - 1 - level)
        c = rescale(content, factor)
        if isinstance(style, torch.Tensor):
            s = first = rescale(style, factor)
        else:
            s = [None if x is None else rescale(x, factor) for x in style]
            first = next((x for x in s if x is not None), None)
        base = init_image(c, first, init, seed)
        # Upsample only what the coarser level changed, and add it to this level's own start
        # image: upsampling the whole image would blur away the photo's fine detail (measured:
        # a loss above the plain content start's), which the fine level must then rebuild.
        start = base
        if change is not None:
            start = base + F.interpolate(change, size=c.shape[-2:], mode="bilinear", align_corners=False)
        last = level == levels - 1
        r = train(
            parametrize(start, parametrization),
            make_loss(extractor, c, s),
            steps=n,
            stop_below=stop_below if last else None,
            **train_kwargs,
        )
        image = r.image
        change = image - base
        offset_step = history["step"][-1] if history.get("step") else 0
        for key, values in r.history.items():
            if key == "step":
                values = [v + offset_step for v in values]
            elif key == "seconds":
                values = [v + seconds for v in values]
            history.setdefault(key, []).extend(values)
        history.setdefault("level", []).extend([level] * len(r.history["step"]))
        evaluations += r.evaluations
        seconds += r.seconds
    return TrainResult(image, history, evaluations, seconds)
