"""Side-by-side speed benchmark: d2l 14.12's loop as the book runs it, against nstlib's fast path.

    python benchmarks/speed.py                       # 300x450 and 150x225, 500 epochs (about 50 min on 2 CPU cores)
    python benchmarks/speed.py --sizes 150x225 --epochs 200 --no-memory --no-notebooks   # a quick look

Everything that is compared is measured in this one run, on the same images and the same (Caffe)
VGG-19 weights, and reported as ratios: on a shared CPU, absolute times drift from run to run.

1. Reference: a faithful re-implementation of d2l 14.12 (layers 0, 5, 10, 19, 28 and 25 with
   the in-place ReLUs as d2l gets them, weights 1 / 1e3 / 10 with d2l's `sum(10 * styles_l + ...)`,
   which repeats the style list ten times (an effective 1e4), Adam lr 0.3, StepLR(50, 0.8), VGG
   parameters left requiring grad, content init). Its total loss after N epochs is the quality bar.
2. One shared evaluation function: d2l's objective, written with nstlib's StyleTransferLoss and
   the layers d2l *really* taps (relu1_1, relu2_1, relu3_1, relu4_1, conv5_1; content relu4_4).
   The benchmark checks that it gives the reference's own loss on the same image.
3. Levers, timed per forward/backward pass side by side: VGG frozen, channels_last, and on CUDA
   TF32, cudnn.benchmark and torch.compile.
4. The fast path (nstlib, frozen VGG, channels_last, precomputed targets, on CUDA the pass
   replayed as a CUDA graph, L-BFGS (sync-free, `nstlib.lbfgs`) on the
   image's spectrum (`FourierImage`); also L-BFGS on pixels and a 2-level pyramid) runs until it
   reaches the bar:
   wall time and passes against the reference's time to N epochs -> the headline ratio.
5. Peak memory per image size (RSS on CPU, max_memory_allocated on CUDA), each in a fresh process.
6. Each chapter notebook's run time in CI mode (NSTLIB_FAST=1), executed in memory.

Results go to benchmarks/results/<device>.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from torch import nn  # noqa: E402

import nstlib as nl  # noqa: E402
from nstlib.pyramid import pyramid_stylize  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "img" / "content" / "castle-maintenon.jpg"
STYLE = ROOT / "img" / "style" / "van-gogh-church-at-auvers.jpg"
D2L_STYLE_LAYERS, D2L_CONTENT_LAYERS = [0, 5, 10, 19, 28], [25]
#: What d2l's indices tap once its in-place ReLUs have run (its net ends at 28: no ReLU there).
D2L_AS_NAMED = {"style": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "conv5_1"), "content": ("relu4_4",)}


# ----------------------------------------------------------------------------- reference (d2l)
def d2l_reference(content: torch.Tensor, style: torch.Tensor, epochs: int, device: torch.device) -> dict:
    """d2l 14.12's train() as the book runs it; returns image, per-epoch losses and timings."""
    pretrained = nl.load_vgg19("caffe", device=device)
    pretrained.requires_grad_(True)  # d2l never freezes the pretrained net
    net = nn.Sequential(*[pretrained[i] for i in range(max(D2L_CONTENT_LAYERS + D2L_STYLE_LAYERS) + 1)])

    def extract_features(X, content_layers, style_layers):
        contents, styles = [], []
        for i in range(len(net)):
            X = net[i](X)
            if i in style_layers:
                styles.append(X)
            if i in content_layers:
                contents.append(X)
        return contents, styles

    def gram(X):
        num_channels, n = X.shape[1], X.numel() // X.shape[1]
        X = X.reshape((num_channels, n))
        return torch.matmul(X, X.T) / (num_channels * n)

    def content_loss(Y_hat, Y):
        return torch.square(Y_hat - Y.detach()).mean()

    def style_loss(Y_hat, gram_Y):
        return torch.square(gram(Y_hat) - gram_Y.detach()).mean()

    def tv_loss(Y_hat):
        return 0.5 * (
            torch.abs(Y_hat[:, :, 1:, :] - Y_hat[:, :, :-1, :]).mean()
            + torch.abs(Y_hat[:, :, :, 1:] - Y_hat[:, :, :, :-1]).mean()
        )

    content_weight, style_weight, tv_weight = 1, 1e3, 10  # d2l's numbers...

    def compute_loss(X, contents_Y_hat, styles_Y_hat, contents_Y, styles_Y_gram):
        contents_l = [content_loss(Y_hat, Y) * content_weight for Y_hat, Y in zip(contents_Y_hat, contents_Y)]
        styles_l = [style_loss(Y_hat, Y) * style_weight for Y_hat, Y in zip(styles_Y_hat, styles_Y_gram)]
        tv_l = tv_loss(X) * tv_weight
        # ...and d2l's sum: `10 * styles_l` repeats the list ten times, so style counts 1e4.
        return sum(10 * styles_l + contents_l + [tv_l])

    start = time.perf_counter()
    contents_Y, _ = extract_features(content, D2L_CONTENT_LAYERS, D2L_STYLE_LAYERS)
    _, styles_Y = extract_features(style, D2L_CONTENT_LAYERS, D2L_STYLE_LAYERS)
    X = nl.SynthesizedImage(content).to(device)  # d2l: gen_img.weight.data.copy_(X.data)
    trainer = torch.optim.Adam(X.parameters(), lr=0.3)
    styles_Y_gram = [gram(Y) for Y in styles_Y]
    scheduler = torch.optim.lr_scheduler.StepLR(trainer, 50, 0.8)
    losses = []
    for _epoch in range(epochs):
        trainer.zero_grad()
        contents_Y_hat, styles_Y_hat = extract_features(X(), D2L_CONTENT_LAYERS, D2L_STYLE_LAYERS)
        loss = compute_loss(X(), contents_Y_hat, styles_Y_hat, contents_Y, styles_Y_gram)
        loss.backward()
        trainer.step()
        scheduler.step()
        losses.append(loss.item())
    _sync(device)
    return {"image": X().detach(), "losses": losses, "seconds": time.perf_counter() - start, "passes": epochs}


