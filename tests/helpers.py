"""What several test files share: the repository's paths and a small-image loader."""

from __future__ import annotations

from pathlib import Path

import torch

import nstlib as nl

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "img"


class NetworkBlocked(RuntimeError):
    """Raised by any socket connection attempted during a test."""


def small(path: str, size: int = 64) -> torch.Tensor:
    """A course image as a normalised tensor whose long side is `size`."""
    return nl.preprocess(nl.load_image(IMG / path, max_size=size))
