"""How painted are the defaults? Style and content ratios of `stylize` at its defaults, per pair.

    python benchmarks/quality.py                        # course pairs + evaluation photos, 256 px (CPU)
    python benchmarks/quality.py --set eval --sheet docs/eval-contact-sheet.jpg
    python benchmarks/quality.py --pair photo.jpg painting.jpg   # any pair (repeatable)

Runs as the command line does (`in_range=True`); each result is judged as it is saved (clamped to
[0, 1], 8-bit) by `nstlib.result_ratios` through the plain VGG-19 (zero padding, as trained):
`nstlib.quality.in_band` is the band docs/quality.md calls "painted, subject recognisable". The
evaluation photos (`img/eval/`) are never used to tune anything; each gets one of five paintings.
Prints a Markdown table (also written to --out) with steps, why the run stopped and its seconds;
--sheet saves every result as one contact sheet (photo and painting inset, ratios under each).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

import nstlib as nl
from nstlib.quality import MEASURE_LAYERS, in_band
from nstlib.recipes import recipe_extractor

ROOT = Path(__file__).resolve().parent.parent
COURSE_PAIRS = [
    ("content/chelsea-cat.jpg", "style/van-gogh-night-cafe.jpg"),
    ("content/castle-maintenon.jpg", "style/van-gogh-church-at-auvers.jpg"),
    ("content/astronaut.jpg", "style/hokusai-great-wave.jpg"),
    ("content/roebling-bridge.jpg", "style/kandinsky-composition-viii.jpg"),
    ("content/honey-bee.jpg", "style/van-gogh-the-harvest.jpg"),
]
PAINTINGS = [
    "style/van-gogh-night-cafe.jpg",
    "style/hokusai-great-wave.jpg",
    "style/van-gogh-church-at-auvers.jpg",
    "style/kandinsky-composition-viii.jpg",
    "style/van-gogh-the-harvest.jpg",
]
#: The photos that tested the defaults first: an animal on a branch with the Night Café, a launch pad
#: with the Great Wave; the others take the five paintings in turn (alphabetical order).
FIRST_SEEN = {"kingfisher-on-a-branch": PAINTINGS[0], "rocket-launch-pad": PAINTINGS[1]}


def eval_pairs() -> list[tuple[str, str]]:
    """Each evaluation photo with its painting (paths relative to img/)."""
    photos = sorted(p.stem for p in (ROOT / "img" / "eval").glob("*.jpg"))
    return [(f"eval/{p}.jpg", FIRST_SEEN.get(p, PAINTINGS[i % len(PAINTINGS)])) for i, p in enumerate(photos)]


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
    shown = (nl.postprocess(content), picture, nl.postprocess(style))
    ok = in_band(ratios)
    h, w = content.shape[-2:]
    return {
        "pair": f"{photo.stem} / {painting.stem}",
        "px": f"{w}x{h}",
        "steps": result.history["step"][-1],
        "stopped": result.stopped,
        "seconds": result.seconds,
        **ratios,
        "ok": ok,
        "pictures": shown,
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


def contact_sheet(rows: list[dict], path: Path, *, cols: int = 4, cell: int = 320) -> None:
    """Every result on one JPEG: photo (top left) and painting (top right) inset, ratios underneath."""
    from PIL import Image, ImageDraw, ImageOps

    caption = 34
    pictures = []
    for r in rows:
        photo, result, painting = r["pictures"]
        picture = result.copy()
        picture.thumbnail((cell - 6, round(0.8 * cell)))
        for j, inset in enumerate((photo, painting)):
            thumb = inset.copy()
            thumb.thumbnail((picture.width // 4, picture.height // 4))
            thumb = ImageOps.expand(thumb, border=1, fill="white")
            picture.paste(thumb, (0 if j == 0 else picture.width - thumb.width, 0))
        pictures.append(picture)
    heights = [max(p.height for p in pictures[i : i + cols]) + caption for i in range(0, len(pictures), cols)]
    sheet = Image.new("RGB", (cols * cell, sum(heights)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (r, picture) in enumerate(zip(rows, pictures)):
        x, y = (i % cols) * cell, sum(heights[: i // cols])
        sheet.paste(picture, (x + (cell - picture.width) // 2, y))
        band = "in band" if r["ok"] else "OUT of band"
        top = y + picture.height + 3
        draw.text((x + 6, top), r["pair"][:52], fill="black")
        draw.text(
            (x + 6, top + 14), f"style {r['style']:.3f}  content {r['content']:.2f}  {band}", fill="black"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=85)


def main(argv: list[str] | None = None) -> int:
    """Run the pairs, print the table, write it to --out if given."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--strength", type=float, default=nl.DEFAULT_STRENGTH)
    p.add_argument("--pair", nargs=2, action="append", type=Path, metavar=("PHOTO", "PAINTING"))
    p.add_argument("--out", type=Path, default=None, help="write the table here too")
    p.add_argument("--save", type=Path, default=None, help="save each result into this folder")
    p.add_argument("--set", choices=("course", "eval", "both"), default="both", help="which pairs")
    p.add_argument("--sheet", type=Path, default=None, help="save all results as one contact sheet")
    args = p.parse_args(argv)
    device = nl.default_device()
    chosen = {"course": COURSE_PAIRS, "eval": eval_pairs(), "both": COURSE_PAIRS + eval_pairs()}[args.set]
    pairs = args.pair or [(ROOT / "img" / c, ROOT / "img" / s) for c, s in chosen]
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
        print({k: v for k, v in rows[-1].items() if k != "pictures"}, flush=True)
    header = f"`stylize` defaults (strength {args.strength:g}) at {args.size} px on {device}:"
    text = table(rows, header)
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.sheet:
        contact_sheet(rows, args.sheet)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
