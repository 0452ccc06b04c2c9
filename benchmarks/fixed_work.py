"""Fixed work: a set number of L-BFGS iterations on a Fourier image, timed per GPU setting."""

from __future__ import annotations

import time

import torch

import nstlib as nl
from benchmarks.common import CONTENT, STYLE, sync

#: name, CUDA graph, channels_last, cudnn.benchmark, bf16 autocast
GPU_SETTINGS = [
    ("eager (no CUDA graph), NCHW", False, False, False, False),
    ("CUDA graph, NCHW", True, False, False, False),
    ("CUDA graph, channels_last", True, True, False, False),
    ("CUDA graph, channels_last, cudnn.benchmark", True, True, True, False),
    ("CUDA graph, channels_last, bf16 autocast", True, True, False, True),
    ("CUDA graph, channels_last, bf16 autocast, cudnn.benchmark", True, True, True, True),
]


def _timed_run(
    ext: nl.FeatureExtractor,
    content: torch.Tensor,
    style: torch.Tensor,
    steps: int,
    graph: bool,
    half: bool,
    device: torch.device,
) -> tuple[nl.TrainResult, float]:
    """`steps` L-BFGS steps of d2l's objective (weights 1 / 1e4 / 10, content conv4_2, zero padding) on a Fourier image; (result, seconds from the targets)."""
    sync(device)
    start = time.perf_counter()
    loss = nl.StyleTransferLoss(ext, content, style)
    r = nl.train(
        nl.parametrize(content, "fourier"),
        loss,
        optimizer="lbfgs",
        steps=steps,
        progress=False,
        cuda_graph=graph,
        precision="bf16" if half else "fp32",
    )
    sync(device)
    return r, time.perf_counter() - start


def fixed_work(side: int, iterations: int, device: torch.device) -> list[dict]:
    """Seconds for `iterations` L-BFGS steps at side x side px, per GPU setting, side by side.

    d2l's objective (weights 1 / 1e4 / 10, content conv4_2, zero padding), not the recipes'
    normalised one; Gatys' style layers, Fourier image, content start. The clock runs from the
    targets (Grams) to the last step, after one 5-step warm-up run of each
    setting, timed on its own: it holds cuDNN's and cuFFT's first-call set-up (and autotuning
    with cudnn.benchmark). Loading the weights is not timed.
    """
    content = nl.preprocess(nl.load_image(CONTENT, shape=(side, side)), device=device)
    style = nl.preprocess(nl.load_image(STYLE, max_size=side), device=device)
    settings = GPU_SETTINGS if device.type == "cuda" else [("eager", False, True, False, False)]
    layers = nl.CONTENT_LAYERS + nl.STYLE_LAYERS
    net = nl.load_vgg19("caffe", device=device)  # frozen: every extractor below can share it
    judge = nl.StyleTransferLoss(nl.FeatureExtractor(layers, net=net), content, style)
    rows = []
    for name, graph, cl, bench, half in settings:
        torch.backends.cudnn.benchmark = bench
        ext = nl.FeatureExtractor(layers, net=net, channels_last=cl)
        _, first = _timed_run(
            ext, content, style, 5, graph, half, device
        )  # first-call set-up kept off the clock
        r, seconds = _timed_run(ext, content, style, iterations, graph, half, device)
        torch.backends.cudnn.benchmark = False
        with torch.no_grad():  # every image scored the same way: fp32, no graph
            score = judge(r.image).total.item()
        rows.append(
            {
                "setting": name,
                "seconds": seconds,
                "first_5_steps_s": first,
                "passes": r.evaluations,
                "loss": score,
            }
        )
        print(
            f"  {name:58s} {seconds:6.2f} s  ({seconds / iterations * 1000:.2f} ms/iteration), loss {score:.4g};"
            f" first run, 5 steps: {first:.2f} s",
            flush=True,
        )
    return rows
