"""`python -m nstlib.realtime train`: checks, the progress bar, checkpoints, validation and the model card."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import distributed
from ..distributed import World
from ..errors import NSTError
from ..features import FeatureExtractor
from ..install import ROOT
from ..quality import MEASURE_LAYERS
from .data import CropStream
from .model import load_model, read_card, resolve, save_model
from .train import TrainConfig, Trainer, validate, validation_photos

DEFAULT_MINUTES = 10.0
VAL_SIZES = (256, 512)  # validation during training at the first; the card also gets the second
#: The real-time models' quality targets on the held-out photos at 512 px (docs/realtime.md, "Measured";
#: benchmarks/realtime.py judges each photo by them). Looser than chapter 6's band for optimisation
#: (quality.STYLE_MAX 0.06, CONTENT_BAND 0.15-0.45), which one network for every photo does not reach.
TARGETS = {"style": 0.2, "content": 0.5}


def _shown(path: Path) -> str:
    """A path relative to the repository root when it is inside it (so cards read the same on every clone)."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _check_paths(args: argparse.Namespace, ckpt: Path) -> None:
    out = args.output
    if out.suffix != ".pt":
        raise NSTError(f"{out}: name the model file NAME.pt (its card NAME.json is written beside it)")
    if not out.parent.is_dir():
        raise NSTError(f"{out}: folder {out.parent} does not exist; create it first")
    inputs = [args.style] + ([resolve(args.base)] if args.base else [])
    if any(out.resolve() == Path(p).resolve() for p in inputs):
        raise NSTError(f"{out}: is an input of this run; choose another output path")
    if args.resume and not ckpt.exists():
        raise NSTError(f"{ckpt}: no checkpoint to resume; train without --resume first")
    if out.exists() and not (args.force or args.resume):
        raise NSTError(f"{out}: already exists; choose another path, add --resume to continue it, or --force")


def _config(args: argparse.Namespace) -> TrainConfig:
    if not Path(args.style).is_file():
        raise NSTError(f"{args.style}: no such file; give the painting's path")
    config = TrainConfig(
        style=_shown(args.style), crop=args.size, batch=args.batch, strength=args.strength,
        style_size=args.style_size, seed=args.seed, content_layers=tuple(args.content_layers), tv_weight=args.tv_weight,
    )  # fmt: skip
    if args.base:  # fine-tuning keeps the base's architecture
        net = load_model(args.base).config
        config = dataclasses.replace(config, width=net["width"], blocks=net["blocks"], norm=net["norm"])
    return config


def _start(trainer: Trainer, args: argparse.Namespace, ckpt: Path) -> None:
    if args.resume:
        state = torch.load(ckpt, map_location=trainer.device, weights_only=False)
        if state["config"] != dataclasses.asdict(trainer.config):
            raise NSTError(
                f"{ckpt}: was trained with other options ({state['config']}); resume with the same ones"
            )
        trainer.load_state(state)
    elif args.base:
        trainer.net.load_state_dict(load_model(args.base).state_dict())


class Progress:
    """The progress bar and validation every N steps, as the trainer's callback.

    With a time budget the bar counts seconds of training out of the budget (its total is known from
    the start; a step count would have to be guessed from the speed so far), with the step count in
    its postfix; with --steps it counts steps.
    """

    def __init__(self, trainer: Trainer, args: argparse.Namespace, minutes: float | None) -> None:
        self.minutes, self.every = minutes, args.validate_every
        self.photos = validation_photos(args.val, size=VAL_SIZES[0], device=str(trainer.device))
        self.judge = FeatureExtractor(MEASURE_LAYERS, device=trainer.device)
        common = dict(disable=args.quiet, dynamic_ncols=True, desc="training")
        if minutes is None:
            self.bar = tqdm(total=args.steps, initial=trainer.step, unit="step", **common)
        else:
            self.bar = tqdm(
                total=60 * minutes,
                initial=min(trainer.seconds, 60 * minutes),
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]",
                **common,
            )

    def validate(self, trainer: Trainer) -> dict[str, float]:
        """Style and content ratios on the held-out photos, recorded in the trainer's history."""
        ratios = validate(trainer.net, self.photos, trainer.config.style, self.judge)
        trainer.validation.append({"step": trainer.step, **ratios})
        return ratios

    def __call__(self, trainer: Trainer, terms) -> None:
        row = trainer.history[-1]
        terms_shown = {k: f"{row[k]:.2f}" for k in ("content", "style", "tv")}
        if self.minutes is None:
            self.bar.set_postfix(ordered_dict=terms_shown, refresh=False)
            self.bar.update(1)
        else:  # seconds of training, capped at the budget (the last step ends past it)
            self.bar.set_postfix(ordered_dict={"step": trainer.step, **terms_shown}, refresh=False)
            self.bar.update(min(trainer.seconds, self.bar.total) - self.bar.n)
        if trainer.step % self.every == 0:
            ratios = self.validate(trainer)
            self.bar.write(
                f"step {trainer.step}: held-out photos style ratio {ratios['style']:.3f}, content {ratios['content']:.3f}"
            )


def verdict(ratios: dict[str, float]) -> str:
    """Each ratio with its target and whether it was met: "style 0.172 (target <= 0.2: met), ..."."""
    return ", ".join(
        f"{name} {ratios[name]:.3f} (target <= {limit:g}: {'met' if ratios[name] <= limit else 'missed'})"
        for name, limit in TARGETS.items()
    )


