"""Batched stylisation: photos per second for batch 1 against batch B, side by side in one run.

    python benchmarks/throughput.py                      # 512 px, batch 1 vs 8, 100 L-BFGS steps
    python benchmarks/throughput.py --size 128 --batch 4 --steps 20    # a quick look on a CPU

Each batch holds copies of one photo (so every image has the same size and work); the style is
one painting. Time covers one `stylize` call, the targets (Grams, divisors) included; the
weights are loaded and one warm-up run made first; synchronised on a GPU. The result goes to stdout and to
benchmarks/results/throughput-<device>.md; a quick look (other --size, --batch, --steps or
--precision) to QUICK_LOOK (nstlib-quick-look in the temp folder) unless --out names the file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import nstlib as nl
from nstlib.passes import resolve_precision
from nstlib.recipes import recipe_extractor

ROOT = Path(__file__).resolve().parent.parent
#: A quick look's folder (as benchmarks/report.py's QUICK_LOOK; this script also runs without the package)
QUICK_LOOK = Path(tempfile.gettempdir()) / "nstlib-quick-look"
CONTENT = ROOT / "img" / "content" / "castle-maintenon.jpg"
STYLE = ROOT / "img" / "style" / "van-gogh-church-at-auvers.jpg"


def photos_per_second(batch: int, size: int, steps: int, precision: str, device: torch.device) -> float:
    """Stylise `batch` copies of the photo at once; photos finished per second of optimisation."""
    content = nl.preprocess(nl.load_image(CONTENT, max_size=size), device=device).expand(batch, -1, -1, -1)
    style = nl.preprocess(nl.load_image(STYLE, max_size=size), device=device)
    extractor = recipe_extractor(device=device)  # the default objective's, as the command line
    # tol=None: every batch runs exactly `steps` steps, so photos/s compare equal work
    options = dict(extractor=extractor, steps=steps, precision=precision, progress=False, tol=None)
    nl.stylize(content.contiguous(), style, **{**options, "steps": 2})  # warm-up: kernels, graph capture
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    nl.stylize(content.contiguous(), style, **options)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return batch / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    """Measure batch 1 and batch B one after the other and write the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--precision", default="auto")
    p.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/throughput-DEVICE.md")
    args = p.parse_args(argv)
    full = all(getattr(args, k) == p.get_default(k) for k in ("size", "batch", "steps", "precision"))
    folder = ROOT / "benchmarks" / "results" if full else QUICK_LOOK
    device = nl.default_device()
    precision = resolve_precision(args.precision, device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    rows = [(b, photos_per_second(b, args.size, args.steps, precision, device)) for b in (1, args.batch)]
    lines = [
        f"# Batched stylisation on {name} (torch {torch.__version__}, {precision})",
        "",
        f"{args.steps} L-BFGS steps (Fourier image) per photo, long side {args.size} px.",
        "",
        "| batch | photos/s | vs batch 1 |",
        "|---|---|---|",
        *(f"| {b} | {r:.3g} | x{r / rows[0][1]:.2f} |" for b, r in rows),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = args.out or folder / f"throughput-{device.type}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
