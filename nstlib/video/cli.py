"""`python -m nstlib.video CLIP -o OUT.mp4 (--style IMAGE | --model NAME)`: stylise a clip without flicker.

Under `torchrun --nproc_per_node=N` each rank stylises one chunk of consecutive frames (`chunks.py`):
with --style ranks (0, 1), (2, 3), ... meet back to back, other chunks start `--warmup` frames early;
rank 0 joins them into the one output file.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..cli import _loading, _number, check_output, run_main
from ..distributed import gather_to_main, joined, on_every_rank, patient_group
from ..errors import NSTError, OneLineParser
from ..images import load_image, preprocess, resize
from ..realtime.network import TransformerNet
from ..recipes import DEFAULT_STEPS, DEFAULT_STRENGTH
from ..resources import _human, available_bytes, estimate_bytes
from .chunks import Chunk, anchors, boundaries, plan_chunks
from .flow import FLOW_METHODS
from .io import VIDEO_TYPES, frame_shape, probe, read_frames, write_video
from .metrics import temporal_error
from .stylize import DEFAULT_BLEND, DEFAULT_TEMPORAL_WEIGHT, Frame, realtime_frames, stylize_frames

_size = _number(int, 16, "must be at least 16 px")
_count = _number(int, 1, "must be >= 1")
_weight = _number(float, 0, "must be >= 0")
_fps = _number(float, 0.1, "must be at least 0.1 frames per second", 240)
_blend = _number(float, 0, "must be in [0, 1)", 0.99)
_frames_early = _number(int, 0, "must be >= 0")
#: Per frame held in memory: the input and the output, uint8 RGB.
FRAME_BYTES_PER_PIXEL = 6
#: Frames a chunk after the first stylises before the first one it writes, under torchrun. On the
#: excerpt (benchmarks/results/video-chunks-cpu.md), with --model (blend 0.5 forgets its start as 0.5^K)
#: the boundary's warping error fell from 1.7x the inside's at K = 0 to 1.07x at 2 and 1.03x at 4, as
#: the same frame in one process; 4 leaves room for a higher --blend and costs 4 frames a chunk. With
#: --style no K closes the seam (5.3x at 0, 4.8x at 4): a chunk keeps the texture its first frame chose,
#: so --style pairs its ranks back to back (`chunk_plan`) and warms up only an odd last rank.
DEFAULT_WARMUP = 4
#: How long a rank that finished its chunk waits for the slowest at the join (the default 10 minutes
#: of `distributed.TIMEOUT` is shorter than the spread of a long clip's chunk times).
CHUNK_WAIT = datetime.timedelta(hours=24)
EXAMPLES = """examples (from the course's folder):
  python -m nstlib.video img/video/big-buck-bunny.mp4 -o bunny-cafe.mp4 --style img/style/van-gogh-night-cafe.jpg --max-frames 24
  python -m nstlib.video img/video/big-buck-bunny.mp4 -o bunny-fast.gif --model night-cafe
  python -m nstlib.video img/video/big-buck-bunny.mp4 -o bunny-any.gif --painting img/style/van-gogh-pere-tanguy.jpg
  torchrun --standalone --nproc_per_node=2 -m nstlib.video CLIP -o OUT.mp4 --style PAINTING  # a chunk a rank"""

#: Default long side of a clip's frames by device: a CPU optimises dozens of frames, so 256 px there.
FRAME_SIZE = {"cpu": 256, "cuda": 512}


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
    how.add_argument(
        "--painting", type=Path,
        help="any painting, one pass a frame: whitening and colouring (python -m nstlib.arbitrary)",
    )  # fmt: skip
    p.add_argument("--temporal-weight", type=_weight, default=None,
                   help=f"weight of the temporal loss, 1 = the photo's own distance to the warped previous result "
                   f"(default {DEFAULT_TEMPORAL_WEIGHT:g}; 0: warped start only)")  # fmt: skip
    p.add_argument("--independent", action="store_true",
                   help="stylise every frame from its own photo (the flickering baseline)")  # fmt: skip
    p.add_argument("--blend", type=_blend, default=None,
                   help=f"with --model or --painting: weight of the warped previous output where the flow is trusted (default {DEFAULT_BLEND:g})")  # fmt: skip
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
    p.add_argument("--warmup", type=_frames_early, default=DEFAULT_WARMUP, metavar="K",
                   help=f"under torchrun: each chunk after the first starts K frames early, stylised but not written, "
                   f"so its first frame has a past (default {DEFAULT_WARMUP}); with --style only an odd last "
                   "rank's: the others are paired back to back")  # fmt: skip
    p.add_argument("--device", default=None, help="cpu, cuda ... (default: cuda if present)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _check_options(args: argparse.Namespace) -> None:
    if (args.model or args.painting) and (args.temporal_weight is not None or args.independent):
        raise NSTError(
            "--temporal-weight and --independent are for --style (optimisation); with --model or --painting use --blend"
        )
    if args.style and args.blend is not None:
        raise NSTError("--blend is for --model or --painting (one pass a frame); with --style use --temporal-weight")
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


def _painter(args: argparse.Namespace, device: torch.device) -> TransformerNet | Image.Image | tuple:
    """The --model network, the --style painting (PIL), or the --painting and the decoders, loaded before any
    frame is decoded.

    So an unknown model or an unreadable painting is the command's first and only line, not an
    error after a progress bar and seconds of decoding.
    """
    if args.model:
        from ..realtime.model import load_model

        return load_model(args.model, device)
    if args.painting:
        painting = load_image(args.painting)  # an unreadable painting fails before the decoders load
        from ..arbitrary import load_universal

        return painting, load_universal(device=device)
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
    if args.model or args.painting:
        blend = DEFAULT_BLEND if args.blend is None else args.blend
        if args.painting:  # the painting's statistics at the frames' size, once for the clip
            from ..arbitrary import Painter

            painting, model = painter
            painter = Painter(model, painting, size=side)
        return realtime_frames(frames, painter, blend=blend, flow_method=args.flow)
    style = preprocess(resize(painter, max_size=side), device=device)
    start = "content" if args.independent else "warped"
    with _loading("loading VGG-19", args.quiet):
        from ..recipes import recipe_extractor

        extractor = recipe_extractor(device=device)
    return stylize_frames(frames, style, start=start, temporal_weight=args.temporal_weight, strength=args.strength,
                          steps=args.steps, flow_method=args.flow, extractor=extractor)  # fmt: skip


def _prepare(args: argparse.Namespace, device: torch.device, *, say: bool) -> tuple:
    """Every check, then the painter and the frames: (painter, frames, fps, side). `say`: print notes."""
    check_output(
        args.output,
        [args.clip] + ([args.painting] if args.painting else []),
        args.force,
        kind="video",
        types=VIDEO_TYPES,
        endings=".mp4 or .gif",
        input_label="the input clip",
    )
    _check_options(args)
    painter = _painter(args, device)
    info = probe(args.clip)
    h, w = frame_shape(info.width, info.height, args.size or FRAME_SIZE.get(device.type, FRAME_SIZE["cpu"]))
    expected = round(info.frames * min(1.0, (args.fps or info.fps) / info.fps)) or 1
    check_video_fits(
        h, w, min(expected, args.max_frames or expected), optimise=bool(args.style), device=device
    )
    if say:
        _note_size_cap(args, info.width, info.height, max(h, w))
    frames, fps = read_frames(args.clip, size=max(h, w), max_frames=args.max_frames, fps=args.fps)
    return painter, frames, fps, max(h, w)


def chunk_plan(args: argparse.Namespace, n_frames: int, ranks: int) -> list[Chunk]:
    """The command's chunks: --style pairs ranks back to back, --model warms up; neither for independent frames."""
    if args.independent or args.blend == 0:
        return plan_chunks(n_frames, ranks, warmup=0)  # a frame does not depend on its past
    # an optimised chunk keeps the texture its first frame chose, so only a shared first frame closes a
    # seam; the network's blend forgets its start, so a warm-up does (and pairs would leave pair ends
    # meeting with no past from 4 ranks on)
    return plan_chunks(n_frames, ranks, warmup=args.warmup, pairs=ranks // 2 if args.style else 0)


def _stylise_chunk(
    args, frames: list[np.ndarray], chunk: Chunk, side: int, device, painter, world
) -> list[Frame]:
    """This rank's written frames in time order: its chunk stylised (backwards if so), warm-up or anchor dropped."""
    if not chunk.written:
        return []  # more ranks than the clip can feed
    part = frames[chunk.start : chunk.stop]
    if chunk.backward:  # the flow is computed on consecutive frames of whatever list it gets
        part = part[::-1]
    stylised = _frames(args, part, side, device, painter)  # VGG-19 loads before the bar starts
    desc = f"stylising chunk 1 of {world.size}" if world.distributed else "stylising"
    done: list[Frame] = []
    with tqdm(total=len(part), unit="frame", desc=desc, disable=args.quiet) as bar:
        for i, frame in enumerate(stylised):
            if i >= chunk.lead:
                done.append(frame)
            bar.set_postfix(steps=frame.steps, refresh=False)
            bar.update()
    return done[::-1] if chunk.backward else done


def run(args: argparse.Namespace) -> Path:
    """Stylise the clip as the parsed arguments say and write it; returns the output path.

    Under torchrun each rank stylises its chunk (`chunks.plan_chunks`) and rank 0 writes the file.
    """
    started = time.perf_counter()
    with joined(args.device) as (world, device):
        wait = patient_group(world, CHUNK_WAIT)  # all ranks are here now, as it needs
        if not world.main:
            args = argparse.Namespace(**{**vars(args), "quiet": True})  # rank 0 speaks for the run
        painter, frames, fps, side = on_every_rank(world, lambda: _prepare(args, device, say=world.main))
        plan = chunk_plan(args, len(frames), world.size)
        # a rank that fails mid-chunk tells the others, instead of leaving them at the join for CHUNK_WAIT
        done = on_every_rank(
            world,
            lambda: _stylise_chunk(args, frames, plan[world.rank], side, device, painter, world),
            group=wait,
        )
        parts = gather_to_main(done, world, group=wait)
        if parts is not None:
            done = [frame for part in parts for frame in part]
            write_video([f.pixels for f in done], args.output, fps=fps)
            _report(args, done, frames, fps, device, time.perf_counter() - started, plan)
    return args.output


def _report(
    args, done: list[Frame], frames: list[np.ndarray], fps: float, device, seconds: float, plan
) -> None:
    h, w = frames[0].shape[:2]
    if args.model or args.painting:
        name = args.model or f"painting {Path(args.painting).name} (whitening and colouring)"
        how = f"{'model ' * bool(args.model)}{name}, blend {DEFAULT_BLEND if args.blend is None else args.blend:g}"
    elif args.independent:
        how = f"strength {args.strength:g}, independent frames"
    else:
        weight = DEFAULT_TEMPORAL_WEIGHT if args.temporal_weight is None else args.temporal_weight
        how = f"strength {args.strength:g}, temporal weight {weight:g}"
    first = _first_written(plan)
    later = [f.seconds for t, f in enumerate(done) if t != first]
    timing = f"first frame {done[first].seconds:.1f} s" + (
        f", later {np.mean(later):.1f} s each" if later else ""
    )
    flicker = ""
    if len(frames) > 1:
        e = temporal_error([f.pixels for f in done], frames, method=args.flow)
        flicker = f"; temporal error {e['relative']:.2f}x the input's" + _seams(e["curve"], plan)
    print(f"wrote {args.output} ({len(done)} frames, {w}x{h} px, {fps:g} fps, {how}, {device}{_spread(plan)}) "
          f"in {seconds:.1f} s; {timing}{flicker}")  # fmt: skip


def _first_written(plan: list[Chunk]) -> int:
    """The first written frame stylised from scratch: the clip's first, or the first pair's anchor."""
    return anchors(plan)[0] if plan[0].backward else 0


def _spread(plan: list[Chunk]) -> str:
    """How the frames were shared among ranks, for the summary ("" in one process)."""
    if len(plan) == 1:
        return ""
    sizes = "+".join(str(len(c.written)) for c in plan if c.written)
    pairs = len(anchors(plan))
    how = [f"{pairs} pair{'s' * (pairs > 1)} back to back"] if pairs else []
    warmup = max(c.warmup for c in plan)
    how += [f"warm-up {warmup}"] if warmup or not pairs else []
    return f", {len(plan)} ranks: chunks of {sizes} frames, {', '.join(how)}"


def _seams(curve: list[float], plan: list[Chunk]) -> str:
    """The warping error at the frames where chunks meet relative to inside the chunks ("" if none)."""
    seams = boundaries(plan)
    inside = [e for t, e in enumerate(curve, start=1) if t not in seams]
    if not seams or not inside or not np.nanmean(inside) > 0:
        return ""
    ratio = np.nanmean([curve[t - 1] for t in seams]) / np.nanmean(inside)
    return f", {ratio:.2f}x inside the chunks where they meet"


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, turn NSTError into a one-line message and exit code 2."""
    return run_main(build_parser(), run, argv, "interrupted; nothing written")
