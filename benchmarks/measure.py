"""The benchmark's measurements at one image size: per-pass levers, d2l's bar, the fast path's race to it."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

import nstlib as nl
from benchmarks.common import (
    D2L_LAYERS,
    d2l_extractor,
    d2l_objective,
    images,
    sync,
    time_passes,
)
from benchmarks.d2l_reference import d2l_reference
from nstlib.recipes import pyramid_stylize


def _pass(loss_fn: Callable, image: torch.Tensor) -> Callable[[], None]:
    """One forward + backward pass of loss_fn at image, as a call to time."""

    def run() -> None:
        image.grad = None
        loss_fn(image).total.backward()

    return run


def _cuda_levers(
    loss_fn: Callable, image: torch.Tensor, device: torch.device, repeats: int
) -> list[tuple[str, float]]:
    """TF32 + cudnn.benchmark, then torch.compile on top, each restored to torch's defaults after."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    rows = [("frozen + TF32 + cudnn.benchmark", time_passes(_pass(loss_fn, image), device, repeats))]
    compiled = torch.compile(loss_fn)
    rows.append(("frozen + TF32 + torch.compile", time_passes(_pass(compiled, image), device, repeats)))
    # later timings must not inherit (or pay for) autotuning
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = True
    return rows


def levers(shape: tuple[int, int], device: torch.device, repeats: int) -> list[tuple[str, float]]:
    """Seconds per forward/backward pass for each lever, measured side by side (d2l's setting first)."""
    content, style = images(shape, device)
    img = content.clone().requires_grad_(True)
    thawed = nl.FeatureExtractor(D2L_LAYERS, net=nl.load_vgg19("caffe", device=device), channels_last=False)
    thawed.net.requires_grad_(True)  # FeatureExtractor freezes; undo it to measure d2l's setting
    frozen = nl.FeatureExtractor(D2L_LAYERS, net=nl.load_vgg19("caffe", device=device), channels_last=False)
    loss_cl = d2l_objective(d2l_extractor(device), content, style)
    rows = [
        ("VGG requires grad (d2l)", d2l_objective(thawed, content, style)),
        ("VGG frozen", d2l_objective(frozen, content, style)),
        ("frozen + channels_last (nstlib)", loss_cl),
    ]
    rows = [(name, time_passes(_pass(loss, img), device, repeats)) for name, loss in rows]
    if device.type == "cuda":
        rows += _cuda_levers(loss_cl, img, device, repeats)
    return rows


def fast_path(
    content: torch.Tensor,
    style: torch.Tensor,
    target: float,
    max_steps: int,
    device: torch.device,
    coarse_steps: tuple[int, ...] = (),
    parametrization: str = "fourier",
) -> dict:
    """nstlib on d2l's objective: L-BFGS on `parametrization` until the loss reaches `target`.

    With coarse_steps, a pyramid first runs those steps at 1/2^k size, coarsest first.
    """
    ext = d2l_extractor(device)
    start = time.perf_counter()  # like the reference's clock: targets included, loading VGG not
    # fp32 like the reference (and the stored tables): precision "auto" would pick bf16 on a GPU
    common = {"optimizer": "lbfgs", "stop_below": target, "progress": False, "precision": "fp32"}
    if coarse_steps:
        r = pyramid_stylize(
            content,
            style,
            ext,
            steps=(*coarse_steps, max_steps),
            make_loss=d2l_objective,
            parametrization=parametrization,
            **common,
        )
    else:
        synth = nl.parametrize(content, parametrization).to(device)
        r = nl.train(synth, d2l_objective(ext, content, style), steps=max_steps, **common)
    sync(device)
    levels = r.history.get("level", [0] * r.evaluations)
    return {
        "image": r.image,
        "seconds": time.perf_counter() - start,
        "passes": r.evaluations,
        "full_size_passes": sum(lv == max(levels) for lv in levels),
    }


def print_levers(shape: tuple[int, int], rows: list[tuple[str, float]], repeats: int) -> None:
    """The levers' seconds per pass and their ratio to d2l's setting (the first row)."""
    print(f"## {shape[0]}x{shape[1]}: seconds per forward/backward pass (median of {repeats})")
    for name, sec in rows:
        print(f"  {name:34s} {sec:7.3f} s   x{rows[0][1] / sec:5.2f}", flush=True)


def reference_bar(content: torch.Tensor, style: torch.Tensor, epochs: int, device: torch.device) -> dict:
    """Run d2l's loop and score its image with the shared evaluation: the bar the fast path must reach."""
    ref = d2l_reference(content, style, epochs, device)
    evaluate = d2l_objective(d2l_extractor(device), content, style)
    with torch.no_grad():
        check = evaluate(content).total.item()
        bar = evaluate(ref["image"]).total.item()
    print(
        f"  shared evaluation on the start image: {check:.6g}; reference's own first loss: {ref['losses'][0]:.6g}"
    )
    print(f"  reference: {epochs} Adam epochs in {ref['seconds']:.1f} s -> loss {bar:.5g}")
    return {
        "shared_eval_start": check,
        "reference_first_loss": ref["losses"][0],
        "reference_seconds": ref["seconds"],
        "reference_loss": bar,
    }


def fast_variants(coarse_steps: int) -> list[tuple[str, tuple[int, ...], str]]:
    """The nstlib paths raced against the reference: (name, pyramid coarse steps, parametrization)."""
    return [
        ("L-BFGS, Fourier image (nstlib's fast path)", (), "fourier"),
        ("L-BFGS, pixels", (), "pixels"),
        (f"pyramid, 2 levels, Fourier ({coarse_steps} steps at 1/2 size)", (coarse_steps,), "fourier"),
    ]


def race(
    content: torch.Tensor,
    style: torch.Tensor,
    ref: dict,
    max_steps: int,
    coarse_steps: int,
    device: torch.device,
) -> dict[str, dict]:
    """Each fast variant run to the reference's loss; its passes, time, loss and speed-up."""
    evaluate = d2l_objective(d2l_extractor(device), content, style)
    bar, rows = ref["reference_loss"], {}
    for name, coarse, param in fast_variants(coarse_steps):
        fast = fast_path(content, style, bar, max_steps, device, coarse, param)
        with torch.no_grad():
            loss = evaluate(fast["image"]).total.item()
        speedup = ref["reference_seconds"] / fast["seconds"]
        print(
            f"  {name}: {fast['passes']} passes ({fast['full_size_passes']} at full size) in {fast['seconds']:.1f} s"
            f" -> loss {loss:.5g} ({'reached' if loss <= bar else 'NOT reached'}): x{speedup:.1f} faster",
            flush=True,
        )
        rows[name] = {
            "seconds": fast["seconds"],
            "passes": fast["passes"],
            "full_size_passes": fast["full_size_passes"],
            "loss": loss,
            "reached": loss <= bar,
            "speedup_time": speedup,
        }
    return rows


def compare_at(
    shape: tuple[int, int], epochs: int, max_steps: int, coarse_steps: int, repeats: int, device: torch.device
) -> dict:
    """Everything measured at one image size: levers, the reference's bar, the fast variants' race."""
    content, style = images(shape, device)
    rows = levers(shape, device, repeats)
    print_levers(shape, rows, repeats)
    result = {"levers_s_per_pass": dict(rows), **reference_bar(content, style, epochs, device)}
    result["fast"] = race(content, style, result, max_steps, coarse_steps, device)
    return result
