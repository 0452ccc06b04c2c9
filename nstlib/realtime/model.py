"""Saving, checking and loading trained networks, the shipped ones by name, and applying them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..errors import NSTError
from ..images import resize, to_rgb, write_atomically
from ..install import ROOT
from .network import TransformerNet

#: The shipped models: NAME.pt (weights) beside NAME.json (its card: how it was trained, its sha256).
MODELS_DIR = ROOT / "models"


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def card_path(model: Path) -> Path:
    """Where a model's card lives: NAME.json beside NAME.pt."""
    return Path(model).with_suffix(".json")


def save_model(net: torch.nn.Module, path: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Write the weights (fp32) and `net.config` and, beside them, the card with the weights' sha256; returns the card.

    Any module with a `config` dict it is rebuilt from (`TransformerNet`, `arbitrary.Decoder`)."""
    state = {k: v.detach().to("cpu", torch.float32) for k, v in net.state_dict().items()}
    write_atomically(path, lambda tmp: torch.save({"config": net.config, "state_dict": state}, tmp))
    card = {**card, "sha256": sha256(path), "bytes": Path(path).stat().st_size}
    write_atomically(card_path(path), lambda tmp: tmp.write_text(json.dumps(card, indent=2) + "\n"))
    return card


def shipped() -> dict[str, Path]:
    """Name -> weights file of every model shipped in models/."""
    return {p.stem: p for p in sorted(MODELS_DIR.glob("*.pt"))}


def read_card(model: Path) -> dict[str, Any]:
    """The card beside a model file ({} if it has none)."""
    card = card_path(model)
    return json.loads(card.read_text()) if card.exists() else {}


def resolve(name_or_path: str | Path) -> Path:
    """A shipped model's name or a model file's path -> the file, with a one-line error if neither."""
    models = shipped()
    if str(name_or_path) in models:
        return models[str(name_or_path)]
    path = Path(name_or_path)
    if path.is_file():
        return path
    names = ", ".join(models) or "none shipped"
    raise NSTError(f"{name_or_path}: no such model file or shipped model; use a path or one of: {names}")


def check_card(path: Path) -> None:
    """Refuse a weights file whose sha256 differs from its card's (a file without a card passes)."""
    expected = read_card(path).get("sha256")
    if expected and sha256(path) != expected:
        raise NSTError(
            f"{path}: its sha256 does not match {card_path(path).name}; the file is damaged or was "
            "replaced: restore it (git checkout -- models/) or retrain it"
        )


def load_model(name_or_path: str | Path, device: torch.device | str = "cpu") -> TransformerNet:
    """Load a shipped model by name or a model file by path, checking its sha256 against its card."""
    path = resolve(name_or_path)
    check_card(path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        net = TransformerNet(**saved["config"])
        net.load_state_dict(saved["state_dict"])
    except (RuntimeError, KeyError, TypeError, OSError, EOFError) as err:
        raise NSTError(
            f"{path}: not a model that nstlib.realtime saved ({type(err).__name__}); retrain it"
        ) from None
    return net.to(device).eval()


@torch.inference_mode()
def apply(net: TransformerNet, photo: Image.Image, size: int | None = None) -> Image.Image:
    """Stylise one photo in one pass, its long side scaled to `size` px first (None: as it is)."""
    photo = resize(to_rgb(photo), max_size=size)
    device = next(net.parameters()).device
    x = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 255).permute(2, 0, 1)[None].to(device)
    y = net(x)[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray((y * 255).round().astype(np.uint8))
