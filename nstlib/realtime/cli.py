"""`python -m nstlib.realtime list | apply | train`: the shipped networks, applying one, training one."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import torch
from PIL import Image

from ..batch import Job, Tally, folder_argument, run_folder
from ..cli import _number, plan_outputs, run_main
from ..device import default_device
from ..distributed import joined
from ..errors import NSTError, OneLineParser
from ..images import fitted_size, load_image, save_image
from ..passes import AUTOCAST, PRECISIONS, resolve_precision
from ..resources import _human, available_bytes
from .data import TRAIN_DIR, VAL_DIR
from .model import apply, load_model, read_card, shipped
from .train import TrainConfig

_size = _number(int, 16, "must be at least 16 px")
_count = _number(int, 1, "must be >= 1")
_weight = _number(float, 0, "must be >= 0")
_minutes = _number(float, 1e-3, "must be > 0 minutes")
#: Peak RSS of `apply` (whole command, one thread), measured: pixels of the result -> MiB.
APPLY_MEASURED_PEAKS_MIB = {512 * 288: 670, 1024 * 576: 879, 2048 * 1152: 1715}
#: torch, the photo and the net; then ~500 bytes per pixel of activations (set ~20% above both).
APPLY_FIXED_BYTES, APPLY_BYTES_PER_PIXEL = 700 * 2**20, 600
#: `apply`'s long side when --size is not given (a smaller photo keeps its own).
DEFAULT_APPLY_SIZE = 512
#: apply's --help epilog.
APPLY_EXAMPLES = """examples (from the course's folder):
  python -m nstlib.realtime apply night-cafe img/content/chelsea-cat.jpg -o cat-fast.jpg

a folder is walked with its subfolders and its tree mirrored under -o; results that exist are skipped
(--force redoes them), a photo that fails is named on one line while the others go on (exit code 1),
and one summary line ends the run. Under torchrun the photos are split across its processes:
  python -m nstlib.realtime apply night-cafe DCIM/ -o styled/
  torchrun --standalone --nproc_per_node=2 -m nstlib.realtime apply night-cafe DCIM/ -o styled/"""


def apply_bytes(height: int, width: int) -> int:
    """Peak memory of one `apply` pass at height x width px (errs large)."""
    return APPLY_FIXED_BYTES + APPLY_BYTES_PER_PIXEL * height * width


def build_parser() -> argparse.ArgumentParser:
    """The command line: three subcommands."""
    p = OneLineParser(
        prog="python -m nstlib.realtime", description="Real-time style transfer: one pass per photo."
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    sub.add_parser("list", help="the shipped models: name and style image, one per line")
    a = sub.add_parser(
        "apply",
        help="stylise photos with a trained network",
        epilog=APPLY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the examples one per line
    )
    a.add_argument("model", help="a shipped model's name (see list) or a model file")
    a.add_argument("photos", type=Path, nargs="+", help="photo files, or one folder of them (see below)")
    a.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="a file (one photo) or a folder (several, or a folder's)",
    )
    a.add_argument(
        "--size",
        type=_size,
        default=None,
        help=f"long side in px (default {DEFAULT_APPLY_SIZE}); never above the photo's own: enlarging only blurs",
    )
    a.add_argument("--device", default=None, help="cpu, cuda ... (default: cuda if present)")
    a.add_argument(
        "--precision", choices=PRECISIONS, default="auto", help="auto: fp32 on a CPU, bf16/fp16 on a GPU"
    )
    a.add_argument(
        "--force", action="store_true", help="overwrite outputs that exist (a folder's are otherwise skipped)"
    )
    t = sub.add_parser("train", help="train a network for one painting")
    t.add_argument("style", type=Path, help="the painting")
    t.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="MODEL.pt (its card MODEL.json and checkpoint MODEL.ckpt beside it)",
    )
    t.add_argument(
        "--data", type=Path, default=TRAIN_DIR, help="folder of training photos (default img/train)"
    )
    budget = t.add_mutually_exclusive_group()
    budget.add_argument(
        "--minutes", type=_minutes, default=None, help="train for this long in all (default 10 minutes)"
    )
    budget.add_argument("--steps", type=_count, default=None, help="train for this many steps in all")
    t.add_argument(
        "--val", type=Path, default=VAL_DIR, help="held-out photos for validation (default img/train/val)"
    )
    t.add_argument("--size", type=_size, default=128, help="side of the square training crops (default 128)")
    t.add_argument(
        "--batch", type=_count, default=4, help="crops per step, per rank under torchrun (default 4)"
    )
    t.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="data-loader processes per rank that read the photos (default: a small flat folder is held "
        "in memory in one process, as for the shipped models; else 2)",
    )
    t.add_argument(
        "--strength",
        type=_weight,
        default=TrainConfig.strength,
        help=f"style weight of the normalised objective (default {TrainConfig.strength:g}; "
        "the shipped models used 2.5-3.5)",
    )
    t.add_argument(
        "--tv-weight",
        type=_weight,
        default=TrainConfig.tv_weight,
        help=f"total variation weight, relative to the photo's own TV (default {TrainConfig.tv_weight:g})",
    )
    t.add_argument(
        "--content-layers",
        nargs="+",
        default=list(TrainConfig.content_layers),
        metavar="LAYER",
        help=f"VGG-19 layers the content term compares (default {' '.join(TrainConfig.content_layers)})",
    )
    t.add_argument(
        "--style-size",
        type=_size,
        default=384,
        help="the painting's long side in px: sets the strokes' size (default 384)",
    )
    t.add_argument(
        "--from", dest="base", default=None, help="start from this model (name or file): fine-tuning"
    )
    t.add_argument(
        "--resume", action="store_true", help="continue from MODEL.ckpt where an earlier run stopped"
    )
    t.add_argument("--checkpoint-every", type=_count, default=100, metavar="N", help="default 100 steps")
    t.add_argument("--validate-every", type=_count, default=200, metavar="N", help="default 200 steps")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--device", default="cpu", help="cpu (default), cuda ... (under torchrun: cuda means one GPU a rank)"
    )
    t.add_argument("--force", action="store_true", help="overwrite MODEL.pt if it exists")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def list_models() -> list[str]:
    """One line per shipped model: its name, a space, its style image's path from the repository root."""
    return [f"{name} {read_card(path).get('style', '?')}" for name, path in shipped().items()]


def check_fits_apply(height: int, width: int, device: torch.device) -> None:
    """Raise a one-line NSTError if one pass at height x width would not fit in `device`'s free memory."""
    need, free = apply_bytes(height, width), available_bytes(device)
    if free is None or need <= free:
        return
    spare = max(free - APPLY_FIXED_BYTES, 0) / APPLY_BYTES_PER_PIXEL
    largest = int(max(height, width) * math.sqrt(spare / (height * width)))
    fix = f"use --size {largest} or less" if largest >= 16 else "free some memory first"
    raise NSTError(
        f"a {width}x{height} px pass needs about {_human(need)} but {device} has {_human(free)} free; {fix}"
    )


def _note_size_cap(size: int | None, path: Path, photo: Image.Image) -> None:
    """Say so when --size is above the photo's own long side (the photo is stylised at its own size)."""
    if size is not None and size > max(photo.size):
        print(
            f"note: --size {size} capped to {max(photo.size)} px for {path}, its own long side "
            f"({photo.width}x{photo.height} px): enlarging a photo first only blurs the strokes",
            file=sys.stderr,
        )


def _fitted_side(args: argparse.Namespace, photo: Image.Image, device: torch.device) -> int:
    """The long side `photo` is stylised at (--size, never enlarged), refused if it would not fit in memory."""
    size = min(args.size or DEFAULT_APPLY_SIZE, max(photo.size))
    check_fits_apply(*fitted_size(photo.size, size)[::-1], device)
    return size


def run_apply(args: argparse.Namespace) -> list[Path]:
    """Stylise every photo with one network; one line per written file."""
    folder = folder_argument(args.photos)
    if folder is not None:
        return _apply_folder(args, folder)
    device = torch.device(args.device) if args.device else default_device()
    precision = resolve_precision(args.precision, device, cpu_bf16=False)
    outputs = plan_outputs(args.photos, args.output, list(args.photos), args.force)
    photos = [load_image(p) for p in args.photos]  # all read and checked before any is written
    sizes = [_fitted_side(args, photo, device) for photo in photos]
    net = load_model(args.model, device)
    for path, photo, size, out in zip(args.photos, photos, sizes, outputs):
        _apply_one(net, path, photo, size, out, args=args, precision=precision, device=device)
    return outputs


def _apply_one(
    net,
    path: Path,
    photo: Image.Image,
    size: int,
    out: Path,
    *,
    args,
    precision: str,
    device,
    say: bool = True,
) -> None:
    """One photo through the network, saved to `out` (its folder made); its line unless `say` is False."""
    if say:
        _note_size_cap(args.size, path, photo)
    start = time.perf_counter()
    with torch.autocast(device.type, dtype=AUTOCAST.get(precision), enabled=precision != "fp32"):
        result = apply(net, photo, size)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image(result, out)
    if say:
        print(
            f"wrote {out} ({result.width}x{result.height} px, {precision}, {device}) in {time.perf_counter() - start:.2f} s",
            flush=True,  # progress in a log (torchrun's ranks write to pipes) as it happens
        )


def _apply_folder(args: argparse.Namespace, folder: Path) -> list[Path]:
    """Every photo below `folder` into the folder -o, split across torchrun's ranks (see nstlib.batch)."""
    started = time.perf_counter()
    device = torch.device(args.device) if args.device else default_device()
    with joined(device) as (world, device):
        net = load_model(args.model, device)  # a bad model name stops every rank before any photo
        precision = resolve_precision(args.precision, device, cpu_bf16=False)

        def work(jobs: list[Job], tally: Tally) -> None:
            for job in jobs:
                with tally.attempt(job):
                    photo = load_image(job.photo)
                    size = _fitted_side(args, photo, device)
                    kw = {"args": args, "precision": precision, "device": device, "say": world.main}
                    _apply_one(net, job.photo, photo, size, job.output, **kw)
                    tally.wrote(job)

        return run_folder(folder, args.output, work, world=world, force=args.force, started=started)


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, turn NSTError into a one-line message and exit code 2."""
    command = shlex.join(["python", "-m", "nstlib.realtime", *(sys.argv[1:] if argv is None else argv)])

    def run(args: argparse.Namespace) -> None:
        if args.command == "list":
            print("\n".join(list_models()))
        elif args.command == "apply":
            run_apply(args)
        else:
            from .train_cli import run_train

            run_train(args, command=command)

    interrupted = "interrupted; the checkpoint keeps the steps done (resume with --resume)"
    return run_main(build_parser(), run, argv, interrupted)
