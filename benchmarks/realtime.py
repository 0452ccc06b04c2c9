"""Real-time models against the targets: seconds per photo, and style/content ratios against optimisation.

    python benchmarks/realtime.py                       # every shipped model, held-out + evaluation photos
    python benchmarks/realtime.py --models night-cafe --photos img/eval/kingfisher-on-a-branch.jpg
    python benchmarks/realtime.py --optimise 3          # also chapter 5's optimisation on 3 photos per model

Each photo is stylised at --size (default 512) as `python -m nstlib.realtime apply` does and judged as
saved (8-bit) by `nstlib.result_ratios` (plain VGG-19, as chapter 6). The targets: style ratio <= 0.2,
content ratio <= 0.5 at 512 px; apply <= 0.5 s per photo after loading. The optimisation rows run
`nl.stylize` at its defaults (`in_range=True`, as the command line) at --opt-size (default 256: the CPU
default; 512 px takes ~4 min a photo here). Writes a Markdown table (also to --out).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

import nstlib as nl
from nstlib.quality import MEASURE_LAYERS
from nstlib.realtime import apply, load_model, shipped
from nstlib.realtime.data import VAL_DIR, image_files
from nstlib.realtime.model import read_card
from nstlib.recipes import recipe_extractor

ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = ROOT / "img" / "eval"
STYLE_MAX, CONTENT_MAX = 0.2, 0.5


def judge_pass(net, photo: Path, painting: Path, size: int, judge) -> dict:
    """One photo through one network: seconds of the pass and the ratios of the saved picture."""
    img = nl.load_image(photo)
    start = time.perf_counter()
    out = apply(net, img, size)
    seconds = time.perf_counter() - start
    content = nl.preprocess(nl.resize(img, max_size=size))
    style = nl.load_tensor(painting, size)
    return {"seconds": seconds, **nl.result_ratios(nl.preprocess(out), content, style, judge)}


def judge_optimisation(photo: Path, painting: Path, size: int, judge, extractor) -> dict:
    """chapter 5's defaults on the same pair (as the command line: in range, judged as saved)."""
    content, style = nl.load_tensor(photo, size), nl.load_tensor(painting, size)
    result = nl.stylize(content, style, extractor=extractor, in_range=True, progress=False)
    out = nl.preprocess(nl.postprocess(result.image))
    return {"seconds": result.seconds, **nl.result_ratios(out, content, style, judge)}


def rows_for(name: str, photos: list[Path], args, judge, extractor) -> list[dict]:
    """The network's rows (and the optimisation's on the first --optimise photos)."""
    net = load_model(name)
    painting = ROOT / read_card(shipped()[name])["style"]
    rows = []
    for i, photo in enumerate(photos):
        r = {"model": name, "photo": photo.stem, **judge_pass(net, photo, painting, args.size, judge)}
        if i < args.optimise:
            opt = judge_optimisation(photo, painting, args.opt_size, judge, extractor)
            r.update({f"opt_{k}": v for k, v in opt.items()})
        rows.append(r)
        print(r, flush=True)
    return rows


def table(rows: list[dict], size: int, opt_size: int) -> str:
    """Markdown: one row per model and photo, then each model's medians."""
    lines = [
        f"Real-time models at {size} px on {torch.get_num_threads()} CPU threads (torch {torch.__version__}); "
        f"optimisation (`nl.stylize` defaults) at {opt_size} px where run. Targets: style <= {STYLE_MAX}, "
        f"content <= {CONTENT_MAX}.",
        "",
        "| model | photo | pass s | style | content | meets | optimised style | optimised content | optimised s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = r["style"] <= STYLE_MAX and r["content"] <= CONTENT_MAX
        opt = [f"{r[k]:.3f}" if k in r else "" for k in ("opt_style", "opt_content")]
        lines.append(
            f"| {r['model']} | {r['photo']} | {r['seconds']:.2f} | {r['style']:.3f} | {r['content']:.3f} | "
            f"{'yes' if ok else 'no'} | {opt[0]} | {opt[1]} | {r.get('opt_seconds', 0) and round(r['opt_seconds'])} |"
        )
    lines += [
        "",
        "| model | median pass s | median style | median content | photos meeting both |",
        "|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        med = {k: statistics.median(r[k] for r in mine) for k in ("seconds", "style", "content")}
        ok = sum(r["style"] <= STYLE_MAX and r["content"] <= CONTENT_MAX for r in mine)
        lines.append(
            f"| {name} | {med['seconds']:.2f} | {med['style']:.3f} | {med['content']:.3f} | {ok} of {len(mine)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run every model on every photo, print the table, write it to --out if given."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=None, help="shipped model names (default: all)")
    p.add_argument(
        "--photos", nargs="+", type=Path, default=None, help="default: held-out + evaluation photos"
    )
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--optimise", type=int, default=0, metavar="N", help="also optimise the first N photos")
    p.add_argument("--opt-size", type=int, default=256)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    photos = args.photos or image_files(VAL_DIR) + image_files(EVAL_DIR)
    vgg = nl.load_vgg19()
    judge, extractor = nl.FeatureExtractor(MEASURE_LAYERS, net=vgg), recipe_extractor(net=vgg)
    rows = [r for name in args.models or shipped() for r in rows_for(name, photos, args, judge, extractor)]
    text = table(rows, args.size, args.opt_size)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
