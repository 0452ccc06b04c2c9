"""`python -m nstlib.arbitrary train`: checks, the progress bar, checkpoints, validation and the decoder's card."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..errors import NSTError
from ..realtime.train_cli import _shown, _threads
from .model import DECODERS_DIR, resolve_decoder, save_decoder, sha256
from .train import LINEAR_BATCHES, DecoderConfig, DecoderTrainer, reconstruction_error, validation_pixels

DEFAULT_MINUTES = 10.0
VAL_SIZES = (256, 512)  # validation during training at the first; the card also gets the second


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    out = args.output or DECODERS_DIR / f"{args.layer}.pt"
    ckpt = out.with_suffix(".ckpt")
    if out.suffix != ".pt":
        raise NSTError(f"{out}: name the decoder file NAME.pt (its card NAME.json is written beside it)")
    if not out.parent.is_dir():
        raise NSTError(f"{out}: folder {out.parent} does not exist; create it first")
    if args.resume and not ckpt.exists():
        raise NSTError(f"{ckpt}: no checkpoint to resume; train without --resume first")
    if out.resolve().parent == DECODERS_DIR.resolve() and out.stem != args.layer:
        raise NSTError(
            f"{out}: a decoder in {DECODERS_DIR.name}/ is named after its layer; use -o {DECODERS_DIR / args.layer}.pt or another folder"
        )
    if (
        args.warm_from is not None
        and out.resolve() == resolve_decoder(args.warm_from).resolve()
        and not args.resume
    ):
        raise NSTError(f"{out}: is the --from decoder of this run; choose another output path with -o")
    if args.layer == "relu1_1" and (args.minutes is not None or args.resume):
        raise NSTError(
            "relu1_1's decoder is solved by least squares in seconds: no --minutes or --resume (--steps is its batches)"
        )
    if out.exists() and not (args.force or args.resume):
        raise NSTError(
            f"{out}: already exists; choose another path with -o, add --resume to continue it, or --force"
        )
    return out, ckpt


def _config(args: argparse.Namespace) -> DecoderConfig:
    precision = args.precision
    warm = args.warm_from
    if warm is not None:
        warm = _shown(resolve_decoder(warm))  # a path the card can show on any clone
    return DecoderConfig(
        level=args.layer, crop=args.size, batch=args.batch, lr=args.lr, feature_weight=args.feature_weight,
        seed=args.seed, warm_from=warm, precision=precision,
    )  # fmt: skip


def run_train(args: argparse.Namespace, command: str) -> Path:
    """Train (or resume) one decoder, checkpointing to DECODER.ckpt, then write DECODER.pt and its card."""
    out, ckpt = _paths(args)
    config = _config(args)
    trainer = DecoderTrainer(config, data=args.data, val=args.val)
    if args.resume:
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        if state["config"] != dataclasses.asdict(config):
            raise NSTError(
                f"{ckpt}: was trained with other options ({state['config']}); resume with the same ones"
            )
        trainer.load_state(state)
    trainer.commands.append(command)
    minutes = DEFAULT_MINUTES if args.steps is None and args.minutes is None else args.minutes
    photos = validation_pixels(args.val, size=VAL_SIZES[0])
    if not photos:
        raise NSTError(f"{args.val}: no photos in it; give a folder of held-out photos with --val")
    fmt = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"
    bar = (tqdm(total=args.steps, initial=trainer.step, unit="step", desc="training", disable=args.quiet)
           if minutes is None else
           tqdm(total=60 * minutes, initial=min(trainer.seconds, 60 * minutes), bar_format=fmt,
                desc="training", disable=args.quiet))  # fmt: skip

    def progress(t: DecoderTrainer, row: dict) -> None:
        bar.set_postfix(
            step=t.step, pixel=f"{row['pixel']:.4f}", feature=f"{row['feature']:.3f}", refresh=False
        )
        bar.update(1 if minutes is None else min(t.seconds, bar.total) - bar.n)
        if t.step % args.validate_every == 0:
            err = reconstruction_error(t.decoder, t.encoder, photos)
            t.validation.append({"step": t.step, **err})
            bar.write(
                f"step {t.step}: held-out photos PSNR {err['psnr']:.2f} dB, feature error {err['feature']:.3f}"
            )

    start = time.perf_counter()
    if len(trainer.decoder.net) == 1:  # relu1_1: linear, solved exactly (`fit_linear`), no Adam steps
        bar.close()
        trainer.solve(args.steps or LINEAR_BATCHES)
        trainer.save_checkpoint(ckpt)
    else:
        trainer.run(steps=args.steps, minutes=minutes, checkpoint=ckpt, checkpoint_every=args.checkpoint_every,
                    callback=progress)  # fmt: skip
        bar.close()
        trainer.solve(polish=True)  # the last convolution by least squares, the rest as Adam left it
        trainer.save_checkpoint(ckpt)
    final = {f"{s}px": reconstruction_error(trainer.decoder, trainer.encoder, validation_pixels(args.val, size=s))
             for s in VAL_SIZES}  # fmt: skip
    tail = trainer.history[-50:]
    card = {
        "level": config.level,
        "command": trainer.commands[0],
        "resumed_with": trainer.commands[1:],
        "iterations": trainer.step,
        "minutes": round(trainer.seconds / 60, 2),
        "wall_minutes_this_run": round((time.perf_counter() - start) / 60, 2),
        "device": f"cpu ({_threads()}), torch {torch.__version__}",
        "method": _method(trainer),
        "polished_batches": trainer.polished,
        "final_loss": {
            k: round(sum(r[k] for r in tail) / len(tail), 5) for k in ("pixel", "feature", "total")
        },
        "validation": final,
        "validation_history": trainer.validation,
        "config": dataclasses.asdict(config),
        "copied_convs": trainer.copied,
        "from_sha256": sha256(resolve_decoder(config.warm_from)) if config.warm_from else None,
        **_lineage(config, trainer.seconds),
        "data": {"folder": _shown(args.data), "val": _shown(args.val), "photos": _photo_count(trainer)},
    }
    card = save_decoder(trainer.decoder, out, card)
    print(f"wrote {out} after {trainer.step} steps ({card['minutes']:.1f} min of training); held-out photos at "
          f"{VAL_SIZES[-1]} px: PSNR {final['512px']['psnr']:.2f} dB, feature error {final['512px']['feature']:.3f}")  # fmt: skip
    return out


def _method(trainer: DecoderTrainer) -> str:
    if len(trainer.decoder.net) == 1:
        return "least squares (fit_linear)"
    return "Adam, then the last convolution by least squares (fit_linear)"


def _lineage(config: DecoderConfig, seconds: float) -> dict:
    """A decoder started from one of its own level (an earlier stage): that stage's record and the total cost."""
    if not config.warm_from:
        return {}
    from .model import read_card, resolve_decoder

    card = read_card(resolve_decoder(config.warm_from))
    if card.get("level") != config.level:
        return {}
    stage = {k: card[k] for k in ("command", "iterations", "minutes", "method", "validation") if k in card}
    earlier = [stage, *card.get("earlier", [])]
    return {"earlier": earlier, "total_minutes": round(seconds / 60 + sum(e["minutes"] for e in earlier), 2)}


def _photo_count(trainer: DecoderTrainer) -> int:
    crops = trainer.crops
    return len(crops.dataset) if hasattr(crops, "dataset") else len(crops.photos)
