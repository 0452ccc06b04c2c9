"""Write the Colab set-up cell and the kernel metadata into every chapter, from nstlib.course.

    python tools/sync_setup_cells.py            # rewrite what differs
    python tools/sync_setup_cells.py --check    # only report; exit 1 if a chapter differs

The repository's address lives once, in `nstlib.course.COURSE_REPO`: each chapter's first code
cell is `nstlib.course.setup_cell_source()` rendered into the notebook (on Colab that cell runs
before nstlib is installed, so it cannot import it). The kernelspec is set to what JupyterLab writes
(`nstlib.course.KERNELSPEC`), so opening a chapter does not change the file. Outputs are untouched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nstlib.course import KERNELSPEC, chapters, setup_cell_source


def sync(path: Path, write: bool = True) -> list[str]:
    """Bring one notebook in line; returns what differed (and was fixed when `write`)."""
    nb = json.loads(path.read_text())
    changes = []
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = setup_cell_source()
    if "".join(cell["source"]) != source:
        cell["source"] = source.splitlines(keepends=True)
        changes.append("set-up cell")
    if nb["metadata"].get("kernelspec") != KERNELSPEC:
        nb["metadata"]["kernelspec"] = dict(KERNELSPEC)
        changes.append("kernelspec")
    if changes and write:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    return changes


def main(argv: list[str]) -> int:
    """Sync every chapter (or, with --check, report which differ)."""
    check = "--check" in argv
    stale = 0
    for path in chapters():
        changes = sync(path, write=not check)
        stale += bool(changes)
        verb = "differs" if check else "updated"
        print(f"{path.name}: {verb}: {', '.join(changes)}" if changes else f"{path.name}: in sync")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
