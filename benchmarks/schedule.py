"""The 512-px schedule, side by side: the path before (one size, every layer, fp32) and today's default.

    python benchmarks/schedule.py                          # course pairs + evaluation photos, 512 px
    python benchmarks/schedule.py --set course --limit 2   # a quick look
    python benchmarks/schedule.py --limit 7 --cli 2 --out benchmarks/results/schedule-cpu.md --figure docs/speed-512.jpg
    python benchmarks/schedule.py --limit 2 --cli 1 --out schedule-cuda.md    # on a GPU (tools/device_checks.sh)

Both run in this one process on the same photos, one after the other, pair by pair, so a drift in the
machine's speed hits both. "before" is `stylize` as the command line ran it until this schedule:
single size, the stop rule (at most 300 steps), fp32 on a CPU, and VGG run to relu5_1 on every pass
although the size rule weighs relu5_1 0 at 512 px (`EveryLayer` restores that pass). Both load each
photo with its long side at --size (a smaller one, the cat's 451 px, is enlarged; the command line
keeps a photo's own size unless --upscale). "now" is `stylize` at
its defaults: a 40-step half-size sketch at a quarter of the style, then at most 60 full-size steps,
the pass cut after the deepest layer with a weight, bf16 where the CPU has bfloat16 instructions.

Each result is judged as saved (clamped, 8-bit) by chapter 6's `result_ratios`, with "within" the
largest relative change of the two ratios against the path before's (target <= 10%). `--cli N` also
times the command line end to end (`python -m nstlib PHOTO PAINTING -o OUT --size 512`: start-up,
loading, the run, saving) on the first N pairs: the 90-s target is on that wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from PIL import Image

import nstlib as nl
from benchmarks.quality import COURSE_PAIRS, eval_pairs
from nstlib.passes import resolve_precision
from nstlib.quality import MEASURE_LAYERS
from nstlib.recipes import recipe_extractor

ROOT = Path(__file__).resolve().parent.parent


class EveryLayer(nl.FeatureExtractor):
    """The pass before the cut: every tapped layer computed, whatever the loss asks for."""

    def forward(self, x: torch.Tensor, layers=None) -> dict[str, torch.Tensor]:
        return super().forward(x)


def run_pair(photo: Path, painting: Path, size: int, net, judge) -> dict:
    """Both paths on one pair: seconds, steps per size, ratios; and the two pictures."""
    device = next(net.parameters()).device
    content, style = nl.load_tensor(photo, size, device=device), nl.load_tensor(painting, size, device=device)
    before_ext = recipe_extractor(net=net)
    before_ext.__class__ = EveryLayer
    # the command line's precision before: fp32 on a CPU, "auto" (bf16 or fp16) on a GPU
    before_precision = "fp32" if device.type == "cpu" else "auto"
    paths = {
        "before": dict(extractor=before_ext, sketch=0, steps=300, precision=before_precision),
        "now": dict(extractor=recipe_extractor(net=net)),
    }
    row: dict = {"pair": f"{photo.stem} / {painting.stem}", "px": "x".join(map(str, content.shape[-1:-3:-1]))}
    pictures = {}
    for name, options in paths.items():
        start = time.perf_counter()
        r = nl.stylize(content, style, in_range=True, progress=False, **options)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        picture = nl.postprocess(r.image)
        ratios = nl.result_ratios(nl.preprocess(picture, device=device), content, style, judge)
        levels = r.history.get("level")
        sketch = levels.count(0) if levels else 0  # "level" only where a sketch ran first
        row[name] = {
            "s": round(seconds, 1),
            "sketch": sketch,
            "full": len(r.history["step"]) - sketch,
            "passes": r.evaluations,
            **{k: round(v, 4) for k, v in ratios.items()},
        }
        pictures[name] = picture
    b, n = row["before"], row["now"]
    row["within"] = max(abs(n[k] / b[k] - 1) for k in ("style", "content"))
    row["sooner"] = b["s"] / n["s"]
    return row | {"pictures": (nl.postprocess(content), pictures["before"], pictures["now"])}


def cli_seconds(photo: Path, painting: Path, size: int) -> float:
    """Wall seconds of the command line, start-up included, on one pair (output to a temporary file)."""
    size = min(size, max(Image.open(photo).size))  # a smaller photo at its own size, as run_pair loads it
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "nstlib", str(photo), str(painting), "-o", f"{tmp}/out.jpg",
             "--size", str(size), "--quiet"],
            check=True, capture_output=True,
        )  # fmt: skip
        return time.perf_counter() - start


def table(rows: list[dict], size: int) -> str:
    """The rows as Markdown: per pair, both paths' seconds, steps and ratios, and the changes."""
    device = nl.default_device()
    precision = resolve_precision("auto", device)
    where = f"{torch.get_num_threads()} CPU threads" if device.type == "cpu" else torch.cuda.get_device_name()
    lines = [
        f"`python benchmarks/schedule.py` at {size} px on {where}; now: precision {precision}. Steps: "
        "half-size sketch + full size. Changes of the ratios against before's: a lower style ratio is "
        "closer to the painting, a higher content ratio farther from the photo (target: within 10%).",
        "",
        "| pair | px | before s | steps | style | content | now s | steps | style | content "
        "| style change | content change | x sooner |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b, n = r["before"], r["now"]
        change = {k: 100 * (n[k] / b[k] - 1) for k in ("style", "content")}
        lines.append(
            f"| {r['pair']} | {r['px']} | {b['s']:.0f} | {b['full']} | {b['style']:.4f} | {b['content']:.3f} | "
            f"{n['s']:.0f} | {n['sketch']}+{n['full']} | {n['style']:.4f} | {n['content']:.3f} | "
            f"{change['style']:+.1f}% | {change['content']:+.1f}% | {r['sooner']:.2f} |"
        )
    worst = max(r["within"] for r in rows)
    mean_b = sum(r["before"]["s"] for r in rows) / len(rows)
    mean_n = sum(r["now"]["s"] for r in rows) / len(rows)
    lines += ["", f"Mean {mean_b:.0f} s before, {mean_n:.0f} s now (x{mean_b / mean_n:.2f}); largest change "
              f"of a ratio, either way, {100 * worst:.1f}%."]  # fmt: skip
    timed = [r for r in rows if "cli_s" in r]
    if timed:
        lines += ["", "The command line end to end (start-up, loading, run, saving), now:", ""]
        lines += [f"- {r['pair']}: {r['cli_s']:.1f} s" for r in timed]
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: Path) -> None:
    """Photo, before and now side by side for each pair, at the size they were made (a JPEG)."""
    from PIL import Image, ImageDraw

    strips = []
    for r in rows:
        photo, before, now = r["pictures"]
        w, h = before.size
        strip = Image.new("RGB", (3 * w + 8, h + 18), "white")
        draw = ImageDraw.Draw(strip)
        for i, (pic, label) in enumerate(
            [
                (photo, r["pair"]),
                (before, f"before {r['before']['s']:.0f} s"),
                (now, f"now {r['now']['s']:.0f} s"),
            ]
        ):
            strip.paste(pic, (i * (w + 4), 18))
            draw.text((i * (w + 4) + 4, 3), label, fill="black")
        strips.append(strip)
    sheet = Image.new("RGB", (max(s.width for s in strips), sum(s.height + 6 for s in strips)), "white")
    y = 0
    for s in strips:
        sheet.paste(s, (0, y))
        y += s.height + 6
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=90)


