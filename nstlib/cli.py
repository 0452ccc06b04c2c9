"""`python -m nstlib CONTENT [CONTENT ...] STYLE -o OUT`: stylise photos from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import torch
from PIL import Image
from torch.nn import functional as F
from tqdm.auto import tqdm

from . import color
from .batch import Job, Reported, Tally, folder_argument, run_folder
from .device import default_device, seed_everything
from .distributed import joined
from .errors import NSTError, OneLineParser
from .features import CONTENT_LAYERS, NORMALIZED_CONTENT_LAYERS
from .images import IMAGE_TYPES, fitted_size, load_image, postprocess, preprocess, resize, save_image
from .losses import StyleTransferLoss
from .passes import PRECISIONS, has_cpu_bf16_units, resolve_precision
from .recipes import (
    AFTER_SKETCH_STEPS,
    D2L_WEIGHTS,
    DEFAULT_STEPS,
    DEFAULT_STRENGTH,
    DEFAULT_TOL,
    DEFAULT_WINDOW,
    NORMALIZED_TV,
    SKETCH_FROM,
    SKETCH_SHARE,
    SKETCH_STEPS,
    objective,
    pyramid_stylize,
    recipe_extractor,
    schedule,
)
from .resources import check_fits
from .spatial import GuidedStyleTransferLoss, load_mask
from .synthesis import INITS, PARAMETRIZATIONS
from .training import OPTIMIZERS, READ_BACK_EVERY, TrainResult
from .vgg import WEIGHTS

#: Default long side by device: 512 px takes about a minute and a half on a 2-core CPU with bfloat16
#: instructions (the sketch, bf16; docs/speed.md), seconds on a GPU. A CPU without them runs fp32,
#: about 1.5x slower a step, and gets SMALL_CPU_SIZE by default.
DEFAULT_SIZE = {"cpu": 512, "cuda": 512}
SMALL_CPU_SIZE = 256
#: The --help epilog (the installed `nstlib` command is the same as `python -m nstlib`).
EXAMPLES = """examples (from the course's folder; `nstlib ...` is the same command):
  python -m nstlib img/content/chelsea-cat.jpg img/style/van-gogh-night-cafe.jpg -o cat-cafe.jpg --force
  python -m nstlib photo1.jpg photo2.jpg painting.jpg -o results/ --strength 10 --preserve-color luminance

a folder is walked with its subfolders and its tree mirrored under -o; results that exist are skipped
(--force redoes them), a photo that fails is named on one line while the others go on (exit code 1),
and one summary line ends the run. Under torchrun the photos are split across its processes:
  python -m nstlib DCIM/ painting.jpg -o styled/
  torchrun --standalone --nproc_per_node=2 -m nstlib DCIM/ painting.jpg -o styled/"""


def _number(kind: type, low: float, rule: str, high: float = float("inf")) -> Callable[[str], float]:
    """An argparse type: `kind(text)` within [low, high], else the one-line `rule`."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{rule}, got {text!r}") from None
        if not low <= value <= high:  # also refuses NaN
            raise argparse.ArgumentTypeError(f"{rule}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


_count = _number(int, 0, "must be >= 0")
_size = _number(int, 1, "must be a positive number of pixels")
_weight = _number(float, 0, "must be >= 0")
_positive = _number(float, 1e-9, "must be > 0")
_levels = _number(int, 1, "must be 1 to 6 levels", 6)
_batch = _number(int, 1, "must be >= 1")


def _add_controls(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("perceptual controls (Gatys et al. 2017)")
    g.add_argument("--style", dest="extra_style", type=Path, action="append", default=[], metavar="PATH",
                   help="another style image to blend in (repeatable)")  # fmt: skip
    g.add_argument("--style-weights", type=_weight, nargs="+", default=None, metavar="W",
                   help="one proportion per style (divided by their sum), e.g. 0.7 0.3; with --mask, "
                   "one per region, scaled to average 1")  # fmt: skip
    g.add_argument("--preserve-color", choices=("luminance", "histogram"), default=None,
                   help="keep the photo's colours: luminance-only transfer, or recolour the style first")  # fmt: skip
    g.add_argument("--mask", type=Path, default=None,
                   help="black-and-white image: the style goes where it is white (a second style: where black)")  # fmt: skip
    g.add_argument("--style-scale", type=_positive, default=None, metavar="S",
                   help="style image's long side as a multiple of the content's (default: both --size)")  # fmt: skip
    g.add_argument("--pyramid", type=_levels, default=1, metavar="N",
                   help="optimise at N sizes, each twice the last (--steps at each, the full style); default 1")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = OneLineParser(
        prog="python -m nstlib",
        description="Neural style transfer (Gatys et al.) with the original VGG-19, offline.\n"
        "Several photos are stylised in batches and written into the folder OUTPUT.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the examples one per line
    )
    p.add_argument(
        "content", type=Path, nargs="+", help="content photo(s), or one folder of them (see below)"
    )
    p.add_argument("style", type=Path, help="style image (a painting)")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="the result's file (one photo) or folder (several photos, or a folder's)")  # fmt: skip
    p.add_argument("--size", type=_size, default=None,
                   help="long side of the result in px (default 512; 256 on a CPU without bfloat16 instructions; "
                   "or the photo's own if smaller)")  # fmt: skip
    p.add_argument("--upscale", action="store_true", help="allow --size above the photo's own size")
    p.add_argument("--steps", type=_count, default=None,
                   help=f"at most this many optimiser steps at full size (default {DEFAULT_STEPS}, "
                   f"{AFTER_SKETCH_STEPS} after a --sketch); see --tol")  # fmt: skip
    p.add_argument("--tol", type=_weight, default=DEFAULT_TOL,
                   help=f"stop once the loss falls by less than this fraction over {DEFAULT_WINDOW} steps "
                   f"(default {DEFAULT_TOL}; 0 runs all --steps)")  # fmt: skip
    p.add_argument("--sketch", type=_count, default=None, metavar="K",
                   help=f"first K steps at half size with a light style, then --steps at full size "
                   f"(default {SKETCH_STEPS} from {SKETCH_FROM} px on when --steps is not given, else 0; 0: none)")  # fmt: skip
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="lbfgs", help="default lbfgs")
    p.add_argument("--lr", type=_positive, default=None, help="learning rate (default: 0.3 adam, 1 lbfgs)")
    p.add_argument("--strength", type=_weight, default=DEFAULT_STRENGTH,
                   help=f"how painted (default {DEFAULT_STRENGTH:g}; lower keeps more of the photo): the style term's "
                   "weight when each term is divided by its value at the start, so it means the same on every pair; "
                   f"content layer {NORMALIZED_CONTENT_LAYERS[0]}")  # fmt: skip
    p.add_argument("--style-weight", type=_weight, default=None,
                   help="use d2l's raw objective with this style weight instead of --strength (d2l: 1e4); "
                   f"it also switches the content layer to {CONTENT_LAYERS[0]}, as in d2l's objective")  # fmt: skip
    p.add_argument("--content-weight", type=_weight, default=None, help="default 1")
    p.add_argument("--tv-weight", type=_weight, default=None,
                   help=f"total variation weight (default {NORMALIZED_TV:g}, of the photo's own TV, with --strength; "
                   f"{D2L_WEIGHTS['tv_weight']:g} with --style-weight)")  # fmt: skip
    p.add_argument("--init", choices=INITS, default="content")
    p.add_argument("--parametrization", choices=PARAMETRIZATIONS, default="fourier",
                   help="what the optimiser changes: the pixels, or the image's spectrum (default fourier: "
                   "the same loss in fewer passes, see benchmarks/)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", choices=[w for w in WEIGHTS if w != "caffe-raw"], default="caffe",
                   help="VGG-19 weights (default caffe: the original, offline)")  # fmt: skip
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto (default): bf16 on GPUs and CPUs that have it (AVX-512 BF16, AMX), fp16 on other GPUs "
                   "(e.g. T4), fp32 on other CPUs")  # fmt: skip
    p.add_argument("--batch", type=_batch, default=None,
                   help="photos stylised together (default: 8 on a GPU, 1 on a CPU)")  # fmt: skip
    p.add_argument("--force", action="store_true",
                   help="overwrite outputs that exist (a folder's are otherwise skipped)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_controls(p)
    return p


def check_output(
    out: Path,
    inputs: list[Path],
    force: bool,
    *,
    new_folder: bool = False,
    kind: str = "image",
    types: tuple[str, ...] = IMAGE_TYPES,
    endings: str = ".jpg or .png",
    input_label: str = "an input image",
) -> None:
    """Refuse an input as output, a folder, an existing file without --force, an unknown type, a missing folder."""
    for src in inputs:
        if out.resolve() == src.resolve() or (out.exists() and src.exists() and out.samefile(src)):
            raise NSTError(f"{out}: is {input_label}; choose another output path")
    if out.is_dir():
        raise NSTError(f"{out}: is a folder; name the output file, e.g. -o {out / f'result{types[0]}'}")
    if out.exists() and not force:
        raise NSTError(f"{out}: already exists; choose another path or add --force to overwrite it")
    if out.suffix.lower() not in types:
        raise NSTError(f"{out}: unknown {kind} type {out.suffix!r}; end the name in {endings}")
    if not (out.parent.is_dir() or new_folder):
        raise NSTError(f"{out}: folder {out.parent} does not exist; create it first")


def plan_outputs(contents: list[Path], out: Path, inputs: list[Path], force: bool) -> list[Path]:
    """One output path per content photo (OUTPUT itself, or OUTPUT/<name> for several), all checked."""
    if len(contents) == 1:
        outputs = [out]
    else:
        if out.exists() and not out.is_dir():
            raise NSTError(f"{out}: is a file; several photos need a folder as -o (it is created if missing)")
        if not out.parent.is_dir():
            raise NSTError(f"{out}: folder {out.parent} does not exist; create it first")
        outputs = [
            out / (p.stem + (p.suffix.lower() if p.suffix.lower() in IMAGE_TYPES else ".jpg"))
            for p in contents
        ]
        if len(set(outputs)) < len(outputs):
            raise NSTError(f"two photos share a file name, so their results would share {out}/; rename one")
    for o in outputs:
        check_output(o, inputs, force, new_folder=len(outputs) > 1)
    return outputs


def working_size(img: Image.Image, path: Path, size: int | None, upscale: bool, device: str = "cpu") -> int:
    """The long side to work at: --size, or the device's default capped at the photo's own size."""
    own = max(img.size)
    if size is None:
        default = DEFAULT_SIZE.get(device, DEFAULT_SIZE["cpu"])
        if device == "cpu" and not has_cpu_bf16_units():
            default = SMALL_CPU_SIZE
        return min(default, own)
    if size > own and not upscale:
        raise NSTError(
            f"{path} is {img.width}x{img.height} px and --size {size} would enlarge it "
            f"{size / own:.1f}x; use --size {own} or less, or add --upscale"
        )
    return size


def _make_loss(args: argparse.Namespace, mask: torch.Tensor | None, labels: list[str]):
    """The objective for one pyramid level: plain/blended, or guided by the mask's two regions."""
    options = dict(content_label=labels[0], **_objective(args))

    def make(extractor, content, styles):
        if mask is None:
            return StyleTransferLoss(
                extractor, content, styles, style_blend=args.style_weights, style_labels=labels[1:], **options
            )
        m = F.adaptive_avg_pool2d(mask.to(content), content.shape[-2:])
        regional = [styles[0], styles[1] if len(styles) == 2 else None]
        return GuidedStyleTransferLoss(
            extractor, content, regional, [m, 1 - m], region_weights=args.style_weights, **options
        )

    return make


def _objective(args: argparse.Namespace) -> dict:
    """The loss options the weight flags select (normalised at --strength, or d2l's raw weights)."""
    return objective(
        strength=args.strength,
        style_weight=args.style_weight,
        content_weight=args.content_weight,
        tv_weight=args.tv_weight,
    )


def _check_combination(args: argparse.Namespace, style_paths: list[Path]) -> None:
    if args.sketch and args.pyramid > 1:
        raise NSTError(
            "--sketch starts one full-size run; --pyramid runs N full-style levels: give one of them"
        )
    if args.style_weights is not None and len(args.style_weights) != len(style_paths):
        raise NSTError(
            f"{len(args.style_weights)} --style-weights for {len(style_paths)} style images; give one per style"
        )
    if args.mask and len(style_paths) > 2:
        raise NSTError("a mask splits the picture into two regions: give one or two styles with --mask")
    if args.mask and len(args.content) > 1:
        raise NSTError("--mask fits one photo; run one photo at a time with a mask")


def _style_images(args: argparse.Namespace, images: list[Image.Image], content: torch.Tensor, device) -> list:
    """The style images at their working size, recoloured to the photo if asked."""
    size = round(args.style_scale * max(content.shape[-2:])) if args.style_scale else max(content.shape[-2:])
    styles = [preprocess(resize(img, max_size=size), device=device) for img in images]
    if args.preserve_color == "histogram":
        return [color.match_color(s, content) for s in styles]
    if args.preserve_color == "luminance":
        return [color.match_luminance(s, content) for s in styles]
    return styles


def _batches(photos: list[tuple[Path, Path, Image.Image]], batch: int, alone: bool) -> list[list]:
    """Photos of the same size go together, up to `batch` at a time (one at a time if `alone`)."""
    groups: dict[tuple[int, int], list] = {}
    for photo in photos:
        groups.setdefault(photo[2].size, []).append(photo)
    size = 1 if alone else batch
    return [g[i : i + size] for g in groups.values() for i in range(0, len(g), size)]


def _stylize_batch(args, extractor, group, style_images, mask, device) -> tuple[torch.Tensor, str]:
    """Stylise one batch of same-size photos: the results as an (N, 3, H, W) tensor, and why it stopped."""
    content = torch.cat([preprocess(img, device=device) for _, _, img in group])
    styles = _style_images(args, style_images, content, device)
    style_paths = [args.style, *args.extra_style]
    target = color.luminance(content) if args.preserve_color == "luminance" else content
    labels = [f"content image {group[0][0]}"] + [f"style image {p}" for p in style_paths]
    seed_everything(args.seed)
    levels = _levels_of(args, content.shape[-2:], extractor.min_size)
    with _steps_bar(args, sum(levels[0])) as bar:
        result = _run_pyramid(args, target, styles, extractor, mask, labels, bar, levels)
        bar.refresh()  # the last count: tqdm skips redraws within 0.1 s, so fast last steps go unseen
    ran = result.history.get("level", [])
    sketched = levels[1] != 1  # a sketch (a light style at half size) before the full size
    steps = ran.count(1) if sketched else len(ran)  # with --pyramid: every level's, as before
    sketch = f"{ran.count(0)} half-size sketch steps + " if sketched else ""
    why = f"{sketch}{steps} {args.optimizer} steps, " + (
        f"stopped: loss fell < {args.tol:g} over {DEFAULT_WINDOW} steps"
        if result.stopped == "converged"
        else "stopped: --steps cap"
    )
    if args.preserve_color == "luminance":
        return color.with_content_color(result.image, content), why
    return result.image, why


def _levels_of(args: argparse.Namespace, size: tuple[int, ...], min_size: int) -> tuple[list[int], float]:
    """Steps per level and the coarse levels' style share: --pyramid's equal levels, or a sketch first."""
    no_sketch = 0 if args.pyramid > 1 and args.sketch is None else args.sketch  # --pyramid: its own levels
    sketch, steps = schedule(no_sketch, args.steps, size, min_size)
    if sketch:
        return [sketch, steps], SKETCH_SHARE
    return [steps] * args.pyramid, 1.0


def _run_pyramid(args, target, styles, extractor, mask, labels: list[str], bar: tqdm, levels) -> TrainResult:
    """`pyramid_stylize` with the command line's options and `_levels_of`'s `levels`; `bar` counts its steps."""
    steps, share = levels
    return pyramid_stylize(
        target,
        styles,
        extractor,
        steps=steps,
        coarse_share=share,
        make_loss=_make_loss(args, mask, labels),
        init=args.init,
        seed=args.seed,
        parametrization=args.parametrization,
        optimizer=args.optimizer,
        in_range=True,  # optimise the picture that is saved: postprocess's clamp can undo the style
        lr=args.lr,
        precision=args.precision,
        progress=False,  # train's own bar would estimate the time left from --steps: `bar` instead
        callback=None if args.quiet else _advance(bar),
        callback_every=1,
        tol=args.tol or None,
        window=DEFAULT_WINDOW,
    )


def _steps_bar(args: argparse.Namespace, cap: int) -> tqdm:
    """A batch's progress bar: with the stop rule on, steps out of a maximum and no time-left estimate.

    The stop rule usually ends a run near 100 of the 300 steps, so a time left computed from --steps
    (`train`'s own bar) overstated it about threefold. With --tol 0 every step runs: tqdm's usual bar.
    """
    honest = "{desc}: step {n_fmt} of at most {total_fmt}, stops when the loss settles [{elapsed}, {rate_fmt}{postfix}]"
    return tqdm(
        total=cap,
        desc=args.optimizer,
        unit="step",
        bar_format=honest if args.tol else None,
        disable=args.quiet,
        leave=False,
    )


def _advance(bar: tqdm) -> Callable:
    """`train`'s callback: one step on `bar`, and the loss every READ_BACK_EVERY steps (reading it waits for a GPU)."""

    def advance(step: int, image: torch.Tensor, terms) -> None:
        if step % READ_BACK_EVERY == 0:
            bar.set_postfix(loss=f"{terms.total.detach().item():.3g}", refresh=False)
        bar.update()

    return advance


def _load_photos(
    args: argparse.Namespace, outputs: list[Path], device
) -> list[tuple[Path, Path, Image.Image]]:
    """The content photos at their working size, each checked to fit in memory before it is resized."""
    return [_load_photo(args, path, out, device) for path, out in zip(args.content, outputs)]


def _load_photo(args: argparse.Namespace, path: Path, out: Path, device) -> tuple[Path, Path, Image.Image]:
    """One content photo at its working size, checked to fit in memory before it is resized."""
    img = load_image(path)
    side = working_size(img, path, args.size, args.upscale, torch.device(device).type)
    w, h = fitted_size(img.size, side)
    check_fits(h, w, optimizer=args.optimizer, device=device)
    return path, out, resize(img, shape=(h, w))


def run(args: argparse.Namespace) -> list[Path]:
    """Stylise as the parsed arguments say and write the results; returns the output paths."""
    folder = folder_argument(args.content)
    if folder is not None:
        return _run_folder(args, folder)
    started = time.perf_counter()
    style_paths = [args.style, *args.extra_style]
    inputs = [*args.content, *style_paths, *([args.mask] if args.mask else [])]
    outputs = plan_outputs(args.content, args.output, inputs, args.force)
    _check_combination(args, style_paths)
    device = torch.device(args.device) if args.device else default_device()
    batch = args.batch or (8 if device.type == "cuda" else 1)
    photos = _load_photos(args, outputs, device)
    style_images = [load_image(p) for p in style_paths]
    w, h = photos[0][2].size
    mask = load_mask(args.mask, (h, w)).to(device) if args.mask else None
    batches = _batches(photos, batch, alone=args.preserve_color is not None)
    for group in batches:  # each photo fits alone (checked above); does each batch?
        w, h = group[0][2].size
        check_fits(h, w, batch=len(group), optimizer=args.optimizer, device=device)
    with _loading("loading VGG-19", args.quiet):
        extractor = recipe_extractor(_objective(args)["content_layers"], weights=args.weights, device=device)
    if len(outputs) > 1:
        args.output.mkdir(exist_ok=True)
    for group in batches:
        images, why = _stylize_batch(args, extractor, group, style_images, mask, device)
        for (_, out, _), image in zip(group, images):
            save_image(postprocess(image[None]), out)
            _report(args, out, image, device, time.perf_counter() - started, why)
    return outputs


def _run_folder(args: argparse.Namespace, folder: Path) -> list[Path]:
    """Every photo below `folder` into the folder -o, split across torchrun's ranks (see nstlib.batch)."""
    style_paths = [args.style, *args.extra_style]
    _check_combination(args, style_paths)
    if args.mask:
        raise NSTError("--mask fits one photo; stylise a folder without --mask")
    style_images = [load_image(p) for p in style_paths]  # a bad painting stops the run before any photo
    started = time.perf_counter()
    device = torch.device(args.device) if args.device else default_device()
    with joined(device) as (world, device):
        args = argparse.Namespace(**{**vars(args), "quiet": args.quiet or not world.main})  # rank 0 talks
        work = partial(_stylize_share, args, style_images, device, world.main)
        return run_folder(
            folder, args.output, work, world=world, force=args.force, inputs=style_paths, started=started
        )


def _stylize_share(
    args: argparse.Namespace, style_images: list, device, say: bool, jobs: list[Job], tally: Tally
) -> None:
    """This rank's photos, read a batch at a time (memory stays flat however large the folder)."""
    if not jobs:
        return  # a re-run with every result there: no VGG-19 to load
    started = time.perf_counter()
    with _loading("loading VGG-19", args.quiet):
        extractor = recipe_extractor(_objective(args)["content_layers"], weights=args.weights, device=device)
    batch = args.batch or (8 if device.type == "cuda" else 1)
    for i in range(0, len(jobs), batch):
        photos = []
        for job in jobs[i : i + batch]:
            with tally.attempt(job):
                photos.append(_load_photo(args, job.photo, job.output, device))
        for group in _batches(photos, batch, alone=args.preserve_color is not None):
            with tally.attempt(*(Job(path, out) for path, out, _ in group)):
                _stylize_group(args, extractor, group, style_images, device, tally, started if say else None)


def _stylize_group(args, extractor, group, style_images, device, tally: Tally, started: float | None) -> None:
    """One batch of a folder's photos stylised and saved (its folders made); their lines unless `started` is None."""
    w, h = group[0][2].size
    check_fits(h, w, batch=len(group), optimizer=args.optimizer, device=device)
    images, why = _stylize_batch(args, extractor, group, style_images, None, device)
    for (path, out, _), image in zip(group, images):
        out.parent.mkdir(parents=True, exist_ok=True)
        save_image(postprocess(image[None]), out)
        tally.wrote(Job(path, out))
        if started is not None:
            _report(args, out, image, device, time.perf_counter() - started, why)


def _loading(what: str, quiet: bool):
    """A line while `what` loads: a running clock on a terminal, one plain line in a log or pipe."""
    if quiet:
        return nullcontext()
    if sys.stderr.isatty():
        return tqdm(desc=what, bar_format="{desc} ({elapsed})")
    # tqdm off a terminal prints its line at the start and again at the end: two copies in a log
    print(what, file=sys.stderr, flush=True)
    return nullcontext()


def _report(
    args: argparse.Namespace, out: Path, image: torch.Tensor, device, seconds: float, why: str
) -> None:
    h, w = image.shape[-2:]
    extra = f", {args.pyramid}-level pyramid" if args.pyramid > 1 else ""
    precision = resolve_precision(args.precision, device)
    extra += f", {precision}" if precision != "fp32" else ""
    content_layer = _objective(args)["content_layers"][0]  # the two objectives tap different layers
    look = (
        f"strength {args.strength:g}"
        if args.style_weight is None
        else f"style weight {args.style_weight:g}, d2l's raw objective (content {content_layer})"
    )
    print(
        f"wrote {out} ({w}x{h} px, {look}, {args.parametrization}{extra}, {args.weights} weights, "
        f"{device}) in {seconds:.1f} s; {why}",
        flush=True,  # progress in a log (torchrun's ranks write to pipes) as it happens
    )


def run_main(parser: argparse.ArgumentParser, run: Callable, argv: list[str] | None, interrupted: str) -> int:
    """Parse `argv`, call run(args): NSTError is one line, exit 2; a folder's failed photos 1; Ctrl-C 130."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or a bad option (2, its one line already printed)
        return int(done.code or 0)
    try:
        run(args)
    except Reported as err:  # e.g. each failed photo of a folder and the summary: printed already
        return err.code
    except NSTError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, turn NSTError into a one-line message and exit code 2."""
    return run_main(build_parser(), run, argv, "interrupted; nothing more written")
