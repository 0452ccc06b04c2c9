"""Feature transforms in closed form: whitening and colouring (WCT, Li et al. 2017) and AdaIN.

A map of C channels at h x w positions is C x N numbers, N = h * w, each column one position's
feature vector. Whitening removes the photo's correlations: with the centred features f_c and
their covariance S_c = E_c D_c E_c^T, f_w = E_c D_c^(-1/2) E_c^T f_c has identity covariance.
Colouring gives them the painting's: f_cs = E_s D_s^(1/2) E_s^T f_w + m_s has covariance S_s and
mean m_s, the painting's (its Gram matrix, up to the mean, is what the style loss matches).

Numerics: covariances and eigendecompositions in float64 (C <= 512: a few ms); eigenvalues below
`floor` x the largest are dropped, Li et al.'s truncation. A photo's deep features are rank-deficient
(a ReLU map has channels that are zero almost everywhere): dividing by the square root of a ~0
eigenvalue would blow noise up; dropping it whitens the directions that carry signal, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from ..errors import NSTError

#: Eigenvalues below FLOOR x the largest are treated as zero (relu3_1 of a 512-px photo: some of its 256).
FLOOR = 1e-5
#: ... and below this, whatever the largest: a flat picture (a fade to black, a plain sky under a mask)
#: has only noise, which whitening would raise to the painting's full contrast.
ABSOLUTE_FLOOR = 1e-6


def _flat(f: torch.Tensor) -> torch.Tensor:
    """(1, C, h, w) or (C, h, w) -> (C, N) in float64."""
    if f.dim() == 4:
        if f.shape[0] != 1:
            raise NSTError(f"transforms take one picture's features, (1, C, h, w); got {tuple(f.shape)}")
        f = f[0]
    return f.reshape(f.shape[0], -1).double()


def mean_cov(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (C, 1) and covariance (C, C) of a (C, N) matrix of feature vectors (float64)."""
    mean = f.mean(dim=1, keepdim=True)
    centred = f - mean
    return mean, centred @ centred.T / max(f.shape[1] - 1, 1)


def _eig(cov: torch.Tensor, floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues above floor x the largest, and their eigenvectors (columns)."""
    vals, vecs = torch.linalg.eigh(cov)
    keep = vals > max(floor * float(vals.max()), ABSOLUTE_FLOOR)
    return vals[keep], vecs[:, keep]


def whitening(cov: torch.Tensor, floor: float = FLOOR) -> torch.Tensor:
    """E D^(-1/2) E^T over the kept eigenvalues: centred features times it have identity covariance there."""
    vals, vecs = _eig(cov, floor)
    return vecs @ torch.diag(vals.rsqrt()) @ vecs.T


def colouring(cov: torch.Tensor, floor: float = FLOOR) -> torch.Tensor:
    """E D^(1/2) E^T: white features times it have covariance `cov` (its symmetric square root)."""
    vals, vecs = _eig(cov, floor)
    return vecs @ torch.diag(vals.sqrt()) @ vecs.T


class StyleStats:
    """A painting's features at one layer, reduced to what colouring needs: the mean and the colouring matrix.

    Computed once per painting and layer; a batch of photos or a video's frames reuse it.
    """

    def __init__(self, features: torch.Tensor, floor: float = FLOOR) -> None:
        f = _flat(features)
        self.mean, cov = mean_cov(f)
        self.colour = colouring(cov, floor)
        self.channels = f.shape[0]


def _whitened(f: torch.Tensor, floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    mean, cov = mean_cov(f)
    return whitening(cov, floor) @ (f - mean), mean


def _as_stats(style: torch.Tensor | StyleStats, floor: float) -> StyleStats:
    return style if isinstance(style, StyleStats) else StyleStats(style, floor)


def wct(
    content: torch.Tensor,
    style: torch.Tensor | StyleStats | Sequence[torch.Tensor | StyleStats],
    *,
    alpha: float = 1.0,
    weights: Sequence[float] | None = None,
    mask: torch.Tensor | None = None,
    floor: float = FLOOR,
) -> torch.Tensor:
    """The photo's features (1, C, h, w) whitened and coloured with the painting's, blended by `alpha`.

    `alpha` 1 is the full transform, 0 the photo's own features (the decoder then reconstructs the
    photo). A list of paintings with `weights` interpolates: each colours the same whitened features
    and the results are mixed by the weights (Li et al.'s interpolation; mixing covariances
    instead would be one new style, not a blend). `mask` ((h, w) or (H, W), 1 = paint) transforms
    only the positions inside it, with the statistics of those positions alone, so a region the
    mask keeps does not pull on the painted one's whitening; outside, the photo's features stay.
    """
    if not 0.0 <= alpha <= 1.0:
        raise NSTError(f"alpha must be between 0 (the photo) and 1 (the full style), got {alpha}")
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if weights is None:
        weights = [1.0 / len(styles)] * len(styles)
    if len(weights) != len(styles) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise NSTError(f"weights must be one non-negative number per painting ({len(styles)}), not all 0")
    total = float(sum(weights))
    stats = [_as_stats(s, floor) for s in styles]
    f = _flat(content)
    if any(s.channels != f.shape[0] for s in stats):
        raise NSTError(
            "the photo's and the painting's features come from different layers (channel counts differ)"
        )
    inside = None
    if mask is not None:
        inside = _mask_at(mask, content.shape[-2:]).reshape(-1)
        if int(inside.sum()) < 2:
            return content  # nothing (or one position) to paint at this layer's resolution
    part = f[:, inside] if inside is not None else f
    white, _ = _whitened(part, floor)
    coloured = sum((w / total) * (s.colour @ white + s.mean) for s, w in zip(stats, weights))
    mixed = alpha * coloured + (1 - alpha) * part
    out = f.clone()
    if inside is not None:
        out[:, inside] = mixed
    else:
        out = mixed
    return out.to(content.dtype).reshape(content.shape)


def _mask_at(mask: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """A (H, W) mask at a feature map's (h, w): each cell's share of the mask, then > 0.5."""
    m = mask.float()
    while m.dim() < 4:
        m = m[None]
    return F.interpolate(m, size=tuple(shape), mode="area")[0, 0] > 0.5


def adain(
    content: torch.Tensor, style: torch.Tensor, *, alpha: float = 1.0, eps: float = 1e-5
) -> torch.Tensor:
    """Adaptive instance normalisation (Huang & Belongie 2017): each channel given the painting's mean and std.

    WCT with the covariances reduced to their diagonals: channels are scaled one by one, their
    correlations (which the Gram matrix, and so the style, consists of) are left as the photo's.
    """
    if not 0.0 <= alpha <= 1.0:
        raise NSTError(f"alpha must be between 0 (the photo) and 1 (the full style), got {alpha}")
    if content.dim() != 4 or style.dim() != 4 or content.shape[1] != style.shape[1]:
        raise NSTError(
            f"adain takes (N, C, h, w) features of one layer; got {tuple(content.shape)} and {tuple(style.shape)}"
        )
    mc, sc = content.mean(dim=(-2, -1), keepdim=True), content.std(dim=(-2, -1), keepdim=True, unbiased=False)
    ms, ss = style.mean(dim=(-2, -1), keepdim=True), style.std(dim=(-2, -1), keepdim=True, unbiased=False)
    moved = (content - mc) / (sc + eps) * ss + ms
    return alpha * moved + (1 - alpha) * content
