"""How much memory a run needs, so one that cannot fit is refused before it allocates anything.

The model: a fixed part for torch and the weights, plus bytes per image pixel for the
activations that the backward pass keeps and for the optimiser's state (L-BFGS keeps
`LBFGS_HISTORY` steps and as many gradient changes of the image). Its constants are set above the
command line's own peaks (`MEASURED_PEAKS_MIB`: the whole process's peak RSS, Fourier image,
reflected padding, 5 steps), so that it errs on the large side by at least 10% at every measured
size (12% at 1024 px, where the per-pixel part dominates).
"""

from __future__ import annotations

import math
import os

import torch

from .errors import NSTError
from .lbfgs import LBFGS_HISTORY

FIXED_BYTES = {"cpu": 900 * 2**20, "cuda": 600 * 2**20}  # torch, the truncated VGG-19, workspaces
#: VGG-19 up to relu5_1 with reflected padding (each conv keeps its padded input for backward),
#: the activations' gradients, the Fourier image's spectra and FFT workspaces.
NET_BYTES_PER_PIXEL = 4000
STATE_BYTES_PER_PIXEL = {"lbfgs": 2 * LBFGS_HISTORY * 3 * 4, "adam": 2 * 3 * 4}  # fp32 history / moments
#: `/usr/bin/time -v python -m nstlib img/content/astronaut.jpg img/style/van-gogh-night-cafe.jpg
#: -o OUT.jpg --size SIDE --upscale --steps 5 --optimizer OPT` (2-core CPU, OMP_NUM_THREADS=1,
#: torch 2.13): maximum resident set size in MiB, by (side, optimizer[, parametrization]).
MEASURED_PEAKS_MIB = {
    (256, "lbfgs"): 759,
    (512, "lbfgs"): 1934,
    (512, "lbfgs", "pixels"): 1914,
    (512, "adam"): 1418,
    (1024, "lbfgs"): 6486,
}


def estimate_bytes(
    height: int, width: int, *, batch: int = 1, optimizer: str = "lbfgs", device: str = "cpu"
) -> int:
    """Peak memory of stylising `batch` images of height x width px (fp32)."""
    per_pixel = NET_BYTES_PER_PIXEL + STATE_BYTES_PER_PIXEL[optimizer]
    return FIXED_BYTES.get(torch.device(device).type, FIXED_BYTES["cpu"]) + batch * height * width * per_pixel


def available_bytes(device: str | torch.device = "cpu") -> int | None:
    """Memory free for a run on `device` (None where the system does not say)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB", "MB") else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def check_fits(
    height: int, width: int, *, batch: int = 1, optimizer: str = "lbfgs", device: str | torch.device = "cpu"
) -> None:
    """Raise a one-line NSTError if the run would need more memory than `device` has free."""
    device = str(device)
    need = estimate_bytes(height, width, batch=batch, optimizer=optimizer, device=device)
    free = available_bytes(device)
    if free is None or need <= free:
        return
    fixed = FIXED_BYTES.get(torch.device(device).type, FIXED_BYTES["cpu"])
    per_pixel = batch * (NET_BYTES_PER_PIXEL + STATE_BYTES_PER_PIXEL[optimizer])
    scale = math.sqrt(max(free - fixed, 0) / per_pixel / (height * width))
    largest = int(max(height, width) * scale)
    fix = f"use --size {largest} or less" if largest >= 16 else "free some memory first"
    raise NSTError(
        f"a {width}x{height} px run{f' of {batch} images' if batch > 1 else ''} needs about "
        f"{_human(need)} of memory but {device} has {_human(free)} free; {fix}"
    )
