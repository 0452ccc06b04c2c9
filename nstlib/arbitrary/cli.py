"""`python -m nstlib.arbitrary PHOTO PAINTING -o OUT.jpg`: any painting in one pass; `... train`: the decoders."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch
from PIL import Image

from ..batch import Job, Tally, folder_argument, run_folder
from ..cli import _number, check_output, run_main
from ..device import default_device
from ..distributed import joined
from ..errors import NSTError, OneLineParser
from ..images import load_image, resize, save_image
from ..spatial import load_mask
from .decoder import LEVELS
from .model import load_universal, read_card, shipped_decoders
from .universal import COLOR_MODES, DEFAULT_LEVELS, METHODS, Universal, image_pixels, pixels_image

_size = _number(int, 16, "must be at least 16 px")
_alpha = _number(float, 0, "must be between 0 (the photo) and 1 (the full style)", 1)
_weight = _number(float, 0, "must be >= 0")
_share = _number(float, 0, "must be between 0 (the first painting only) and 1 (the second only)", 1)
#: The long side when --size is not given (a smaller photo keeps its own).
DEFAULT_SIZE = 512
EXAMPLES = """examples (from the course's folder):
  python -m nstlib.arbitrary img/content/chelsea-cat.jpg img/style/van-gogh-night-cafe.jpg -o cat.jpg
  python -m nstlib.arbitrary photo.jpg painting.jpg -o out.jpg --alpha 0.6 --preserve-color luminance
  python -m nstlib.arbitrary photo.jpg a.jpg -o out.jpg --blend b.jpg --blend-weight 0.3
  python -m nstlib.arbitrary photo.jpg painting.jpg -o out.jpg --mask sky.png     # paint the white part only
  python -m nstlib.arbitrary DCIM/ painting.jpg -o styled/                         # a folder, mirrored
  python -m nstlib.arbitrary list                                                  # the shipped decoders
  python -m nstlib.arbitrary train --layer relu4_1 --minutes 30 -o my-relu4_1.pt --from relu3_1 --lr 3e-4"""


def build_parser() -> argparse.ArgumentParser:
    """The stylising command (the default) and its options."""
    p = OneLineParser(
        prog="python -m nstlib.arbitrary",
        description="Any painting in one pass: whitening and colouring of VGG-19 features (Li et al. 2017).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("photo", type=Path, help="a photo, or a folder of photos (walked with its subfolders)")
    p.add_argument("painting", type=Path, help="the painting: any picture")
    p.add_argument("-o", "--output", type=Path, required=True, help="the result (a folder for a folder)")
    p.add_argument(
        "--size", type=_size, default=None,
        help=f"long side in px (default {DEFAULT_SIZE}, never above the photo's own: enlarging only blurs)",
    )  # fmt: skip
    p.add_argument(
        "--style-size", type=_size, default=None, help="the painting's long side in px (default: --size)"
    )
    p.add_argument("--alpha", type=_alpha, default=1.0, help="how much style, 0 to 1 (default 1)")
    p.add_argument(
        "--levels", nargs="+", choices=LEVELS, default=None, metavar="LAYER",
        help=f"which levels run, always coarse to fine (default {' '.join(DEFAULT_LEVELS)}; "
        "add relu4_1 for larger, bolder shapes that blur the subject more)",
    )  # fmt: skip
    p.add_argument(
        "--method", choices=METHODS, default="wct", help="wct (default) or adain, the cheap special case"
    )
    p.add_argument("--preserve-color", choices=COLOR_MODES, default=None, help="keep the photo's colours")
    p.add_argument(
        "--mask", type=Path, default=None, help="black-and-white picture: paint only the white part"
    )
    p.add_argument("--blend", type=Path, default=None, help="a second painting to mix in")
    p.add_argument(
        "--blend-weight", type=_share, default=None, help="the second painting's share (default 0.5)"
    )
    p.add_argument("--device", default=None, help="cpu, cuda ... (default: cuda if present)")
    p.add_argument("--force", action="store_true", help="overwrite the result if it exists")
    return p


def build_train_parser() -> argparse.ArgumentParser:
    """`train`: one decoder, learned from photos alone."""
    from ..realtime.data import TRAIN_DIR, VAL_DIR
    from .train import DecoderConfig

    t = OneLineParser(
        prog="python -m nstlib.arbitrary train",
        description="Train the decoder of one VGG-19 layer to reconstruct photos from their features.",
    )
    t.add_argument("--layer", choices=LEVELS, required=True, help="the layer the decoder inverts")
    t.add_argument(
        "-o", "--output", type=Path, default=None, help="DECODER.pt (default models/arbitrary/LAYER.pt)"
    )
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=_number(float, 1e-3, "must be > 0 minutes"), default=None,
                        help="train for this long in all, resumed runs counted (default 10)")  # fmt: skip
    budget.add_argument(
        "--steps", type=_number(int, 1, "must be >= 1"), default=None, help="this many steps in all"
    )
    t.add_argument("--from", dest="warm_from", default=None,
                   help="start from a decoder's weights: a shallower one's in the tail, or one of this level whole "
                   "(a layer name or a file)")  # fmt: skip
    t.add_argument(
        "--resume", action="store_true", help="continue from DECODER.ckpt where an earlier run stopped"
    )
    t.add_argument(
        "--data", type=Path, default=TRAIN_DIR, help="folder of training photos (default img/train)"
    )
    t.add_argument("--val", type=Path, default=VAL_DIR, help="held-out photos (default img/train/val)")
    t.add_argument(
        "--size", type=_size, default=DecoderConfig.crop, help="side of the square crops (default 128)"
    )
    t.add_argument("--batch", type=_number(int, 1, "must be >= 1"), default=DecoderConfig.batch)
    t.add_argument("--lr", type=_number(float, 1e-9, "must be > 0"), default=DecoderConfig.lr)
    t.add_argument("--feature-weight", type=_weight, default=DecoderConfig.feature_weight)
    t.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="bf16: the frozen encoder's passes in bfloat16 (default fp32)",
    )
    t.add_argument("--checkpoint-every", type=_number(int, 1, "must be >= 1"), default=50, metavar="N")
    t.add_argument("--validate-every", type=_number(int, 1, "must be >= 1"), default=200, metavar="N")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--force", action="store_true", help="overwrite DECODER.pt if it exists")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    return t


def list_decoders() -> list[str]:
    """One line per shipped decoder: level, training minutes, reconstruction PSNR on the held-out photos."""
    lines = []
    for level, path in shipped_decoders().items():
        card = read_card(path)
        val = card.get("validation", {}).get("512px", {})
        lines.append(f"{level} {path.name}: {card.get('minutes', '?')} min, {card.get('iterations', '?')} steps, "
                     f"held-out PSNR {val.get('psnr', '?')} dB")  # fmt: skip
    return lines or ["no decoders shipped; train them: python -m nstlib.arbitrary train --help"]


def stylize_file(
    model: Universal,
    photo: Image.Image,
    paintings: list[Image.Image],
    args: argparse.Namespace,
    device: torch.device,
    mask_path: Path | None = None,
) -> Image.Image:
    """One photo through the cascade with the command line's options."""
    side = min(args.size or DEFAULT_SIZE, max(photo.size))
    photo = resize(photo, max_size=side)
    x = image_pixels(photo, device)
    styles = [image_pixels(resize(p, max_size=args.style_size or side), device) for p in paintings]
    mask = None if mask_path is None else load_mask(mask_path, x.shape[-2:])[0, 0].to(device)
    weights = None if len(styles) == 1 else [1 - args.blend_weight, args.blend_weight]
    out = model.transfer(x, styles if len(styles) > 1 else styles[0], levels=args.levels, alpha=args.alpha,
                         method=args.method, weights=weights, mask=mask, preserve_color=args.preserve_color)  # fmt: skip
    return pixels_image(out)


def _model(args: argparse.Namespace, device: torch.device) -> Universal:
    """The encoder and only the decoders this run uses (a default run never reads relu4_1's 14 MB)."""
    needed = args.levels or [lv for lv in DEFAULT_LEVELS if lv in shipped_decoders()] or None
    return load_universal(needed, device=device)


def run_stylize(args: argparse.Namespace) -> list[Path]:
    """Stylise a photo (or a folder's photos) with any painting; one line per written file."""
    if args.mask is not None and args.photo.is_dir():
        raise NSTError(
            f"{args.mask}: a mask belongs to one photo; give a photo file, not a folder, with --mask"
        )
    if args.method == "adain" and (args.mask or args.blend):
        raise NSTError("--mask and --blend need --method wct (AdaIN has no covariance to mix or restrict)")
    if args.blend_weight is not None and args.blend is None:
        raise NSTError("--blend-weight is the share of a second painting: give it with --blend PAINTING")
    args.blend_weight = 0.5 if args.blend_weight is None else args.blend_weight
    inputs = [args.painting] + ([args.blend] if args.blend else []) + ([args.mask] if args.mask else [])
    paintings = [load_image(p) for p in inputs[: 2 if args.blend else 1]]  # read and checked before any work
    device = torch.device(args.device) if args.device else default_device()
    folder = folder_argument([args.photo])
    if folder is not None:
        started = time.perf_counter()
        with joined(device) as (world, device):
            model = _model(args, device)

            def work(jobs: list[Job], tally: Tally) -> None:
                for job in jobs:
                    with tally.attempt(job):
                        picture = stylize_file(model, load_image(job.photo), paintings, args, device)
                        job.output.parent.mkdir(parents=True, exist_ok=True)
                        save_image(picture, job.output)
                        tally.wrote(job)

            return run_folder(folder, args.output, work, world=world, force=args.force, inputs=inputs,
                              started=started)  # fmt: skip
    check_output(args.output, [args.photo, *inputs], args.force)
    photo = load_image(args.photo)
    if args.mask is not None:  # checked before the models load
        side = min(args.size or DEFAULT_SIZE, max(photo.size))
        load_mask(args.mask, resize(photo, max_size=side).size[::-1])
    model = _model(args, device)
    start = time.perf_counter()
    result = stylize_file(model, photo, paintings, args, device, args.mask)
    seconds = time.perf_counter() - start
    save_image(result, args.output)
    levels = model.resolve_levels(args.levels)
    print(f"wrote {args.output} ({result.width}x{result.height} px, {args.method}, levels {' '.join(levels)}, "
          f"alpha {args.alpha:g}, {device}) in {seconds:.2f} s")  # fmt: skip
    return [args.output]


def main(argv: list[str] | None = None) -> int:
    """Entry point: `train`, `list`, or stylise; NSTError becomes a one-line message and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join(["python", "-m", "nstlib.arbitrary", *argv])
    if argv[:1] == ["train"]:
        from .train_cli import run_train

        return run_main(build_train_parser(), lambda a: run_train(a, command), argv[1:],
                        "interrupted; the checkpoint keeps the steps done (resume with --resume)")  # fmt: skip
    if argv[:1] == ["list"]:
        print("\n".join(list_decoders()))
        return 0
    return run_main(build_parser(), run_stylize, argv, "interrupted; nothing more written")
