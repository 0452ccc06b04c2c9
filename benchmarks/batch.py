"""Folder throughput: real-time `apply` over a folder of photos, one process against torchrun's ranks.

    python benchmarks/batch.py                                  # 1 and 2 ranks, night-cafe, 512 px
    python benchmarks/batch.py --ranks 1 2 --repeats 2 --out benchmarks/results/batch-cpu.md

The folder is img/eval (16 photos) and img/train/val (8), linked into one temporary tree (eval/, val/),
so every configuration stylises the same 24 photos, each into a fresh output folder, by the command
itself: `python -m nstlib.realtime apply` for 1 rank, `torchrun --standalone --nproc_per_node=N -m ...`
for N (Gloo on a CPU; torchrun gives each rank one OpenMP thread, one process keeps torch's default).
Measured: the command's wall time (Python and torch start-up included), the run's own seconds, and the
slowest photo (read, pass, save) from its summary line; the median photo from rank 0's `wrote` lines.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"eval": ROOT / "img" / "eval", "val": ROOT / "img" / "train" / "val"}
SUMMARY = re.compile(
    r"^summary: (\d+) done, \d+ skipped, (\d+) failed in ([\d.]+) s .*slowest photo ([\d.]+) s\)"
)
PASS = re.compile(r"^wrote .* in ([\d.]+) s$")


def photo_tree(root: Path) -> Path:
    """The benchmark's folder: links to the evaluation and held-out photos, one subfolder each."""
    for name, source in FOLDERS.items():
        (root / name).mkdir(parents=True)
        for photo in sorted(source.glob("*.jpg")):
            (root / name / photo.name).symlink_to(photo)
    return root


def measure(ranks: int, model: str, folder: Path, out: Path, size: int) -> dict:
    """One run of the command over `folder` with `ranks` processes: its times, from its own lines."""
    command = ["-m", "nstlib.realtime", "apply", model, str(folder), "-o", str(out), "--size", str(size)]
    launcher = [sys.executable]
    if ranks > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    load = os.getloadavg()[0]  # this machine may be shared: how busy it was going in
    start = time.perf_counter()
    done = subprocess.run([*launcher, *command], env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    found = [m for line in done.stdout.splitlines() if (m := SUMMARY.match(line))]
    if done.returncode != 0 or len(found) != 1:
        raise SystemExit(f"{ranks} ranks failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    photos, failed, seconds, slowest = found[0].groups()
    passes = [float(m.group(1)) for line in done.stdout.splitlines() if (m := PASS.match(line))]
    return {
        "ranks": ranks,
        "load": load,
        "photos": int(photos),
        "failed": int(failed),
        "wall": wall,
        "seconds": float(seconds),
        "slowest": float(slowest),
        "median_pass": statistics.median(passes),
    }


def table(rows: list[dict], model: str, size: int) -> str:
    """Markdown: one row per run."""
    threads = torch.get_num_threads()
    lines = [
        f"# Folder throughput on CPU ({os.cpu_count()} cores, torch {torch.__version__})",
        "",
        f"`python -m nstlib.realtime apply {model}` at {size} px over img/eval + img/train/val "
        f"({rows[0]['photos']} photos); N ranks: `torchrun --standalone --nproc_per_node=N` (Gloo, "
        f"1 thread a rank), 1 rank: one process ({threads} threads). Command s: wall time, start-up "
        "included; run s: from the summary line (model loaded, photos listed, written, counted); "
        "load: the 1-minute load average before the run (other jobs share this machine).",
        "",
        "| ranks | load | command s | photos/s (command) | run s | photos/s (run) | slowest photo s "
        "| median pass s (rank 0) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['ranks']} | {r['load']:.1f} | {r['wall']:.1f} | {r['photos'] / r['wall']:.2f} | {r['seconds']:.1f} | "
            f"{r['photos'] / r['seconds']:.2f} | {r['slowest']:.2f} | {r['median_pass']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run each rank count over the same folder (--repeats rounds, alternating), print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--model", default="night-cafe")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=1, help="rounds over every rank count (default 1)")
    p.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = photo_tree(Path(tmp) / "photos")
        rows = []
        for round_ in range(args.repeats):  # alternating, so a busy spell falls on both
            for ranks in args.ranks:
                rows.append(
                    measure(ranks, args.model, folder, Path(tmp) / f"out-{round_}-{ranks}", args.size)
                )
                print(rows[-1], flush=True)
    text = table(rows, args.model, args.size)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