# ----------------------------------------------------------------------------- shared pieces
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def d2l_objective(
    extractor: nl.FeatureExtractor, content: torch.Tensor, style: torch.Tensor
) -> nl.StyleTransferLoss:
    """d2l's objective in nstlib terms (named layers; weights 1 / 1e4 / 10)."""
    return nl.StyleTransferLoss(
        extractor, content, style, D2L_AS_NAMED["content"], D2L_AS_NAMED["style"], 1.0, 1e4, 10.0
    )


def images(shape: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The benchmark's content and style at an exact (H, W), as d2l resizes both."""
    content = nl.preprocess(nl.load_image(CONTENT, shape=shape), device=device)
    style = nl.preprocess(nl.load_image(STYLE, shape=shape), device=device)
    return content, style


def time_passes(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of one call of fn (one forward + backward), after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def levers(shape: tuple[int, int], device: torch.device, repeats: int) -> list[tuple[str, float]]:
    """Seconds per forward/backward pass for each lever, measured side by side."""
    content, style = images(shape, device)
    layers = D2L_AS_NAMED["content"] + D2L_AS_NAMED["style"]
    rows = []

    def pass_fn(loss_fn, image):
        def run():
            image.grad = None
            loss_fn(image).total.backward()

        return run

    thawed = nl.load_vgg19("caffe", device=device).requires_grad_(True)
    ext = nl.FeatureExtractor(layers, net=thawed, channels_last=False)
    ext.net.requires_grad_(True)  # FeatureExtractor freezes; undo it to measure d2l's setting
    img = content.clone().requires_grad_(True)
    rows.append(
        (
            "VGG requires grad (d2l)",
            time_passes(pass_fn(d2l_objective(ext, content, style), img), device, repeats),
        )
    )
    ext = nl.FeatureExtractor(layers, net=nl.load_vgg19("caffe", device=device), channels_last=False)
    loss = d2l_objective(ext, content, style)
    rows.append(("VGG frozen", time_passes(pass_fn(loss, img), device, repeats)))
    ext_cl = nl.FeatureExtractor(layers, net=nl.load_vgg19("caffe", device=device))
    loss_cl = d2l_objective(ext_cl, content, style)
    rows.append(("frozen + channels_last (nstlib)", time_passes(pass_fn(loss_cl, img), device, repeats)))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        rows.append(("frozen + TF32 + cudnn.benchmark", time_passes(pass_fn(loss_cl, img), device, repeats)))
        compiled = torch.compile(loss_cl)
        rows.append(("frozen + TF32 + torch.compile", time_passes(pass_fn(compiled, img), device, repeats)))
        # back to torch's defaults: later timings must not inherit (or pay for) autotuning
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.allow_tf32 = True
    return rows


def fast_path(
    content,
    style,
    target: float,
    max_steps: int,
    device: torch.device,
    coarse_steps=(),
    parametrization="fourier",
) -> dict:
    """nstlib on d2l's objective: L-BFGS on `parametrization` until the loss reaches `target`.

    With coarse_steps, a pyramid first runs those steps at 1/2^k size, coarsest first.
    """
    ext = nl.FeatureExtractor(
        D2L_AS_NAMED["content"] + D2L_AS_NAMED["style"], net=nl.load_vgg19("caffe", device=device)
    )
    start = time.perf_counter()  # like the reference's clock: targets included, loading VGG not
    if coarse_steps:
        r = pyramid_stylize(
            content,
            style,
            ext,
            steps=(*coarse_steps, max_steps),
            make_loss=d2l_objective,
            parametrization=parametrization,
            optimizer="lbfgs",
            stop_below=target,
            progress=False,
        )
    else:
        r = nl.train(
            nl.parametrize(content, parametrization).to(device),
            d2l_objective(ext, content, style),
            optimizer="lbfgs",
            steps=max_steps,
            stop_below=target,
            progress=False,
        )
    _sync(device)
    full = [lv == max(r.history.get("level", [0])) for lv in r.history.get("level", [0] * r.evaluations)]
    return {
        "image": r.image,
        "seconds": time.perf_counter() - start,
        "passes": r.evaluations,
        "full_size_passes": sum(full),
        "history": r.history,
    }


def fixed_work(side: int, iterations: int, device: torch.device) -> list[dict]:
    """Seconds for `iterations` L-BFGS steps at side x side px, per GPU setting, side by side.

    nstlib's defaults otherwise (Gatys layers and weights, Fourier image, content start); the
    clock runs from the targets (Grams) to the last step, after one 5-step warm-up run of each
    setting, timed on its own: it holds cuDNN's and cuFFT's first-call set-up (and autotuning
    with cudnn.benchmark). Loading the weights is not timed.
    """
    content = nl.preprocess(nl.load_image(CONTENT, shape=(side, side)), device=device)
    style = nl.preprocess(nl.load_image(STYLE, max_size=side), device=device)

    settings = [  # name, CUDA graph, channels_last, cudnn.benchmark, bf16 autocast
        ("eager (no CUDA graph), NCHW", False, False, False, False),
        ("CUDA graph, NCHW", True, False, False, False),
        ("CUDA graph, channels_last", True, True, False, False),
        ("CUDA graph, channels_last, cudnn.benchmark", True, True, True, False),
        ("CUDA graph, channels_last, bf16 autocast", True, True, False, True),
        ("CUDA graph, channels_last, bf16 autocast, cudnn.benchmark", True, True, True, True),
    ]
    if device.type != "cuda":
        settings = [("eager", False, True, False, False)]
    layers = nl.CONTENT_LAYERS + nl.STYLE_LAYERS
    net = nl.load_vgg19("caffe", device=device)  # frozen: every extractor below can share it
    judge = nl.StyleTransferLoss(nl.FeatureExtractor(layers, net=net), content, style)
    rows = []
    for name, graph, cl, bench, half in settings:
        torch.backends.cudnn.benchmark = bench
        ext = nl.FeatureExtractor(layers, net=net, channels_last=cl)

        def run(steps, ext=ext, half=half, graph=graph):
            _sync(device)
            start = time.perf_counter()
            loss = nl.StyleTransferLoss(ext, content, style)
            r = nl.train(
                nl.parametrize(content, "fourier"),
                loss,
                optimizer="lbfgs",
                steps=steps,
                progress=False,
                cuda_graph=graph,
                precision="bf16" if half else "fp32",
            )
            _sync(device)
            return r, time.perf_counter() - start

        _, first = run(5)  # includes cuDNN's autotuning when cudnn.benchmark is on
        r, seconds = run(iterations)
        torch.backends.cudnn.benchmark = False
        with torch.no_grad():  # every image scored the same way: fp32, no graph
            score = judge(r.image).total.item()
        rows.append(
            {
                "setting": name,
                "seconds": seconds,
                "first_5_steps_s": first,
                "passes": r.evaluations,
                "loss": score,
            }
        )
        print(
            f"  {name:58s} {seconds:6.2f} s  ({seconds / iterations * 1000:.2f} ms/iteration), loss {score:.4g};"
            f" first run, 5 steps: {first:.2f} s",
            flush=True,
        )
    return rows


def peak_memory(side: int, device: str) -> float:
    """Peak memory in MiB of 3 L-BFGS steps at side x side, measured in a fresh process.

    On CPU the process's peak RSS is reset after loading the weights (Linux /proc/self/clear_refs),
    so converting them does not set the mark; the figure still counts the resident weights.
    """
    code = f"""
import torch, nstlib as nl
dev = torch.device({device!r})
x = nl.preprocess(nl.load_image({str(CONTENT)!r}, shape=({side}, {side})), device=dev)
s = nl.preprocess(nl.load_image({str(STYLE)!r}, max_size=512), device=dev)
ext = nl.FeatureExtractor(nl.CONTENT_LAYERS + nl.STYLE_LAYERS, device=dev)
if dev.type == 'cuda':
    torch.cuda.reset_peak_memory_stats()
else:
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM, the peak resident set
nl.stylize(x, s, extractor=ext, optimizer='lbfgs', steps=3, progress=False)
if dev.type == 'cuda':
    print(torch.cuda.max_memory_allocated() / 2**20)
else:
    hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM')][0]
    print(int(hwm.split()[1]) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def notebook_times() -> dict[str, float]:
    """Seconds to execute each chapter notebook in CI mode (NSTLIB_FAST=1), on a copy."""
    import nbformat
    from nbclient import NotebookClient

    env = {"NSTLIB_FAST": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    times = {}
    try:
        for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
            nb = nbformat.read(path, as_version=4)  # executed in memory: the stored file is untouched
            start = time.perf_counter()
            NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(path.parent)}}).execute()
            times[path.name] = time.perf_counter() - start
            print(f"  {path.name}: {times[path.name]:.1f} s", flush=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return times


def machine(device: torch.device) -> str:
    """A one-line description of where this ran."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    cpu = platform.processor() or "CPU"
    try:
        cpu = next(
            line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads"


# ----------------------------------------------------------------------------- main
def main() -> None:
    """Run the benchmark and write the results table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="300x450,150x225", help="HxW list, comma-separated")
    p.add_argument("--epochs", type=int, default=500, help="reference epochs N (d2l: 500)")
    p.add_argument("--max-steps", type=int, default=1000, help="L-BFGS step limit for the fast path")
    p.add_argument(
        "--coarse-steps", type=int, default=50, help="L-BFGS steps at the pyramid's half-size level"
    )
    p.add_argument("--repeats", type=int, default=5, help="timed passes per lever")
    p.add_argument("--memory", default="256,512,1024", help="sides for peak memory ('' to skip)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-notebooks", action="store_true", help="skip timing the notebooks in CI mode")
    p.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="time this many L-BFGS iterations at --iterations-side px (default: 500 on CUDA, skipped on CPU)",
    )
    p.add_argument("--iterations-side", type=int, default=512)
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args()
    device = torch.device(args.device) if args.device else nl.default_device()
    torch.manual_seed(0)
    report = {"machine": machine(device), "device": device.type, "epochs": args.epochs, "sizes": {}}
    print(f"# {report['machine']}\n", flush=True)

    iterations = args.iterations if args.iterations is not None else (500 if device.type == "cuda" else 0)
    if iterations:
        side = args.iterations_side
        print(
            f"## {iterations} L-BFGS iterations at {side}x{side} (nstlib defaults, Fourier image)", flush=True
        )
        report["fixed_work"] = {
            "side": side,
            "iterations": iterations,
            "rows": fixed_work(side, iterations, device),
        }
        write_report(report, args.out)
    for size in filter(None, args.sizes.split(",")):
        h, w = (int(v) for v in size.lower().split("x"))
        content, style = images((h, w), device)
        rows = levers((h, w), device, args.repeats)
        ref_pass = rows[0][1]
        print(f"## {h}x{w}: seconds per forward/backward pass (median of {args.repeats})")
        for name, sec in rows:
            print(f"  {name:34s} {sec:7.3f} s   x{ref_pass / sec:5.2f}", flush=True)
        ref = d2l_reference(content, style, args.epochs, device)
        ext = nl.FeatureExtractor(
            D2L_AS_NAMED["content"] + D2L_AS_NAMED["style"], net=nl.load_vgg19("caffe", device=device)
        )
        evaluate = d2l_objective(ext, content, style)
        with torch.no_grad():
            check = evaluate(content).total.item()
            bar = evaluate(ref["image"]).total.item()
        print(
            f"  shared evaluation on the start image: {check:.6g}; reference's own first loss: {ref['losses'][0]:.6g}"
        )
        result = {
            "levers_s_per_pass": dict(rows),
            "shared_eval_start": check,
            "reference_first_loss": ref["losses"][0],
            "reference_seconds": ref["seconds"],
            "reference_loss": bar,
            "fast": {},
        }
        print(f"  reference: {args.epochs} Adam epochs in {ref['seconds']:.1f} s -> loss {bar:.5g}")
        variants = [
            ("L-BFGS, Fourier image (nstlib's fast path)", (), "fourier"),
            ("L-BFGS, pixels", (), "pixels"),
            (
                f"pyramid, 2 levels, Fourier ({args.coarse_steps} steps at 1/2 size)",
                (args.coarse_steps,),
                "fourier",
            ),
        ]
        for name, coarse, param in variants:
            fast = fast_path(content, style, bar, args.max_steps, device, coarse, param)
            with torch.no_grad():
                fast_loss = evaluate(fast["image"]).total.item()
            speedup = ref["seconds"] / fast["seconds"]
            print(
                f"  {name}: {fast['passes']} passes ({fast['full_size_passes']} at full size) in {fast['seconds']:.1f} s"
                f" -> loss {fast_loss:.5g} ({'reached' if fast_loss <= bar else 'NOT reached'}): x{speedup:.1f} faster",
                flush=True,
            )
            result["fast"][name] = {
                "seconds": fast["seconds"],
                "passes": fast["passes"],
                "full_size_passes": fast["full_size_passes"],
                "loss": fast_loss,
                "reached": fast_loss <= bar,
                "speedup_time": speedup,
            }
        print()
        report["sizes"][f"{h}x{w}"] = result
        write_report(report, args.out)  # after every size: a long run leaves what it measured
    if not args.no_memory and args.memory:
        report["peak_memory_mib"] = {}
        print("## peak memory, 3 L-BFGS steps (fresh process each)")
        for side in args.memory.split(","):
            mib = peak_memory(int(side), device.type)
            report["peak_memory_mib"][side] = mib
            print(f"  {side}x{side}: {mib:,.0f} MiB", flush=True)
        write_report(report, args.out)
    if not args.no_notebooks:
        print("## notebooks in CI mode (NSTLIB_FAST=1), kernel start included")
        report["notebooks_ci_s"] = notebook_times()
    write_report(report, args.out)


def write_report(report: dict, out: Path) -> None:
    """Write <device>.json and a markdown table."""
    out.mkdir(parents=True, exist_ok=True)
    name = report["device"]
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"# Benchmark results: {report['machine']}",
        "",
        f"Reference: d2l 14.12's loop, {report['epochs']} Adam epochs. Fast path: nstlib, frozen VGG, "
        "channels_last, precomputed targets, on CUDA the pass replayed as a CUDA graph; nstlib's L-BFGS on the "
        "image's spectrum (`FourierImage`) or its pixels "
        "(a pyramid runs a half-size level first), stopped when it reaches the reference's final loss "
        "(same objective, same weights, one shared evaluation).",
        "",
    ]
    if report["sizes"]:
        lines += [
            "| size (HxW) | reference: time, loss | nstlib path | passes (at full size) | time | loss | speed-up (time) |",
            "|---|---|---|---|---|---|---|",
        ]
    for size, r in report["sizes"].items():
        for path_name, f in r["fast"].items():
            mark = "" if f["reached"] else " (bar not reached)"
            lines.append(
                f"| {size} | {r['reference_seconds']:.1f} s, {r['reference_loss']:.4g} | {path_name} | "
                f"{f['passes']} ({f['full_size_passes']}) | {f['seconds']:.1f} s | {f['loss']:.4g}{mark} | "
                f"**x{f['speedup_time']:.1f}** |"
            )
    if report["sizes"]:
        levers = list(next(iter(report["sizes"].values()))["levers_s_per_pass"])
        lines += [
            "",
            "Seconds per forward/backward pass (median), and the ratio to d2l's setting:",
            "",
            "| size | " + " | ".join(levers) + " |",
            "|---|" + "---|" * len(levers),
        ]
    for size, r in report["sizes"].items():
        ref = next(iter(r["levers_s_per_pass"].values()))
        lines.append(
            f"| {size} | "
            + " | ".join(f"{v:.3f} s (x{ref / v:.2f})" for v in r["levers_s_per_pass"].values())
            + " |"
        )
    if "fixed_work" in report:
        fw = report["fixed_work"]
        lines += [
            "",
            f"{fw['iterations']} L-BFGS iterations at {fw['side']}x{fw['side']} px (nstlib defaults, Fourier "
            "image; targets included, after a warm-up run; each image scored in fp32):",
            "",
            "| setting | seconds | ms / iteration | loss | first run, 5 steps (set-up included) |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['setting']} | {r['seconds']:.2f} | {r['seconds'] / fw['iterations'] * 1000:.2f} | {r['loss']:.4g} | {r['first_5_steps_s']:.2f} s |"
            for r in fw["rows"]
        ]
    if "peak_memory_mib" in report:
        kind = (
            "max_memory_allocated"
            if report["device"] == "cuda"
            else "peak RSS, reset after loading the weights"
        )
        lines += ["", f"Peak memory ({kind}), 3 L-BFGS steps:", "", "| side | MiB |", "|---|---|"]
        lines += [f"| {s}x{s} | {m:,.0f} |" for s, m in report["peak_memory_mib"].items()]
    if "notebooks_ci_s" in report:
        lines += [
            "",
            "Notebooks in CI mode (NSTLIB_FAST=1, as `python -m pytest` runs them), kernel start included:",
            "",
        ]
        lines += ["| notebook | seconds |", "|---|---|"]
        lines += [f"| {n} | {t:.1f} |" for n, t in report["notebooks_ci_s"].items()]
        lines.append(f"| all | {sum(report['notebooks_ci_s'].values()):.1f} |")
    if report.get("notes"):
        lines += ["", "Notes:", ""] + [f"- {note}" for note in report["notes"]]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / (name + '.md')}")


if __name__ == "__main__":
    main()
