"""How much memory a run needs, so one that cannot fit is refused before it allocates anything.

The model is fitted to the benchmark's measured peaks (benchmarks/results/cpu.md: a fixed part
for torch and the weights, plus bytes per image pixel for the activations that the backward
pass keeps and for the optimiser's state; L-BFGS keeps 100 steps and 100 gradient changes of
the image). It errs on the large side by about 5%.
"""

from __future__ import annotations

import math
import os

import torch

from .errors import NSTError

FIXED_BYTES = {"cpu": 900 * 2**20, "cuda": 600 * 2**20}  # torch, the truncated VGG-19, workspaces
NET_BYTES_PER_PIXEL = 2700  # VGG-19 up to relu5_1: activations kept for backward, and their gradients
STATE_BYTES_PER_PIXEL = {"lbfgs": 2 * 100 * 3 * 4, "adam": 2 * 3 * 4}  # fp32 history / moments


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
