"""Make the README's picture gallery: the command line at its defaults on four course pairs.

    python tools/readme_gallery.py [--size 256] [--out img/readme/gallery.jpg]

Each pair is stylised by `python -m nstlib PHOTO PAINTING -o OUT --size 256` (run in-process
through `nstlib.cli.main`, so every other setting is the command line's default), then the four
results are laid side by side, each above its photo and painting, in one JPEG under 150 KB.
About 50-90 s per pair on a 2-core CPU; re-run it when the defaults change.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
#: (photo, painting, caption): an animal, a building, a night scene, a close-up.
PAIRS = [
    ("chelsea-cat.jpg", "van-gogh-night-cafe.jpg", "cat × The Night Café"),
    ("castle-maintenon.jpg", "van-gogh-church-at-auvers.jpg", "château × The Church at Auvers"),
    ("roebling-bridge.jpg", "kandinsky-composition-viii.jpg", "bridge × Composition VIII"),
    ("honey-bee.jpg", "van-gogh-the-harvest.jpg", "bee × The Harvest"),
]
GAP, CAPTION, MAX_BYTES = 8, 20, 150_000


def stylise(photo: Path, painting: Path, out: Path, size: int) -> float:
    """Run the command line on one pair (its defaults, at `size` px); returns the seconds it took."""
    from nstlib.cli import main

    started = time.perf_counter()
    code = main([str(photo), str(painting), "-o", str(out), "--size", str(size), "--force", "--quiet"])
    if code != 0:
        raise SystemExit(f"{photo.name} x {painting.name}: the command line exited {code}")
    return time.perf_counter() - started


def _fit(img: Image.Image, width: int, height: int) -> Image.Image:
    """`img` scaled to fit inside width x height, aspect kept."""
    scale = min(width / img.width, height / img.height)
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Matplotlib's DejaVu Sans (it has "é" and "×"; Pillow's built-in font does not)."""
    try:
        import matplotlib

        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size=size)


def compose(columns: list[tuple[Image.Image, Image.Image, Image.Image, str]], size: int) -> Image.Image:
    """One picture: per pair, the result on top, its photo and painting below it, then a caption."""
    top = max(r.height for r, *_ in columns)
    half = (size - GAP // 2) // 2
    small = max(_fit(p, half, half).height for _, p, s, _ in columns for p in (p, s))
    sheet = Image.new("RGB", (len(columns) * (size + GAP) - GAP, top + GAP + small + CAPTION), "white")
    draw, font = ImageDraw.Draw(sheet), _font(13)
    for i, (result, photo, painting, caption) in enumerate(columns):
        x = i * (size + GAP)
        sheet.paste(result, (x, 0))
        sheet.paste(_fit(photo, half, half), (x, top + GAP))
        sheet.paste(_fit(painting, half, half), (x + size - half, top + GAP))
        draw.text((x, top + GAP + small + 3), caption, fill="black", font=font)
    return sheet


def save_small(sheet: Image.Image, out: Path) -> int:
    """Save as JPEG at the highest quality that stays under MAX_BYTES; returns the quality used."""
    out.parent.mkdir(parents=True, exist_ok=True)
    for quality in (90, 85, 80, 75, 70, 60):
        sheet.save(out, quality=quality, optimize=True)
        if out.stat().st_size <= MAX_BYTES:
            return quality
    raise SystemExit(f"{out}: over {MAX_BYTES} bytes even at quality 60; use a smaller --size")


def main(argv: list[str] | None = None) -> int:
    """Stylise the four pairs and write the gallery."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="long side of each result (default 256)")
    parser.add_argument("--out", type=Path, default=ROOT / "img" / "readme" / "gallery.jpg")
    args = parser.parse_args(argv)
    columns = []
    with tempfile.TemporaryDirectory() as tmp:
        for photo_name, painting_name, caption in PAIRS:
            photo, painting = ROOT / "img" / "content" / photo_name, ROOT / "img" / "style" / painting_name
            out = Path(tmp) / f"{photo.stem}.jpg"
            seconds = stylise(photo, painting, out, args.size)
            print(f"{photo.name} x {painting.name}: {seconds:.1f} s", flush=True)
            columns.append((Image.open(out).convert("RGB"), Image.open(photo), Image.open(painting), caption))
        sheet = compose(columns, args.size)
    quality = save_small(sheet, args.out)
    print(
        f"wrote {args.out} ({sheet.width}x{sheet.height} px, JPEG quality {quality}, {args.out.stat().st_size} bytes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
