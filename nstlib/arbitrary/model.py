"""The decoders' files: saving with a card (how it was trained, its reconstruction error, sha256), loading checked."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import NSTError
from ..install import ROOT
from ..realtime.model import MODELS_DIR, check_card, read_card, save_model, sha256  # noqa: F401 (sha256: re-exported)
from .decoder import LEVELS, Decoder, encoder_for

if TYPE_CHECKING:
    from .universal import Universal

#: The shipped decoders: models/arbitrary/relu{b}_1.pt, each with its card relu{b}_1.json.
DECODERS_DIR = MODELS_DIR / "arbitrary"


def save_decoder(decoder: Decoder, path: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Write the weights (fp32) and, beside them, the card with the weights' sha256; returns the card."""
    return save_model(decoder, path, card)


def shipped_decoders() -> dict[str, Path]:
    """Level -> file of every decoder shipped in models/arbitrary/ (files named LEVEL.pt; others are ignored)."""
    return {p.stem: p for p in sorted(DECODERS_DIR.glob("*.pt")) if p.stem in LEVELS}


def resolve_decoder(level_or_path: str | Path) -> Path:
    """A shipped decoder's level ("relu3_1") or a decoder file's path -> the file, or a one-line error."""
    shipped = shipped_decoders()
    if str(level_or_path) in shipped:
        return shipped[str(level_or_path)]
    path = Path(level_or_path)
    if path.is_file():
        return path
    if not path.is_absolute() and (ROOT / path).is_file():  # a card's path, from the repository root
        return ROOT / path
    if str(level_or_path) in LEVELS:
        raise NSTError(
            f"no decoder for {level_or_path} in {DECODERS_DIR}; train it: "
            f"python -m nstlib.arbitrary train --layer {level_or_path} -o {DECODERS_DIR / level_or_path}.pt"
        )
    raise NSTError(f"{level_or_path}: no such decoder file; give a path or one of {', '.join(LEVELS)}")


def load_decoder(level_or_path: str | Path, device: torch.device | str = "cpu") -> Decoder:
    """A decoder by level (shipped) or by path, its sha256 checked against its card."""
    path = resolve_decoder(level_or_path)
    check_card(path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved["config"]["level"] not in LEVELS:
            raise ValueError(saved["config"]["level"])
        decoder = Decoder(**saved["config"])
        decoder.load_state_dict(saved["state_dict"])
    except (RuntimeError, KeyError, TypeError, OSError, EOFError, ValueError, IndexError, AttributeError,
            pickle.UnpicklingError) as err:  # fmt: skip
        raise NSTError(
            f"{path}: not a decoder that nstlib.arbitrary saved ({type(err).__name__}); retrain it"
        ) from None
    return decoder.to(device).eval()


def load_universal(
    levels: Sequence[str] | None = None,
    *,
    device: torch.device | str = "cpu",
    net: torch.nn.Sequential | None = None,
) -> Universal:
    """The encoder and the shipped decoders of `levels` (default: every shipped one) as a `Universal`."""
    from .universal import Universal

    levels = tuple(shipped_decoders()) if levels is None else tuple(levels)
    if not levels:
        raise NSTError(f"no decoders in {DECODERS_DIR}; train them: python -m nstlib.arbitrary train --help")
    decoders = {lv: load_decoder(lv, device) for lv in levels}
    for lv, decoder in decoders.items():
        if decoder.level != lv:
            raise NSTError(
                f"{resolve_decoder(lv)}: holds the decoder of {decoder.level}, not {lv}; rename or retrain it"
            )
    return Universal(decoders, encoder_for(levels, device=device, net=net)).eval()


def decoder_card(level: str) -> dict[str, Any]:
    """The card of the shipped decoder of `level` ({} if none)."""
    return read_card(resolve_decoder(level))
