"""Video without flicker, measured: warping error, style and content ratios, seconds per frame.

    python benchmarks/video.py                                   # both clips, 8 frames at 128 px
    python benchmarks/video.py --clips pan --frames 6 --size 96  # a quick look
    python benchmarks/video.py --out benchmarks/results/video-cpu.md

Two clips: the Big Buck Bunny excerpt (img/video/, every --stride-th frame, so a frame moves more
than 1/25 s) and a synthetic pan over an evaluation photo (2 px left and 2 px down a frame). The
Night Cafe; on each clip: independent frames (each from its own photo), warm start only (the
previous result, not warped), the flow-warped previous result, the same plus the temporal loss at
--temporal-weight (the default), and the real-time model night-cafe without and with --blends.
The optimisation methods share the first frame (`nstlib.stylize` at its defaults). Measured: the
warping error E (`nstlib.video.temporal_error`) relative to the input clip's and to the independent
frames', the mean style and content ratios of the later frames (judged as saved) and their ratio
to the independent frames', seconds per later frame and for the first.

E is judged three ways. Along DIS's flow and mask, the ones the default method starts from and is
penalised on, a method's own errors of flow are invisible to its judge; so E is also judged along
Farneback's flow (another algorithm, `clip_motion(method="farneback")`), and on the pan along the
motion it was made with (`pan_motion`), which no flow estimate enters.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from PIL import Image

import nstlib as nl
from nstlib.quality import MEASURE_LAYERS
from nstlib.realtime import load_model
from nstlib.recipes import recipe_extractor
from nstlib.video import (
    clip_motion,
    frame_ratios,
    pan,
    pan_motion,
    read_frames,
    realtime_frames,
    stylize_frames,
    temporal_error,
)
from nstlib.video.stylize import DEFAULT_BLEND, DEFAULT_TEMPORAL_WEIGHT

ROOT = Path(__file__).resolve().parent.parent
EXCERPT = ROOT / "img" / "video" / "big-buck-bunny.mp4"
PAN_PHOTO = ROOT / "img" / "eval" / "machu-picchu.jpg"  # not the photo the defaults were tuned on
STYLE = ROOT / "img" / "style" / "van-gogh-night-cafe.jpg"
PAN_STEP = (-2, 2)  # the pan's view moves 2 px left and 2 px down a frame


def load_clip(name: str, args) -> list[np.ndarray]:
    """The excerpt (every --stride-th frame) or the synthetic pan, --frames frames at --size px."""
    if name == "excerpt":
        frames, _ = read_frames(EXCERPT, size=args.size, max_frames=args.frames * args.stride)
        return frames[:: args.stride][: args.frames]
    h = round(args.size * 9 / 16 / 2) * 2  # the excerpt's 16:9
    photo = nl.load_image(PAN_PHOTO, args.size + 4 * args.frames)
    return pan(photo, shape=(h, args.size), frames=args.frames, step=PAN_STEP)


def optimisation_runs(clip, style, args, extractor) -> dict[str, list]:
    """Each optimisation method's frames, all from one first frame."""
    first_frame = next(stylize_frames(clip[:1], style, extractor=extractor))
    first = nl.preprocess(Image.fromarray(first_frame.pixels))
    methods = {
        "independent": dict(start="content"),
        "warm start (previous result)": dict(start="previous"),
        "flow-warped start": dict(start="warped", temporal_weight=0),
        f"flow-warped start + temporal loss {args.temporal_weight:g}": dict(
            start="warped", temporal_weight=args.temporal_weight
        ),
    }
    runs = {}
    for name, options in methods.items():
        frames = list(stylize_frames(clip, style, extractor=extractor, first=first, **options))
        frames[0].seconds = first_frame.seconds  # the shared first frame's own cost
        runs[name] = frames
        print(f"  {name}: {[f.steps for f in frames[1:]]} steps", flush=True)
    return runs


def realtime_runs(clip, blends: list[float]) -> dict[str, list]:
    """The real-time model night-cafe, each frame alone and blended along the flow."""
    net = load_model("night-cafe")
    return {f"real-time night-cafe, blend {b:g}": list(realtime_frames(clip, net, blend=b)) for b in blends}


def measure(name: str, frames, clip, style, motions: dict, judge) -> dict:
    """One method's row: E along each of `motions` (the first one's curve), ratios of the later frames, seconds."""
    pixels = [f.pixels for f in frames]
    errors = {k: temporal_error(pixels, clip, motion=m) for k, m in motions.items()}
    e = next(iter(errors.values()))
    ratios = frame_ratios(pixels[1:], clip[1:], style, extractor=judge)
    return {
        "method": name,
        "E": e["E"],
        "E_rel": e["relative"],
        "judged": {k: v["E"] for k, v in errors.items()},
        "judged_rel": {k: v["relative"] for k, v in errors.items()},
        "curve": e["curve"],
        "style": statistics.mean(r["style"] for r in ratios),
        "content": statistics.mean(r["content"] for r in ratios),
        "styles": [r["style"] for r in ratios],
        "contents": [r["content"] for r in ratios],
        "first_s": frames[0].seconds,
        "later_s": statistics.mean(f.seconds for f in frames[1:]),
        "steps": statistics.mean(f.steps for f in frames[1:]),
    }


