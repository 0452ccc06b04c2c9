import shutil
import subprocess
import sys

import pytest
import torch
from PIL import Image

import nstlib as nl
from nstlib.cli import main
from nstlib.losses import StyleTransferLoss
from nstlib.passes import resolve_precision
from nstlib.recipes import objective
from tests.helpers import IMG, ROOT

CAT = str(IMG / "content" / "chelsea-cat.jpg")
CAFE = str(IMG / "style" / "van-gogh-night-cafe.jpg")
FAST = ["--size", "32", "--steps", "2", "--quiet"]


def test_writes_the_result_and_says_where(tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main([CAT, CAFE, "-o", str(out), *FAST, "--optimizer", "adam"]) == 0
    assert Image.open(out).size == (32, 21)
    said = capsys.readouterr().out
    device = nl.default_device()
    strength = f"strength {nl.DEFAULT_STRENGTH:g}"
    precision = resolve_precision("auto", device)  # bf16 or fp16 on a GPU, named in the line
    extra = "" if precision == "fp32" else f", {precision}"
    assert said.startswith(f"wrote {out} (32x21 px, {strength}, fourier{extra}, caffe weights, {device}) in ")
    assert said.endswith(" s; 2 adam steps, stopped: --steps cap\n")


def test_the_summary_says_why_it_stopped_and_which_objective(tmp_path, capsys):
    out = tmp_path / "out.png"
    args = [CAT, CAFE, "-o", str(out), "--size", "32", "--quiet", "--steps", "400", "--tol", "0.05"]
    assert main(args) == 0
    said = capsys.readouterr().out
    steps = int(said.split("; ")[-1].split()[0])
    assert steps < 400 and said.endswith("lbfgs steps, stopped: loss fell < 0.05 over 30 steps\n")
    assert main([*args, "--force", "--style-weight", "1e4", "--steps", "3"]) == 0
    # --style-weight switches the content layer too (conv4_2 instead of relu4_2): the line says so.
    assert "style weight 10000, d2l's raw objective (content conv4_2)," in capsys.readouterr().out


def test_help_states_which_content_layer_each_objective_uses():
    from nstlib.cli import build_parser
    from nstlib.recipes import NORMALIZED_CONTENT_LAYERS

    helps = {a.dest: " ".join(a.help.split()) for a in build_parser()._actions if a.help}
    assert f"switches the content layer to {nl.CONTENT_LAYERS[0]}" in helps["style_weight"]
    assert helps["strength"].endswith(f"content layer {NORMALIZED_CONTENT_LAYERS[0]}")
    assert objective()["content_layers"] == NORMALIZED_CONTENT_LAYERS == ("relu4_2",)
    assert objective(style_weight=1e4)["content_layers"] == nl.CONTENT_LAYERS == ("conv4_2",)
    doc = " ".join(objective.__doc__.split())
    assert "content relu4_2" in doc and "content conv4_2" in doc


def test_both_commands_share_one_parser_with_one_line_errors(capsys):
    from nstlib import course
    from nstlib.cli import build_parser
    from nstlib.errors import OneLineParser

    assert type(build_parser()) is type(course._build_parser()) is OneLineParser
    with pytest.raises(SystemExit) as done:
        course.main(["reset"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the following arguments are required: CHAPTER")
    assert err.endswith("(see python -m nstlib.course reset --help)\n") and err.count("\n") == 1


def test_the_default_size_follows_the_device(tmp_path, monkeypatch):
    from nstlib import cli
    from nstlib.cli import DEFAULT_SIZE, SMALL_CPU_SIZE, working_size

    photo = Image.new("RGB", (900, 600))
    assert (
        working_size(photo, tmp_path / "p.jpg", None, False, "cpu") == SMALL_CPU_SIZE == 256
    )  # no bf16 here
    monkeypatch.setattr(cli, "has_cpu_bf16_units", lambda: True)
    assert working_size(photo, tmp_path / "p.jpg", None, False, "cpu") == DEFAULT_SIZE["cpu"] == 512
    assert working_size(photo, tmp_path / "p.jpg", None, False, "cuda") == DEFAULT_SIZE["cuda"] == 512
    assert working_size(Image.new("RGB", (300, 200)), tmp_path / "q.jpg", None, False, "cuda") == 300


def test_refuses_to_overwrite_inputs(tmp_path, capsys):
    content = tmp_path / "cat.jpg"
    shutil.copy(CAT, content)
    before = content.read_bytes()
    assert main([str(content), CAFE, "-o", str(content), *FAST]) == 2
    assert content.read_bytes() == before
    assert "is an input image" in capsys.readouterr().err
    link = tmp_path / "link.jpg"
    link.symlink_to(content)
    assert main([str(content), CAFE, "-o", str(link), *FAST]) == 2


def test_existing_output_needs_force(tmp_path, capsys):
    out = tmp_path / "out.jpg"
    out.write_bytes(b"keep me")
    assert main([CAT, CAFE, "-o", str(out), *FAST]) == 2
    assert out.read_bytes() == b"keep me"
    assert "add --force" in capsys.readouterr().err
    assert main([CAT, CAFE, "-o", str(out), *FAST, "--force"]) == 0
    assert Image.open(out).size == (32, 21)


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.jpg", CAFE], "missing.jpg: no such file"),
        (
            [str(IMG), CAFE],
            "is a folder of photos, so -o names a folder for their results, not the image file",
        ),
        ([CAT, CAFE, "--size", "8"], f"content image {CAT} is 8x5 px; .* at least 16 px"),
    ],
)
def test_bad_input_gives_one_line(tmp_path, capsys, args, message):
    import re

    assert main([*args, "-o", str(tmp_path / "o.jpg"), "--steps", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and re.search(message, err)
    assert not (tmp_path / "o.jpg").exists()


def test_bad_files(tmp_path, capsys):
    text = tmp_path / "style.jpg"
    text.write_text("hello")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(open(CAT, "rb").read()[:3000])
    assert main([CAT, str(text), "-o", str(tmp_path / "a.jpg"), *FAST]) == 2
    assert main([str(broken), CAFE, "-o", str(tmp_path / "b.jpg"), *FAST]) == 2
    assert main([CAT, CAFE, "-o", str(tmp_path / "c.txt"), *FAST]) == 2
    assert main([CAT, CAFE, "-o", str(tmp_path / "no" / "c.jpg"), *FAST]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "style.jpg: not an image" in err[0] and "broken.jpg: the file is damaged or truncated" in err[1]
    assert "unknown image type '.txt'" in err[2] and "does not exist; create it first" in err[3]


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--steps", "-3", "argument --steps: must be >= 0, got -3"),
        ("--style-weight", "-1", "argument --style-weight: must be >= 0"),
        ("--size", "0", "argument --size: must be a positive number"),
        ("--optimizer", "sgd", "argument --optimizer: invalid choice: 'sgd'"),
        ("--weights", "imagenet", "argument --weights: invalid choice: 'imagenet'"),
    ],
)
def test_bad_options(tmp_path, capsys, flag, value, message):
    assert main([CAT, CAFE, "-o", str(tmp_path / "o.jpg"), flag, value]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("error: ")


def test_python_dash_m_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "nstlib", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0 and "--style-weight" in done.stdout and "content" in done.stdout


def test_importing_nstlib_leaves_torch_unloaded_until_a_name_needs_it():
    code = (
        "import sys, nstlib as nl; before = 'torch' in sys.modules; nl.gram; nl.quality.as_pixels; "
        "print(before, 'torch' in sys.modules, 'nstlib.quality' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.split() == ["False", "True", "True"], done.stderr
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        nl.nothing  # noqa: B018


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_terminal_sees_a_line_before_torch_loads():
    """On a terminal the first thing written says PyTorch is loading (it takes seconds)."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: the command line on a terminal
        os.chdir(ROOT)
        fcntl.ioctl(2, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 0-column tty hides bars
        os.execv(sys.executable, [sys.executable, "-m", "nstlib", "--help"])
    said = b""
    while b"usage:" not in said:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child has exited
            break
        if not chunk:
            break
        said += chunk
    os.waitpid(pid, 0)
    assert said.lstrip(b"\r").startswith(b"starting (loading PyTorch)"), said[:80]
    assert b"usage: python -m nstlib" in said


HOKUSAI = str(IMG / "style" / "hokusai-great-wave.jpg")


@pytest.mark.parametrize(
    "extra",
    [
        ["--preserve-color", "luminance"],
        ["--preserve-color", "histogram"],
        ["--style", HOKUSAI, "--style-weights", "0.7", "0.3"],
        ["--style-scale", "2", "--pyramid", "2"],
        ["--parametrization", "pixels"],
        ["--precision", "bf16"],
    ],
)
def test_perceptual_controls_run(tmp_path, capsys, extra):
    out = tmp_path / "o.png"
    assert main([CAT, CAFE, "-o", str(out), "--size", "64", "--steps", "2", "--quiet", *extra]) == 0
    assert Image.open(out).size == (64, 43)
    if "bf16" in extra:
        assert ", bf16, caffe weights" in capsys.readouterr().out


def test_style_scale_sets_the_painting_size_the_style_grams_come_from(tmp_path, monkeypatch):
    """--style-scale S: the target Grams are the painting's at S x the photo's long side, so a bigger S
    means bigger strokes in pixels (neighbouring pixels of the painting differ less)."""
    from nstlib import cli

    built = []

    class Spy(StyleTransferLoss):
        def __init__(self, extractor, content, style, **options):
            super().__init__(extractor, content, style, **options)
            built.append(self)

    monkeypatch.setattr(cli, "StyleTransferLoss", Spy)
    painting = nl.load_image(CAFE)
    fine_detail = {}
    for scale in (0.5, 2.0):
        out = tmp_path / f"{scale}.png"
        assert main([CAT, CAFE, "-o", str(out), "--size", "64", "--steps", "2", "--quiet",
                     "--style-scale", str(scale)]) == 0  # fmt: skip
        loss = built[-1]
        style = nl.preprocess(nl.resize(painting, max_size=round(scale * 64)))
        with torch.no_grad():
            feats = loss.extractor(style)
        for name, target in loss.style_term.targets.items():
            assert torch.allclose(target, nl.gram(feats[name]), rtol=1e-4, atol=1e-6), (scale, name)
        fine_detail[scale] = float(nl.tv_loss(nl.images.to_pixels(style)))
    # Mean neighbour difference of the painting's pixels (tv_loss), measured: 0.066 at S = 0.5, 0.048 at 2.
    assert fine_detail == pytest.approx({0.5: 0.0656, 2.0: 0.0483}, rel=0.01)


def test_luminance_mode_keeps_the_photo_colours(tmp_path):
    import numpy as np

    out = tmp_path / "o.png"
    assert (
        main(
            [
                CAT,
                CAFE,
                "-o",
                str(out),
                "--size",
                "40",
                "--steps",
                "5",
                "--quiet",
                "--preserve-color",
                "luminance",
            ]
        )
        == 0
    )
    result = np.asarray(Image.open(out).convert("YCbCr"), float)[..., 1:]
    photo = np.asarray(Image.open(CAT).resize((40, 27)).convert("YCbCr"), float)[..., 1:]
    assert np.abs(result - photo).mean() < 3  # chroma within a few levels (rounding, clamping)


def test_mask_controls(tmp_path, capsys):
    mask = Image.new("L", (40, 27), 0)
    mask.paste(255, (0, 0, 20, 27))
    mask.save(tmp_path / "m.png")
    out = tmp_path / "o.png"
    args = [
        CAT,
        CAFE,
        "-o",
        str(out),
        "--size",
        "40",
        "--steps",
        "2",
        "--quiet",
        "--mask",
        str(tmp_path / "m.png"),
    ]
    assert main(args) == 0
    assert main([*args[:3], str(tmp_path / "two.png"), *args[4:], "--style", HOKUSAI]) == 0
    assert main([*args[:3], str(tmp_path / "x.png"), *args[4:], "--style", HOKUSAI, "--style", HOKUSAI]) == 2
    assert (
        main(
            [CAT, CAFE, "-o", str(tmp_path / "y.png"), "--style", HOKUSAI, "--style-weights", "1", "--quiet"]
        )
        == 2
    )
    Image.new("L", (40, 40), 255).save(tmp_path / "square.png")
    assert main([*args[:3], str(tmp_path / "z.png"), *args[4:-1], str(tmp_path / "square.png")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "give one or two styles with --mask" in err[0]
    assert "1 --style-weights for 2 style images" in err[1]
    assert "different aspect ratio" in err[2]


def _table_row(tmp_path, name):
    """(argv, expected exit, stderr pattern) for one row of the README's bad-input table."""
    out = str(tmp_path / "out.jpg")
    gray, rgba = tmp_path / "gray.png", tmp_path / "rgba.png"
    Image.open(CAT).convert("L").save(gray)
    Image.open(CAT).convert("RGBA").save(rgba)
    (tmp_path / "notes.jpg").write_text("not a picture")
    (tmp_path / "exists.jpg").write_bytes(b"keep")
    (tmp_path / "folder").mkdir()
    rows = {
        "missing file": ([str(tmp_path / "nope.jpg"), CAFE, "-o", out], 2, r"nope\.jpg: no such file"),
        "non-image": ([str(tmp_path / "notes.jpg"), CAFE, "-o", out], 2, r"notes\.jpg: not an image"),
        "output = input": ([CAT, CAFE, "-o", CAT], 2, "is an input image; choose another output"),
        "folder as output": (
            [CAT, CAFE, "-o", str(tmp_path / "folder")],
            2,
            r"is a folder; name the output file",
        ),
        "missing folder": (
            [CAT, CAFE, "-o", str(tmp_path / "no" / "o.jpg")],
            2,
            "does not exist; create it first",
        ),
        "unknown extension": ([CAT, CAFE, "-o", str(tmp_path / "o.txt")], 2, r"unknown image type '\.txt'"),
        "existing output": ([CAT, CAFE, "-o", str(tmp_path / "exists.jpg")], 2, "already exists; .* --force"),
        "size 0": ([CAT, CAFE, "-o", out, "--size", "0"], 2, "--size: must be a positive number of pixels"),
        "size 3": ([CAT, CAFE, "-o", out, "--size", "3"], 2, r"is 3x2 px; .* at least 16 px"),
        "size huge": (
            [CAT, CAFE, "-o", out, "--size", "20000"],
            2,
            r"would enlarge it 44\.3x; use --size 451",
        ),
        "steps -1": ([CAT, CAFE, "-o", out, "--steps", "-1"], 2, "--steps: must be >= 0, got -1"),
        "grayscale": ([str(gray), CAFE, "-o", out], 0, ""),
        "RGBA": ([str(rgba), CAFE, "-o", out], 0, ""),
    }
    return rows[name]


ROWS = [
    "missing file", "non-image", "output = input", "folder as output", "missing folder", "unknown extension",
    "existing output", "size 0", "size 3", "size huge", "steps -1", "grayscale", "RGBA",
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS)
def test_bad_input_table(tmp_path, capsys, row):
    import re

    argv, code, pattern = _table_row(tmp_path, row)
    keep = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    extra = [
        "--quiet",
        *([] if "--steps" in argv else ["--steps", "1"]),
        *([] if "--size" in argv else ["--size", "32"]),
    ]
    assert main([*argv, *extra]) == code
    err = capsys.readouterr().err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("error: ") and re.search(pattern, err), err
    else:  # documented conversion: grayscale copied to R, G, B; alpha composited over white
        assert err == "" and Image.open(tmp_path / "out.jpg").mode == "RGB"
    assert all(p.read_bytes() == b for p, b in keep.items())  # nothing overwritten


def test_upscaling_needs_the_flag_and_a_huge_run_is_refused_before_it_starts(tmp_path, capsys):
    out = tmp_path / "o.jpg"
    assert main([CAT, CAFE, "-o", str(out), "--size", "20000", "--upscale", "--quiet"]) == 2
    err = capsys.readouterr().err
    # 20000x13304 px needs ~1.7 TB: refused with the estimate, the free memory and a size that fits
    device = nl.default_device()  # the CLI's own default
    assert (
        err.count("\n") == 1 and f"a 20000x13304 px run needs about 1.7 TB of memory but {device} has" in err
    )
    assert not out.exists()
    tiny = tmp_path / "tiny.png"
    Image.open(CAT).resize((30, 20)).save(tiny)
    assert main([str(tiny), CAFE, "-o", str(out), "--size", "48", *FAST[2:]]) == 2
    assert "tiny.png is 30x20 px and --size 48 would enlarge it 1.6x" in capsys.readouterr().err
    assert main([str(tiny), CAFE, "-o", str(out), "--size", "48", "--upscale", *FAST[2:]]) == 0
    assert Image.open(out).size == (48, 32)
    assert main([str(tiny), CAFE, "-o", str(tmp_path / "own.jpg"), *FAST[2:]]) == 0  # default: its own size
    assert Image.open(tmp_path / "own.jpg").size == (30, 20)


def test_memory_estimate_follows_the_measured_peaks(monkeypatch):
    from nstlib import resources

    # the command line's own peaks (resources.MEASURED_PEAKS_MIB): the estimate is >= 1.1x each
    for (side, optimizer, *_), mib in resources.MEASURED_PEAKS_MIB.items():
        assert 1.1 <= resources.estimate_bytes(side, side, optimizer=optimizer) / 2**20 / mib < 1.75
    # the pixel-image benchmark's peaks (benchmarks/results/cpu.md: d2l's objective, zero padding)
    for side, mib in ((256, 1175), (512, 2203), (1024, 6038)):
        assert resources.estimate_bytes(side, side) / 2**20 > 1.1 * mib
    assert resources.estimate_bytes(512, 512, batch=4) > 3.5 * (
        resources.estimate_bytes(512, 512) - 900 * 2**20
    )
    monkeypatch.setattr(resources, "available_bytes", lambda device: 3 * 2**30)
    with pytest.raises(nl.NSTError, match=r"use --size (\d+) or less") as err:
        resources.check_fits(1000, 1500)
    largest = int(err.value.args[0].split("--size ")[1].split()[0])
    assert (
        resources.estimate_bytes(largest * 2 // 3, largest)
        <= 3 * 2**30
        < resources.estimate_bytes(1000, 1500)
    )
    resources.check_fits(largest * 2 // 3, largest)  # fits: no error


def test_several_photos_go_into_a_folder_in_batches(tmp_path, capsys):
    cat2 = tmp_path / "cat2.jpg"
    Image.open(CAT).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(cat2)
    coffee = str(IMG / "content" / "coffee.jpg")
    out = tmp_path / "results"
    assert main([CAT, str(cat2), coffee, CAFE, "-o", str(out), *FAST, "--batch", "2"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert sorted(p.name for p in out.iterdir()) == ["cat2.jpg", "chelsea-cat.jpg", "coffee.jpg"]
    assert len(said) == 3 and all(line.startswith(f"wrote {out}") for line in said)
    assert Image.open(out / "cat2.jpg").size == (32, 21)
    assert main([CAT, coffee, CAFE, "-o", str(out), *FAST]) == 2  # exists: nothing overwritten
    assert "already exists" in capsys.readouterr().err
    assert main([CAT, coffee, CAFE, "-o", CAT, *FAST]) == 2
    assert "several photos need a folder" in capsys.readouterr().err


@pytest.mark.parametrize("style_weight", [None, 1e4])  # normalised (per-photo divisors) and d2l's raw
def test_a_batch_gives_each_photo_the_result_it_gets_alone(random_net, style_weight):
    # The loss sums the photos' losses, so each gets the gradient it would get alone; Adam's update
    # is per pixel, so a batch gives the same pictures as one-by-one runs.
    a, b = small_pair = [
        nl.preprocess(nl.load_image(p, shape=(24, 36))) for p in (CAT, str(IMG / "content" / "coffee.jpg"))
    ]
    style = nl.preprocess(nl.load_image(CAFE, max_size=36))
    ext = nl.FeatureExtractor(nl.STYLE_LAYERS + nl.CONTENT_LAYERS + ("relu4_2",), net=random_net)
    options = objective(style_weight=style_weight)
    moved = torch.cat(small_pair) + 0.3 * torch.randn(
        2, 3, 24, 36, generator=torch.Generator().manual_seed(0)
    )
    moved.requires_grad_(True)
    StyleTransferLoss(ext, torch.cat(small_pair), style, **options)(moved).total.backward()
    for k, photo in enumerate(small_pair):
        one = moved[k : k + 1].detach().requires_grad_(True)
        StyleTransferLoss(ext, photo, style, **options)(one).total.backward()
        scale = one.grad.abs().max().item()  # rounding of batched vs single convolutions, to 1e-4 of it
        torch.testing.assert_close(moved.grad[k : k + 1], one.grad, rtol=1e-3, atol=1e-4 * scale)
    run = dict(extractor=ext, optimizer="adam", parametrization="pixels", steps=5, progress=False)
    both = nl.stylize(torch.cat(small_pair), style, style_weight=style_weight, **run)
    alone = [nl.stylize(x, style, style_weight=style_weight, **run) for x in (a, b)]
    assert both.image.shape == (2, 3, 24, 36)
    assert both.history["total"][0] == pytest.approx(sum(r.history["total"][0] for r in alone), rel=1e-5)
    if style_weight is not None:  # raw losses are large: Adam's steps agree to rounding
        for k in range(2):
            torch.testing.assert_close(both.image[k : k + 1], alone[k].image, rtol=0, atol=1e-4)


def test_help_states_the_tv_defaults_the_objective_uses():
    from nstlib.cli import build_parser

    (action,) = [a for a in build_parser()._actions if "--tv-weight" in a.option_strings]
    normalised, raw = objective()["tv_weight"], objective(style_weight=1e4)["tv_weight"]
    assert (normalised, raw) == (0.1, 10.0)
    assert f"default {normalised:g}," in action.help and f"; {raw:g} with --style-weight" in action.help


def test_the_progress_bar_counts_steps_to_a_maximum_without_a_time_left_estimate(tmp_path, capsys):
    """The stop rule usually ends a run long before --steps: no remaining time computed from the cap."""
    out = tmp_path / "o.jpg"
    assert main([CAT, CAFE, "-o", str(out), "--size", "32", "--steps", "30"]) == 0
    bars = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if "lbfgs" in line]
    assert bars and all("of at most 30, stops when the loss settles [" in line for line in bars), bars
    assert all("<" not in line for line in bars)  # tqdm writes the time left as [elapsed<remaining]
    assert any("loss=" in line for line in bars)  # read back every 10 steps (tqdm may skip a redraw)
    # --tol 0 runs every step: then the total is exact and tqdm's usual bar (with time left) is honest
    assert main([CAT, CAFE, "-o", str(out), "--size", "32", "--steps", "3", "--tol", "0", "--force"]) == 0
    bars = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if "lbfgs" in line]
    assert "3/3 [" in bars[-1] and "at most" not in bars[-1]


def test_a_sketch_runs_first_and_the_summary_counts_both_sizes(tmp_path, capsys):
    out = tmp_path / "o.jpg"
    # an explicit --sketch runs at any size (the default sketches from 384 px on, when --steps is not given)
    assert (
        main([CAT, CAFE, "-o", str(out), "--size", "64", "--sketch", "3", "--steps", "2", "--tol", "0"]) == 0
    )
    captured = capsys.readouterr()
    assert captured.out.rstrip().endswith("; 3 half-size sketch steps + 2 lbfgs steps, stopped: --steps cap")
    bars = [line for line in captured.err.replace("\r", "\n").splitlines() if "lbfgs" in line]
    assert "5/5 [" in bars[-1]  # the bar counts the sketch's steps and the full size's
    assert main([CAT, CAFE, "-o", str(out), "--size", "64", "--sketch", "2", "--steps", "0", "--force"]) == 0
    assert "; 2 half-size sketch steps + 0 lbfgs steps" in capsys.readouterr().out
    code = main([CAT, CAFE, "-o", str(out), "--size", "64", "--sketch", "2", "--pyramid", "2", "--force"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--sketch" in err and "--pyramid" in err
