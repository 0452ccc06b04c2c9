"""Course plumbing: the CI-mode switch, course images by name, library source inside a chapter,
the chapters' Colab set-up cell, and the learner's workspace.

Start the course with a working copy of the chapters that git ignores:

    python -m nstlib.course workspace [DIR]      # copy the chapters into DIR (default: workspace/)
    python -m nstlib.course workspace --lang zh_CN  # the Chinese edition (default: workspace/zh_CN/)
    python -m nstlib.course reset CHAPTER [DIR]  # put one chapter back as it was (yours is backed up)
    python -m nstlib.course check                # is the install complete? one line per item, with fixes

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

from .errors import NSTError, OneLineParser

# The clone's folders and the chapters' list live in nstlib.install, below the install check
# (nstlib.doctor) that needs them too; they stay importable from here.
from .install import IMG, LANGUAGES, NOTEBOOKS, ROOT, chapters, mismatch_fix

T = TypeVar("T")

#: CI mode: set NSTLIB_FAST=1 (the tests do) for small images and few steps.
FAST = os.environ.get("NSTLIB_FAST", "0").lower() not in ("", "0", "false", "no")

#: The course's repository: the one place its address is written (the chapters' Colab cell is
#: rendered from it by tools/sync_setup_cells.py, and a test keeps the two equal).
COURSE_REPO = "https://github.com/nst-course/nst-course"

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


def _folder(dest: str | Path | None, lang: str | None = None) -> Path:
    """The workspace folder `dest` (default WORKSPACE, or WORKSPACE/<lang>), refusing the tracked notebooks/."""
    default = WORKSPACE if lang is None else WORKSPACE / lang
    folder = Path(dest).expanduser().resolve() if dest is not None else default
    tracked = [NOTEBOOKS.resolve()] + [(NOTEBOOKS / code).resolve() for code in LANGUAGES]
    if folder in tracked:
        raise NSTError(
            f"{folder}: that is the course's own copy, which stays as it is; "
            "give another folder (default: workspace/ in the repository)"
        )
    if folder.exists() and not folder.is_dir():
        raise NSTError(f"{folder}: is a file, not a folder; give a folder name (default: {WORKSPACE})")
    return folder


def find_chapter(chapter: str | int, lang: str | None = None) -> Path:
    """The tracked notebook of `chapter`: a number (5, "05"), an appendix ("A1") or a file name ("05_training[.ipynb]")."""
    key = str(chapter).strip()
    paths = chapters(lang)
    prefixes = [p.name.split("_", 1)[0] for p in paths]  # "05", "A1"
    for path, number in zip(paths, prefixes):
        numbered = key.isdigit() and number.isdigit() and int(key) == int(number)
        if numbered or key.upper() == number or key in (path.name, path.stem):
            return path
    numbers = [int(n) for n in prefixes if n.isdigit()]
    appendices = ", ".join(n for n in prefixes if not n.isdigit())
    names = ", ".join(p.name for p in paths)
    raise NSTError(
        f"no chapter {key!r}; give its number ({min(numbers)}-{max(numbers)}), an appendix ({appendices}) "
        f"or its file name ({names})"
    )


def make_workspace(dest: str | Path | None = None, lang: str | None = None) -> tuple[Path, list[Path], list[Path]]:
    """Copy every chapter (of the `lang` edition) into `dest` (default WORKSPACE[/lang]), never over a file.

    Returns the folder, the copies made and the files left alone (already there).
    """
    sources = chapters(lang)  # before making the folder: an unknown edition leaves nothing behind
    folder = _folder(dest, lang)
    folder.mkdir(parents=True, exist_ok=True)
    copied, skipped = [], []
    for path in sources:
        target = folder / path.name
        if target.exists():
            skipped.append(target)
        else:
            shutil.copyfile(path, target)
            copied.append(target)
    return folder, copied, skipped


def reset_chapter(
    chapter: str | int, dest: str | Path | None = None, lang: str | None = None
) -> tuple[Path, Path | None]:
    """Put the original of `chapter` (of the `lang` edition) back into the workspace `dest` (default WORKSPACE[/lang]).

    The learner's copy is first moved to `NAME.backup-YYYYmmdd-HHMMSS.ipynb` next to it, so
    nothing is lost. Returns the restored file and the backup (None when there was nothing to keep).
    """
    original = find_chapter(chapter, lang)
    folder = _folder(dest, lang)
    if not folder.is_dir():
        raise NSTError(
            f"{folder}: no such folder; create the workspace first: python -m nstlib.course workspace"
            + ("" if dest is None else f" {dest}")
            + ("" if lang is None else f" --lang {lang}")
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


def _workspace_command(args: argparse.Namespace) -> int:
    """`workspace [DIR]`: copy the chapters, say what was copied and kept, and how to open them."""
    folder, copied, skipped = make_workspace(args.dir, args.lang)
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
    return 0


def _reset_command(args: argparse.Namespace) -> int:
    """`reset CHAPTER [DIR]`: put the original back, saying where the learner's copy went."""
    had_copy = (_folder(args.dir, args.lang) / find_chapter(args.chapter, args.lang).name).exists()
    restored, backup = reset_chapter(args.chapter, args.dir, args.lang)
    if backup is not None:
        print(f"moved your copy to {backup}")
    if backup is None and had_copy:
        print(f"{restored} is the original already; nothing to do")
    else:
        print(f"restored {restored} from {find_chapter(args.chapter, args.lang)}")
    return 0


