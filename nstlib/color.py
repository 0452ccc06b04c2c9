"""Keep the photo's colours: the two methods of Gatys et al. 2017 ("Controlling perceptual factors").

* Luminance-only transfer: stylise gray (luminance) images, then put the content's chroma back.
  YIQ separates luminance Y from chroma I, Q linearly, so the chroma survives exactly.
* Colour matching: before transfer, give the style image the content's colour statistics
  (mean and covariance of RGB), so the style brings strokes but not its palette.

All functions take and return ImageNet-normalised (1, 3, H, W) tensors. Nothing is clamped here:
`postprocess` clamps once at the end.
"""

from __future__ import annotations

import torch

from .images import from_pixels, to_pixels  # noqa: F401 (also part of this module's API)

#: RGB -> YIQ (NTSC). Row 0 is the luminance Y.
RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)


def _mix(p: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(p), p)


def rgb_to_yiq(p: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB pixels -> YIQ."""
    return _mix(p, RGB_TO_YIQ)


def yiq_to_rgb(q: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) YIQ -> RGB pixels."""
    return _mix(q, YIQ_TO_RGB)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """The gray (luminance-only) version of a normalised image, as a normalised RGB tensor."""
    y = rgb_to_yiq(to_pixels(x))[:, :1]
    return from_pixels(y.expand(-1, 3, -1, -1))


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Gray style image whose luminance has the content's mean and standard deviation.

    Gatys et al. 2017 do this before luminance-only transfer, so a dark painting does not
    darken a bright photo.
    """
    ys = rgb_to_yiq(to_pixels(style))[:, :1]
    yc = rgb_to_yiq(to_pixels(content))[:, :1]
    matched = (ys - ys.mean()) / ys.std().clamp_min(1e-8) * yc.std() + yc.mean()
    return from_pixels(matched.expand(-1, 3, -1, -1))


def with_content_color(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of `stylised` with the chroma (I, Q) of `content`; same size required."""
    ys = rgb_to_yiq(to_pixels(stylised))[:, :1]
    iq = rgb_to_yiq(to_pixels(content))[:, 1:]
    return from_pixels(yiq_to_rgb(torch.cat([ys, iq], dim=1)))


def _mean_cov(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = p.reshape(3, -1).double()
    mean = flat.mean(dim=1, keepdim=True)
    centred = flat - mean
    return mean, centred @ centred.T / flat.shape[1]


def _sqrt_psd(m: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(m)
    vals = vals.clamp_min(1e-10)
    return vecs @ torch.diag(vals.rsqrt() if inverse else vals.sqrt()) @ vecs.T


def match_color(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style image recoloured so its RGB mean and covariance equal the content's.

    p' = A (p - mu_s) + mu_c with A = Sigma_c^(1/2) Sigma_s^(-1/2) (symmetric square roots), the
    linear map Gatys et al. 2017 use ("Image Analogies" colour transfer).
    """
    p = to_pixels(style)
    mu_s, cov_s = _mean_cov(p)
    mu_c, cov_c = _mean_cov(to_pixels(content))
    a = _sqrt_psd(cov_c) @ _sqrt_psd(cov_s, inverse=True)
    out = a @ (p.reshape(3, -1).double() - mu_s) + mu_c
    return from_pixels(out.to(p.dtype).reshape(p.shape))
