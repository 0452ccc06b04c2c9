"""Peak memory of 3 L-BFGS steps at side x side, measured in a fresh process.

    python -m benchmarks.memory 512 cpu     # from the repository root; prints MiB

On CPU the process's peak RSS is reset after loading the weights (Linux /proc/self/clear_refs),
so converting them does not set the mark; the figure still counts the resident weights.
"""

from __future__ import annotations

import subprocess
import sys

import torch

import nstlib as nl
from benchmarks.common import CONTENT, ROOT, STYLE


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set


def _peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    with open("/proc/self/status") as f:
        hwm = next(line for line in f if line.startswith("VmHWM"))
    return int(hwm.split()[1]) / 1024


def measure(side: int, device: torch.device) -> float:
    """Peak MiB of this process over 3 L-BFGS steps at side x side (call it in a fresh process)."""
    x = nl.preprocess(nl.load_image(CONTENT, shape=(side, side)), device=device)
    s = nl.preprocess(nl.load_image(STYLE, max_size=512), device=device)
    ext = nl.FeatureExtractor(nl.CONTENT_LAYERS + nl.STYLE_LAYERS, device=device)
    _reset_peak(device)
    # Pinned to what the stored figures measured (d2l's objective on conv4_2, exactly 3 steps),
    # whatever stylize's defaults become.
    settings = dict(parametrization="pixels", optimizer="lbfgs", precision="fp32", style_weight=1e4, tol=None)
    nl.stylize(x, s, extractor=ext, steps=3, progress=False, **settings)
    return _peak_mib(device)


def peak_memory(side: int, device: str) -> float:
    """Peak MiB of 3 L-BFGS steps at side x side, from a fresh Python process (no earlier peak counts)."""
    cmd = [sys.executable, "-m", "benchmarks.memory", str(side), device]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(measure(int(sys.argv[1]), torch.device(sys.argv[2])))
