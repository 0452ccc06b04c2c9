"""Content, style (Gram) and total-variation losses, and their weighted total.

Normalisations (the same as d2l 14.12, so its weights 1 / 1e4 / 10 carry over):

* content loss = mean over all elements of (F_hat - F)^2
* Gram matrix  G = F F^T / (C * H * W), with F the (C, H*W) feature matrix
* style loss   = mean over the C x C entries of (G_hat - G)^2, per layer
* TV loss      = (mean |x[i+1, j] - x[i, j]| + mean |x[i, j+1] - x[i, j]|) / 2

Gatys et al. write the style loss as sum (G - A)^2 / (4 N^2 M^2) with an unnormalised Gram,
which is (1/4) x our per-layer loss times C^2: so their style weights are not ours.

With `normalize=True` each term is divided by its value at a reference, so one `style_weight`
(the recipes' `strength`) means the same on every pair and size (a raw weight does not: chapter 6
prints the raw terms of two pairs at two sizes): the content term by the content distance between
the style image (resized to the photo) and the photo, each style layer by its own style loss on the
photo (the layers averaged), and the TV term by the photo's own TV. At the content start the style
and TV terms are then 1 and the content term 0, whatever the pair.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from .errors import NSTError
from .features import CONTENT_LAYERS, STYLE_LAYERS, FeatureExtractor, receptive_field


def content_loss(y_hat: torch.Tensor, y: torch.Tensor, per_image: bool = False) -> torch.Tensor:
    """Mean squared difference between two feature maps (with `per_image`, one per image: (N,))."""
    squared = torch.square(y_hat - y)
    return squared.flatten(1).mean(1) if per_image else squared.mean()


def gram(x: torch.Tensor) -> torch.Tensor:
    """Gram matrix of (N, C, H, W) features -> (N, C, C), divided by C*H*W."""
    n, c, h, w = x.shape
    f = x.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def style_loss(y_hat: torch.Tensor, gram_y: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the Gram of features y_hat and a target Gram."""
    return torch.square(gram(y_hat) - gram_y).mean()


