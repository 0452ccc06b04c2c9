"""The video command line's order of work: every argument checked before a frame is decoded or a bar drawn."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import nstlib as nl
from nstlib.arbitrary import shipped_decoders
from nstlib.video import pan, read_frames, write_video
from nstlib.video.cli import main
from tests.helpers import IMG


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> str:
    """Three 64x48 frames of a pan over the cat photo, as an MP4."""
    frames = pan(
        nl.load_image(IMG / "content" / "chelsea-cat.jpg", 160), shape=(48, 64), frames=3, step=(3, 0)
    )
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    write_video(frames, path, fps=10)
    return str(path)


@pytest.mark.parametrize(
    "how, message",
    [
        (["--model", "no-such-model"], "no-such-model: no such model file or shipped model"),
        (["--style", "missing.jpg"], "missing.jpg: no such file"),
        (["--painting", "missing.jpg"], "missing.jpg: no such file"),
    ],
)
def test_an_unknown_model_or_painting_is_the_first_and_only_line(clip_file, tmp_path, capsys, how, message):
    out = tmp_path / "o.mp4"
    assert main([clip_file, "-o", str(out), *how]) == 2  # no --quiet: a bar drawn first would show here
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_a_size_above_the_clips_own_is_capped_with_one_line_saying_so(clip_file, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    assert main([clip_file, "-o", str(out), "--model", "night-cafe", "--size", "50000", "--quiet"]) == 0
    said = capsys.readouterr()
    assert said.err == (
        "note: --size 50000 capped to 64 px, the clip's own long side (64x48 px): "
        "enlarging frames would add time and memory, not detail\n"
    )
    frames, _ = read_frames(out)
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3)
    assert (
        main([clip_file, "-o", str(out), "--model", "night-cafe", "--size", "32", "--quiet", "--force"]) == 0
    )
    assert capsys.readouterr().err == ""  # a smaller size: nothing to say


def test_the_bar_starts_after_the_model_loads_and_counts_every_frame(clip_file, tmp_path, capsys):
    out = tmp_path / "o.gif"
    assert main([clip_file, "-o", str(out), "--model", "night-cafe"]) == 0
    lines = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if line.strip()]
    assert lines and all(line.startswith("stylising: ") for line in lines), lines
    assert "3/3" in lines[-1]
    assert np.asarray(Image.open(out)).shape[:2] == (48, 64)


@pytest.mark.skipif(not shipped_decoders(), reason="no decoders in models/arbitrary yet")
def test_any_painting_stylises_a_clip_in_one_pass_a_frame(clip_file, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    painting = str(IMG / "style" / "van-gogh-pere-tanguy.jpg")
    assert main([clip_file, "-o", str(out), "--painting", painting, "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "painting van-gogh-pere-tanguy.jpg (whitening and colouring), blend 0.5" in said, said
    frames, _ = read_frames(out)
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3)
    assert (
        main([clip_file, "-o", str(tmp_path / "p.mp4"), "--painting", painting, "--temporal-weight", "1"])
        == 2
    )
    assert "with --model or --painting use --blend" in capsys.readouterr().err
