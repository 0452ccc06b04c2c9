"""Stylising a clip frame by frame: by optimisation (Ruder et al. 2016) or with a real-time network.

Optimisation: the first frame is `nstlib.stylize` at its defaults (in range, as the command line).
Each later frame starts from the previous result warped along the optical flow ("warped"; or not
warped, "previous"; or from its own photo, "content": independent frames, the flickering baseline)
and adds the temporal loss on the pixels the flow trusts (`temporal.WithTemporal`; without
`occlusion_mask` on every pixel, Ruder et al.'s ablation). Started that close, a later frame needs
few steps: its stop rule looks back `LATER_WINDOW` steps, not 30. `temporal="difference"` uses Xu et
al.'s flow-free frame-difference loss instead (`temporal.FrameDifferenceLoss`), with any start.

Real-time: each frame through the network, then, on the pixels the flow trusts, a blend with the
previous output warped along the flow: out = blend x warped + (1 - blend) x network.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..errors import NSTError, check_choice
from ..features import FeatureExtractor
from ..images import postprocess, preprocess
from ..losses import GramStyle, StyleTransferLoss
from ..passes import resolve_precision
from ..realtime.model import apply
from ..realtime.network import TransformerNet
from ..recipes import DEFAULT_STEPS, DEFAULT_STRENGTH, objective, recipe_extractor, stylize
from ..synthesis import parametrize
from ..training import DEFAULT_TOL, DEFAULT_WINDOW, TrainResult, train
from .flow import flow_pair, occlusions, reliable, warp, warp_frame
from .temporal import FrameDifferenceLoss, TemporalLoss, WithTemporal

STARTS = ("warped", "previous", "content")
#: "flow": Ruder et al.'s loss to the warped previous result; "difference": Xu et al.'s, no flow.
TEMPORAL_LOSSES = ("flow", "difference")
#: The VGG layer of the frame-difference loss's feature term: shallow, so it adds little to a pass.
DIFFERENCE_LAYER = "relu2_1"
#: Weight of the normalised temporal term (1 = the photo's distance to the warped past result). On the
#: excerpt at 128 px, 20 cut the flicker a little more but moved the content ratio 14% from the
#: independent frames' (5: 7%); docs/video.md, "Choices".
DEFAULT_TEMPORAL_WEIGHT = 5.0
#: Later frames stop once the loss fell by less than `DEFAULT_TOL` over this many steps.
LATER_WINDOW = 10
#: A frame whose past is trusted on fewer pixels than this is a new shot: stylised like a first frame.
CUT_BELOW = 0.3
#: The real-time path's weight of the warped previous output on trusted pixels.
DEFAULT_BLEND = 0.5


@dataclass
class Frame:
    """One stylised frame as saved ((H, W, 3) uint8), what it cost, and how much of its past was trusted."""

    pixels: np.ndarray
    seconds: float
    steps: int = 0
    reliable: float = 0.0
    stopped: str = ""


def _tensor(frame: np.ndarray, device: torch.device) -> torch.Tensor:
    return preprocess(Image.fromarray(frame), device=device)


def _pixels(image: torch.Tensor) -> np.ndarray:
    return np.asarray(postprocess(image))


def _temporal_weight(start: str, weight: float | None, temporal: str = "flow") -> float:
    """The default weight for a warped start or the flow-free loss; the flow loss needs the warp, so others get 0."""
    check_choice("start", start, STARTS)
    check_choice("temporal", temporal, TEMPORAL_LOSSES)
    if weight is None:
        return DEFAULT_TEMPORAL_WEIGHT if start == "warped" or temporal == "difference" else 0.0
    if not weight >= 0:
        raise NSTError(f"temporal_weight must be >= 0, got {weight}")
    if weight and start != "warped" and temporal == "flow":
        raise NSTError(
            f"the temporal loss compares with the warped previous result; use start='warped', not {start!r}"
        )
    return float(weight)


class _Optimiser:
    """What every frame's optimisation shares: the extractor, the painting's Grams, the options."""

    def __init__(self, style: torch.Tensor, extractor: FeatureExtractor | None, options: dict) -> None:
        self.style, self.options = style, options
        self.objective = objective(strength=options["strength"])
        self.extractor = extractor or recipe_extractor(self.objective["content_layers"], device=style.device)
        self.grams = GramStyle(self.extractor, style)  # the painting's Grams, once for the clip

    def first(self, photo: torch.Tensor) -> TrainResult:
        """A frame with no usable past: `nstlib.stylize` at the command line's defaults."""
        o = self.options
        return stylize(photo, self.style, extractor=self.extractor, strength=o["strength"], steps=o["steps"],
                       tol=o["tol"], precision=o["precision"], in_range=True, progress=False)  # fmt: skip

    def later(
        self,
        photo: torch.Tensor,
        start: torch.Tensor,
        temporal: nn.Module | None,
        weight: float,
        window: int = LATER_WINDOW,
    ) -> TrainResult:
        """A frame started from `start`, with `weight` x the `temporal` term (if any)."""
        loss = StyleTransferLoss(
            self.extractor, photo, self.grams, content_reference=self.style, **self.objective
        )
        if weight and temporal is not None:
            loss = WithTemporal(loss, temporal, weight=weight)
        o = self.options
        synth = parametrize(start, "fourier", in_range=True)
        return train(synth, loss, optimizer="lbfgs", steps=o["steps"], tol=o["tol"], window=window,
                     precision=o["precision"], progress=False)  # fmt: skip


