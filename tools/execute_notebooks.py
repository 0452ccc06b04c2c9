"""Re-run chapter notebooks in full mode and store their outputs (what a reader sees on GitHub).

    python tools/execute_notebooks.py                    # every notebook in notebooks/
    python tools/execute_notebooks.py 03_losses.ipynb    # some of them

Progress-bar widgets are dropped from the stored outputs: without the live kernel a reader
would only see a bar frozen at 0%. Prints each notebook's run time and size.

`run_notebook(path, ci=True)` executes one in memory in CI mode (NSTLIB_FAST=1), as the tests do,
without writing it: the benchmark times the chapters with it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from nstlib.course import NOTEBOOKS, chapters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: tools/ is sys.path[0]
from tools import i18n  # noqa: E402

WIDGET = "application/vnd.jupyter.widget-view+json"


def kernel_env(ci: bool) -> dict[str, str]:
    """This process's environment for the kernel, with NSTLIB_FAST set (CI mode) or removed (full)."""
    env = {k: v for k, v in os.environ.items() if k != "NSTLIB_FAST"}
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads slow a busy machine ~10x
    if ci:
        env["NSTLIB_FAST"] = "1"
    return env


def run_notebook(path: Path, *, ci: bool, timeout: int = 3600) -> tuple[nbformat.NotebookNode, float]:
    """Execute one notebook in memory (the file is not written); returns it and the seconds taken."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute(env=kernel_env(ci))
    return nb, time.perf_counter() - start


def execute(path: Path) -> float:
    """Execute one notebook in place with NSTLIB_FAST unset; returns seconds taken."""
    nb, seconds = run_notebook(path, ci=False)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def main(names: list[str]) -> None:
    """Run the named notebooks (default: all), one after the other."""
    paths = [NOTEBOOKS / n for n in names] if names else chapters()
    for path in paths:
        seconds = execute(path)
        print(f"{path.name}: {seconds:.0f} s, {path.stat().st_size / 1e6:.2f} MB", flush=True)
    i18n.rebuild(paths)  # the translated chapters carry the new outputs too


if __name__ == "__main__":
    main(sys.argv[1:])
