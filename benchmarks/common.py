"""What every part of the benchmark shares: the images, d2l's objective in nstlib terms, timing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

import nstlib as nl

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "img" / "content" / "castle-maintenon.jpg"
STYLE = ROOT / "img" / "style" / "van-gogh-church-at-auvers.jpg"
#: What d2l's indices tap once its in-place ReLUs have run (its net ends at 28: no ReLU there).
D2L_AS_NAMED = {"style": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "conv5_1"), "content": ("relu4_4",)}
D2L_LAYERS = D2L_AS_NAMED["content"] + D2L_AS_NAMED["style"]


def sync(device: torch.device) -> None:
    """Wait for the GPU, so that a clock read afterwards counts its work."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def d2l_objective(
    extractor: nl.FeatureExtractor, content: torch.Tensor, style: torch.Tensor
) -> nl.StyleTransferLoss:
    """d2l's objective in nstlib terms (named layers; weights 1 / 1e4 / 10): the shared evaluation."""
    return nl.StyleTransferLoss(
        extractor,
        content,
        style,
        content_layers=D2L_AS_NAMED["content"],
        style_layers=D2L_AS_NAMED["style"],
        content_weight=1.0,
        style_weight=1e4,
        tv_weight=10.0,
    )


def d2l_extractor(device: torch.device, net: torch.nn.Sequential | None = None) -> nl.FeatureExtractor:
    """A frozen, channels-last extractor for d2l's layers (loads the Caffe VGG-19 unless given)."""
    return nl.FeatureExtractor(
        D2L_LAYERS, net=net if net is not None else nl.load_vgg19("caffe", device=device)
    )


def images(shape: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The benchmark's content and style at an exact (H, W), as d2l resizes both."""
    content = nl.preprocess(nl.load_image(CONTENT, shape=shape), device=device)
    style = nl.preprocess(nl.load_image(STYLE, shape=shape), device=device)
    return content, style


def time_passes(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median seconds of one call of fn (one forward + backward), after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]
