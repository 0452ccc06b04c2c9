"""How much a stylised clip flickers, and whether each frame is still a stylisation of its photo.

Warping error (after Lai et al. 2018, with absolute instead of squared differences): for each frame
t >= 1, the mean of |S_t - warp(S_{t-1})| over RGB in [0, 1] and over the pixels the *input* clip's
flow trusts (`flow.occlusions`); E is its mean over frames. The flow and the mask come from the
input frames, so every stylisation of a clip is judged along the same motion. E is reported relative
to the input clip's own E (the same quantity on the photos: flow errors, interpolation, light
changes), so 1 means "changes along the motion as much as the input does". Per-frame style and
content ratios (`nstlib.result_ratios`, chapter 6) show that a low E was not bought with a
washed-out style or a ghost of the past.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from ..errors import NSTError
from ..features import FeatureExtractor
from ..images import preprocess
from ..quality import MEASURE_LAYERS, result_ratios
from .flow import flow_pair, occlusions, warp_frame

Motion = list[tuple[np.ndarray, np.ndarray]]  # per frame t >= 1: (backward flow, trusted pixels)


def clip_motion(frames: Sequence[np.ndarray], *, method: str = "dis", boundaries: bool = False) -> Motion:
    """For each frame after the first: its backward flow and its (H, W) bool mask of trusted pixels."""
    motion = []
    for previous, current in zip(frames[:-1], frames[1:]):
        backward, forward = flow_pair(previous, current, method=method)
        motion.append((backward, ~occlusions(backward, forward, boundaries=boundaries)))
    return motion


def warping_errors(frames: Sequence[np.ndarray], motion: Motion) -> list[float]:
    """Per frame t >= 1: mean |S_t - warp(S_{t-1})| (RGB in [0, 1]) on trusted pixels (NaN where none are)."""
    if len(motion) != len(frames) - 1:
        raise NSTError(f"{len(frames)} frames need {len(frames) - 1} flows, got {len(motion)}")
    errors = []
    for t, (backward, keep) in enumerate(motion, start=1):
        if not keep.any():
            errors.append(float("nan"))  # a cut: nothing to compare
            continue
        warped = warp_frame(frames[t - 1].astype(np.float32), backward)
        diff = np.abs(frames[t].astype(np.float32) - warped).mean(-1) / 255
        errors.append(float(diff[keep].mean()))
    return errors


def temporal_error(
    outputs: Sequence[np.ndarray],
    inputs: Sequence[np.ndarray],
    *,
    motion: Motion | None = None,
    method: str = "dis",
) -> dict:
    """{"E", "E_input", "relative" (E / E_input), "curve", "input_curve"} of a stylised clip; see the module."""  # fmt: skip
    if len(outputs) != len(inputs) or len(inputs) < 2:
        raise NSTError(f"need as many outputs as inputs, at least 2; got {len(outputs)} and {len(inputs)}")
    motion = clip_motion(inputs, method=method) if motion is None else motion
    curve, input_curve = warping_errors(outputs, motion), warping_errors(inputs, motion)
    e, e_in = float(np.nanmean(curve)), float(np.nanmean(input_curve))
    return {"E": e, "E_input": e_in, "relative": e / e_in if e_in > 0 else float("inf"),
            "curve": curve, "input_curve": input_curve}  # fmt: skip


def frame_ratios(
    outputs: Sequence[np.ndarray],
    inputs: Sequence[np.ndarray],
    style: torch.Tensor,
    *,
    extractor: FeatureExtractor | None = None,
    regions: Sequence[np.ndarray | None] | None = None,
) -> list[dict[str, float]]:
    """Each frame's style and content ratios (`nstlib.result_ratios`) against its own photo, judged as saved.

    `regions`: per frame an (H, W) bool mask (or None) to which its content ratio is restricted.
    """
    judge = extractor or FeatureExtractor(MEASURE_LAYERS, device=style.device)
    regions = regions if regions is not None else [None] * len(outputs)
    return [
        result_ratios(
            preprocess(Image.fromarray(out)).to(style),
            preprocess(Image.fromarray(inp)).to(style),
            style,
            judge,
            region=None if region is None else torch.from_numpy(np.asarray(region, np.float32)),
        )
        for out, inp, region in zip(outputs, inputs, regions)
    ]


def plot_flicker(curves: Mapping[str, Sequence[float]], *, ax=None):
    """The flicker curve: each clip's warping error per frame, one line each; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.subplots(figsize=(6, 3))[1]
    for name, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), curve, marker=".", label=name)
    ax.set_xlabel("frame")
    ax.set_ylabel("warping error (mean |S_t - warp(S_t-1)|)")
    ax.xaxis.get_major_locator().set_params(integer=True)  # frames are whole numbers
    ax.set_ylim(bottom=0)  # so that the curves' heights compare as ratios
    ax.legend(fontsize=8)
    return ax
