"""The benchmark's markdown report from its measurements and the hand-written notes.

    python benchmarks/report.py cpu      # results/cpu.json + results/cpu-notes.md -> results/cpu.md

The JSON holds only what speed.py measured; the notes (how to read the numbers, runs compared,
levers tried) live in the tracked results/<device>-notes.md, so re-measuring never drops them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: Where a quick look (any measured option changed) writes unless --out says otherwise: the
#: tracked RESULTS hold full runs only.
QUICK_LOOK = Path(tempfile.gettempdir()) / "nstlib-quick-look"


def output_folder(args: argparse.Namespace, parser: argparse.ArgumentParser, kept: tuple[str, ...]) -> Path:
    """args.out if given; else RESULTS for a full run, QUICK_LOOK if any option outside `kept` changed."""
    if args.out is not None:
        return args.out
    full = all(getattr(args, a.dest) == a.default for a in parser._actions if a.dest not in kept)
    return RESULTS if full else QUICK_LOOK


SPEED_HEADER = (
    "| size (HxW) | reference: time, loss | nstlib path | passes (at full size) | time | loss | speed-up (time) |",
    "|---|---|---|---|---|---|---|",
)


def _intro(report: dict) -> list[str]:
    return [
        f"# Benchmark results: {report['machine']}",
        "",
        f"Reference: d2l 14.12's loop, {report['epochs']} Adam epochs. Fast path: nstlib, frozen VGG, "
        "channels_last, precomputed targets, on CUDA the pass replayed as a CUDA graph; nstlib's L-BFGS on the "
        "image's spectrum (`FourierImage`) or its pixels "
        "(a pyramid runs a half-size level first), stopped when it reaches the reference's final loss "
        "(same objective, same weights, one shared evaluation).",
        "",
    ]


def _speed_table(sizes: dict) -> list[str]:
    lines = list(SPEED_HEADER)
    for size, r in sizes.items():
        for path_name, f in r["fast"].items():
            mark = "" if f["reached"] else " (bar not reached)"
            lines.append(
                f"| {size} | {r['reference_seconds']:.1f} s, {r['reference_loss']:.4g} | {path_name} | "
                f"{f['passes']} ({f['full_size_passes']}) | {f['seconds']:.1f} s | {f['loss']:.4g}{mark} | "
                f"**x{f['speedup_time']:.1f}** |"
            )
    return lines


def _levers_table(sizes: dict) -> list[str]:
    names = list(next(iter(sizes.values()))["levers_s_per_pass"])
    lines = [
        "",
        "Seconds per forward/backward pass (median), and the ratio to d2l's setting:",
        "",
        "| size | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for size, r in sizes.items():
        seconds = list(r["levers_s_per_pass"].values())
        lines.append(
            f"| {size} | " + " | ".join(f"{v:.3f} s (x{seconds[0] / v:.2f})" for v in seconds) + " |"
        )
    return lines


def _fixed_work_table(fw: dict) -> list[str]:
    lines = [
        "",
        f"{fw['iterations']} L-BFGS iterations at {fw['side']}x{fw['side']} px (d2l's objective, Fourier "
        "image; targets included, after a warm-up run; each image scored in fp32):",
        "",
        "| setting | seconds | ms / iteration | loss | first run, 5 steps (set-up included) |",
        "|---|---|---|---|---|",
    ]
    for r in fw["rows"]:
        ms = r["seconds"] / fw["iterations"] * 1000
        lines.append(
            f"| {r['setting']} | {r['seconds']:.2f} | {ms:.2f} | {r['loss']:.4g} | {r['first_5_steps_s']:.2f} s |"
        )
    return lines


def _memory_table(mib: dict, device: str) -> list[str]:
    kind = "max_memory_allocated" if device == "cuda" else "peak RSS, reset after loading the weights"
    lines = ["", f"Peak memory ({kind}), 3 L-BFGS steps:", "", "| side | MiB |", "|---|---|"]
    return lines + [f"| {s}x{s} | {m:,.0f} |" for s, m in mib.items()]


def _notebooks_table(seconds: dict) -> list[str]:
    lines = [
        "",
        "Notebooks in CI mode (NSTLIB_FAST=1, as `python -m pytest` runs them), kernel start included:",
        "",
        "| notebook | seconds |",
        "|---|---|",
    ]
    lines += [f"| {n} | {t:.1f} |" for n, t in seconds.items()]
    return lines + [f"| all | {sum(seconds.values()):.1f} |"]


def render(report: dict, notes: str = "") -> str:
    """The markdown report: the tables for what `report` holds, then `notes` (markdown) verbatim."""
    lines = _intro(report)
    if report["sizes"]:
        lines += _speed_table(report["sizes"]) + _levers_table(report["sizes"])
    if "fixed_work" in report:
        lines += _fixed_work_table(report["fixed_work"])
    if "peak_memory_mib" in report:
        lines += _memory_table(report["peak_memory_mib"], report["device"])
    if "notebooks_ci_s" in report:
        lines += _notebooks_table(report["notebooks_ci_s"])
    if notes.strip():
        lines += ["", "Notes:", "", notes.strip()]
    return "\n".join(lines) + "\n"


def notes_path(out: Path, device: str) -> Path:
    """Where the hand-written notes for `device` live in a results folder."""
    return out / f"{device}-notes.md"


def write(out: Path, device: str) -> Path:
    """Render <out>/<device>.json and <device>-notes.md (if there) into <out>/<device>.md."""
    report = json.loads((out / f"{device}.json").read_text())
    notes = notes_path(out, device)
    md = out / f"{device}.md"
    md.write_text(render(report, notes.read_text() if notes.exists() else ""))
    return md


def main(argv: list[str] | None = None) -> None:
    """Regenerate the markdown report from stored results, without measuring anything."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("device", nargs="?", default="cpu", help="cpu or cuda: which <device>.json to render")
    p.add_argument("--dir", type=Path, default=RESULTS, help="results folder (default: benchmarks/results)")
    args = p.parse_args(argv)
    print(f"wrote {write(args.dir, args.device)}")


if __name__ == "__main__":
    main()
