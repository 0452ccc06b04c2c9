"""Tap named VGG-19 layers: the encoder that every loss in the course looks through."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import torch
from torch import nn
from torch.nn import functional as F

from .errors import NSTError, check_choice, check_count
from .vgg import LAYER_NAMES, layer_index, load_vgg19

#: Gatys et al. 2016's layers. Their Caffe code tapped conv layers whose outputs Caffe's
#: in-place ReLU had already rectified, so their "conv1_1" is what we call relu1_1 (and their
#: content layer "conv4_2" is relu4_2, `NORMALIZED_CONTENT_LAYERS`).
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: Two objectives, two content layers. d2l's raw objective (weights 1 / 1e4 / 10: chapters 2-5,
#: `recipes.objective(style_weight=...)`, the command line's --style-weight) takes the paper's
#: name conv4_2 literally, before its ReLU (the paper's code read it after: relu4_2); d2l itself
#: taps index 25 (conv4_4, rectified by the in-place ReLU).
CONTENT_LAYERS = ("conv4_2",)
#: The normalised objective (`recipes.objective(strength=...)`: `stylize`, --strength, the
#: command line's default) and `quality.result_ratios` use relu4_2: the paper's "conv4_2" as
#: Gatys et al.'s Caffe code read it, after the in-place ReLU, like their style layers.
NORMALIZED_CONTENT_LAYERS = ("relu4_2",)
#: How each 3x3 convolution pads its map: "zeros" is VGG's own; "reflect" mirrors the map's edge
#: rows and columns instead, so an edge pixel's neighbourhood looks like an interior one's.
PADDINGS = ("zeros", "reflect")
POOLINGS = ("max", "avg")
#: The recipes' padding (stylize, the command line): VGG's zeros speckle an optimised image's
#: border (`nstlib.quality.border_excess` of the README example as the command line saves it:
#: 1.45 with the 8-px margin used before, 0.99 reflected).
BORDER_PADDING = "reflect"


def receptive_field(layer: str) -> int:
    """Side in px of the input patch one unit of a VGG-19 layer sees (3x3 convolutions, 2x2 pools)."""
    field, jump = 1, 1
    for name in LAYER_NAMES[: layer_index(layer) + 1]:
        if name.startswith("conv"):
            field += 2 * jump  # a 3x3 convolution adds one unit on each side, `jump` px apart
        elif name.startswith("pool"):
            field += jump
            jump *= 2
    return field


class EdgePaddedConv2d(nn.Conv2d):
    """A convolution that pads its input with its own mirrored edge values (`padding_mode` "reflect").

    A map 1 px wide cannot be mirrored (the deepest layers of a small image come to that), so
    that map is replicated instead: its one value is what a mirror would repeat.
    """

    @classmethod
    def sharing(cls, conv: nn.Conv2d, mode: str) -> EdgePaddedConv2d:
        """A copy of `conv` that shares its weight and bias tensors and pads with `mode`."""
        new = cls.__new__(cls)
        new.__dict__.update(conv.__dict__)  # the same parameter tensors; only padding_mode differs
        new.padding_mode = mode
        return new

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        mode = self.padding_mode if min(x.shape[-2:]) > 1 else "replicate"  # a 1-px map has no mirror
        x = F.pad(x, self._reversed_padding_repeated_twice, mode=mode)
        return F.conv2d(x, weight, bias, self.stride, 0, self.dilation, self.groups)


class FeatureExtractor(nn.Module):
    """Return the activations of named VGG-19 layers as a dict name -> tensor.

    The network is cut after the deepest requested layer, is in eval mode with frozen
    parameters, and a ReLU right after a tapped layer is made non-in-place, so a returned
    conv output is never overwritten by the ReLU that follows it. With `channels_last` (default)
    the input is laid out channels-last (NHWC), and so is every activation after it: the same
    numbers, computed faster by oneDNN on a CPU and by cuDNN on a GPU (benchmarks/speed.py).

    `padding` is how every 3x3 convolution fills the row and column beyond its map's edge:
    "zeros" (the default) is how VGG was trained; an image optimised against it grows coloured
    speckle in its outer few pixels, because to each layer the edge looks like a dark line
    (border excess 1.96 on the README example with d2l's weights). "reflect" mirrors the map's own
    values there instead, so the border's features come from its own neighbourhood (features
    farther from the edge than a layer's reach are unchanged), at no extra pixels: the recipes'
    choice, `BORDER_PADDING`.

    `margin` > 0 mirrors only the input, by that many pixels, and crops each map back to the
    input's positions: the deeper layers still see zeros at the margin's edge (8 px: border
    excess 1.45 on the README example at the defaults), and each pass costs more pixels (+16%
    at 256 px).
    """

    def __init__(
        self,
        layers: Iterable[str] = STYLE_LAYERS + CONTENT_LAYERS,
        net: nn.Sequential | None = None,
        weights: str = "caffe",
        pooling: str = "max",
        device: torch.device | str | None = None,
        channels_last: bool = True,
        margin: int = 0,
        padding: str = "zeros",
    ) -> None:
        super().__init__()
        self.layers = tuple(dict.fromkeys(layers))  # de-duplicated, order kept
        if not self.layers:
            raise NSTError("FeatureExtractor needs at least one layer name")
        check_choice("pooling", pooling, POOLINGS)
        check_choice("padding", padding, PADDINGS)
        check_count("margin", margin)
        indices = {name: layer_index(name) for name in self.layers}
        self.deepest = max(indices.values())
        net = net if net is not None else load_vgg19(weights, device=device)
        modules: list[nn.Module] = []
        for i, module in enumerate(list(net)[: self.deepest + 1]):
            if isinstance(module, nn.ReLU) and (i - 1) in indices.values():
                module = nn.ReLU(inplace=False)
            elif isinstance(module, nn.MaxPool2d) and pooling == "avg":
                # Gatys et al. report smoother results with average pooling.
                module = nn.AvgPool2d(kernel_size=2, stride=2)
            elif isinstance(module, nn.Conv2d) and padding != "zeros":
                module = EdgePaddedConv2d.sharing(module, padding)  # a shared `net` keeps its zeros
            modules.append(module)
        self.net = nn.Sequential(*modules)
        self._taps: dict[int, list[str]] = {}
        for name, i in indices.items():
            self._taps.setdefault(i, []).append(name)
        # How many input pixels one position of a tapped map spans (2 per pool up to it).
        self._stride = {
            i: 2 ** sum(1 for n in LAYER_NAMES[: i + 1] if n.startswith("pool")) for i in self._taps
        }
        self.margin = margin
        self.padding = padding
        self.requires_grad_(False)
        self.eval()
        self.channels_last = channels_last

    @property
    def min_size(self) -> int:
        """Smallest image side the truncated net can take (it halves the image at each pool)."""
        pools = sum(1 for n in LAYER_NAMES[: self.deepest + 1] if n.startswith("pool"))
        return 2**pools

    def check_input(self, x: torch.Tensor, what: str = "image") -> None:
        """Raise a one-line NSTError unless x is a (N, 3, H, W) tensor big enough for the net."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise NSTError(f"{what}: expected a (N, 3, H, W) tensor, got shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if min(h, w) < self.min_size:
            raise NSTError(
                f"{what} is {w}x{h} px; VGG-19 halves it at each pool before "
                f"{LAYER_NAMES[self.deepest]}, so each side needs at least {self.min_size} px; "
                "use a larger image or size"
            )

    def train(self, mode: bool = True) -> FeatureExtractor:
        """Stay in eval mode: the encoder is a fixed measuring instrument."""
        return super().train(False)

    def forward(self, x: torch.Tensor, layers: Collection[str] | None = None) -> dict[str, torch.Tensor]:
        """Activations of every requested layer (or of `layers`, a subset), keyed by layer name.

        With `layers` the pass stops after the deepest of them: a loss whose deep layers weigh 0 at
        this picture's size (`losses.size_layer_weights`) does not pay for them (512 px: 22% less).
        """
        self.check_input(x)
        last = len(self.net) - 1 if layers is None else self._last_module(layers)
        h, w = x.shape[-2:]
        margin = min(self.margin, h - 1, w - 1)  # a mirror cannot reach past the far edge
        if margin:
            x = F.pad(x, (margin, margin, margin, margin), mode="reflect")
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        for i, module in enumerate(self.net[: last + 1]):
            x = module(x)
            if i in self._taps:
                tap = self._crop(x, self._stride[i], h, w) if margin else x
                for name in self._taps[i]:
                    if layers is None or name in layers:
                        out[name] = tap
        return out

    def _last_module(self, layers: Collection[str]) -> int:
        """Index of the deepest of `layers`, each of which this extractor must tap."""
        unknown = [n for n in layers if n not in self.layers]
        if unknown or not layers:
            raise NSTError(
                f"layers must be a non-empty subset of the extractor's {list(self.layers)}, got {list(layers)}"
            )
        return max(layer_index(n) for n in layers)

    @staticmethod
    def _crop(x: torch.Tensor, stride: int, h: int, w: int) -> torch.Tensor:
        """The centre of a map of the mirrored input: the (h // stride, w // stride) the image alone gives."""
        rows, cols = h // stride, w // stride
        top, left = (x.shape[-2] - rows) // 2, (x.shape[-1] - cols) // 2
        return x[..., top : top + rows, left : left + cols]
