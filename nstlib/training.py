"""Optimise the synthesised image: Adam + StepLR as in d2l 14.12, or L-BFGS as in Gatys et al."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .errors import NSTError
from .features import CONTENT_LAYERS, STYLE_LAYERS, FeatureExtractor
from .losses import LossTerms, StyleTransferLoss
from .synthesis import init_image, parametrize

OPTIMIZERS = ("adam", "lbfgs")
#: Learning rates that work with the default weights: d2l's 0.3 for Adam, 1 for L-BFGS.
DEFAULT_LR = {"adam": 0.3, "lbfgs": 1.0}

Callback = Callable[[int, torch.Tensor, LossTerms], None]


@dataclass
class TrainResult:
    """The stylised image (normalised, detached), the loss per step, and what it cost."""

    image: torch.Tensor
    history: dict[str, list[float]] = field(default_factory=dict)
    evaluations: int = 0
    seconds: float = 0.0


def train(
    synth: nn.Module,
    loss_fn: Callable[[torch.Tensor], LossTerms],
    *,
    optimizer: str = "adam",
    steps: int = 500,
    lr: float | None = None,
    lr_decay_step: int = 50,
    lr_decay_gamma: float = 0.8,
    callback: Callback | None = None,
    callback_every: int = 10,
    progress: bool = True,
    stop_below: float | None = None,
) -> TrainResult:
    """Run `steps` optimiser steps on `synth` (the image as parameters), one pass each.

    Adam uses StepLR(lr_decay_step, lr_decay_gamma) as d2l does. L-BFGS keeps its curvature
    history across steps and takes unit steps without line search (as Johnson's
    neural-style does), so each step costs exactly one pass like Adam's. `callback(step,
    image, terms)` runs every `callback_every` steps and after the last one. With
    `stop_below`, training ends at the first step whose loss is at or below it. The history
    holds every step's losses, learning rate and wall time since the start ("seconds").
    Raises NSTError if the loss stops being finite.
    """
    if optimizer not in OPTIMIZERS:
        raise NSTError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if not isinstance(steps, int) or steps < 0:
        raise NSTError(f"steps must be a whole number >= 0, got {steps!r}")
    lr = DEFAULT_LR[optimizer] if lr is None else float(lr)
    if not lr > 0:
        raise NSTError(f"lr must be > 0, got {lr}")
    if callback_every < 1:
        raise NSTError(f"callback_every must be >= 1, got {callback_every}")
    params = list(synth.parameters())
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr)
        scheduler = torch.optim.lr_scheduler.StepLR(opt, lr_decay_step, lr_decay_gamma)
    else:
        opt = torch.optim.LBFGS(params, lr=lr, max_iter=1, history_size=100)
        scheduler = None

    keys = ("step", "content", "style", "tv", "total", "lr", "seconds")
    history: dict[str, list[float]] = {k: [] for k in keys}
    evaluations = 0
    last: LossTerms | None = None

    def closure() -> torch.Tensor:
        nonlocal evaluations, last
        opt.zero_grad(set_to_none=True)
        last = loss_fn(synth())
        last.total.backward()
        evaluations += 1
        return last.total

    start = time.perf_counter()
    bar = tqdm(total=steps, desc=optimizer, disable=not progress, leave=False)
    try:
        for step in range(1, steps + 1):
            if optimizer == "adam":
                closure()
                opt.step()
            else:
                opt.step(closure)
            values = last.as_floats()
            if not math.isfinite(values["total"]):
                raise NSTError(
                    f"the loss became {values['total']} at step {step} with {optimizer} lr={lr:g}; "
                    f"lower the learning rate (try lr={lr / 10:g})"
                )
            history["step"].append(step)
            history["lr"].append(opt.param_groups[0]["lr"])
            for key, value in values.items():
                history[key].append(value)
            history["seconds"].append(time.perf_counter() - start)
            if scheduler is not None:
                scheduler.step()
            if callback is not None and (step % callback_every == 0 or step == steps):
                callback(step, synth().detach(), last)
            bar.update(1)
            if step % 10 == 0 or step == steps:
                bar.set_postfix(loss=f"{values['total']:.3g}")
            if stop_below is not None and values["total"] <= stop_below:
                break
    finally:
        bar.close()
    return TrainResult(synth().detach().clone(), history, evaluations, time.perf_counter() - start)


def stylize(
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    extractor: FeatureExtractor | None = None,
    weights: str = "caffe",
    content_layers: Sequence[str] = CONTENT_LAYERS,
    style_layers: Sequence[str] = STYLE_LAYERS,
    style_layer_weights: Mapping[str, float] | Sequence[float] | None = None,
    content_weight: float = 1.0,
    style_weight: float = 1e4,
    tv_weight: float = 10.0,
    init: str = "content",
    seed: int = 0,
    parametrization: str = "pixels",
    **train_kwargs,
) -> TrainResult:
    """Gatys-style transfer of `style` onto `content` (normalised (1, 3, H, W) tensors).

    Defaults follow d2l 14.12 (Adam lr 0.3, 500 steps, StepLR(50, 0.8), weights 1 / 1e4 / 10 --
    d2l writes 1e3 but sums `10 * styles_l`, ten copies of its style list -- content init) except where d2l is at odds with the paper or wastes work:
    content layer conv4_2 (d2l's index 25 is conv4_4), style layers relu1_1 ... relu5_1 (d2l gets
    these rectified outputs from its in-place ReLUs, except conv5_1, where its net ends before
    the ReLU), the Caffe VGG-19 the paper used (d2l: torchvision's), VGG parameters frozen
    (d2l leaves them requiring grad, ~1.45x slower) and style Grams computed once.
    `parametrization="fourier"` optimises the image's spectrum instead of its pixels
    (`FourierImage`: same optimum, fewer L-BFGS passes to reach a loss).
    `train_kwargs` go to `train` (optimizer, steps, lr, callback, progress, ...).
    """
    if extractor is None:
        extractor = FeatureExtractor(
            tuple(content_layers) + tuple(style_layers), weights=weights, device=content.device
        )
    loss_fn = StyleTransferLoss(
        extractor,
        content,
        style,
        content_layers,
        style_layers,
        content_weight,
        style_weight,
        tv_weight,
        style_layer_weights,
    )
    synth = parametrize(init_image(content, style, init, seed), parametrization).to(content.device)
    return train(synth, loss_fn, **train_kwargs)
