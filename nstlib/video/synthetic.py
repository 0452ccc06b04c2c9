"""Clips whose motion is known exactly, to judge flow-based methods by something other than a flow.

`pan_motion` is the true motion of `io.pan` (one shift everywhere; only the uncovered strip has no
past). `sprite_clip` moves a disc cut from one photo across a still background: the disc's pixels
move by `step` a frame, the background stays, and the background it uncovers behind it is occluded,
which a pan never shows (Ruder et al.'s reason for the occlusion mask).
"""

from __future__ import annotations

import numpy as np

from ..errors import NSTError
from .flow import out_of_frame
from .metrics import Motion


def _still(shape: tuple[int, int], step: tuple[float, float]) -> np.ndarray:
    """A (H, W, 2) float32 flow of one value everywhere."""
    return np.broadcast_to(np.asarray(step, np.float32), (*shape, 2)).copy()


def pan_motion(shape: tuple[int, int], frames: int, step: tuple[int, int]) -> Motion:
    """The exact backward flow and trusted pixels of `io.pan(..., shape=shape, frames=frames, step=step)`."""
    flow = _still(shape, step)
    return [(flow, ~out_of_frame(flow)) for _ in range(frames - 1)]


def _disc(size: int) -> np.ndarray:
    """(size, size) bool: the disc inscribed in a square."""
    r = (np.arange(size) - (size - 1) / 2) ** 2
    return r[:, None] + r[None, :] <= (size / 2) ** 2


def _placed(shape: tuple[int, int], size: int, x: int, y: int) -> np.ndarray:
    """(H, W) bool: where a `size`-px disc with its top-left corner at (x, y) covers the frame."""
    h, w = shape
    where = np.zeros((h + 2 * size, w + 2 * size), bool)  # room for a disc partly outside the frame
    where[y + size : y + 2 * size, x + size : x + 2 * size] = _disc(size)
    return where[size : size + h, size : size + w]


def sprite_clip(
    background: np.ndarray, sprite: np.ndarray, *, frames: int, step: tuple[int, int], at: tuple[int, int]
) -> tuple[list[np.ndarray], Motion]:
    """A disc cut from `sprite` ((S, S, 3) uint8) moving `step` = (dx, dy) px a frame over a still `background`.

    The disc's top-left corner starts at `at` = (x, y). Returns the frames and their exact motion:
    backward flow -step on the disc, 0 on the background; untrusted where the disc uncovers the
    background (and where its past lies outside the frame).
    """
    size = sprite.shape[0]
    if sprite.shape[:2] != (size, size) or background.ndim != 3:
        raise NSTError(f"the sprite must be square (S, S, 3), got {sprite.shape}")
    shape = background.shape[:2]
    clip, motion, before = [], [], None
    for t in range(frames):
        x, y = at[0] + t * step[0], at[1] + t * step[1]
        now = _placed(shape, size, x, y)
        frame = background.copy()
        ys, xs = np.nonzero(now)  # the disc's pixels inside the frame
        frame[ys, xs] = sprite[ys - y, xs - x]
        clip.append(frame)
        if before is not None:
            flow = np.where(now[..., None], _still(shape, (-step[0], -step[1])), 0).astype(np.float32)
            motion.append((flow, ~((before & ~now) | (now & out_of_frame(flow)))))
        before = now
    return clip, motion
