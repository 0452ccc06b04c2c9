"""Pick the compute device and make runs repeatable."""

from __future__ import annotations

import os
import random

import torch


def default_device() -> torch.device:
    """CUDA when present, else CPU; the environment variable NSTLIB_DEVICE overrides."""
    name = os.environ.get("NSTLIB_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's generators (CPU and CUDA) for repeatable runs."""
    random.seed(seed)
    torch.manual_seed(seed)
