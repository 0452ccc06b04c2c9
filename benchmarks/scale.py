"""Training beyond one process, measured on this machine: data memory, steps per second, and a GPU estimate.

    python -m benchmarks.scale                                  # all three, a few minutes on 2 cores
    python -m benchmarks.scale --out benchmarks/results/scale-cpu.md

1. Memory of the training photos: peak RSS (the process and its data-loader workers) while drawing
   batches of 4 crops of 128 px from the 56 shipped photos and from >= 5,000 files made from them
   (resized copies in 50 nested folders, written to a temporary folder), held in memory (`PhotoCrops`)
   and streamed (`CropStream`, 2 workers). Each case runs in a fresh process.
2. Training speed: the same global batch (4 crops of 128 px, the shipped models' settings) in one
   process on 2 threads and in two Gloo processes (torchrun) on 1 thread each, side by side.
3. A Johnson-scale run on GPUs, on paper: the FLOPs of one training step at 256 px, batch 4, counted
   by torch's FlopCounterMode, times 40,000 steps, at an assumed share of a GPU's peak: an estimate.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT

STYLE = ROOT / "img" / "style" / "van-gogh-night-cafe.jpg"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone"]

_DRAW = """
import sys, time
from pathlib import Path
from nstlib.realtime.data import CropStream, PhotoCrops, photo_files


def peak(pid="self"):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM")).split()[1]) / 1024


folder, mode, batches = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
if mode == "memory":
    crops = PhotoCrops(folder, crop=128)
else:
    crops = CropStream(photo_files(folder), crop=128, workers=2)
for _ in range(batches):
    crops.batch(4)
seconds = time.perf_counter() - start
workers = [] if mode == "memory" else [peak(w.pid) for w in crops._items._workers]
print(peak(), sum(workers), seconds)
"""


def make_photos(folder: Path, count: int) -> int:
    """`count` resized copies of the shipped training photos in 50 nested folders; returns the count."""
    from PIL import Image

    from nstlib.realtime.data import TRAIN_DIR, image_files

    sources = [Image.open(p).convert("RGB") for p in image_files(TRAIN_DIR)]
    for i in range(count):
        img = sources[i % len(sources)]
        scale = 0.6 + 0.4 * ((i * 7919) % 100) / 100  # a different size for each copy
        sub = folder / f"{i % 50:02d}" / f"{i % 7}"
        sub.mkdir(parents=True, exist_ok=True)
        img.resize((max(128, round(img.width * scale)), max(128, round(img.height * scale)))).save(
            sub / f"photo-{i:05d}.jpg", quality=85
        )
    return count


def memory(batches: int, files: int) -> list[dict]:
    """Peak RSS while drawing `batches` batches, for each folder and loader, each in a fresh process."""
    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    with tempfile.TemporaryDirectory() as tmp:
        many = Path(tmp) / "many"
        flat = Path(tmp) / "flat"  # the same files in one folder: PhotoCrops reads only a folder's own files
        make_photos(many, files)
        flat.mkdir()
        for p in many.rglob("*.jpg"):
            os.link(p, flat / p.name)
        cases = [("56 shipped photos", ROOT / "img" / "train", m) for m in ("memory", "stream")]
        cases += [(f"{files:,} files", flat, "memory"), (f"{files:,} files", many, "stream")]
        for name, folder, mode in cases:
            out = subprocess.run([sys.executable, "-c", _DRAW, str(folder), mode, str(batches)], env=env,
                                 capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
            own, kids, seconds = map(float, out)
            rows.append(
                {"photos": name, "loader": mode, "main_mib": own, "worker_mib": kids, "seconds": seconds}
            )
            print(rows[-1], flush=True)
    return rows


def _train(command: list[str], threads: int, tmp: Path) -> float:
    """Seconds a step, from the model card the run writes (training time only)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_WAIT_POLICY": "PASSIVE",
        "OMP_NUM_THREADS": str(threads),
    }
    subprocess.run(command, env=env, cwd=tmp, check=True, capture_output=True, text=True)
    card = json.loads((tmp / "m.json").read_text())
    (tmp / "m.pt").unlink()
    return 60 * card["minutes"] / card["iterations"]


