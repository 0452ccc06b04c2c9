"""Re-run chapter notebooks in full mode and store their outputs (what a reader sees on GitHub).

    python tools/execute_notebooks.py                    # every notebook in notebooks/
    python tools/execute_notebooks.py 03_losses.ipynb    # some of them

Progress-bar widgets are dropped from the stored outputs: without the live kernel a reader
would only see a bar frozen at 0%. Prints each notebook's run time and size.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET = "application/vnd.jupyter.widget-view+json"


def execute(path: Path) -> float:
    """Execute one notebook in place with NSTLIB_FAST unset; returns seconds taken."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET not in o.get("data", {})]
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds


def main(names: list[str]) -> None:
    """Run the named notebooks (default: all), one after the other."""
    os.environ.pop("NSTLIB_FAST", None)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    paths = [NOTEBOOKS / n for n in names] if names else sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    for path in paths:
        seconds = execute(path)
        print(f"{path.name}: {seconds:.0f} s, {path.stat().st_size / 1e6:.2f} MB", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
