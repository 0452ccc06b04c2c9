"""What this install is: the clone of the course nstlib came from, and the torch/torchvision builds.

The lowest of the course's plumbing: `nstlib.vgg` (torchvision's weights), `nstlib.doctor` (the
install check) and `nstlib.course` (the chapters' helpers) all import from here, and this module
imports neither them nor torch, so the install check still runs where torch does not import.

The trap `mismatch_fix` was written for: torch from PyTorch's CPU index next to torchvision from
PyPI (a CUDA build) installs without a complaint, but `import torchvision` and so `from d2l import
torch as d2l` stop with `RuntimeError: operator torchvision::nms does not exist`.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from .errors import NSTError

#: The clone of the course that nstlib is installed from (`pip install -e .`), and its folders.
ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "img"
NOTEBOOKS = ROOT / "notebooks"
#: The translated editions: notebooks/<lang>/, built from locale/<lang>/ by `python -m tools.i18n build`.
LANGUAGES = ("zh_CN",)

#: What `import torchvision` says when its compiled operators were built for another torch.
NMS_SYMPTOM = "torchvision::nms does not exist"
#: ... and when torch and torchvision were built for different CUDA major versions.
CUDA_SYMPTOM = "compiled with different CUDA major versions"
TORCH_INDEX = "https://download.pytorch.org/whl"


def chapters(lang: str | None = None) -> list[Path]:
    """The tracked chapter notebooks (notebooks/NN_*.ipynb), in order, then the appendices (AN_*.ipynb).

    With `lang` (e.g. "zh_CN"), the translated edition's notebooks in notebooks/<lang>/ instead.
    """
    if lang is not None and lang not in LANGUAGES:
        raise NSTError(f"no {lang!r} edition of the course; the editions are: {', '.join(LANGUAGES)}")
    folder = NOTEBOOKS if lang is None else NOTEBOOKS / lang
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb")) + sorted(folder.glob("A[0-9]_*.ipynb"))
    if not found:
        raise NSTError(
            f"{folder}: no chapters there; install nstlib from a clone of the course (`pip install -e .`)"
        )
    return found


def installed_version(dist: str) -> str | None:
    """The installed version of a distribution, without importing it; None if it is not installed."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def build_of(version: str) -> str:
    """The build a torch/torchvision version names: "cpu", "cu126", ..., or "pypi" (no local tag)."""
    return version.partition("+")[2] or "pypi"


def reinstall_command() -> str:
    """The one-line fix for a torch/torchvision pair from different builds: both again, from torch's index."""
    torch_version = installed_version("torch") or "?"
    build = build_of(torch_version)
    pinned = f"python -m pip install --force-reinstall torch=={torch_version.partition('+')[0]} torchvision"
    if build == "pypi":
        return f"fix: reinstall both from PyPI: {pinned}"
    return (
        f"fix: reinstall both from one index: {pinned} --index-url {TORCH_INDEX}/{build} "
        "(if that index is unreachable: python -m pip install -U --force-reinstall torch torchvision)"
    )


def mismatch_fix(err: BaseException) -> str | None:
    """The one-line advice for torchvision's import errors on another torch's build (None for any other error)."""
    symptom = next((s for s in (NMS_SYMPTOM, CUDA_SYMPTOM) if s in str(err)), None)
    if symptom is None:
        return None
    pair = f"torch {installed_version('torch')} and torchvision {installed_version('torchvision')}"
    return f"{pair} are different builds ({symptom}); {reinstall_command()}"