def _check_command(args: argparse.Namespace) -> int:
    """`check`: the install check (nstlib.doctor), one line per item."""
    from .doctor import run_checks

    return run_checks()


def _build_parser() -> argparse.ArgumentParser:
    """The `python -m nstlib.course` command line."""
    parser = OneLineParser(
        prog="python -m nstlib.course",
        description="Work on your own copy of the chapters; the tracked notebooks stay as they are.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    ws = commands.add_parser("workspace", help="copy the chapters into DIR (never over a file there)")
    ws.add_argument("dir", nargs="?", metavar="DIR", help=f"default: {WORKSPACE} (with --lang: its subfolder)")
    ws.add_argument("--lang", choices=LANGUAGES, help="a translated edition (zh_CN: 中文版)")
    ws.set_defaults(run=_workspace_command)
    reset = commands.add_parser("reset", help="put one chapter back as it was; yours is backed up")
    reset.add_argument("chapter", metavar="CHAPTER", help="its number (5) or file name (05_training.ipynb)")
    reset.add_argument("dir", nargs="?", metavar="DIR", help=f"the workspace (default: {WORKSPACE})")
    reset.add_argument("--lang", choices=LANGUAGES, help="the chapter of a translated edition")
    reset.set_defaults(run=_reset_command)
    check = commands.add_parser(
        "check", help="check the install: one line per item, with the fix for any that fails (exit 1)"
    )
    check.set_defaults(run=_check_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m nstlib.course workspace [DIR]`, `reset CHAPTER [DIR]` and `check`."""
    args = _build_parser().parse_args(argv)
    try:
        return args.run(args)
    except NSTError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _show_with_fix(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None
) -> None:
    """IPython's usual traceback, then the install check's one-line fix if this is torchvision's mismatch."""
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    fix = mismatch_fix(value)
    if fix:
        print(f"nstlib: {fix}", file=sys.stderr)


def explain_mismatch_in_notebooks() -> bool:
    """In IPython (a chapter), make torchvision's `nms does not exist` error end with its fix.

    Every chapter imports nstlib.course in its set-up cell, so chapter 5's `from d2l import torch
    as d2l` on a torch/torchvision pair from different indexes says how to reinstall them. Returns
    whether the handler is in place (not outside IPython, nor over another tool's handler).
    """
    ipython = sys.modules.get("IPython")  # only where IPython already runs: never import it here
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or shell.custom_exceptions not in ((), (RuntimeError,)):
        return False
    shell.set_custom_exc((RuntimeError,), _show_with_fix)
    return True


explain_mismatch_in_notebooks()


if __name__ == "__main__":
    sys.exit(main())
