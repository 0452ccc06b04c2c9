"""How painted are the defaults? Style and content ratios of `stylize` at its defaults, per pair.

    python benchmarks/quality.py                        # the course pairs at 256 px (CPU default)
    python benchmarks/quality.py --size 512 --out benchmarks/results/quality-cuda.md
    python benchmarks/quality.py --pair photo.jpg painting.jpg   # any pair (repeatable)

Runs as the command line does (`in_range=True`); each result is judged as it is saved (clamped to
[0, 1], 8-bit) by `nstlib.result_ratios` through the plain VGG-19 (zero padding, as trained): style ratio
<= 0.06 and content ratio 0.15-0.6 is the band docs/quality.md calls "painted, subject recognisable".
Prints a Markdown table (also written to --out) with steps, why the run stopped and its seconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

import nstlib as nl
from nstlib.quality import MEASURE_LAYERS
from nstlib.recipes import recipe_extractor

ROOT = Path(__file__).resolve().parent.parent
COURSE_PAIRS = [
    ("content/chelsea-cat.jpg", "style/van-gogh-night-cafe.jpg"),
    ("content/castle-maintenon.jpg", "style/van-gogh-church-at-auvers.jpg"),
    ("content/astronaut.jpg", "style/hokusai-great-wave.jpg"),
    ("content/roebling-bridge.jpg", "style/kandinsky-composition-viii.jpg"),
    ("content/honey-bee.jpg", "style/van-gogh-the-harvest.jpg"),
]
STYLE_MAX, CONTENT_BAND = 0.06, (0.15, 0.6)


def measure(
    photo: Path,
    painting: Path,
    *,
    size: int,
    device: torch.device,
    strength: float,
    judge: nl.FeatureExtractor,
    extractor: nl.FeatureExtractor,
    save: Path | None = None,
) -> dict:
    """Stylise one pair at the defaults and judge it (and save the result into the folder `save`)."""
    content = nl.load_tensor(photo, size, device=device)
    style = nl.load_tensor(painting, size, device=device)
    result = nl.stylize(content, style, extractor=extractor, strength=strength, in_range=True, progress=False)
    picture = nl.postprocess(result.image)  # judged as saved: clamped to [0, 1], 8-bit
    ratios = nl.result_ratios(nl.preprocess(picture, device=device), content, style, judge)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        nl.save_image(picture, save / f"{photo.stem}--{painting.stem}.jpg")
    ok = ratios["style"] <= STYLE_MAX and CONTENT_BAND[0] <= ratios["content"] <= CONTENT_BAND[1]
    h, w = content.shape[-2:]
    return {
        "pair": f"{photo.stem} / {painting.stem}",
        "px": f"{w}x{h}",
        "steps": result.history["step"][-1],
        "stopped": result.stopped,
        "seconds": result.seconds,
        **ratios,
        "ok": ok,
    }


def table(rows: list[dict], header: str) -> str:
    """The rows as a Markdown table under a one-line header."""
    lines = [
        header,
        "",
        "| pair | size | steps | stopped | s | style ratio | content ratio | in band |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['pair']} | {r['px']} | {r['steps']} | {r['stopped']} | {r['seconds']:.0f} | "
            f"{r['style']:.3f} | {r['content']:.2f} | {'yes' if r['ok'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the pairs, print the table, write it to --out if given."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--strength", type=float, default=nl.DEFAULT_STRENGTH)
    p.add_argument("--pair", nargs=2, action="append", type=Path, metavar=("PHOTO", "PAINTING"))
    p.add_argument("--out", type=Path, default=None, help="write the table here too")
    p.add_argument("--save", type=Path, default=None, help="save each result into this folder")
    args = p.parse_args(argv)
    device = nl.default_device()
    pairs = args.pair or [(ROOT / "img" / c, ROOT / "img" / s) for c, s in COURSE_PAIRS]
    net = nl.load_vgg19("caffe", device=device)
    judge = nl.FeatureExtractor(MEASURE_LAYERS, net=net)
    extractor = recipe_extractor(net=net)
    rows = []
    for photo, painting in pairs:
        rows.append(
            measure(
                photo,
                painting,
                size=args.size,
                device=device,
                strength=args.strength,
                judge=judge,
                extractor=extractor,
                save=args.save,
            )
        )
        print(rows[-1], flush=True)
    header = f"`stylize` defaults (strength {args.strength:g}) at {args.size} px on {device}:"
    text = table(rows, header)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
