"""Side-by-side speed benchmark: d2l 14.12's loop as the book runs it, against nstlib's fast path.

    python benchmarks/speed.py                       # 300x450 and 150x225, 500 epochs (about 50 min on 2 CPU cores)
    python benchmarks/speed.py --sizes 150x225 --epochs 200 --no-memory --no-notebooks   # a quick look

Everything that is compared is measured in this one run, on the same images and the same (Caffe)
VGG-19 weights, and reported as ratios: on a shared CPU, absolute times drift from run to run.

1. Reference: d2l 14.12's loop, copied faithfully in d2l_reference.py. Its total loss after N
   epochs is the quality bar.
2. One shared evaluation function: d2l's objective, written with nstlib's StyleTransferLoss and
   the layers d2l *really* taps (relu1_1, relu2_1, relu3_1, relu4_1, conv5_1; content relu4_4).
   The benchmark checks that it gives the reference's own loss on the same image.
3. Levers, timed per forward/backward pass side by side: VGG frozen, channels_last, and on CUDA
   TF32, cudnn.benchmark and torch.compile.
4. The fast path (nstlib, frozen VGG, channels_last, precomputed targets, on CUDA the pass
   replayed as a CUDA graph, L-BFGS (sync-free, `nstlib.lbfgs`) on the image's spectrum
   (`FourierImage`); also L-BFGS on pixels and a 2-level pyramid) runs until it reaches the bar:
   wall time and passes against the reference's time to N epochs -> the headline ratio.
5. Peak memory per image size (RSS on CPU, max_memory_allocated on CUDA), each in a fresh process
   (memory.py).
6. Each chapter notebook's run time in CI mode (NSTLIB_FAST=1), executed in memory by
   tools/execute_notebooks.py.

The measurements go to benchmarks/results/<device>.json (--out to write elsewhere); report.py
then renders them with the hand-written results/<device>-notes.md into <device>.md. A quick look
(any option other than --device changed) goes to report.QUICK_LOOK instead, unless --out is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # set before torch starts its OpenMP threads
if __package__ in (None, ""):  # run as a script: make `benchmarks` and `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import nstlib as nl  # noqa: E402
from benchmarks import report  # noqa: E402
from benchmarks.fixed_work import fixed_work  # noqa: E402
from benchmarks.measure import compare_at  # noqa: E402
from benchmarks.memory import peak_memory  # noqa: E402
from nstlib.course import chapters  # noqa: E402
from tools.execute_notebooks import run_notebook  # noqa: E402


def machine(device: torch.device) -> str:
    """A one-line description of where this ran."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    cpu = platform.processor() or "CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads"


def notebook_times() -> dict[str, float]:
    """Seconds to execute each chapter notebook in CI mode (NSTLIB_FAST=1), in memory."""
    times = {}
    for path in chapters():
        _, times[path.name] = run_notebook(path, ci=True, timeout=600)
        print(f"  {path.name}: {times[path.name]:.1f} s", flush=True)
    return times


def save(results: dict, out: Path) -> None:
    """Write the measurements to <out>/<device>.json and render the markdown report next to it."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{results['device']}.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {report.write(out, results['device'])}")


def run_fixed_work(results: dict, args: argparse.Namespace, device: torch.device) -> None:
    """Time --iterations L-BFGS steps per GPU setting (default: 500 on CUDA, none on CPU)."""
    iterations = args.iterations if args.iterations is not None else (500 if device.type == "cuda" else 0)
    if not iterations:
        return
    side = args.iterations_side
    print(f"## {iterations} L-BFGS iterations at {side}x{side} (d2l's objective, Fourier image)", flush=True)
    results["fixed_work"] = {
        "side": side,
        "iterations": iterations,
        "rows": fixed_work(side, iterations, device),
    }
    save(results, args.out)


def run_sizes(results: dict, args: argparse.Namespace, device: torch.device) -> None:
    """The reference against the fast path at each --sizes entry, saved after each (a long run keeps them)."""
    for size in filter(None, args.sizes.split(",")):
        h, w = (int(v) for v in size.lower().split("x"))
        results["sizes"][f"{h}x{w}"] = compare_at(
            (h, w), args.epochs, args.max_steps, args.coarse_steps, args.repeats, device
        )
        print()
        save(results, args.out)


def run_memory(results: dict, args: argparse.Namespace, device: torch.device) -> None:
    """Peak memory at each --memory side, each in a fresh process."""
    if args.no_memory or not args.memory:
        return
    results["peak_memory_mib"] = {}
    print("## peak memory, 3 L-BFGS steps (fresh process each)")
    for side in args.memory.split(","):
        mib = results["peak_memory_mib"][side] = peak_memory(int(side), device.type)
        print(f"  {side}x{side}: {mib:,.0f} MiB", flush=True)
    save(results, args.out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="300x450,150x225", help="HxW list, comma-separated")
    p.add_argument("--epochs", type=int, default=500, help="reference epochs N (d2l: 500)")
    p.add_argument("--max-steps", type=int, default=1000, help="L-BFGS step limit for the fast path")
    p.add_argument(
        "--coarse-steps", type=int, default=50, help="L-BFGS steps at the pyramid's half-size level"
    )
    p.add_argument("--repeats", type=int, default=5, help="timed passes per lever")
    p.add_argument("--memory", default="256,512,1024", help="sides for peak memory ('' to skip)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-notebooks", action="store_true", help="skip timing the notebooks in CI mode")
    p.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="time this many L-BFGS iterations at --iterations-side px (default: 500 on CUDA, skipped on CPU)",
    )
    p.add_argument("--iterations-side", type=int, default=512)
    p.add_argument("--device", default=None)
    p.add_argument(
        "--out", type=Path, default=None, help="results folder (default: benchmarks/results for a full run)"
    )
    args = p.parse_args(argv)
    args.out = report.output_folder(args, p, kept=("help", "device", "out"))
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, write <device>.json and render the report."""
    args = parse_args(argv)
    device = torch.device(args.device) if args.device else nl.default_device()
    torch.manual_seed(0)
    results = {"machine": machine(device), "device": device.type, "epochs": args.epochs, "sizes": {}}
    print(f"# {results['machine']}\n", flush=True)
    run_fixed_work(results, args, device)
    run_sizes(results, args, device)
    run_memory(results, args, device)
    if not args.no_notebooks:
        print("## notebooks in CI mode (NSTLIB_FAST=1), kernel start included")
        results["notebooks_ci_s"] = notebook_times()
    save(results, args.out)


if __name__ == "__main__":
    main()
