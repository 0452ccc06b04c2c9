"""Each chapter's full-run time, read from the stored notebooks, and the sentence that states it.

    python tools/chapter_times.py           # print each chapter's time
    python tools/chapter_times.py --write   # also (re)write the run-time paragraph of each opening cell

tools/execute_notebooks.py runs the chapters in full mode with nbclient, which stores per-cell
timestamps (`metadata.execution`); a chapter's time is from its first cell starting to its last
cell's reply (kernel start-up not included). Re-run this after re-running chapters.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path

from nstlib.course import chapters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: tools/ is sys.path[0]
from tools import i18n  # noqa: E402

#: No GPU run of the GPU tier exists yet; the only GPU measurement is of earlier chapters at CPU sizes.
EARLIER_GPU = "(an earlier version of the chapters, at CPU sizes, took 8–29 s each on an H100)."
GPU_TIER = f"on a GPU the chapter runs its GPU tier (larger images, more steps), not timed yet\n{EARLIER_GPU}"
GPU_SAME = f"on a GPU it runs the same sizes, faster (not timed yet)\n{EARLIER_GPU}"
PARAGRAPH = re.compile(r"\n*\*\*Run time\*\*.*?(?=\n\n|\Z)", flags=re.S)


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def run_seconds(nb: dict) -> float:
    """Seconds from the first code cell's start to the last one's reply, from stored timestamps."""
    stamps = [c["metadata"]["execution"] for c in nb["cells"] if "execution" in c.get("metadata", {})]
    if not stamps:
        raise ValueError("no execution timestamps stored; run tools/execute_notebooks.py first")
    return (_time(stamps[-1]["shell.execute_reply"]) - _time(stamps[0]["iopub.status.busy"])).total_seconds()


def rounded(seconds: float) -> str:
    """'about 5 s' (to 5 s) under a minute, else 'about 7 min' (to the minute)."""
    if seconds < 57.5:
        return f"about {max(5, 5 * round(seconds / 5))} s"
    return f"about {int(seconds / 60 + 0.5)} min"


def gpu_sentence(nb: dict) -> str:
    """What the opening says about a GPU: chapters with a `pick(..., gpu=...)` tier say so."""
    tiered = any("gpu=" in "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return GPU_TIER if tiered else GPU_SAME


def paragraph(seconds: float, nb: dict) -> str:
    """The run-time paragraph of a chapter's opening cell."""
    return (
        f"**Run time** of a full run: {rounded(seconds)} on a 2-core CPU (measured in the stored run);\n"
        f"{gpu_sentence(nb)}"
    )


def stated(nb: dict) -> str | None:
    """The run-time paragraph in the opening (first markdown) cell, or None."""
    opening = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    found = PARAGRAPH.search("".join(opening["source"]))
    return found.group(0).strip() if found else None


def main(argv: list[str]) -> None:
    """Print every chapter's time; with --write, put the paragraph into its opening cell."""
    for path in chapters():
        nb = json.loads(path.read_text())
        seconds = run_seconds(nb)
        print(f"{path.name}: {seconds:.0f} s ({seconds / 60:.1f} min) -> {rounded(seconds)}")
        if "--write" in argv and stated(nb) != paragraph(seconds, nb):
            opening = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
            text = PARAGRAPH.sub("", "".join(opening["source"])).rstrip()
            opening["source"] = f"{text}\n\n{paragraph(seconds, nb)}".splitlines(keepends=True)
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
            print("  wrote its run-time paragraph")
    if "--write" in argv:
        i18n.rebuild()  # the new paragraph stays English there until translated (status names it)


if __name__ == "__main__":
    main(sys.argv[1:])
