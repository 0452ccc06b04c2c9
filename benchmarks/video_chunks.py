"""A long clip on several ranks, measured: the warping error where the chunks meet against inside them.

    python benchmarks/video_chunks.py                       # 16 frames (every 2nd) at 96 px
    python benchmarks/video_chunks.py --frames 8 --warmups 0 2 --methods real-time   # a quick look
    python benchmarks/video_chunks.py --out benchmarks/results/video-chunks-cpu.md

It runs the command line itself on the Big Buck Bunny excerpt: once in one process (no chunks: the
reference) and under a real `torchrun --standalone --nproc_per_node=--ranks` (Gloo on a CPU), as the
command plans its chunks (`nstlib.video.cli.chunk_plan`): by optimisation (--style, The Night Cafe),
whose ranks are paired back to back (so with 2 ranks --warmup changes nothing: one run), and with the
real-time network (--model night-cafe), whose chunks start K frames early, once per --warmups K. Each output is read back as written (MP4) and judged along the input's
flow, Farneback's (an algorithm the method does not start from) and DIS's (the one it does), as in
`benchmarks/video.py`: E_t = mean |S_t - warp(S_t-1)| on the pixels the flow trusts.

Per run: E at the boundary frame (the first frame a later chunk writes) and the mean E of every other
frame (inside the chunks), and their ratio; the one-process run's ratio at the same frame (is that
frame simply hard?); and the boundary frame's mean distance to the one-process output (how far the
chunk's own texture is from the one the previous chunk would have carried on with).

A last row computes two chunks back to back in one process, the variant the command does not use:
the first chunk is stylised backwards in time from its own last frame, which it writes, and the
second forwards from that same frame, which it drops (the command's first chunk goes backwards from
the second chunk's first frame, which only the second writes). With --model it is the measure of
what pairing would give the network.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

import nstlib as nl
from nstlib.realtime import load_model
from nstlib.recipes import recipe_extractor
from nstlib.video import (
    clip_motion,
    read_frames,
    realtime_frames,
    stylize_frames,
    warping_errors,
    write_video,
)
from nstlib.video.chunks import boundaries
from nstlib.video.cli import DEFAULT_WARMUP, build_parser, chunk_plan

ROOT = Path(__file__).resolve().parent.parent
EXCERPT = ROOT / "img" / "video" / "big-buck-bunny.mp4"
STYLE = ROOT / "img" / "style" / "van-gogh-night-cafe.jpg"
JUDGES = ("farneback", "dis")


def method_options(method: str, args) -> list[str]:
    """The command line's options for a method: optimisation (--style) or the real-time network."""
    if method == "optimisation":
        return ["--style", str(STYLE), "--steps", str(args.steps)]
    return ["--model", "night-cafe"]


def stylise(out: Path, options: list[str], args, *, ranks: int) -> tuple[list[np.ndarray], float, str]:
    """Run the command (under torchrun when `ranks` > 1); returns the frames written, the seconds, its line."""
    clip = [str(EXCERPT), "-o", str(out), "--size", str(args.size), "--fps", str(args.fps)]
    clip += ["--max-frames", str(args.frames), "--quiet", *options]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}"]
    command = [*(launcher if ranks > 1 else [sys.executable]), "-m", "nstlib.video", *clip]
    # one thread per process, as torchrun gives each rank: the one-process run is rank 0's computation
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return read_frames(out)[0], time.perf_counter() - began, done.stdout.strip()


def back_to_back(
    inputs: list[np.ndarray], method: str, out: Path, args
) -> tuple[list[np.ndarray], float, int]:
    """Two chunks from one shared frame: the first backwards from it, the second forwards; (frames, s, boundary)."""
    began = time.perf_counter()
    if method == "optimisation":
        style = nl.load_tensor(STYLE, max(inputs[0].shape[:2]))
        extractor = recipe_extractor()

        def run(frames):
            return stylize_frames(frames, style, steps=args.steps, extractor=extractor)
    else:
        net = load_model("night-cafe")

        def run(frames):
            return realtime_frames(frames, net)

    seam = (len(inputs) + 1) // 2  # the first chunk's last frame is seam - 1
    first = [f.pixels for f in run(inputs[seam - 1 :: -1])][
        ::-1
    ]  # frames seam - 1, ..., 0, put back in order
    second = [f.pixels for f in run(inputs[seam - 1 :])][1:]  # its first frame is the first chunk's last
    write_video(first + second, out, fps=args.fps)  # judged as written, like the command's
    return read_frames(out)[0], time.perf_counter() - began, seam


def seam_row(name: str, frames, one, seams: list[int], motions: dict) -> dict:
    """E at the boundary frames and inside, per judge, for one run and for the one-process run."""
    row = {"run": name, "seams": seams, "curves": {}}
    for judge, motion in motions.items():
        for label, clip in (("", frames), ("one ", one)):
            curve = warping_errors(clip, motion)
            at = float(np.mean([curve[t - 1] for t in seams]))
            inside = float(np.nanmean([e for t, e in enumerate(curve, start=1) if t not in seams]))
            row[f"{label}{judge}"] = (at, inside, at / inside)
            if not label:
                row["curves"][judge] = curve
    row["gap"] = float(np.mean([np.abs(frames[t].astype(float) - one[t]).mean() / 255 for t in seams]))
    return row