def stylize_frames(
    frames: Sequence[np.ndarray],
    style: torch.Tensor,
    *,
    start: str = "warped",
    temporal_weight: float | None = None,
    temporal: str = "flow",
    occlusion_mask: bool = True,
    strength: float = DEFAULT_STRENGTH,
    steps: int = DEFAULT_STEPS,
    tol: float = DEFAULT_TOL,
    flow_method: str = "dis",
    boundaries: bool = False,
    extractor: FeatureExtractor | None = None,
    first: torch.Tensor | None = None,
    precision: str = "auto",
    cut_below: float = CUT_BELOW,
) -> Iterator[Frame]:
    """Stylise (H, W, 3) uint8 frames with a normalised painting `style`, yielding each `Frame` when done.

    `start`: "warped" (default; with the temporal loss at `temporal_weight`, default
    `DEFAULT_TEMPORAL_WEIGHT`), "previous" (unwarped) or "content" (independent frames). `temporal`:
    "flow" (Ruder et al.; on the pixels the flow trusts, or on all with `occlusion_mask=False`) or
    "difference" (Xu et al., no flow; any start). `first`: a first frame already stylised
    (normalised), e.g. to compare starts from the same first frame. A frame whose past is trusted on
    fewer than `cut_below` of its pixels is stylised like a first frame (a scene cut; 0 turns the rule off).
    """
    weight = _temporal_weight(start, temporal_weight, temporal)
    # "auto" stays fp32 on a CPU here: the flicker measures (chapter 9) were made in fp32, not bf16
    precision = resolve_precision(precision, style.device, cpu_bf16=False)
    opt = _Optimiser(style, extractor, dict(strength=strength, steps=steps, tol=tol, precision=precision))
    terms = _TemporalTerms(temporal, occlusion_mask, opt.extractor)
    previous: torch.Tensor | None = None
    for t, frame in enumerate(frames):
        began = time.perf_counter()
        photo = _tensor(frame, style.device)
        trusted, backward = 0.0, None
        if t:
            backward, forward = flow_pair(frames[t - 1], frame, method=flow_method)
            mask = reliable(backward, forward, boundaries=boundaries).to(photo)
            trusted = float(mask.mean())
        if t == 0 and first is not None:
            result = TrainResult(first.to(style.device), {"step": [0]}, stopped="given")
        elif t == 0 or (start == "content" and not weight) or trusted < cut_below:
            result = opt.first(photo)
        elif start == "content":  # from its own photo, as a first frame, with the flow-free loss
            term = terms.make(past=photo, mask=mask, photo=photo, previous=previous)
            result = opt.later(photo, photo, term, weight, window=DEFAULT_WINDOW)
        else:
            past = warp(previous, backward) if start == "warped" else previous
            term = terms.make(past=past, mask=mask, photo=photo, previous=previous) if weight else None
            result = opt.later(photo, past, term, weight)
        previous = result.image
        terms.photo = photo
        steps_done = result.history["step"][-1] if result.history.get("step") else 0
        yield Frame(_pixels(result.image), time.perf_counter() - began, steps_done, trusted, result.stopped)


class _TemporalTerms:
    """Builds each later frame's temporal term: Ruder et al.'s (flow) or Xu et al.'s (difference)."""

    def __init__(self, kind: str, occlusion_mask: bool, extractor: FeatureExtractor) -> None:
        self.kind, self.occlusion_mask = kind, occlusion_mask
        self.photo: torch.Tensor | None = None  # the previous frame's photo, for the difference loss
        self.features = None
        if kind == "difference":  # shares the objective's VGG weights
            self.features = FeatureExtractor((DIFFERENCE_LAYER,), net=extractor.net)

    def make(
        self, *, past: torch.Tensor, mask: torch.Tensor, photo: torch.Tensor, previous: torch.Tensor
    ) -> nn.Module:
        """The term for one frame: `past` is the start the flow loss compares with, `previous` the last result."""
        if self.kind == "difference":
            return FrameDifferenceLoss(previous, self.photo, photo, features=self.features)
        return TemporalLoss(past, mask if self.occlusion_mask else torch.ones_like(mask), photo)


def realtime_frames(
    frames: Sequence[np.ndarray],
    net: TransformerNet | Callable[[Image.Image], Image.Image],
    *,
    blend: float = DEFAULT_BLEND,
    flow_method: str = "dis",
    boundaries: bool = False,
) -> Iterator[Frame]:
    """Each frame through a real-time network, blended with the warped previous output where the flow is trusted.

    `net` may also be any one-pass picture maker, a PIL picture in and out at its size (e.g.
    `nstlib.arbitrary.Painter`: any painting)."""
    if not 0 <= blend < 1:
        raise NSTError(f"blend must be in [0, 1) (1 would freeze the first frame), got {blend}")
    previous: np.ndarray | None = None
    for t, frame in enumerate(frames):
        began = time.perf_counter()
        made = (
            apply(net, Image.fromarray(frame))
            if isinstance(net, TransformerNet)
            else net(Image.fromarray(frame))
        )
        out = np.asarray(made, dtype=np.float32)
        trusted = 0.0
        if t and blend:
            backward, forward = flow_pair(frames[t - 1], frame, method=flow_method)
            keep = ~occlusions(backward, forward, boundaries=boundaries)[..., None]
            # the previous output unrounded, so the blend does not drift by rounding
            out = np.where(keep, blend * warp_frame(previous, backward) + (1 - blend) * out, out)
            trusted = float(keep.mean())
        previous = out
        yield Frame(
            out.round().clip(0, 255).astype(np.uint8), time.perf_counter() - began, 0, trusted, "network"
        )
