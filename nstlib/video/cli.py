"""`python -m nstlib.video CLIP -o OUT.mp4 (--style IMAGE | --model NAME)`: stylise a clip without flicker."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..cli import DEFAULT_SIZE, _loading, _number, check_output, run_main
from ..device import default_device
from ..errors import NSTError, OneLineParser
from ..images import load_image, preprocess, resize
from ..realtime.network import TransformerNet
from ..recipes import DEFAULT_STEPS, DEFAULT_STRENGTH
from ..resources import _human, available_bytes, estimate_bytes
from .flow import FLOW_METHODS
from .io import VIDEO_TYPES, frame_shape, probe, read_frames, write_video
from .metrics import temporal_error
from .stylize import DEFAULT_BLEND, DEFAULT_TEMPORAL_WEIGHT, Frame, realtime_frames, stylize_frames

_size = _number(int, 16, "must be at least 16 px")
_count = _number(int, 1, "must be >= 1")
_weight = _number(float, 0, "must be >= 0")
_fps = _number(float, 0.1, "must be at least 0.1 frames per second", 240)
_blend = _number(float, 0, "must be in [0, 1)", 0.99)
#: Per frame held in memory: the input and the output, uint8 RGB.
FRAME_BYTES_PER_PIXEL = 6
EXAMPLES = """examples (from the course's folder):
  python -m nstlib.video img/video/big-buck-bunny.mp4 -o bunny-cafe.mp4 --style img/style/van-gogh-night-cafe.jpg --max-frames 24
  python -m nstlib.video img/video/big-buck-bunny.mp4 -o bunny-fast.gif --model night-cafe"""


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = OneLineParser(
        prog="python -m nstlib.video",
        description="Stylise a video clip frame by frame without flicker: each frame starts from the "
        "previous result warped along the optical flow, with a temporal loss (Ruder et al. 2016), or "
        "through a real-time network blended along the flow.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("clip", type=Path, help="the video (MP4, MOV, WebM, GIF, ...)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the result: OUT.mp4 or OUT.gif")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--style",
        type=Path,
        help="a painting: stylise by optimisation (minutes per second of video on a CPU)",
    )
    how.add_argument(
        "--model", help="a real-time model: a shipped name (python -m nstlib.realtime list) or a file"
    )
    p.add_argument("--temporal-weight", type=_weight, default=None,
                   help=f"weight of the temporal loss, 1 = the photo's own distance to the warped previous result "
                   f"(default {DEFAULT_TEMPORAL_WEIGHT:g}; 0: warped start only)")  # fmt: skip
    p.add_argument("--independent", action="store_true",
                   help="stylise every frame from its own photo (the flickering baseline)")  # fmt: skip
    p.add_argument("--blend", type=_blend, default=None,
                   help=f"with --model: weight of the warped previous output where the flow is trusted (default {DEFAULT_BLEND:g})")  # fmt: skip
    p.add_argument("--max-frames", type=_count, default=None, help="stylise at most this many frames")
    p.add_argument("--size", type=_size, default=None,
                   help="long side in px (default 256 on a CPU, 512 on a GPU; never above the clip's own)")  # fmt: skip
    p.add_argument("--fps", type=_fps, default=None,
                   help="take this many frames per second of the clip (default: all); the result plays at this rate")  # fmt: skip
    p.add_argument(
        "--strength",
        type=_weight,
        default=DEFAULT_STRENGTH,
        help=f"how painted (default {DEFAULT_STRENGTH:g})",
    )
    p.add_argument("--steps", type=_count, default=DEFAULT_STEPS,
                   help=f"at most this many L-BFGS steps a frame (default {DEFAULT_STEPS}; the stop rule ends most sooner)")  # fmt: skip
    p.add_argument("--flow", choices=FLOW_METHODS, default="dis", help="optical flow (default dis)")
    p.add_argument("--device", default=None, help="cpu, cuda ... (default: cuda if present)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _check_options(args: argparse.Namespace) -> None:
    if args.model and (args.temporal_weight is not None or args.independent):
        raise NSTError(
            "--temporal-weight and --independent are for --style (optimisation); with --model use --blend"
        )
    if args.style and args.blend is not None:
        raise NSTError("--blend is for --model (a real-time network); with --style use --temporal-weight")
    if args.independent and args.temporal_weight:
        raise NSTError("--independent frames have no temporal loss; drop --temporal-weight or --independent")


def video_bytes(height: int, width: int, frames: int, *, optimise: bool, device: torch.device) -> int:
    """Peak memory of a run: one frame's optimisation (or network pass) plus every frame held twice."""
    from ..realtime.cli import apply_bytes

    one = estimate_bytes(height, width, device=str(device)) if optimise else apply_bytes(height, width)
    return one + frames * height * width * FRAME_BYTES_PER_PIXEL


def check_video_fits(height: int, width: int, frames: int, *, optimise: bool, device: torch.device) -> None:
    """Raise a one-line NSTError, with a --size that fits, if the run would not fit in free memory."""
    need, free = video_bytes(height, width, frames, optimise=optimise, device=device), available_bytes(device)
    if free is None or need <= free:
        return
    side = max(height, width)
    while (
        side >= 16
        and video_bytes(*_scaled(height, width, side), frames, optimise=optimise, device=device) > free
    ):
        side = int(side * 0.9)
    fix = f"use --size {side} or less" if side >= 16 else "free some memory first"
    raise NSTError(
        f"{width}x{height} px x {frames} frames needs about {_human(need)} of memory but {device} has "
        f"{_human(free)} free; {fix}, or fewer --max-frames"
    )


def _scaled(height: int, width: int, side: int) -> tuple[int, int]:
    scale = side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _painter(args: argparse.Namespace, device: torch.device) -> TransformerNet | Image.Image:
    """The --model network, or the --style painting (PIL), loaded before any frame is decoded.

    So an unknown model or an unreadable painting is the command's first and only line, not an
    error after a progress bar and seconds of decoding.
    """
    if args.model:
        from ..realtime.model import load_model

        return load_model(args.model, device)
    return load_image(args.style)


def _note_size_cap(args: argparse.Namespace, width: int, height: int, side: int) -> None:
    """Say so when --size is above the clip's own long side: frames are never enlarged (`side`: what is used)."""
    if args.size is not None and args.size > max(width, height):
        print(
            f"note: --size {args.size} capped to {side} px, the clip's own long side ({width}x{height} px): "
            "enlarging frames would add time and memory, not detail",
            file=sys.stderr,
        )


def _frames(
    args: argparse.Namespace,
    frames: list[np.ndarray],
    side: int,
    device: torch.device,
    painter: TransformerNet | Image.Image,
):
    """The stylised frames, one at a time: by optimisation (--style) or a network (--model)."""
    if args.model:
        blend = DEFAULT_BLEND if args.blend is None else args.blend
        return realtime_frames(frames, painter, blend=blend, flow_method=args.flow)
    style = preprocess(resize(painter, max_size=side), device=device)
    start = "content" if args.independent else "warped"
    with _loading("loading VGG-19", args.quiet):
        from ..recipes import recipe_extractor

        extractor = recipe_extractor(device=device)
    return stylize_frames(frames, style, start=start, temporal_weight=args.temporal_weight, strength=args.strength,
                          steps=args.steps, flow_method=args.flow, extractor=extractor)  # fmt: skip


def run(args: argparse.Namespace) -> Path:
    """Stylise the clip as the parsed arguments say and write it; returns the output path."""
    started = time.perf_counter()
    check_output(
        args.output,
        [args.clip],
        args.force,
        kind="video",
        types=VIDEO_TYPES,
        endings=".mp4 or .gif",
        input_label="the input clip",
    )
    _check_options(args)
    device = torch.device(args.device) if args.device else default_device()
    painter = _painter(args, device)
    info = probe(args.clip)
    h, w = frame_shape(info.width, info.height, args.size or DEFAULT_SIZE.get(device.type, 256))
    expected = round(info.frames * min(1.0, (args.fps or info.fps) / info.fps)) or 1
    check_video_fits(
        h, w, min(expected, args.max_frames or expected), optimise=bool(args.style), device=device
    )
    _note_size_cap(args, info.width, info.height, max(h, w))
    frames, fps = read_frames(args.clip, size=max(h, w), max_frames=args.max_frames, fps=args.fps)
    stylised = _frames(args, frames, max(h, w), device, painter)  # VGG-19 loads before the bar starts
    done: list[Frame] = []
    with tqdm(total=len(frames), unit="frame", desc="stylising", disable=args.quiet) as bar:
        for frame in stylised:
            done.append(frame)
            bar.set_postfix(steps=frame.steps, refresh=False)
            bar.update()
    write_video([f.pixels for f in done], args.output, fps=fps)
    _report(args, done, frames, fps, device, time.perf_counter() - started)
    return args.output


def _report(args, done: list[Frame], frames: list[np.ndarray], fps: float, device, seconds: float) -> None:
    h, w = frames[0].shape[:2]
    if args.model:
        how = f"model {args.model}, blend {DEFAULT_BLEND if args.blend is None else args.blend:g}"
    elif args.independent:
        how = f"strength {args.strength:g}, independent frames"
    else:
        weight = DEFAULT_TEMPORAL_WEIGHT if args.temporal_weight is None else args.temporal_weight
        how = f"strength {args.strength:g}, temporal weight {weight:g}"
    later = [f.seconds for f in done[1:]]
    timing = f"first frame {done[0].seconds:.1f} s" + (
        f", later {np.mean(later):.1f} s each" if later else ""
    )
    flicker = ""
    if len(frames) > 1:
        e = temporal_error([f.pixels for f in done], frames, method=args.flow)
        flicker = f"; temporal error {e['relative']:.2f}x the input's"
    print(f"wrote {args.output} ({len(done)} frames, {w}x{h} px, {fps:g} fps, {how}, {device}) "
          f"in {seconds:.1f} s; {timing}{flicker}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, turn NSTError into a one-line message and exit code 2."""
    return run_main(build_parser(), run, argv, "interrupted; nothing written")
