"""d2l 14.12's style transfer loop as the book runs it: the benchmark's quality and time bar.

A faithful copy: layers 0, 5, 10, 19, 28 (style) and 25 (content) with the in-place ReLUs as d2l
gets them, weights 1 / 1e3 / 10 with `sum(10 * styles_l + ...)`, which repeats the style list ten
times (an effective 1e4), as d2l-zh 2.0 and d2l-en before its 2022 fix write it; d2l-en 1.0.x
writes 1 / 1e4 / 10 with a plain sum, the same objective. Adam lr 0.3, StepLR(50, 0.8), the VGG parameters left
requiring grad, content init. Only the pretrained net is a parameter instead of a global, so that
`d2l_loss` can score any image the way the book's loop does.

    from benchmarks.d2l_reference import d2l_reference   # from the repository root
"""

from __future__ import annotations

import copy
import time

import torch
from torch import nn

import nstlib as nl

STYLE_LAYERS, CONTENT_LAYERS = [0, 5, 10, 19, 28], [25]
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 1, 1e3, 10  # the pre-2022 numbers (x10 below = 1.0.x's 1e4)


def d2l_net(pretrained: nn.Sequential | None = None, device: torch.device | None = None) -> nn.Sequential:
    """d2l's truncated VGG-19, left requiring grad; `pretrained` is copied, never changed."""
    pretrained = (
        copy.deepcopy(pretrained) if pretrained is not None else nl.load_vgg19("caffe", device=device)
    )
    pretrained.requires_grad_(True)  # d2l never freezes the pretrained net
    return nn.Sequential(*[pretrained[i] for i in range(max(CONTENT_LAYERS + STYLE_LAYERS) + 1)]).to(device)


def extract_features(
    net: nn.Sequential, X: torch.Tensor, content_layers: list[int], style_layers: list[int]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """d2l's extract_features: the outputs at the listed indices (later in-place ReLUs included)."""
    contents, styles = [], []
    for i in range(len(net)):
        X = net[i](X)
        if i in style_layers:
            styles.append(X)
        if i in content_layers:
            contents.append(X)
    return contents, styles


def gram(X: torch.Tensor) -> torch.Tensor:
    """d2l's Gram matrix, divided by channels x positions."""
    num_channels, n = X.shape[1], X.numel() // X.shape[1]
    X = X.reshape((num_channels, n))
    return torch.matmul(X, X.T) / (num_channels * n)


def content_loss(Y_hat: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """d2l's content loss: mean squared difference."""
    return torch.square(Y_hat - Y.detach()).mean()


def style_loss(Y_hat: torch.Tensor, gram_Y: torch.Tensor) -> torch.Tensor:
    """d2l's style loss: mean squared difference of Gram matrices."""
    return torch.square(gram(Y_hat) - gram_Y.detach()).mean()


def tv_loss(Y_hat: torch.Tensor) -> torch.Tensor:
    """d2l's total variation loss."""
    return 0.5 * (
        torch.abs(Y_hat[:, :, 1:, :] - Y_hat[:, :, :-1, :]).mean()
        + torch.abs(Y_hat[:, :, :, 1:] - Y_hat[:, :, :, :-1]).mean()
    )


def compute_loss(
    X: torch.Tensor,
    contents_Y_hat: list[torch.Tensor],
    styles_Y_hat: list[torch.Tensor],
    contents_Y: list[torch.Tensor],
    styles_Y_gram: list[torch.Tensor],
) -> torch.Tensor:
    """d2l's total loss, summed the way the book sums it."""
    contents_l = [content_loss(Y_hat, Y) * CONTENT_WEIGHT for Y_hat, Y in zip(contents_Y_hat, contents_Y)]
    styles_l = [style_loss(Y_hat, Y) * STYLE_WEIGHT for Y_hat, Y in zip(styles_Y_hat, styles_Y_gram)]
    tv_l = tv_loss(X) * TV_WEIGHT
    # `10 * styles_l` repeats the list ten times, so style counts 1e4.
    return sum(10 * styles_l + contents_l + [tv_l])


def targets(
    net: nn.Sequential, content: torch.Tensor, style: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """d2l's content features and style Grams, as its train() builds them."""
    contents_Y, _ = extract_features(net, content, CONTENT_LAYERS, STYLE_LAYERS)
    _, styles_Y = extract_features(net, style, CONTENT_LAYERS, STYLE_LAYERS)
    return contents_Y, [gram(Y) for Y in styles_Y]


def d2l_loss(net: nn.Sequential, X: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> float:
    """The reference's total loss for image X, scored as its training loop scores it."""
    with torch.no_grad():
        contents_Y, styles_Y_gram = targets(net, content, style)
        contents_Y_hat, styles_Y_hat = extract_features(net, X, CONTENT_LAYERS, STYLE_LAYERS)
        return compute_loss(X, contents_Y_hat, styles_Y_hat, contents_Y, styles_Y_gram).item()


def d2l_reference(
    content: torch.Tensor,
    style: torch.Tensor,
    epochs: int,
    device: torch.device,
    pretrained: nn.Sequential | None = None,
) -> dict:
    """d2l 14.12's train() as the book runs it; returns image, per-epoch losses and timings.

    The clock starts at the targets, like the fast path's: loading the weights is not timed.
    """
    net = d2l_net(pretrained, device)
    start = time.perf_counter()
    contents_Y, styles_Y_gram = targets(net, content, style)
    X = nl.SynthesizedImage(content).to(device)  # d2l: gen_img.weight.data.copy_(X.data)
    trainer = torch.optim.Adam(X.parameters(), lr=0.3)
    scheduler = torch.optim.lr_scheduler.StepLR(trainer, 50, 0.8)
    losses = []
    for _epoch in range(epochs):
        trainer.zero_grad()
        contents_Y_hat, styles_Y_hat = extract_features(net, X(), CONTENT_LAYERS, STYLE_LAYERS)
        loss = compute_loss(X(), contents_Y_hat, styles_Y_hat, contents_Y, styles_Y_gram)
        loss.backward()
        trainer.step()
        scheduler.step()
        losses.append(loss.item())
    if device.type == "cuda":
        torch.cuda.synchronize()
    return {"image": X().detach(), "losses": losses, "seconds": time.perf_counter() - start, "passes": epochs}
