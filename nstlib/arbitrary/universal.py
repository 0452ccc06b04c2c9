"""Any painting in one pass: encode, whiten and colour the features, decode; level by level, coarse to fine.

`Universal` holds the frozen VGG-19 and the decoders. `transfer` runs Li et al.'s cascade: at
each level, from relu3_1 (by default; relu4_1 for larger shapes) down to relu1_1 (fine texture), the current picture is
encoded, its features are given the painting's statistics at that layer (`wct`, or `adain`), and
the level's decoder turns them back into a picture for the next level to refine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from .. import color
from ..errors import NSTError
from ..features import FeatureExtractor
from ..images import from_pixels, resize, to_pixels, to_rgb
from .decoder import LEVELS, Decoder, pad_to_stride
from .transforms import FLOOR, StyleStats, adain, wct

METHODS = ("wct", "adain")
COLOR_MODES = ("luminance", "histogram")
#: The cascade's order: coarse to fine (Li et al. start at relu5_1; here relu4_1: relu5_1 copies the
#: painting's objects onto the photo, chapter 6, and its decoder would cost as much as all the others).
CASCADE = tuple(reversed(LEVELS))
#: The levels `transfer` runs unless told: relu3_1 down. With relu4_1 first, on six photos at 512 px
#: (docs/arbitrary.md) the content ratio rose from 0.40-0.75 to 0.71-1.13 (faces and the dahlia smeared
#: into the painting's shapes) while the style ratio changed little either way (0.19-0.55 -> 0.23-0.57);
#: relu4_1 stays a choice (`levels=CASCADE`, `--levels`) for a bolder, more abstract picture.
DEFAULT_LEVELS = ("relu3_1", "relu2_1", "relu1_1")


class Universal(torch.nn.Module):
    """The encoder (VGG-19 to relu4_1) and one decoder per level: stylises with any painting."""

    def __init__(self, decoders: dict[str, Decoder], encoder: FeatureExtractor) -> None:
        super().__init__()
        missing = [lv for lv in decoders if lv not in encoder.layers]
        if missing:
            raise NSTError(f"the encoder does not tap {missing}; build it with those layers")
        self.decoders = torch.nn.ModuleDict(decoders)
        self.encoder = encoder

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels this model has decoders for, coarse to fine."""
        return tuple(lv for lv in CASCADE if lv in self.decoders)

    @torch.no_grad()
    def style_stats(
        self, painting: torch.Tensor, levels: Sequence[str], floor: float = FLOOR
    ) -> dict[str, StyleStats]:
        """A painting's (pixels (1, 3, H, W)) colouring statistics at each level, from one encoder pass."""
        feats = self.encoder(from_pixels(painting), layers=list(levels))
        return {lv: StyleStats(feats[lv], floor) for lv in levels}

    def resolve_levels(self, levels: Sequence[str] | None) -> tuple[str, ...]:
        """The levels to run, in the cascade's order (default `DEFAULT_LEVELS`); an error for any this model lacks."""
        if levels is None:
            return tuple(lv for lv in self.levels if lv in DEFAULT_LEVELS) or self.levels
        if isinstance(levels, str):
            levels = (levels,)
        chosen = tuple(lv for lv in CASCADE if lv in levels)
        unknown = sorted(set(levels or ()) - set(self.levels))
        if unknown or not chosen:
            raise NSTError(f"levels must be some of {', '.join(self.levels)}, got {list(levels or [])}")
        return chosen

    @torch.no_grad()
    def transfer(
        self,
        photo: torch.Tensor,
        painting: torch.Tensor | Sequence[torch.Tensor],
        *,
        levels: Sequence[str] | None = None,
        alpha: float = 1.0,
        method: str = "wct",
        weights: Sequence[float] | None = None,
        mask: torch.Tensor | None = None,
        preserve_color: str | None = None,
        floor: float = FLOOR,
        steps: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """`photo` (pixels (1, 3, H, W) in [0, 1]) in the style of `painting` (or a blend of several).

        A painting is its pixels (1, 3, h, w), or its `style_stats` computed once (a video's frames).
        `levels`: which levels run, in the cascade's order whatever order they are given in (default
        `DEFAULT_LEVELS`). `alpha`: the share of the transformed features at every level (0: the photo
        reconstructed). `weights`: with several paintings, how much of each. `mask` ((H, W), 1 =
        paint): the painting only there. `preserve_color`: "luminance" (the result's luminance, the
        photo's colours) or "histogram" (the painting recoloured to the photo's colours first).
        `steps`: if a list is given, the picture after each level is appended to it.
        """
        chosen = self.resolve_levels(levels)
        paintings = _check(painting, method, mask, preserve_color)
        if mask is not None:
            mask = mask.reshape(mask.shape[-2:]) if mask.dim() > 2 and mask.shape[:-2].numel() == 1 else mask
            if mask.shape != photo.shape[-2:]:
                raise NSTError(
                    f"the mask is {tuple(mask.shape)} and the photo {tuple(photo.shape[-2:])}: give it at the photo's size"
                )
        if preserve_color == "histogram":
            paintings = [_match(p, photo) for p in paintings]
        if method == "wct":
            stats = [p if isinstance(p, dict) else self.style_stats(p, chosen, floor) for p in paintings]
            if any(lv not in s for s in stats for lv in chosen):
                raise NSTError(f"the prepared statistics lack some of the levels {list(chosen)}")
        else:
            raw = self.encoder(from_pixels(paintings[0]), layers=list(chosen))
        x = photo
        for lv in chosen:
            decoder = self.decoders[lv]
            padded, (h, w) = pad_to_stride(x, decoder.stride)
            f = self.encoder(from_pixels(padded), layers=[lv])[lv]
            if method == "wct":
                area = None if mask is None else _padded_mask(mask, padded.shape[-2:])
                f = wct(f, [s[lv] for s in stats], alpha=alpha, weights=weights, mask=area, floor=floor)
            else:
                f = adain(f, raw[lv], alpha=alpha)
            x = decoder(f)[..., :h, :w].clamp(0, 1)
            if steps is not None:
                steps.append(x)
        if preserve_color == "luminance":
            x = to_pixels(color.with_content_color(from_pixels(x), from_pixels(photo))).clamp(0, 1)
        return x


def _check(painting, method: str, mask, preserve_color: str | None) -> list:
    """The paintings as a list, after refusing options that do not go together (one line each)."""
    if method not in METHODS:
        raise NSTError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if preserve_color not in (None, *COLOR_MODES):
        raise NSTError(
            f"preserve_color must be one of {', '.join(COLOR_MODES)} or None, got {preserve_color!r}"
        )
    paintings = list(painting) if isinstance(painting, (list, tuple)) else [painting]
    if method == "adain" and (len(paintings) > 1 or mask is not None):
        raise NSTError("interpolation and masks are done with method='wct'")
    prepared = any(isinstance(p, dict) for p in paintings)
    if prepared and (method != "wct" or preserve_color == "histogram"):
        raise NSTError("prepared statistics (style_stats) serve method='wct' without histogram colours")
    return paintings


def _match(painting: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """The painting recoloured to the photo's RGB mean and covariance (chapter 7's histogram method)."""
    return to_pixels(color.match_color(from_pixels(painting), from_pixels(photo))).clamp(0, 1)


def _padded_mask(mask: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """A (H, W) mask extended by its own edge to the padded picture's (H', W')."""
    h, w = mask.shape[-2:]
    return torch.nn.functional.pad(
        mask.float()[None, None], (0, shape[1] - w, 0, shape[0] - h), mode="replicate"
    )[0, 0]


class Painter:
    """One painting prepared once (its statistics at the chosen levels): then any photo (PIL) in, its picture out.

    What `python -m nstlib.video CLIP --painting PAINTING` calls per frame.
    """

    def __init__(self, model: Universal, painting: Image.Image, *, size: int | None = None, alpha: float = 1.0,
                 levels: Sequence[str] | None = None, preserve_color: str | None = None) -> None:  # fmt: skip
        if preserve_color == "histogram":
            raise NSTError("a prepared painting keeps its own colours; use preserve_color='luminance'")
        self.model, self.size, self.alpha, self.preserve_color = model, size, alpha, preserve_color
        self.levels = model.resolve_levels(levels)
        device = next(model.encoder.parameters()).device
        self.stats = model.style_stats(image_pixels(resize(painting, max_size=size), device), self.levels)

    def __call__(self, photo: Image.Image) -> Image.Image:
        """The photo (at `size`, if given) in the painting's style."""
        device = next(self.model.encoder.parameters()).device
        x = image_pixels(resize(photo, max_size=self.size), device)
        out = self.model.transfer(x, self.stats, levels=self.levels, alpha=self.alpha,
                                  preserve_color=self.preserve_color)  # fmt: skip
        return pixels_image(out)


def image_pixels(img: Image.Image, device: torch.device | str = "cpu") -> torch.Tensor:
    """A PIL picture as pixels (1, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.asarray(to_rgb(img), dtype=np.float32) / 255).permute(2, 0, 1)[None].to(device)


def pixels_image(x: torch.Tensor) -> Image.Image:
    """Pixels (1, 3, H, W) -> an 8-bit PIL picture (clamped)."""
    return Image.fromarray(
        (x[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    )
