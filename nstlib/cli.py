"""`python -m nstlib CONTENT STYLE -o OUT.jpg`: stylise a photo from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from . import color
from .device import default_device, seed_everything
from .errors import NSTError
from .features import CONTENT_LAYERS, STYLE_LAYERS, FeatureExtractor
from .images import load_image, postprocess, preprocess
from .losses import StyleTransferLoss
from .pyramid import pyramid_stylize
from .spatial import GuidedStyleTransferLoss, load_mask
from .synthesis import INITS, PARAMETRIZATIONS
from .training import OPTIMIZERS, PRECISIONS
from .vgg import WEIGHTS


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _size(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of pixels, got {value}")
    return value


def _weight(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _levels(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 6:
        raise argparse.ArgumentTypeError(f"must be 1 to 6 levels, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(
        prog="python -m nstlib",
        description="Neural style transfer (Gatys et al.) with the original VGG-19, offline.",
    )
    p.add_argument("content", type=Path, help="content photo")
    p.add_argument("style", type=Path, help="style image (a painting)")
    p.add_argument("-o", "--output", type=Path, required=True, help="where to write the result")
    p.add_argument("--size", type=_size, default=256, help="long side of the result in px (default 256)")
    p.add_argument("--steps", type=_count, default=300, help="optimiser steps (default 300)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="lbfgs", help="default lbfgs")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.3 adam, 1 lbfgs)")
    p.add_argument("--content-weight", type=_weight, default=1.0)
    p.add_argument("--style-weight", type=_weight, default=1e4)
    p.add_argument("--tv-weight", type=_weight, default=10.0)
    p.add_argument("--init", choices=INITS, default="content")
    p.add_argument(
        "--parametrization",
        choices=PARAMETRIZATIONS,
        default="fourier",
        help="what the optimiser changes: the pixels, or the image's spectrum (default fourier: "
        "same result quality in ~20%% fewer passes, see benchmarks/)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--weights",
        choices=[w for w in WEIGHTS if w != "caffe-raw"],
        default="caffe",
        help="VGG-19 weights (default caffe: the original, offline)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="bf16: bfloat16 autocast, ~30%% faster on recent GPUs, loss ~0.3%% higher (default fp32)",
    )
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("perceptual controls (Gatys et al. 2017)")
    g.add_argument(
        "--style",
        dest="extra_style",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="another style image to blend in (repeatable)",
    )
    g.add_argument(
        "--style-weights",
        type=_weight,
        nargs="+",
        default=None,
        metavar="W",
        help="one proportion per style (divided by their sum), e.g. 0.7 0.3",
    )
    g.add_argument(
        "--preserve-color",
        choices=("luminance", "histogram"),
        default=None,
        help="keep the photo's colours: luminance-only transfer, or recolour the style first",
    )
    g.add_argument(
        "--mask",
        type=Path,
        default=None,
        help="black-and-white image: the style goes where it is white (a second style: where black)",
    )
    g.add_argument(
        "--style-scale",
        type=_positive,
        default=None,
        metavar="S",
        help="style image's long side as a multiple of the content's (default: both --size)",
    )
    g.add_argument(
        "--pyramid",
        type=_levels,
        default=1,
        metavar="N",
        help="optimise at N sizes, each twice the last (--steps at each); default 1",
    )
    return p


def _check_output(out: Path, inputs: list[Path], force: bool) -> None:
    for src in inputs:
        if out.resolve() == src.resolve() or (out.exists() and src.exists() and out.samefile(src)):
            raise NSTError(f"{out}: is an input image; choose another output path")
    if out.exists() and not force:
        raise NSTError(f"{out}: already exists; choose another path or add --force to overwrite it")
    if out.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"):
        raise NSTError(f"{out}: unknown image type {out.suffix!r}; end the name in .jpg or .png")
    if not out.parent.is_dir():
        raise NSTError(f"{out}: folder {out.parent} does not exist; create it first")


def _make_loss(args: argparse.Namespace, mask: torch.Tensor | None):
    """The objective for one pyramid level: plain/blended, or guided by the mask's two regions."""
    weights = dict(
        content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight
    )

    def make(extractor, content, styles):
        if mask is None:
            return StyleTransferLoss(extractor, content, styles, style_blend=args.style_weights, **weights)
        m = F.adaptive_avg_pool2d(mask.to(content), content.shape[-2:])
        regional = [styles[0], styles[1] if len(styles) == 2 else None]
        return GuidedStyleTransferLoss(
            extractor, content, regional, [m, 1 - m], region_weights=args.style_weights, **weights
        )

    return make


def run(args: argparse.Namespace) -> Path:
    """Stylise as the parsed arguments say and write the result; returns the output path."""
    style_paths = [args.style, *args.extra_style]
    _check_output(args.output, [args.content, *style_paths, *([args.mask] if args.mask else [])], args.force)
    if args.style_weights is not None and len(args.style_weights) != len(style_paths):
        raise NSTError(
            f"{len(args.style_weights)} --style-weights for {len(style_paths)} style images; give one per style"
        )
    if args.mask and len(style_paths) > 2:
        raise NSTError("a mask splits the picture into two regions: give one or two styles with --mask")
    device = args.device or default_device()
    content_img = load_image(args.content, max_size=args.size)
    content = preprocess(content_img, device=device)
    style_size = round(args.style_scale * max(content_img.size)) if args.style_scale else args.size
    styles = [preprocess(load_image(p, max_size=style_size), device=device) for p in style_paths]
    mask = load_mask(args.mask, tuple(content.shape[-2:])).to(device) if args.mask else None
    target = content
    if args.preserve_color == "histogram":
        styles = [color.match_color(s, content) for s in styles]
    elif args.preserve_color == "luminance":
        styles = [color.match_luminance(s, content) for s in styles]
        target = color.luminance(content)
    seed_everything(args.seed)
    start = time.perf_counter()
    extractor = FeatureExtractor(CONTENT_LAYERS + STYLE_LAYERS, weights=args.weights, device=device)
    try:
        result = pyramid_stylize(
            target,
            styles,
            extractor,
            steps=[args.steps] * args.pyramid,
            make_loss=_make_loss(args, mask),
            init=args.init,
            seed=args.seed,
            parametrization=args.parametrization,
            optimizer=args.optimizer,
            lr=args.lr,
            precision=args.precision,
            progress=not args.quiet,
        )
    except NSTError as err:
        # Name the file when the net finds an image too small.
        msg = str(err).replace("content image", f"content image {args.content}")
        if len(style_paths) == 1:
            msg = msg.replace("style image", f"style image {args.style}")
        for k, path in enumerate(style_paths, start=1):
            msg = msg.replace(f"style image {k} ", f"style image {path} ")
        raise NSTError(msg) from None
    image = (
        color.with_content_color(result.image, content)
        if args.preserve_color == "luminance"
        else result.image
    )
    postprocess(image).save(args.output)
    seconds = time.perf_counter() - start
    h, w = content.shape[-2:]
    levels = f", {args.pyramid}-level pyramid" if args.pyramid > 1 else ""
    levels += ", bf16" if args.precision == "bf16" else ""
    print(
        f"wrote {args.output} ({w}x{h} px, {args.steps} {args.optimizer} steps ({args.parametrization}){levels}, "
        f"{args.weights} weights, {device}) in {seconds:.1f} s"
    )
    return args.output


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, turn NSTError into a one-line message and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except NSTError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing written", file=sys.stderr)
        return 130
    return 0
