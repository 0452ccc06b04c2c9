"""Course plumbing: the CI-mode switch, course images by name, library source inside a chapter,
the chapters' Colab set-up cell, and the learner's workspace.

Start the course with a working copy of the chapters that git ignores:

    python -m nstlib.course workspace [DIR]      # copy the chapters into DIR (default: workspace/)
    python -m nstlib.course reset CHAPTER [DIR]  # put one chapter back as it was (yours is backed up)

The tracked notebooks in notebooks/ stay as they are; the tests always run those.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

from .errors import NSTError

T = TypeVar("T")

#: CI mode: set NSTLIB_FAST=1 (the tests do) for small images and few steps.
FAST = os.environ.get("NSTLIB_FAST", "0").lower() not in ("", "0", "false", "no")

#: The course's repository: the one place its address is written (the chapters' Colab cell is
#: rendered from it by tools/sync_setup_cells.py, and a test keeps the two equal).
COURSE_REPO = "https://github.com/nst-course/nst-course"

#: The clone of the course that nstlib is installed from (`pip install -e .`), and its folders.
ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "img"
NOTEBOOKS = ROOT / "notebooks"
#: The default learner workspace (listed in .gitignore).
WORKSPACE = ROOT / "workspace"

#: What JupyterLab writes into a notebook it opens with ipykernel's `python3` kernel. The chapters
#: store exactly this, so opening one does not change the file (a test keeps it so).
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
#: ipykernel's `language_info`, less its `version` (the Python that ran the stored outputs).
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}

_SETUP_CELL = """\
# On Colab: fetch the course and install it (does nothing on your own machine).
import os
import sys

if "google.colab" in sys.modules:
    COURSE_REPO = "@REPO@"  # change this if you work from a fork
    if not os.path.isdir("/content/nst-course"):
        !git clone -q --depth 1 {COURSE_REPO} /content/nst-course
        !pip install -q -e "/content/nst-course[course]" && pip install -q --no-deps d2l==1.0.3
    sys.path.insert(0, "/content/nst-course")"""


def tier() -> str:
    """The budget a chapter runs at: "fast" (CI, NSTLIB_FAST=1), "gpu" (a CUDA device) or "cpu"."""
    if FAST:
        return "fast"
    from .device import default_device  # imports torch: only when a chapter asks

    return "gpu" if default_device().type == "cuda" else "cpu"


def pick(full: T, fast: T, gpu: T | None = None) -> T:
    """`fast` in CI mode, `gpu` (if given) on a GPU, else `full`: the one place a chapter's budget changes."""
    chosen = tier()
    if chosen == "fast":
        return fast
    return gpu if chosen == "gpu" and gpu is not None else full