def speed(steps: int) -> list[dict]:
    """Seconds a step for one process (2 threads) and two Gloo processes (1 thread each), global batch 4."""
    args = ["-m", "nstlib.realtime", "train", str(STYLE), "-o", "m.pt", "--steps", str(steps),
            "--validate-every", str(10 * steps), "--workers", "1", "--quiet"]  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        val = Path(tmp) / "val"
        val.mkdir()
        (val / "one.jpg").write_bytes((ROOT / "img" / "train" / "val" / "meerkats.jpg").read_bytes())
        args += ["--val", str(val), "--force"]
        for name, command, threads in [
            ("1 process x 2 threads, batch 4", [sys.executable, *args, "--batch", "4"], 2),
            (
                "2 processes x 1 thread, batch 2 each",
                [*TORCHRUN, "--nproc_per_node=2", *args, "--batch", "2"],
                1,
            ),
        ]:
            s = _train(command, threads, Path(tmp))
            rows.append({"run": name, "seconds_a_step": s, "steps_a_second": 1 / s})
            print(rows[-1], flush=True)
    return rows


def flops_estimate() -> dict:
    """FLOPs of one Johnson-scale training step (256 px, batch 4), counted on the CPU, and GPU hours."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from nstlib.realtime import TrainConfig, Trainer

    trainer = Trainer(TrainConfig(style=str(STYLE), crop=256, batch=4), workers=0)
    with FlopCounterMode(display=False) as counter:
        trainer.train_step()
    per_step = counter.get_total_flops()
    steps = 40_000  # Johnson et al.: 40,000 steps of 4 crops at 256 px (two epochs of COCO)
    total = per_step * steps
    # Assumptions, not measurements: an H100's dense bf16 peak about 990 TFLOP/s; a convolutional
    # training step at batch 4 per GPU reaches perhaps 20-40% of it; 8 GPUs scale at ~90%.
    rows = {}
    for gpus, efficiency in ((1, 1.0), (8, 0.9)):
        for share in (0.2, 0.4):
            minutes = total / (990e12 * share * gpus * efficiency) / 60
            rows[f"{gpus} GPU(s), {share:.0%} of peak"] = {"minutes": minutes, "gpu_minutes": minutes * gpus}
    return {"flops_per_step": per_step, "steps": steps, "total_flops": total, "estimate": rows,
            "threads": torch.get_num_threads()}  # fmt: skip


def report(mem: list[dict], spd: list[dict], est: dict) -> str:
    """The markdown written to --out."""
    lines = ["## Memory of the training photos (peak RSS, MiB)", "",
             "| photos | loader | main process | its 2 workers together | seconds |", "|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['photos']} | {r['loader']} | {r['main_mib']:.0f} | {r['worker_mib']:.0f} | {r['seconds']:.1f} |"
              for r in mem]  # fmt: skip
    lines += ["", "## Training speed on this 2-core CPU (same global batch of 4)", "",
              "| run | s a step | steps a second |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {r['run']} | {r['seconds_a_step']:.2f} | {r['steps_a_second']:.2f} |" for r in spd]
    lines += ["", "## A Johnson-scale run on GPUs: an estimate, not a measurement", "",
              f"One step at 256 px, batch 4: {est['flops_per_step'] / 1e9:.0f} GFLOP (FlopCounterMode); "
              f"{est['steps']:,} steps: {est['total_flops'] / 1e15:.0f} PFLOP.", "",
              "| GPUs, assumed share of a 990 TFLOP/s peak | minutes | GPU-minutes |", "|---|---|---|"]  # fmt: skip
    lines += [f"| {k} | {v['minutes']:.1f} | {v['gpu_minutes']:.1f} |" for k, v in est["estimate"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the three measures; print them, and write markdown to --out."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=5000)
    p.add_argument("--batches", type=int, default=100)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    started = time.perf_counter()
    text = report(memory(args.batches, args.files), speed(args.steps), flops_estimate())
    text += f"\n`python -m benchmarks.scale {' '.join(sys.argv[1:] if argv is None else argv)}`, "
    text += f"{time.perf_counter() - started:.0f} s on this machine ({os.cpu_count()} cores).\n"
    print(text)
    if args.out:
        args.out.write_text(re.sub(r"\n{3,}", "\n\n", text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
