"""Any painting in one pass against the per-painting networks: seconds, chapter 6's ratios and a second judge.

    python benchmarks/arbitrary.py                               # held-out + evaluation photos, 512 px
    python benchmarks/arbitrary.py --limit 2 --out results/x.md  # a quick look

For each photo and each painting a shipped real-time network was trained for, the cascade
(`nstlib.arbitrary` at its defaults: relu3_1 -> relu1_1, alpha 1) and that painting's network stylise the photo at
--size; both pictures are judged as saved (8-bit) by `result_ratios` (VGG-19 Grams: the cascade matches
their layers' covariances before decoding, so it is also judged by `quality.patch_ratios`, without VGG).
The decoders never saw a painting; the networks were each trained on theirs. Targets: the
cascade <= 3 s a picture after loading (the "cascade s" column); its style ratio <= 1.25x the network's
(median per painting, judged in the table), content <= 0.5. Also runs paintings no network was trained on (`--unseen`), cascade only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

import nstlib as nl
from nstlib.arbitrary import Painter, load_universal
from nstlib.quality import MEASURE_LAYERS, patch_ratios
from nstlib.realtime import apply, load_model, shipped
from nstlib.realtime.data import VAL_DIR, image_files
from nstlib.realtime.model import read_card

ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = ROOT / "img" / "eval"
UNSEEN = ["style/van-gogh-pere-tanguy.jpg", "style/renoir-moulin-de-la-galette.jpg",
          "style/van-gogh-village-street.jpg", "style/van-gogh-painter-on-the-road.jpg"]  # fmt: skip
STYLE_FACTOR, CONTENT_MAX = 1.25, 0.5


def judge(picture, photo, painting, size: int, vgg_judge) -> dict:
    """Both judges on a saved picture (PIL) of `photo` (PIL, at size) with `painting` (a path)."""
    device = next(vgg_judge.parameters()).device
    style = nl.load_tensor(painting, size, device=device)
    ratios = nl.result_ratios(
        nl.preprocess(picture, device=device), nl.preprocess(photo, device=device), style, vgg_judge
    )
    second = patch_ratios(picture, photo, nl.postprocess(style))
    return {**ratios, "patch_style": second["style"], "edge_content": second["content"]}


def main(argv: list[str] | None = None) -> int:
    """Run the pairs, print the table, write it (and the numbers as .json) to --out if given."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--limit", type=int, default=None, help="the first N photos only")
    p.add_argument("--unseen", action="store_true", help="also paintings no network was trained on")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--render", type=Path, default=None, help="only render the table of a stored .json")
    args = p.parse_args(argv)
    if args.render:  # the table again, from the numbers a run stored
        text = table(json.loads(args.render.read_text()), args.size)
        print(text)
        if args.out:
            args.out.write_text(text)
        return 0
    photos = (image_files(VAL_DIR) + image_files(EVAL_DIR))[: args.limit]
    device = nl.default_device()
    vgg = nl.load_vgg19(device=device)
    vgg_judge = nl.FeatureExtractor(MEASURE_LAYERS, net=vgg)
    model = load_universal(device=device, net=vgg)
    paintings = {name: ROOT / read_card(path)["style"] for name, path in shipped().items()}
    if args.unseen:
        paintings.update({Path(u).stem: ROOT / "img" / u for u in UNSEEN})
    rows = []
    for name, painting in paintings.items():
        net = load_model(name, device) if name in shipped() else None
        painter = Painter(model, nl.load_image(painting), size=args.size)
        painter(nl.load_image(photos[0], max_size=64))  # warm-up
        for path in photos:
            photo = nl.load_image(path, max_size=args.size)
            start = time.perf_counter()
            picture = painter(photo)
            row = {"painting": name, "photo": path.stem, "px": f"{photo.width}x{photo.height}",
                   "s": round(time.perf_counter() - start, 2), **judge(picture, photo, painting, args.size, vgg_judge)}  # fmt: skip
            if net is not None:
                net_row = judge(apply(net, photo), photo, painting, args.size, vgg_judge)
                row.update({f"net_{k}": v for k, v in net_row.items()})
            rows.append(row)
            print(json.dumps(row), flush=True)
    text = table(rows, args.size)
    print(text)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def table(rows: list[dict], size: int) -> str:
    """Markdown: per painting, medians of both methods by both judges, and the targets."""
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    lines = [
        f"Whitening and colouring (the default cascade relu3_1 -> relu1_1, alpha 1) at {size} px on "
        f"{nl.default_device()} ({torch.get_num_threads()} CPU threads, torch {torch.__version__}), against each painting's shipped "
        "network. Medians over the photos; ratios: 0 = the painting's statistics (style) / the photo (content).",
        "",
        "| painting | photos | cascade s | style | content | patch style | edge content | network style | "
        "network content | network patch style | network edge content | style vs network | content <= 0.5 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["painting"] for r in rows):
        rs = [r for r in rows if r["painting"] == name]
        cells = [f"{med(rs, k):.3f}" for k in ("style", "content", "patch_style", "edge_content")]
        if "net_style" in rs[0]:
            net = [f"{med(rs, 'net_' + k):.3f}" for k in ("style", "content", "patch_style", "edge_content")]
            ratio = med(rs, "style") / med(rs, "net_style")
            vs = f"{ratio:.2f}x ({'met' if ratio <= STYLE_FACTOR else 'missed'})"
        else:
            net, vs = ["", "", "", ""], "(no network)"
        ok = sum(r["content"] <= CONTENT_MAX for r in rs)
        lines.append(f"| {name} | {len(rs)} | {med(rs, 's'):.2f} | " + " | ".join(cells + net)
                     + f" | {vs} | {ok} of {len(rs)} |")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