def show_source(obj: Any):
    """Show a library object's source as highlighted code (a chapter teaches by reading it)."""
    from IPython.display import Markdown

    return Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```")


def setup_cell_source(repo: str = COURSE_REPO) -> str:
    """The source of every chapter's first code cell: on Colab, clone `repo` and install it."""
    return _SETUP_CELL.replace("@REPO@", repo)


def asset(relpath: str | Path) -> Path:
    """Absolute path of a course image (or folder) under the repository's img/, from any folder."""
    if not IMG.is_dir():
        raise NSTError(
            f"{IMG}: no course images there; install nstlib from a clone of the course (`pip install -e .`)"
        )
    path = IMG / relpath
    if not path.exists():
        raise NSTError(f"{path}: no such course image; the names are listed in {IMG / 'CREDITS.md'}")
    return path


def chapters() -> list[Path]:
    """The tracked chapter notebooks (notebooks/NN_*.ipynb), in order, then the appendices (AN_*.ipynb)."""
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted(NOTEBOOKS.glob("A[0-9]_*.ipynb"))
    if not found:
        raise NSTError(
            f"{NOTEBOOKS}: no chapters there; install nstlib from a clone of the course (`pip install -e .`)"
        )
    return found


def _folder(dest: str | Path | None) -> Path:
    """The workspace folder `dest` (default WORKSPACE), refusing the tracked notebooks/ itself."""
    folder = Path(dest).expanduser().resolve() if dest is not None else WORKSPACE
    if folder == NOTEBOOKS.resolve():
        raise NSTError(
            f"{folder}: that is the course's own copy, which stays as it is; "
            "give another folder (default: workspace/ in the repository)"
        )
    if folder.exists() and not folder.is_dir():
        raise NSTError(f"{folder}: is a file, not a folder; give a folder name (default: {WORKSPACE})")
    return folder


def find_chapter(chapter: str | int) -> Path:
    """The tracked notebook of `chapter`: a number (5, "05"), an appendix ("A1") or a file name ("05_training[.ipynb]")."""
    key = str(chapter).strip()
    for path in chapters():
        number = path.name.split("_", 1)[0]
        numbered = key.isdigit() and number.isdigit() and int(key) == int(number)
        if numbered or key.upper() == number or key in (path.name, path.stem):
            return path
    names = ", ".join(p.name for p in chapters())
    raise NSTError(f"no chapter {key!r}; give its number (1-{len(chapters())}) or its file name ({names})")


def make_workspace(dest: str | Path | None = None) -> tuple[Path, list[Path], list[Path]]:
    """Copy every chapter into `dest` (default WORKSPACE), never over an existing file.

    Returns the folder, the copies made and the files left alone (already there).
    """
    folder = _folder(dest)
    folder.mkdir(parents=True, exist_ok=True)
    copied, skipped = [], []
    for path in chapters():
        target = folder / path.name
        if target.exists():
            skipped.append(target)
        else:
            shutil.copyfile(path, target)
            copied.append(target)
    return folder, copied, skipped


def reset_chapter(chapter: str | int, dest: str | Path | None = None) -> tuple[Path, Path | None]:
    """Put the original of `chapter` back into the workspace `dest` (default WORKSPACE).

    The learner's copy is first moved to `NAME.backup-YYYYmmdd-HHMMSS.ipynb` next to it, so
    nothing is lost. Returns the restored file and the backup (None when there was nothing to keep).
    """
    original = find_chapter(chapter)
    folder = _folder(dest)
    if not folder.is_dir():
        raise NSTError(
            f"{folder}: no such folder; create the workspace first: python -m nstlib.course workspace"
            + ("" if dest is None else f" {dest}")
        )
    target = folder / original.name
    backup = None
    if target.exists():
        if target.read_bytes() == original.read_bytes():
            return target, None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = folder / f"{original.stem}.backup-{stamp}.ipynb"
        n = 1
        while backup.exists():
            n += 1
            backup = folder / f"{original.stem}.backup-{stamp}-{n}.ipynb"
        target.rename(backup)
    shutil.copyfile(original, target)
    return target, backup


def _ignored_by_git(folder: Path) -> bool | None:
    """Whether git ignores `folder` inside the course's clone (None: outside it, or no git)."""
    try:
        folder.relative_to(ROOT)
        done = subprocess.run(
            ["git", "-C", str(ROOT), "check-ignore", "-q", str(folder)], capture_output=True, timeout=10
        )
    except (ValueError, OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(done.returncode)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage mistakes reported in one line like every other error."""

    def error(self, message: str):
        print(f"error: {message} (see `python -m nstlib.course --help`)", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    """`python -m nstlib.course workspace [DIR]` and `python -m nstlib.course reset CHAPTER [DIR]`."""
    parser = _Parser(
        prog="python -m nstlib.course",
        description="Work on your own copy of the chapters; the tracked notebooks stay as they are.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ws = commands.add_parser("workspace", help="copy the chapters into DIR (never over a file there)")
    ws.add_argument("dir", nargs="?", metavar="DIR", help=f"default: {WORKSPACE}")
    reset = commands.add_parser("reset", help="put one chapter back as it was; yours is backed up")
    reset.add_argument("chapter", metavar="CHAPTER", help="its number (5) or file name (05_training.ipynb)")
    reset.add_argument("dir", nargs="?", metavar="DIR", help=f"the workspace (default: {WORKSPACE})")
    args = parser.parse_args(argv)
    try:
        if args.command == "workspace":
            folder, copied, skipped = make_workspace(args.dir)
            print(f"copied {len(copied)} chapter(s) to {folder}" + (":" if copied else ""))
            for path in copied:
                print(f"  {path.name}")
            if skipped:
                print(f"skipped {len(skipped)} already there (yours are kept; `reset CHAPTER` restores one):")
                for path in skipped:
                    print(f"  {path.name}")
            if _ignored_by_git(folder) is False:
                print(f"note: git does not ignore {folder}; `git status` will list your copies")
            print(f"start with: jupyter lab {folder}")
        else:
            had_copy = (_folder(args.dir) / find_chapter(args.chapter).name).exists()
            restored, backup = reset_chapter(args.chapter, args.dir)
            if backup is not None:
                print(f"moved your copy to {backup}")
            if backup is None and had_copy:
                print(f"{restored} is the original already; nothing to do")
            else:
                print(f"restored {restored} from {find_chapter(args.chapter)}")
    except NSTError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