def _threads() -> str:
    n = torch.get_num_threads()
    return f"{n} thread" if n == 1 else f"{n} threads"


def _earlier(base: str | None) -> list[dict]:
    """The training stages before this run: the base model's own stage, then the ones it came from."""
    if not base:
        return []
    card = read_card(resolve(base))
    stage = {k: card[k] for k in ("command", "iterations", "minutes", "device") if k in card}
    return [stage, *card.get("earlier", [])]


def _card(trainer: Trainer, args: argparse.Namespace, command: str, final: dict, wall: float) -> dict:
    tail = trainer.history[-50:]
    earlier = _earlier(args.base)
    return {
        "name": args.output.stem,
        "style": trainer.config.style,
        "command": trainer.commands[0],
        "resumed_with": trainer.commands[1:],
        "from": args.base,
        "iterations": trainer.step,
        "minutes": round(trainer.seconds / 60, 2),
        "wall_minutes_this_run": round(wall / 60, 2),
        "device": f"{trainer.device} ({_threads()}), torch {torch.__version__}",
        "final_loss": {
            k: round(sum(r[k] for r in tail) / len(tail), 4) for k in ("content", "style", "tv", "total")
        },
        "validation": final,
        "validation_history": trainer.validation,
        "config": dataclasses.asdict(trainer.config),
        "earlier": earlier,  # a fine-tuned model's lineage, so that its cost in all stays on record
        "total_iterations": trainer.step + sum(e["iterations"] for e in earlier),
        "total_minutes": round(trainer.seconds / 60 + sum(e["minutes"] for e in earlier), 2),
    }


def _launch_command(command: str, world: World) -> str:
    """The command line as it was launched: under torchrun, torchrun's own (so the card can be rerun)."""
    if not world.distributed:
        return command
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", world.size))
    nodes = f"--nnodes={world.size // per_node} " if world.size > per_node else ""
    return command.replace("python -m", f"torchrun {nodes}--nproc_per_node={per_node} -m", 1)


def _interrupt(signum: int, frame) -> None:
    """torchrun stops the other ranks with SIGTERM when one fails: unwind, so rank 0 saves its checkpoint."""
    raise KeyboardInterrupt


def run_train(args: argparse.Namespace, command: str) -> Path | None:
    """Train (or resume, or fine-tune), checkpointing to MODEL.ckpt, then write MODEL.pt and MODEL.json.

    Under torchrun every rank trains (DDP) and rank 0 alone shows progress, validates and writes the
    checkpoint, the model and its card; the other ranks return None.
    """
    ckpt = args.output.with_suffix(".ckpt")
    _check_paths(args, ckpt)
    with distributed.joined(args.device) as (world, device):
        before = signal.signal(signal.SIGTERM, _interrupt) if world.distributed else None
        try:
            return _train(args, _launch_command(command, world), ckpt, world, device)
        finally:
            if before is not None:
                signal.signal(signal.SIGTERM, before)


def _train(
    args: argparse.Namespace, command: str, ckpt: Path, world: World, device: torch.device
) -> Path | None:
    trainer = Trainer(
        _config(args), data=args.data, device=device, world=world, workers=args.workers, val=args.val
    )
    if trainer.crops.skipped and world.main:
        print(f"{args.data}: skipped {len(trainer.crops.skipped)} unreadable or too small files")
    _start(trainer, args, ckpt)
    trainer.commands.append(command)
    minutes = DEFAULT_MINUTES if args.steps is None and args.minutes is None else args.minutes
    progress = Progress(trainer, args, minutes) if world.main else None
    start = time.perf_counter()
    trainer.run(
        steps=args.steps,
        minutes=minutes,
        checkpoint=ckpt,
        checkpoint_every=args.checkpoint_every,
        callback=progress,
    )
    data = _data_counts(trainer, world)
    if not world.main:
        return None
    progress.bar.close()
    final = {
        f"{s}px": validate(
            trainer.net,
            validation_photos(args.val, size=s, device=str(device)),
            trainer.config.style,
            progress.judge,
        )
        for s in VAL_SIZES
    }
    card = _card(trainer, args, command, final, time.perf_counter() - start)
    card = save_model(trainer.net, args.output, {**card, "data": data})
    if data["skipped"] and isinstance(trainer.crops, CropStream):
        print(f"{args.data}: skipped {data['skipped']} unreadable or too small files of {data['files']}")
    print(
        f"wrote {args.output} after {trainer.step} steps ({card['minutes']:.1f} min of training); "
        f"held-out photos at {VAL_SIZES[-1]} px (mean of {len(progress.photos)}): "
        + verdict(final[f"{VAL_SIZES[-1]}px"])
    )
    return args.output


def _data_counts(trainer: Trainer, world: World) -> dict:
    """The card's record of the data and of the ranks: files, skipped (summed over ranks), loader, batches."""
    crops = trainer.crops
    streamed = isinstance(crops, CropStream)
    files = len(crops.dataset) if streamed else len(crops.photos) + len(crops.skipped)
    # a file is skipped once however many ranks met it (each epoch deals the files out anew)
    skipped = len(set().union(*distributed.gather(set(map(str, crops.skipped)), world)))
    return {
        "files": files,
        "skipped": skipped,
        "loader": f"streamed, {crops.loader.num_workers} worker processes per rank"
        if streamed
        else "in memory",
        "world_size": world.size,
        "backend": world.backend or "none (one process)",
        "batch_per_rank": trainer.config.batch,
        "global_batch": trainer.config.batch * world.size,
    }