def worst(values: list[float], base: list[float]) -> float:
    """The frame whose ratio is farthest from the independent run's same frame: its value / the base's."""
    return max((v / b for v, b in zip(values, base)), key=lambda q: abs(q - 1))


def table(clip_name: str, rows: list[dict], clip, args) -> str:
    """Markdown: one row per method, E (each judge) and ratios also relative to the independent frames'."""
    base = rows[0]
    judges = [k for k in base["judged"] if k != "DIS"]
    h, w = clip[0].shape[:2]
    lines = [
        f"### {clip_name}: {len(clip)} frames, {w}x{h} px",
        "",
        f"E along DIS's flow (the method's own); then along {', '.join(judges)}: E, / input's, / independent's.",
        "",
        "| method | E | E / input's | E / independent's | "
        + "".join(f"E ({k}) | / input's ({k}) | / indep. ({k}) | " for k in judges)
        + "style | content | style / indep. | content / indep. "
        "| worst frame: style / indep. | worst frame: content / indep. "
        "| later s/frame | first s | later / first | steps/frame |",
        "|---" * (14 + 3 * len(judges)) + "|",
    ]
    for r in rows:
        others = "".join(
            f"{r['judged'][k]:.4f} | {r['judged_rel'][k]:.2f} | {r['judged'][k] / base['judged'][k]:.2f} | "
            for k in judges
        )
        lines.append(
            f"| {r['method']} | {r['E']:.4f} | {r['E_rel']:.2f} | {r['E'] / base['E']:.2f} | {others}{r['style']:.3f} | "
            f"{r['content']:.3f} | {r['style'] / base['style']:.2f} | {r['content'] / base['content']:.2f} | "
            f"{worst(r['styles'], base['styles']):.2f} | {worst(r['contents'], base['contents']):.2f} | "
            f"{r['later_s']:.2f} | {r['first_s']:.2f} | {r['later_s'] / r['first_s']:.2f} | {r['steps']:.0f} |"
        )
    lines += ["", "Per-frame warping error (the flicker curve), frames 1 ...:", ""]
    lines += [f"- {r['method']}: {', '.join(f'{c:.4f}' for c in r['curve'])}" for r in rows]
    return "\n".join(lines) + "\n"


def run_clip(clip_name: str, args, extractor, judge) -> str:
    """Every method on one clip; its table."""
    clip = load_clip(clip_name, args)
    style = nl.load_tensor(STYLE, max(clip[0].shape[:2]))
    motions = {"DIS": clip_motion(clip), "Farneback": clip_motion(clip, method="farneback")}
    if clip_name == "pan":
        motions["known motion"] = pan_motion(clip[0].shape[:2], len(clip), PAN_STEP)
    print(
        f"{clip_name}: trusted pixels per frame {[round(float(k.mean()), 3) for _, k in motions['DIS']]}",
        flush=True,
    )
    runs = {**optimisation_runs(clip, style, args, extractor), **realtime_runs(clip, [0.0, *args.blends])}
    rows = [measure(name, frames, clip, style, motions, judge) for name, frames in runs.items()]
    return table(clip_name, rows, clip, args)


def main(argv: list[str] | None = None) -> int:
    """Run every method on every clip, print the tables, write them to --out if given."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", nargs="+", choices=("excerpt", "pan"), default=["excerpt", "pan"])
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--stride", type=int, default=3, help="take every N-th frame of the excerpt (default 3)")
    p.add_argument("--temporal-weight", type=float, default=DEFAULT_TEMPORAL_WEIGHT)
    p.add_argument("--blends", type=float, nargs="+", default=sorted({0.3, DEFAULT_BLEND, 0.7}))
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    started = time.perf_counter()
    extractor = recipe_extractor()
    judge = nl.FeatureExtractor(MEASURE_LAYERS)
    command = f"python benchmarks/video.py {' '.join(sys.argv[1:] if argv is None else argv)}"
    text = (
        f"The Night Cafe at {args.size} px, {args.frames} frames a clip (the excerpt: every {args.stride}th "
        f"frame), on {torch.get_num_threads()} CPU thread(s), torch {torch.__version__}; `{command}`.\n\n"
    )
    for name in args.clips:  # each clip's table as soon as it is measured
        text += run_clip(name, args, extractor, judge) + "\n"
        print(text, flush=True)
        if args.out:
            args.out.write_text(text + f"({time.perf_counter() - started:.0f} s so far)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