def tv_loss(x: torch.Tensor, per_image: bool = False) -> torch.Tensor:
    """Total variation: mean absolute difference of vertical and horizontal neighbours ((N,) if `per_image`)."""
    dims = (1, 2, 3) if per_image else (0, 1, 2, 3)
    return 0.5 * (
        (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean(dims)
        + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean(dims)
    )


@dataclass
class LossTerms:
    """One evaluation of the objective: weighted terms, their sum, and per-layer style losses."""

    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    total: torch.Tensor
    style_per_layer: dict[str, torch.Tensor] = field(default_factory=dict)

    def as_floats(self) -> dict[str, float]:
        """The four headline numbers as plain floats (for logs and plots)."""
        return {k: getattr(self, k).item() for k in ("content", "style", "tv", "total")}


class BufferDict(nn.Module):
    """A dict of tensors held as (non-persistent) buffers, so they follow `.to(device, dtype)`."""

    def __init__(self, tensors: Mapping[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        for name, tensor in (tensors or {}).items():
            self[name] = tensor

    def __setitem__(self, name: str, tensor: torch.Tensor) -> None:
        self.register_buffer(name, tensor, persistent=False)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._buffers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._buffers

    def __iter__(self) -> Iterator[str]:
        return iter(self._buffers)

    def __len__(self) -> int:
        return len(self._buffers)

    def keys(self) -> KeysView[str]:
        """The names, in insertion order."""
        return self._buffers.keys()

    def values(self) -> ValuesView[torch.Tensor]:
        """The tensors, in insertion order."""
        return self._buffers.values()

    def items(self) -> ItemsView[str, torch.Tensor]:
        """(name, tensor) pairs, in insertion order."""
        return self._buffers.items()


#: `style_layer_weights=BY_SIZE`: each style layer weighted by `size_layer_weights` at the photo's size.
BY_SIZE = "by size"
#: A style layer counts fully while its receptive field spans at most FULL_SHARE of the picture's
#: long side, and not at all from ZERO_SHARE on (linear between). Measured at 256 px on photos
#: outside the repository: with equal weights relu5_1 (156 px, 61% of the side) and relu4_1 (68 px,
#: 27%) copied the painting's objects into calm regions (a wave across a portrait of two dogs, the
#: Night Café's furniture into a blurred garden). relu5_1 off and relu4_1 at a third still put a
#: crest over one dog and a pale mound over a night sky; at a sixth (ZERO_SHARE 0.30) both kept
#: their subject and all 21 benchmark pairs stayed painted (docs/quality.md).
FULL_SHARE, ZERO_SHARE = 0.10, 0.30


def size_layer_weights(layers: Sequence[str], height: int, width: int) -> dict[str, float]:
    """Style-layer weights for an H x W picture: 1 for small receptive fields, 0 for ones that span it."""
    side = max(height, width)
    return {
        n: min(1.0, max(0.0, (ZERO_SHARE - receptive_field(n) / side) / (ZERO_SHARE - FULL_SHARE)))
        for n in layers
    }


def _check_weight(name: str, value: float) -> float:
    value = float(value)
    if not value >= 0:  # also catches NaN
        raise NSTError(f"{name} must be >= 0, got {value}")
    return value


class GramStyle(nn.Module):
    """The style term: per layer, the style loss against the (blended) Gram of the style images.

    The target Grams are computed once here. Several style images are blended by averaging
    their Grams with `blend` as proportions (divided by their sum; default equal shares).
    `labels` name the images in errors (default "style image", "style image 2", ...).
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        styles: torch.Tensor | Sequence[torch.Tensor],
        layers: Sequence[str] = STYLE_LAYERS,
        *,
        blend: Sequence[float] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        styles = [styles] if isinstance(styles, torch.Tensor) else list(styles)
        if labels is None:
            labels = (
                ["style image"] if len(styles) == 1 else [f"style image {i + 1}" for i in range(len(styles))]
            )
        self.layers = tuple(layers)
        self.blend = blend_weights(blend, len(styles))  # proportions, summing to 1
        targets = dict.fromkeys(self.layers, 0)
        with torch.no_grad():
            for s, w, label in zip(styles, self.blend, labels, strict=True):
                extractor.check_input(s, label)
                feats = extractor(s)
                for n in self.layers:
                    targets[n] = targets[n] + w * gram(feats[n]).float()
        self.targets = BufferDict(targets)  # buffers: they follow the loss's .to(device, dtype)

    def forward(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Unweighted style loss of each layer `feats` holds (a loss may leave out layers it weighs 0)."""
        return {n: style_loss(feats[n], t) for n, t in self.targets.items() if n in feats}


class StyleTransferLoss(nn.Module):
    """Gatys' objective with precomputed targets: weighted content + style + TV loss.

    `style` is a style image, a list of them (blended: see `GramStyle`), or a ready style term
    (a module mapping features to a loss per style layer, e.g. `spatial.GuidedGramStyle`).
    The content may be a batch of N photos: the loss is then the sum of the N images' losses,
    so each image gets the gradient it would get alone.
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        content: torch.Tensor,
        style: torch.Tensor | Sequence[torch.Tensor] | nn.Module,
        *,
        content_layers: Sequence[str] = CONTENT_LAYERS,
        style_layers: Sequence[str] = STYLE_LAYERS,
        content_weight: float = 1.0,
        style_weight: float = 1e4,
        tv_weight: float = 10.0,
        style_layer_weights: Mapping[str, float] | Sequence[float] | str | None = None,
        style_blend: Sequence[float] | None = None,
        content_label: str = "content image",
        style_labels: Sequence[str] | None = None,
        normalize: bool = False,
        content_reference: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        missing = [n for n in (*content_layers, *style_layers) if n not in extractor.layers]
        if missing:
            raise NSTError(
                f"the extractor does not tap {', '.join(missing)}; build it with "
                "FeatureExtractor(layers=content_layers + style_layers)"
            )
        self.extractor = extractor
        self.content_layers = tuple(content_layers)
        self.style_layers = tuple(style_layers)
        self.content_weight = _check_weight("content_weight", content_weight)
        self.style_weight = _check_weight("style_weight", style_weight)
        self.tv_weight = _check_weight("tv_weight", tv_weight)
        extractor.check_input(content, content_label)
        self.content_shape = tuple(content.shape[-2:])
        self.layer_weights = self._layer_weights(style_layer_weights)
        # The layers each pass computes: a style layer of weight 0 is skipped, and the network
        # stops at the deepest layer left (by size, relu5_1 weighs 0 up to about 520 px).
        used = [n for n in self.style_layers if self.layer_weights[n] > 0]
        self.tapped = tuple(dict.fromkeys((*self.content_layers, *used)))
        self.batch = content.shape[0]
        with torch.no_grad():
            feats = extractor(content)
            self.content_targets = BufferDict({n: feats[n].detach().float() for n in self.content_layers})
        if not isinstance(style, nn.Module):
            if content_reference is None:
                content_reference = style if isinstance(style, torch.Tensor) else style[0]
            style = GramStyle(extractor, style, self.style_layers, blend=style_blend, labels=style_labels)
        self.style_term = style
        self.normalize = normalize
        self.register_buffer("tv_scale", None, persistent=False)  # divisors: set by _normalize
        if normalize:
            self._normalize(content, feats, content_reference)

    @torch.no_grad()
    def _normalize(
        self, content: torch.Tensor, content_feats: dict[str, torch.Tensor], reference: torch.Tensor | None
    ) -> None:
        """Per photo: the content divisor at the style image; each style layer's and TV's at the photo itself."""
        if reference is None:
            raise NSTError("normalize=True with a ready style term needs content_reference (a style image)")
        device = next(iter(self.content_targets.values())).device
        ref = F.interpolate(reference.float(), size=self.content_shape, mode="bilinear", align_corners=False)
        ref_feats = self.extractor(ref.to(device))
        self.content_scale = BufferDict(
            {  # (N,): one divisor per photo of a batch
                n: _divisor(
                    content_loss(ref_feats[n].float(), t, per_image=True), self.content_weight, _SAME_IMAGES
                )
                for n, t in self.content_targets.items()
            }
        )
        total = sum(self.layer_weights.values()) or 1.0  # layers averaged: the style term starts at 1
        rows = self._style_rows({n: f.float() for n, f in content_feats.items()})
        self.style_scale = BufferDict(
            {
                n: _divisor(
                    torch.stack([row[n] for row in rows]),
                    self.style_weight * self.layer_weights[n],
                    _SAME_IMAGES,
                )
                * total
                for n in self.style_layers
            }
        )
        self.tv_scale = _divisor(tv_loss(content.float(), per_image=True), self.tv_weight, _FLAT_PHOTO)

    def _style_rows(self, feats: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """The style term of each photo of the batch alone (its per-layer losses)."""
        if self.batch == 1:
            return [self.style_term(feats)]
        return [self.style_term({n: f[i : i + 1] for n, f in feats.items()}) for i in range(self.batch)]

    def _layer_weights(self, given: Mapping[str, float] | Sequence[float] | str | None) -> dict[str, float]:
        if given is None:
            return dict.fromkeys(self.style_layers, 1.0)
        if isinstance(given, str):
            if given != BY_SIZE:
                raise NSTError(f"style_layer_weights must be weights or {BY_SIZE!r}, got {given!r}")
            weights = size_layer_weights(self.style_layers, *self.content_shape)
            if not any(weights.values()):
                raise NSTError(
                    f"at {self.content_shape[1]}x{self.content_shape[0]} px every style layer's receptive "
                    "field spans the picture; use a larger image or give style_layer_weights"
                )
            return weights
        if isinstance(given, Mapping):
            unknown = set(given) - set(self.style_layers)
            if unknown:
                raise NSTError(f"style_layer_weights names layers not in style_layers: {sorted(unknown)}")
            return {n: _check_weight(f"weight of {n}", given.get(n, 0.0)) for n in self.style_layers}
        if len(given) != len(self.style_layers):
            raise NSTError(
                f"{len(given)} style_layer_weights for {len(self.style_layers)} style layers; "
                "give one weight per layer"
            )
        return {n: _check_weight(f"weight of {n}", w) for n, w in zip(self.style_layers, given, strict=True)}

    def forward(self, image: torch.Tensor) -> LossTerms:
        """Evaluate all terms on a normalised image shaped like the content."""
        if (image.shape[0], *image.shape[-2:]) != (self.batch, *self.content_shape):
            raise NSTError(
                f"image is {tuple(image.shape)} but the content is {(self.batch, 3, *self.content_shape)}; "
                "synthesise as many images as photos, at the content's size"
            )
        feats = self.extractor(image, layers=self.tapped)
        # Terms in fp32 even under fp16 autocast, where squared activations would overflow. Under
        # bf16 (fp32's range) a style layer's Gram stays bf16: 2-3x faster, 0.3% rounding per entry.
        with torch.autocast(image.device.type, enabled=False):
            feats = {
                n: f if _gram_in_bf16(n, f, self.content_layers) else f.float() for n, f in feats.items()
            }
            zero = image.new_zeros(())
            n = self.batch  # means over the batch, times its size: each image gets its own gradient
            if self.normalize:
                content, style, per_layer = self._normalized_terms(feats)
                content, style = self.content_weight * content, self.style_weight * style
                tv = self.tv_weight * (tv_loss(image, per_image=True) / self.tv_scale).sum()
            else:
                content = sum((content_loss(feats[k], t) for k, t in self.content_targets.items()), zero)
                per_layer = self.style_term(feats)
                style = sum((self.layer_weights[k] * v for k, v in per_layer.items()), zero)
                content, style = n * self.content_weight * content, n * self.style_weight * style
                tv = n * self.tv_weight * tv_loss(image)
        return LossTerms(content, style, tv, content + style + tv, per_layer)

    def _normalized_terms(
        self, feats: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Content and style terms summed over the photos, each divided by that photo's divisors."""
        content = sum(
            (content_loss(feats[k], t, per_image=True) / self.content_scale[k]).sum()
            for k, t in self.content_targets.items()
        )
        rows = self._style_rows(feats)
        style = sum(
            (
                self.layer_weights[k] * torch.stack([row[k] for row in rows]) / self.style_scale[k]
                for k in rows[0]
            ),
            torch.zeros(self.batch, device=next(iter(feats.values())).device),  # no style layer left: 0
        ).sum()
        per_layer = {k: torch.stack([row[k] for row in rows]).mean() for k in rows[0]}
        return content, style, per_layer


def _gram_in_bf16(layer: str, feats: torch.Tensor, content_layers: Sequence[str]) -> bool:
    """Whether a layer's bf16 features stay bf16 for their Gram matrix (style layers only)."""
    return feats.dtype == torch.bfloat16 and layer not in content_layers


_SAME_IMAGES = (
    "the content and style images are the same picture, so normalize=True has no distance to scale "
    "the terms by; use another style image, or d2l's raw objective (style_weight given, normalize=False)"
)
_FLAT_PHOTO = (
    "the content image is flat (its total variation is 0), so normalize=True has no TV scale; "
    "use a photo with detail, or tv_weight=0"
)


def _divisor(value: torch.Tensor, weight: float, cause: str) -> torch.Tensor:
    """A normalisation divisor; one that is 0 (or denormal) is refused unless its term's weight is 0."""
    if bool((value > torch.finfo(torch.float32).tiny).all()):
        return value
    if weight == 0:  # the term is off: any finite divisor gives it 0
        return torch.ones_like(value)
    raise NSTError(cause)


def blend_weights(weights: Sequence[float] | None, n_styles: int) -> list[float]:
    """Proportions for `n_styles` styles, divided by their sum (default: equal shares)."""
    if n_styles < 1:
        raise NSTError("give at least one style image")
    if weights is None:
        return [1.0 / n_styles] * n_styles
    weights = [float(w) for w in weights]
    if len(weights) != n_styles:
        raise NSTError(f"{len(weights)} style weights for {n_styles} style images; give one weight per style")
    if any(not w >= 0 for w in weights) or sum(weights) <= 0:
        raise NSTError(f"style weights must be >= 0 and not all 0, got {weights}")
    total = sum(weights)
    return [w / total for w in weights]
