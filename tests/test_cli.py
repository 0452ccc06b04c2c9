import shutil
import subprocess
import sys

import pytest
from PIL import Image

import nstlib as nl
from conftest import IMG, ROOT
from nstlib.cli import main

CAT = str(IMG / "content" / "chelsea-cat.jpg")
CAFE = str(IMG / "style" / "van-gogh-night-cafe.jpg")
FAST = ["--size", "32", "--steps", "2", "--quiet"]


def test_writes_the_result_and_says_where(tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main([CAT, CAFE, "-o", str(out), *FAST, "--optimizer", "adam"]) == 0
    assert Image.open(out).size == (32, 21)
    said = capsys.readouterr().out
    device = nl.default_device()
    assert said.startswith(f"wrote {out} (32x21 px, 2 adam steps (fourier), caffe weights, {device}) in ")
    assert said.endswith(" s\n")


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
        ([str(IMG), CAFE], "is a directory"),
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
    with pytest.raises(SystemExit) as exit_info:
        main([CAT, CAFE, "-o", str(tmp_path / "o.jpg"), flag, value])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_python_dash_m_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "nstlib", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0 and "--style-weight" in done.stdout and "content" in done.stdout


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