def main(argv: list[str] | None = None) -> int:
    """Run the pairs, print the table (and write it, the JSON and the figure where asked)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--set", choices=("course", "eval", "both"), default="both", help="which pairs")
    p.add_argument("--limit", type=int, default=None, help="the first N pairs only")
    p.add_argument(
        "--skip", type=int, default=0, metavar="K", help="leave out the first K pairs (with --limit: K..N)"
    )
    p.add_argument(
        "--cli", type=int, default=0, metavar="N", help="time the command line on the first N pairs"
    )
    p.add_argument("--out", type=Path, default=None, help="write the table here (and the numbers as .json)")
    p.add_argument("--figure", type=Path, default=None, help="save photo / before / now for the first pairs")
    p.add_argument("--figure-pairs", type=int, default=3, metavar="N", help="how many pairs the figure shows")
    p.add_argument("--render", type=Path, default=None, help="only render the table of a stored .json")
    args = p.parse_args(argv)
    if args.render:  # the table again, from the numbers a run stored
        text = table(json.loads(args.render.read_text()), args.size)
        print(text)
        if args.out:
            args.out.write_text(text)
        return 0
    chosen = {"course": COURSE_PAIRS, "eval": eval_pairs(), "both": COURSE_PAIRS + eval_pairs()}[args.set]
    pairs = [(ROOT / "img" / c, ROOT / "img" / s) for c, s in chosen][args.skip : args.limit]
    net = nl.load_vgg19("caffe", device=nl.default_device())
    judge = nl.FeatureExtractor(MEASURE_LAYERS, net=net)
    rows = []
    for i, (photo, painting) in enumerate(pairs):
        row = run_pair(photo, painting, args.size, net, judge)
        print(json.dumps({k: v for k, v in row.items() if k != "pictures"}), flush=True)
        if i < args.cli:
            row["cli_s"] = round(cli_seconds(photo, painting, args.size), 1)
            print(f"command line: {row['cli_s']} s", flush=True)
        rows.append(row)
    text = table(rows, args.size)
    print(text)
    if args.out:
        args.out.write_text(text)
        numbers = [{k: v for k, v in r.items() if k != "pictures"} for r in rows]
        args.out.with_suffix(".json").write_text(json.dumps(numbers, indent=1) + "\n")
    if args.figure:
        figure(rows[: args.figure_pairs], args.figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