def run_method(method: str, args, inputs, motions: dict, folder: Path) -> str:
    """The one-process run and the chunked runs (one per K with --model); returns the method's table and curves."""
    options = method_options(method, args)
    one, one_s, _ = stylise(folder / f"{method}-one.mp4", options, args, ranks=1)
    rows, lines = [], []
    for k in [None] if method == "optimisation" else args.warmups:
        chunked = options if k is None else [*options, "--warmup", str(k)]
        name = f"{args.ranks} ranks, " + ("the command's default" if k is None else f"K = {k}")
        name += " (the default)" if k == DEFAULT_WARMUP else ""
        frames, seconds, line = stylise(folder / f"{method}-k{k}.mp4", chunked, args, ranks=args.ranks)
        plan = chunk_plan(
            build_parser().parse_args([str(EXCERPT), "-o", "x.mp4", *chunked]), len(inputs), args.ranks
        )
        rows.append({**seam_row(name, frames, one, boundaries(plan), motions), "s": seconds})
        lines.append(f"- {name}: `{line}`")
        print(f"{method}, {name}: {seconds:.0f} s", flush=True)
    if args.back_to_back:
        frames, seconds, seam = back_to_back(inputs, method, folder / f"{method}-b2b.mp4", args)
        name = "back to back, other variant (one process)"
        rows.append({**seam_row(name, frames, one, [seam], motions), "s": seconds})
    return table(method, rows, one_s, args) + "\n\nThe command's own lines:\n\n" + "\n".join(lines) + "\n"


def table(method: str, rows: list[dict], one_s: float, args) -> str:
    """A markdown table: one row per run, then each run's per-frame curve along Farneback's flow."""
    head = (
        f"### {method}\n\n| run | boundary frame | E at boundary | E inside | **boundary / inside** "
        "| one process, same frame / inside | seam's excess (ratio / one process's) | boundary / inside (DIS) "
        "| one process, same frame / inside (DIS) | distance to one process at boundary | wall s |\n"
        + "|---" * 11
        + "|\n"
    )
    body = "".join(
        f"| {r['run']} | {', '.join(map(str, r['seams']))} | {r['farneback'][0]:.4f} | {r['farneback'][1]:.4f} "
        f"| **{r['farneback'][2]:.2f}** | {r['one farneback'][2]:.2f} "
        f"| {r['farneback'][2] / r['one farneback'][2]:.2f} | {r['dis'][2]:.2f} | {r['one dis'][2]:.2f} "
        f"| {r['gap']:.3f} | {r['s']:.0f} |\n"
        for r in rows
    )
    curves = "".join(
        f"- {r['run']} (boundary {r['seams']}): {', '.join(f'{e:.4f}' for e in r['curves']['farneback'])}\n"
        for r in rows
    )
    note = (
        "\nE along Farneback's flow unless marked DIS; distance: mean |S - S_one| (RGB in [0, 1]) at the "
        f"boundary frame. One process (no chunks): {one_s:.0f} s.\n\nE per frame (1 ...), along Farneback's flow:\n\n"
    )
    return head + body + note + curves


def main(argv: list[str] | None = None) -> int:
    """Run every method and K, print the tables, write them to --out if given."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=96)
    p.add_argument(
        "--fps", type=float, default=12.5, help="frames a second of the 25 fps excerpt (default 12.5)"
    )
    p.add_argument("--steps", type=int, default=100, help="--steps of the optimisation (default 100)")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--warmups", type=int, nargs="+", default=[0, 1, 2, 4, 8], help="K with --model")
    p.add_argument(
        "--methods", nargs="+", choices=("optimisation", "real-time"), default=["real-time", "optimisation"]
    )
    p.add_argument("--no-back-to-back", dest="back_to_back", action="store_false", help="skip the last row")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # as each rank and the one-process run
    started = time.perf_counter()
    inputs, _ = read_frames(EXCERPT, size=args.size, max_frames=args.frames, fps=args.fps)
    motions = {judge: clip_motion(inputs, method=judge) for judge in JUDGES}
    command = f"python benchmarks/video_chunks.py {' '.join(sys.argv[1:] if argv is None else argv)}"
    text = (
        f"The Big Buck Bunny excerpt, {len(inputs)} frames at {args.fps:g} fps, {inputs[0].shape[1]}x"
        f"{inputs[0].shape[0]} px; {args.ranks} ranks (torchrun, Gloo), one torch thread each; torch "
        f"{torch.__version__}; `{command}`.\n\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        for method in args.methods:  # each method's table as soon as it is measured
            text += run_method(method, args, inputs, motions, Path(folder)) + "\n"
            print(text, flush=True)
            if args.out:
                args.out.write_text(text + f"({time.perf_counter() - started:.0f} s so far)\n")
    if args.out:
        args.out.write_text(text + f"The whole run took {time.perf_counter() - started:.0f} s.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
