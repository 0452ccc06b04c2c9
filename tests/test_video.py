"""Video: flow, warping, occlusions, the temporal loss and error, clips in and out, the command line.

The clip is synthetic: a window panning a whole number of pixels a frame over a course photo, so the
true motion and the uncovered strip are known exactly.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import nstlib as nl
from nstlib.images import preprocess
from nstlib.video import (
    TemporalLoss,
    WithTemporal,
    flow_pair,
    flow_to_color,
    occlusions,
    pan,
    probe,
    read_frames,
    realtime_frames,
    stylize_frames,
    temporal_error,
    warp,
    warp_frame,
    write_video,
)
from nstlib.video import cli as video_cli
from nstlib.video.cli import main
from nstlib.video.stylize import DEFAULT_BLEND, DEFAULT_TEMPORAL_WEIGHT
from tests.helpers import IMG, ROOT

CAFE = str(IMG / "style" / "van-gogh-night-cafe.jpg")
DX = 3  # the pan's speed: px a frame, to the right


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    """Five 64x48 frames of a pan over the cat photo, DX px a frame."""
    return pan(
        nl.load_image(IMG / "content" / "chelsea-cat.jpg", 160), shape=(48, 64), frames=5, step=(DX, 0)
    )


@pytest.fixture(scope="module")
def clip_file(clip, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    write_video(clip, path, fps=10)
    return str(path)


def test_warping_with_the_known_motion_reproduces_the_next_frame(clip):
    a, b = clip[0], clip[1]
    known = np.zeros((*a.shape[:2], 2), np.float32)
    known[..., 0] = DX  # b(x) = a(x + DX)
    inside = np.s_[:, :-DX]  # the last DX columns were out of view in a
    assert np.array_equal(warp_frame(a, known)[inside], b[inside])  # whole pixels: exact
    unwarped = np.abs(a.astype(float) - b).mean()
    for method in ("dis", "farneback"):
        backward, _ = flow_pair(a, b, method=method)
        assert np.abs(backward[inside] - known[inside]).mean() < 0.1
        err = np.abs(warp_frame(a, backward).astype(float) - b)[inside].mean()
        assert err < 1.0 < unwarped / 10, (method, err, unwarped)  # grey levels of 255
    # the tensor form moves a normalised image the same way
    moved = warp(preprocess(Image.fromarray(a)), known)
    assert torch.allclose(moved[..., :-DX], preprocess(Image.fromarray(b))[..., :-DX], atol=1e-5)


def test_the_occlusion_mask_marks_the_uncovered_strip_and_nothing_else(clip):
    backward, forward = flow_pair(clip[1], clip[2])
    occluded = occlusions(backward, forward)
    assert occluded[:, -DX:].mean() > 0.95  # the strip the pan brings into view
    assert occluded[:, : -DX - 1].mean() < 0.01
    still, back = flow_pair(clip[1], clip[1])
    assert not occlusions(still, back).any() and not occlusions(still, back, boundaries=True).any()
    # a flow that disagrees with its way back (a made-up occluder) is marked where it disagrees
    wrong = forward.copy()
    wrong[10:20, 10:20] += 5
    marked = occlusions(backward, wrong)
    assert marked[12:18, 7:17].mean() > 0.8 and marked[30:, :40].mean() < 0.01
    assert flow_to_color(backward).shape == (*clip[0].shape[:2], 3)


def test_the_temporal_error_of_a_consistent_clip_is_near_zero_and_flicker_raises_it(clip):
    steady = [255 - f for f in clip]  # a "stylisation" that follows the motion exactly
    rng = np.random.default_rng(0)
    flicker = [
        np.clip(f.astype(int) + rng.integers(-20, 21, f.shape), 0, 255).astype(np.uint8) for f in steady
    ]
    e = temporal_error(steady, clip)
    assert e["E"] < 0.005 and len(e["curve"]) == len(clip) - 1
    assert temporal_error(clip, clip)["relative"] == 1.0
    noisy = temporal_error(flicker, clip)
    assert noisy["E"] > 10 * e["E"] and noisy["relative"] > 10 * e["relative"]
    still = [clip[0]] * 3
    assert temporal_error(still, still)["E"] == pytest.approx(0, abs=1e-6)


def test_the_temporal_loss_falls_as_the_frame_moves_toward_the_warped_past(clip):
    photo = preprocess(Image.fromarray(clip[1]))
    past = preprocess(Image.fromarray(255 - clip[1]))  # far from the photo
    mask = torch.ones(1, 1, *photo.shape[-2:])
    mask[..., :, -DX:] = 0
    loss = TemporalLoss(past, mask, photo)
    values = [float(loss(photo + a * (past - photo))) for a in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert values[0] == pytest.approx(1.0) and values[-1] == pytest.approx(0.0, abs=1e-6)
    assert all(x > y for x, y in zip(values, values[1:]))
    changed = photo.clone()
    changed[..., -1] += 3  # a masked-out (occluded) column does not count
    assert float(loss(changed)) == pytest.approx(1.0)


def test_the_temporal_term_is_added_to_the_courses_objective(clip):
    photo = preprocess(Image.fromarray(clip[1]))
    style = nl.load_tensor(CAFE, 64)
    base = nl.StyleTransferLoss(
        nl.recipe_extractor(), photo, style, **nl.recipes.objective(strength=nl.DEFAULT_STRENGTH)
    )
    past = preprocess(Image.fromarray(255 - clip[1]))
    both = WithTemporal(base, TemporalLoss(past, torch.ones(1, 1, 48, 64), photo), weight=3.0)
    terms, plain = both(photo), base(photo)
    assert float(terms.temporal) == pytest.approx(3.0)
    assert float(terms.total) == pytest.approx(float(plain.total) + 3.0, rel=1e-5)


def test_clips_round_trip_through_mp4_and_gif(clip, tmp_path):
    mp4, gif = tmp_path / "a.mp4", tmp_path / "a.gif"
    write_video(clip, mp4, fps=10)
    frames, fps = read_frames(mp4)
    assert fps == 10 and len(frames) == len(clip) and frames[0].shape == clip[0].shape
    assert np.mean([np.abs(a.astype(float) - b).mean() for a, b in zip(frames, clip)]) < 4  # lossy, not far
    assert probe(mp4) == nl.video.ClipInfo(64, 48, 10.0, len(clip))
    assert len(read_frames(mp4, fps=5)[0]) == 3 and len(read_frames(mp4, max_frames=2)[0]) == 2
    assert read_frames(mp4, size=32)[0][0].shape == (24, 32, 3)
    write_video(clip, gif, fps=10)
    assert len(read_frames(gif)[0]) == len(clip)
    write_video([f[:47, :63] for f in clip], tmp_path / "odd.mp4", fps=10)  # odd sides: padded to even
    assert read_frames(tmp_path / "odd.mp4")[0][0].shape == (48, 64, 3)
    assert not list(tmp_path.glob(".*part*"))  # written atomically: no temporary file left


def test_a_real_time_blend_along_the_flow_flickers_less(clip):
    net = nl.realtime.load_model("night-cafe")
    plain = [f.pixels for f in realtime_frames(clip, net, blend=0)]
    blended = [f.pixels for f in realtime_frames(clip, net, blend=0.6)]
    assert temporal_error(blended, clip)["E"] < 0.8 * temporal_error(plain, clip)["E"]
    assert np.array_equal(blended[0], plain[0])  # the first frame has no past
    with pytest.raises(nl.NSTError, match="blend"):
        list(realtime_frames(clip, net, blend=1))


def test_only_a_warped_start_takes_a_temporal_loss(clip):
    style = nl.load_tensor(CAFE, 64)
    with pytest.raises(nl.NSTError, match="start='warped'"):
        next(stylize_frames(clip, style, start="content", temporal_weight=1))
    with pytest.raises(nl.NSTError, match="unknown start"):
        next(stylize_frames(clip, style, start="sideways"))


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line
    return err


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.mp4", "--style", CAFE], "missing.mp4: no such file"),
        (["CLIP", "--style", CAFE, "--model", "night-cafe"], "not allowed with argument"),
        (["CLIP"], "one of the arguments --style --model --painting is required"),
        (["CLIP", "--model", "night-cafe", "--temporal-weight", "2"], "with --model or --painting use --blend"),
        (["CLIP", "--style", CAFE, "--blend", "0.5"], "--blend is for --model"),
        (["CLIP", "--style", CAFE, "--size", "8"], "must be at least 16 px"),
    ],
)
def test_bad_command_lines_get_one_line(clip_file, tmp_path, capsys, args, message):
    args = [clip_file if a == "CLIP" else a for a in args]
    assert main([*args, "-o", str(tmp_path / "o.mp4")]) == 2
    assert message in _error(capsys)
    assert not (tmp_path / "o.mp4").exists()


def test_unreadable_clips_and_outputs_are_refused(clip_file, tmp_path, capsys):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert main([str(text), "-o", str(tmp_path / "o.mp4"), "--style", CAFE]) == 2
    assert "notes.mp4: not a video FFmpeg can read" in _error(capsys)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(open(clip_file, "rb").read()[:600])  # a truncated download
    assert main([str(cut), "-o", str(tmp_path / "o.mp4"), "--style", CAFE]) == 2
    assert "cut.mp4: " in _error(capsys)
    assert main([clip_file, "-o", clip_file, "--style", CAFE, "--force"]) == 2
    assert "is the input clip" in _error(capsys)
    (tmp_path / "old.mp4").write_bytes(b"")
    assert main([clip_file, "-o", str(tmp_path / "old.mp4"), "--style", CAFE]) == 2
    assert "add --force" in _error(capsys)
    assert main([clip_file, "-o", str(tmp_path / "o.avi"), "--style", CAFE]) == 2
    assert "end the name in .mp4 or .gif" in _error(capsys)


def test_a_size_too_large_for_memory_is_refused_with_one_that_fits(clip_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(video_cli, "available_bytes", lambda device: 905 * 2**20)  # torch alone: 900 MiB
    assert main([clip_file, "-o", str(tmp_path / "o.mp4"), "--style", CAFE]) == 2
    err = _error(capsys)
    assert re.search(
        r"64x48 px x 5 frames needs about .* of memory but cpu has 949 MB free; use --size \d+ or less", err
    )
    fits = int(re.search(r"--size (\d+)", err).group(1))
    assert (
        16 <= fits < 64
        and video_cli.video_bytes(*(fits * 3 // 4, fits), 5, optimise=True, device="cpu") <= 905 * 2**20
    )


def test_the_command_line_stylises_a_clip(clip_file, tmp_path, capsys):
    out = tmp_path / "out.gif"
    args = [clip_file, "-o", str(out), "--style", CAFE, "--max-frames", "3", "--steps", "4", "--quiet"]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert re.fullmatch(
        r"wrote .*out\.gif \(3 frames, 64x48 px, 10 fps, strength 20, "
        rf"temporal weight {DEFAULT_TEMPORAL_WEIGHT:g}, cpu\) in [\d.]+ s; "
        r"first frame [\d.]+ s, later [\d.]+ s each; temporal error [\d.]+x the input's\n",
        said,
    ), said
    frames, fps = read_frames(out)
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3) and fps == 10
    assert main([*args, "--model", "night-cafe"]) == 2  # one way at a time
    assert main([clip_file, "-o", str(out), "--model", "night-cafe", "--force", "--quiet", "--fps", "5"]) == 0
    said = capsys.readouterr().out
    assert f"(3 frames, 64x48 px, 5 fps, model night-cafe, blend {DEFAULT_BLEND:g}, cpu)" in said


def test_python_dash_m_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "nstlib.video", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0 and "--temporal-weight" in done.stdout


def test_every_clip_has_a_credit_row():
    credits = (IMG / "CREDITS.md").read_text()
    rows = set(re.findall(r"^\| ([\w.-]+\.(?:mp4|gif|webm)) \|", credits, flags=re.M))
    clips = {p.name for p in (IMG / "video").iterdir() if p.is_file()}
    assert clips and clips == rows
    for path in (IMG / "video").iterdir():
        info = probe(path)
        assert path.stat().st_size <= 2e6 and info.frames / info.fps <= 4  # small and short


def test_a_scene_cut_is_stylised_like_a_first_frame(clip):
    other = pan(nl.load_image(IMG / "content" / "coffee.jpg", 160), shape=(48, 64), frames=2, step=(DX, 0))
    spliced = clip[:2] + other
    style = nl.load_tensor(CAFE, 64)
    with_rule = list(stylize_frames(spliced, style, steps=3))
    without = list(stylize_frames(spliced, style, steps=3, cut_below=0))
    assert with_rule[2].reliable < 0.3 < with_rule[3].reliable  # the cut, then motion again
    # with the rule the cut frame starts from its own photo; without, from the previous shot warped
    alone = next(stylize_frames(spliced[2:3], style, steps=3))
    assert np.array_equal(with_rule[2].pixels, alone.pixels)
    own = [np.abs(f[2].pixels.astype(float) - spliced[2]).mean() for f in (with_rule, without)]
    assert own[0] < own[1]
