"""Optical flow between frames, backward warping, and where the flow cannot be trusted.

Conventions (Ruder et al. 2016): for frame t, the *backward* flow w maps each of its pixels to where
it was in frame t-1: I_t(x) ~ I_{t-1}(x + w(x)); the *forward* flow w^ goes from t-1 to t. Warping
the previous stylised frame with w aligns it with frame t. A pixel is occluded (no trustworthy
past) where the round trip misses,
    |w(x) + w^(x + w(x))|^2 > 0.01 (|w(x)|^2 + |w^(x + w(x))|^2) + 0.5,
where it came from outside the previous frame (the strip a pan uncovers), and, optionally, on
motion boundaries: |grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002.

Flow comes from OpenCV, on the input frames (never on stylised ones, whose texture changes):
DIS (Kroeger et al. 2016, the default: fast and accurate at these sizes) or Farnebaeck (2003).
Both run offline, with no downloaded weights.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from ..errors import check_choice

FLOW_METHODS = ("dis", "farneback")


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.uint8), cv2.COLOR_RGB2GRAY)


def optical_flow(a: np.ndarray, b: np.ndarray, *, method: str = "dis") -> np.ndarray:
    """Flow w from frame `a` to frame `b` ((H, W, 3) uint8): a(x) ~ b(x + w(x)); (H, W, 2) float32, (dx, dy)."""
    check_choice("flow method", method, FLOW_METHODS)
    ga, gb = _gray(a), _gray(b)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return dis.calc(ga, gb, None)
    # OpenCV's usual Farnebaeck settings: 3 levels, 15-px windows, 3 iterations
    return cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def flow_pair(
    previous: np.ndarray, current: np.ndarray, *, method: str = "dis"
) -> tuple[np.ndarray, np.ndarray]:
    """(backward, forward) flow for `current`: to the previous frame, and from it."""
    return optical_flow(current, previous, method=method), optical_flow(previous, current, method=method)


def _as_tensor(flow: np.ndarray | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(flow) if not isinstance(flow, torch.Tensor) else flow).to(like)


def warp(image: torch.Tensor, flow: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Backward warp: out(x) = image(x + flow(x)), bilinear, edges repeated; image (N, C, H, W), flow (H, W, 2)."""
    n, _, h, w = image.shape
    f = _as_tensor(flow, image)
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=image.dtype), torch.arange(w, dtype=image.dtype), indexing="ij"
    )
    # grid_sample wants positions in [-1, 1]; with align_corners=True, -1 and 1 are pixel centres
    gx = 2 * (xs.to(image.device) + f[..., 0]) / max(w - 1, 1) - 1
    gy = 2 * (ys.to(image.device) + f[..., 1]) / max(h - 1, 1) - 1
    grid = torch.stack([gx, gy], dim=-1)[None].expand(n, -1, -1, -1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def warp_frame(frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`warp` for an (H, W, C) array (a uint8 frame stays uint8)."""
    x = torch.from_numpy(np.ascontiguousarray(frame, dtype=np.float32)).permute(2, 0, 1)[None]
    out = warp(x, flow)[0].permute(1, 2, 0).numpy()
    return out.round().clip(0, 255).astype(np.uint8) if frame.dtype == np.uint8 else out


def out_of_frame(flow: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose flow points outside the frame (for a backward flow: newly in view)."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = xs + flow[..., 0], ys + flow[..., 1]
    # half a pixel of slack: an edge pixel's flow is rarely exactly 0 across the edge
    return (x < -0.5) | (x > w - 0.5) | (y < -0.5) | (y > h - 0.5)


def motion_boundaries(flow: np.ndarray) -> np.ndarray:
    """(H, W) bool: where the flow changes fast, |grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002."""
    du_y, du_x = np.gradient(flow[..., 0])
    dv_y, dv_x = np.gradient(flow[..., 1])
    change = du_x**2 + du_y**2 + dv_x**2 + dv_y**2
    return change > 0.01 * (flow**2).sum(-1) + 0.002


def occlusions(backward: np.ndarray, forward: np.ndarray, *, boundaries: bool = False) -> np.ndarray:
    """(H, W) bool, True where frame t's pixel has no trustworthy match in frame t-1 (see the module)."""
    back = backward.astype(np.float32)
    # the forward flow, read where each pixel's backward flow lands
    returned = warp_frame(forward.astype(np.float32), back)
    miss = ((back + returned) ** 2).sum(-1)
    occluded = miss > 0.01 * ((back**2).sum(-1) + (returned**2).sum(-1)) + 0.5
    occluded |= out_of_frame(back)
    if boundaries:
        occluded |= motion_boundaries(back)
    return occluded


def reliable(backward: np.ndarray, forward: np.ndarray, *, boundaries: bool = False) -> torch.Tensor:
    """The temporal loss's weights: (1, 1, H, W) float, 1 where the warped past can be trusted, else 0."""
    keep = ~occlusions(backward, forward, boundaries=boundaries)
    return torch.from_numpy(keep.astype(np.float32))[None, None]


def flow_to_color(flow: np.ndarray, *, max_motion: float | None = None) -> np.ndarray:
    """The usual colour-wheel picture of a flow: hue = direction, saturation = speed; (H, W, 3) uint8."""
    mag, ang = cv2.cartToPolar(flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32))
    top = max_motion or float(mag.max()) or 1.0
    hsv = np.zeros((*flow.shape[:2], 3), np.uint8)
    hsv[..., 0] = (ang * 90 / np.pi).astype(np.uint8)  # OpenCV's hue runs 0..179
    hsv[..., 1] = np.clip(mag / top * 255, 0, 255).astype(np.uint8)
    hsv[..., 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
