"""Recipes built on the engine: `stylize` (one call from photos to result) and `pyramid_stylize`.

Their defaults are the command line's (`python -m nstlib`): L-BFGS on the image's spectrum
(`FourierImage`), content start, precision "auto", the normalised objective at `DEFAULT_STRENGTH`
(a painted look with the subject kept on every measured pair: docs/quality.md), and a stop rule: at
most `DEFAULT_STEPS` steps, fewer once the loss falls by less than `DEFAULT_TOL` over `DEFAULT_WINDOW`.
From `SKETCH_FROM` px on, when `steps` is not given, a light half-size sketch runs first and the full
size at most `AFTER_SKETCH_STEPS` steps (docs/speed.md). Giving `style_weight` switches to d2l's raw objective, and with it the content layer: weights
1 / 1e4 / 10 with content conv4_2 (`CONTENT_LAYERS`) instead of relu4_2 (`NORMALIZED_CONTENT_LAYERS`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .errors import NSTError, check_count
from .features import (
    BORDER_PADDING,
    CONTENT_LAYERS,
    NORMALIZED_CONTENT_LAYERS,
    STYLE_LAYERS,
    FeatureExtractor,
)
from .losses import BY_SIZE, StyleTransferLoss
from .synthesis import init_image, parametrize
from .training import DEFAULT_TOL, DEFAULT_WINDOW, TrainResult, train

#: Style strength of the normalised objective: the style term's weight when both terms are
#: divided by their value at the start (`StyleTransferLoss(normalize=True)`). Chosen on the
#: course pairs and on photos outside the repository (README, "Measuring a result").
DEFAULT_STRENGTH = 20.0
#: TV weight of the normalised objective: removes a noise start's grain (0 leaves it) and costs
#: the content start nothing measurable (rocket photo: style ratio 0.049 -> 0.051).
NORMALIZED_TV = 0.1
DEFAULT_STEPS = 300
#: The sketch: from SKETCH_FROM px (the long side) on, `stylize` first runs SKETCH_STEPS L-BFGS
#: steps at half size with the style at SKETCH_SHARE of its weight, and starts the full size from
#: that sketch (`pyramid_stylize`). Measured at 451-512 px (benchmarks/schedule.py, docs/speed.md):
#: it does the full size's first steps at a quarter of their price, and a light style at half size
#: leaves the photo's shapes in place for the full size to paint over (a half-size picture painted
#: at full strength carries shapes sized for half size, which the full size spends steps undoing).
SKETCH_FROM, SKETCH_STEPS, SKETCH_SHARE = 384, 40, 0.25
#: After a sketch the full size runs at most this many steps (the stop rule may end it sooner).
AFTER_SKETCH_STEPS = 60
#: d2l 14.12's weights: d2l-en 1.0.x writes 1e4 (d2l-zh 2.0 and pre-2022 d2l-en: 1e3 summed 10 times).
D2L_WEIGHTS = {"content_weight": 1.0, "style_weight": 1e4, "tv_weight": 10.0}


def objective(
    *,
    strength: float = DEFAULT_STRENGTH,
    style_weight: float | None = None,
    content_weight: float | None = None,
    tv_weight: float | None = None,
) -> dict:
    """Loss options: normalised at `strength` (content relu4_2), or d2l's raw weights (content conv4_2).

    The normalised objective weights the style layers by size (`losses.size_layer_weights`: a layer
    whose receptive field spans much of the picture copies the painting's objects, not its strokes);
    d2l's raw one weights them equally (its relu4_1 term dominates anyway: chapter 3).

    The two objectives differ in their content layer as well as their weights: the normalised one
    taps `NORMALIZED_CONTENT_LAYERS` (relu4_2, as Gatys et al.'s code does), d2l's raw one, chosen by
    giving `style_weight`, taps `CONTENT_LAYERS` (conv4_2, the paper's name, chapters 2-5). The
    returned `content_layers` says which; build the extractor with it (`recipe_extractor`).
    """
    if style_weight is None:  # normalised: content 1, style `strength`, TV 0.1 x the photo's own TV
        return dict(
            normalize=True,
            content_layers=NORMALIZED_CONTENT_LAYERS,
            content_weight=1.0 if content_weight is None else content_weight,
            style_weight=strength,
            tv_weight=NORMALIZED_TV if tv_weight is None else tv_weight,
            style_layer_weights=BY_SIZE,  # deep layers fade out where their fields span the picture
        )
    given = {"content_weight": content_weight, "style_weight": style_weight, "tv_weight": tv_weight}
    weights = {k: D2L_WEIGHTS[k] if v is None else v for k, v in given.items()}
    return dict(normalize=False, content_layers=CONTENT_LAYERS, **weights)


def recipe_extractor(
    content_layers: Sequence[str] = NORMALIZED_CONTENT_LAYERS,
    style_layers: Sequence[str] = STYLE_LAYERS,
    *,
    net: nn.Sequential | None = None,
    weights: str = "caffe",
    device: torch.device | str | None = None,
) -> FeatureExtractor:
    """The extractor `stylize` and the command line build: their layers, VGG-19 with reflected padding."""
    layers = (*content_layers, *style_layers)
    return FeatureExtractor(layers, net=net, weights=weights, device=device, padding=BORDER_PADDING)


def stylize(
    content: torch.Tensor,
    style: torch.Tensor | Sequence[torch.Tensor],
    *,
    extractor: FeatureExtractor | None = None,
    weights: str = "caffe",
    strength: float = DEFAULT_STRENGTH,
    style_weight: float | None = None,
    content_weight: float | None = None,
    tv_weight: float | None = None,
    content_layers: Sequence[str] | None = None,
    style_layers: Sequence[str] = STYLE_LAYERS,
    style_layer_weights: Mapping[str, float] | Sequence[float] | str | None = None,
    init: str = "content",
    seed: int = 0,
    parametrization: str = "fourier",
    optimizer: str = "lbfgs",
    steps: int | None = None,
    tol: float | None = DEFAULT_TOL,
    window: int = DEFAULT_WINDOW,
    precision: str = "auto",
    in_range: bool = False,
    sketch: int | None = None,
    **train_options,
) -> TrainResult:
    """Gatys-style transfer of `style` onto `content`, normalised (N, 3, H, W) / (1, 3, h, w) tensors.

    A batch of N photos (same size) is stylised in one run with one style: the result holds N
    images. The objective is `objective(...)`'s: normalised at `strength` (content relu4_2), or
    d2l 14.12's raw weights 1 / 1e4 / 10 (content conv4_2) once `style_weight` is given; style
    layers relu1_1 ... relu5_1 of the Caffe VGG-19 with reflected padding (`recipe_extractor`),
    weighted by the picture's size in the normalised objective (`losses.size_layer_weights`),
    so the border does not speckle. It stops after `steps` (None: `DEFAULT_STEPS`, or
    `AFTER_SKETCH_STEPS` after a sketch), or earlier once the loss falls by less than `tol` over
    `window` steps (tol=None: always `steps`). `style_weight=1e4`,
    `parametrization="pixels"`, `optimizer="adam"`, `steps=500`, `tol=None` give d2l's objective
    and optimiser, not its network: d2l taps conv4_4 for content and pads with zeros (chapter 2).
    `in_range=True` optimises the picture as it will be saved (pixels clamped to [0, 1], `InRange`);
    the command line does, the chapters' stored runs did not.
    `sketch` half-size steps run first, with the style at `SKETCH_SHARE` of its weight, and the full
    size starts from them (`pyramid_stylize`; the history gets a "level" entry, 0 = the sketch);
    None: `SKETCH_STEPS` when `steps` is not given and the long side is at least `SKETCH_FROM` px
    (`sketch_fits`), else none; 0: none.
    `train_options` go to `train` (lr, callback, progress, stop_below, ...).
    """
    options = objective(
        strength=strength, style_weight=style_weight, content_weight=content_weight, tv_weight=tv_weight
    )
    if content_layers is not None:
        options["content_layers"] = tuple(content_layers)
    if style_layer_weights is not None:  # else the objective's: by size (normalised) or equal (raw)
        options["style_layer_weights"] = style_layer_weights
    if extractor is None:
        extractor = recipe_extractor(
            options["content_layers"], style_layers, weights=weights, device=content.device
        )
    sketch, steps = schedule(sketch, steps, content.shape[-2:], extractor.min_size)
    if sketch:
        return pyramid_stylize(
            content, style, extractor, steps=(sketch, steps),
            make_loss=functools.partial(StyleTransferLoss, style_layers=style_layers, **options),
            coarse_share=SKETCH_SHARE, init=init, seed=seed, parametrization=parametrization,
            optimizer=optimizer, in_range=in_range, precision=precision, tol=tol, window=window,
            **train_options,
        )  # fmt: skip
    loss_fn = StyleTransferLoss(
        extractor,
        content,
        style,
        style_layers=style_layers,
        **options,
    )
    first = style if isinstance(style, torch.Tensor) else style[0]
    synth = parametrize(init_image(content, first, init, seed), parametrization, in_range=in_range)
    synth = synth.to(content.device)
    return train(
        synth, loss_fn, optimizer=optimizer, steps=steps, precision=precision, tol=tol, window=window,
        **train_options,
    )  # fmt: skip


def schedule(sketch: int | None, steps: int | None, size: Sequence[int], min_size: int) -> tuple[int, int]:
    """(sketch steps, full-size steps) for `stylize` and the command line: their defaults filled in."""
    if sketch is None:  # by default only when no step count is given, and where the half size fits
        sketch = SKETCH_STEPS if steps is None and sketch_fits(size, min_size) else 0
    check_count("sketch", sketch)
    if steps is None:
        steps = AFTER_SKETCH_STEPS if sketch else DEFAULT_STEPS
    return sketch, steps


def sketch_fits(size: Sequence[int], min_size: int) -> bool:
    """Whether the default sketch runs at an (H, W): a long side from SKETCH_FROM px, a half size the net takes."""
    return max(size) >= SKETCH_FROM and min(size) / 2 >= min_size


def rescale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Resize an (N, 3, H, W) image by `factor` (antialiased bilinear, at least 1 px a side)."""
    if factor == 1:
        return x
    size = [max(1, round(s * factor)) for s in x.shape[-2:]]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=factor < 1)


def _rescale_styles(style, factor: float):
    """Rescale a style image, or each entry of a list of them (None entries stay None)."""
    if isinstance(style, torch.Tensor):
        return rescale(style, factor), rescale(style, factor)
    scaled = [None if x is None else rescale(x, factor) for x in style]
    return scaled, next((x for x in scaled if x is not None), None)


def _check_levels(steps: Sequence[int], content: torch.Tensor, extractor: FeatureExtractor) -> None:
    if not steps or any(not isinstance(n, int) or n < 0 for n in steps):
        raise NSTError(f"steps must be a non-empty list of whole numbers >= 0, got {list(steps)}")
    smallest = min(content.shape[-2:]) / 2 ** (len(steps) - 1)
    if len(steps) > 1 and smallest < extractor.min_size:  # one level: the loss names the image
        raise NSTError(
            f"{len(steps)} pyramid levels shrink the content to {smallest:.0f} px, below the "
            f"{extractor.min_size} px the network needs; use fewer levels or a larger image"
        )


def _append(
    history: dict[str, list[float]], part: dict[str, list[float]], level: int, seconds: float
) -> None:
    """Extend a pyramid's history by one level's, continuing its step count and its clock (`seconds`)."""
    shift = {"step": history["step"][-1] if history.get("step") else 0, "seconds": seconds}
    for key, values in part.items():
        history.setdefault(key, []).extend(v + shift.get(key, 0) for v in values)
    history.setdefault("level", []).extend([level] * len(part["step"]))


def pyramid_stylize(
    content: torch.Tensor,
    style: torch.Tensor | Sequence[torch.Tensor | None],
    extractor: FeatureExtractor,
    *,
    steps: Sequence[int] = (150, 100),
    make_loss: Callable[..., StyleTransferLoss] | None = None,
    init: str = "content",
    seed: int = 0,
    parametrization: str = "fourier",
    optimizer: str = "lbfgs",
    stop_below: float | None = None,
    in_range: bool = False,
    coarse_share: float = 1.0,
    **train_options,
) -> TrainResult:
    """Stylise at len(steps) sizes, each twice the previous; the last is the content's own size.

    Content and style shrink by the same factor at each level, so the strokes keep their size
    relative to the picture. `steps[k]` steps run at level k; `stop_below` applies at the full
    size only. Between levels only the change is upsampled: level k+1 starts from its own
    `init` image plus upsample(result k - start image k), so the photo keeps its full-size
    detail. `in_range` as in `stylize`. `make_loss(extractor, content, style)` builds each
    level's objective (default: `stylize`'s, `objective()` at `DEFAULT_STRENGTH`, which needs
    `recipe_extractor()`'s layers); it gets `style` as given, rescaled (a list stays a list; None
    entries stay None). `coarse_share` scales the style weight of every level but the last
    (`stylize`'s sketch: 0.25, a light style at half size). The history runs on across levels, with
    a "level" entry (0 = coarsest) per step. At the full style it gives large outputs the painting's
    large shapes; it does not reach Gatys' loss sooner than single scale (chapter 7 measures why: a
    Gram matrix measures patterns of a fixed size in pixels).
    """
    _check_levels(steps, content, extractor)
    if not coarse_share >= 0:
        raise NSTError(f"coarse_share must be >= 0, got {coarse_share}")
    if make_loss is None:
        make_loss = functools.partial(StyleTransferLoss, **objective())
    change: torch.Tensor | None = None  # what the coarser levels did to their start image
    history: dict[str, list[float]] = {}
    evaluations, seconds = 0, 0.0
    for level, n in enumerate(steps):
        factor = 0.5 ** (len(steps) - 1 - level)
        c = rescale(content, factor)
        s, first = _rescale_styles(style, factor)
        base = init_image(c, first, init, seed)
        # Upsample only what the coarser level changed, and add it to this level's own start
        # image: upsampling the whole image would blur away the photo's fine detail (measured:
        # a loss above the plain content start's), which the fine level must then rebuild.
        start = base
        if change is not None:
            start = base + F.interpolate(change, size=c.shape[-2:], mode="bilinear", align_corners=False)
        last = level == len(steps) - 1
        loss = make_loss(extractor, c, s)
        if not last and coarse_share != 1:  # normalised or raw: the style term is style_weight x its sum
            loss.style_weight = loss.style_weight * coarse_share
        r = train(
            parametrize(start, parametrization, in_range=in_range),
            loss,
            optimizer=optimizer,
            steps=n,
            stop_below=stop_below if last else None,
            **train_options,
        )
        change = r.image - base
        _append(history, r.history, level, seconds)
        evaluations += r.evaluations
        seconds += r.seconds
    return TrainResult(r.image, history, evaluations, seconds, r.stopped)
