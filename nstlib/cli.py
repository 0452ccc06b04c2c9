"""`python -m nstlib CONTENT STYLE -o OUT.jpg`: stylise a photo from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .device import default_device, seed_everything
from .errors import NSTError
from .images import load_image, postprocess, preprocess
from .synthesis import INITS
from .training import OPTIMIZERS, stylize
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--weights",
        choices=[w for w in WEIGHTS if w != "caffe-raw"],
        default="caffe",
        help="VGG-19 weights (default caffe: the original, offline)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
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


def run(args: argparse.Namespace) -> Path:
    """Stylise as the parsed arguments say and write the result; returns the output path."""
    _check_output(args.output, [args.content, args.style], args.force)
    device = args.device or default_device()
    content_img = load_image(args.content, max_size=args.size)
    style_img = load_image(args.style, max_size=args.size)
    content = preprocess(content_img, device=device)
    style = preprocess(style_img, device=device)
    seed_everything(args.seed)
    start = time.perf_counter()
    try:
        result = stylize(
            content,
            style,
            weights=args.weights,
            content_weight=args.content_weight,
            style_weight=args.style_weight,
            tv_weight=args.tv_weight,
            init=args.init,
            seed=args.seed,
            optimizer=args.optimizer,
            steps=args.steps,
            lr=args.lr,
            progress=not args.quiet,
        )
    except NSTError as err:
        # Name the file when the net finds an image too small.
        msg = str(err).replace("content image", f"content image {args.content}")
        raise NSTError(msg.replace("style image", f"style image {args.style}")) from None
    postprocess(result.image).save(args.output)
    seconds = time.perf_counter() - start
    h, w = content.shape[-2:]
    print(
        f"wrote {args.output} ({w}x{h} px, {args.steps} {args.optimizer} steps, "
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
