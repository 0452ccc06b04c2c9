"""Refresh the stored output of every `show_source(...)` cell from the library's current code.

Run from the repository root after changing library code that a chapter shows:
    python tools/refresh_sources.py
Only those outputs change; re-run a chapter (tools/execute_notebooks.py) when its results would.
"""

import json
import re
import sys
from pathlib import Path

import nstlib as nl
from nstlib import arbitrary as ar
from nstlib import color, passes, spatial, synthesis, training
from nstlib import realtime as rt
from nstlib.course import show_source
from nstlib.lbfgs import LBFGS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: tools/ is sys.path[0]
from tools import i18n  # noqa: E402

# What the chapters' show_source(...) cells name (chapter 7 shows nl.pyramid_stylize).
NAMES = {"nl": nl, "color": color, "spatial": spatial, "LBFGS": LBFGS, **vars(passes), **vars(training)}
NAMES.update(synthesis=synthesis, passes=passes, training=training, rt=rt, ar=ar)


def main() -> None:
    """Rewrite the show_source outputs that differ from the library's source."""
    for path in sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9A]*.ipynb")):
        nb = json.loads(path.read_text())
        changed = 0
        for cell in nb["cells"]:
            if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
                continue
            m = re.fullmatch(r"show_source\((.+)\)", "".join(cell["source"]).strip().splitlines()[-1])
            if not m:
                continue
            text = show_source(eval(m.group(1), NAMES)).data  # what the cell itself would show
            output = {
                "data": {
                    "text/markdown": text.splitlines(keepends=True),
                    "text/plain": ["<IPython.core.display.Markdown object>"],
                },
                "execution_count": cell.get("execution_count"),
                "metadata": {},
                "output_type": "execute_result",
            }
            if cell.get("outputs") != [output]:
                cell["outputs"] = [output]
                changed += 1
        if changed:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        print(f"{path.name}: {changed} refreshed")
    i18n.rebuild()  # the translated chapters show the same source


if __name__ == "__main__":
    main()
