"""Video, judged independently: known motion (a pan, a moving disc), Xu et al.'s frame-difference loss,
the occlusion mask's ablation, and the content ratio restricted to a region."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import nstlib as nl
from nstlib.images import preprocess
from nstlib.video import (
    FrameDifferenceLoss,
    pan,
    pan_motion,
    sprite_clip,
    stylize_frames,
    temporal_error,
    warping_errors,
)
from nstlib.video.flow import flow_pair, occlusions
from tests.helpers import IMG

CAFE = str(IMG / "style" / "van-gogh-night-cafe.jpg")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.asarray(nl.load_image(IMG / "content" / "chelsea-cat.jpg", 160))


@pytest.fixture(scope="module")
def disc_clip(photo):
    """A 24-px disc of coffee moving 4 px right a frame over a still 64x48 crop of the cat."""
    coffee = np.asarray(nl.load_image(IMG / "content" / "coffee.jpg", 60))[:24, :24]
    return sprite_clip(photo[20:68, 40:104], coffee, frames=4, step=(4, 0), at=(6, 12))


def test_a_pans_known_motion_warps_each_frame_onto_the_next_exactly(photo):
    clip = pan(Image.fromarray(photo), shape=(48, 64), frames=4, step=(-3, 2))
    motion = pan_motion((48, 64), 4, (-3, 2))
    assert len(motion) == 3 and all(keep.mean() < 1 for _, keep in motion)  # the uncovered strips
    assert max(warping_errors(clip, motion)) < 1e-6
    wrong = pan_motion((48, 64), 4, (-2, 2))  # one px off the true motion: an error appears
    assert min(warping_errors(clip, wrong)) > 0.01


def test_a_moving_disc_uncovers_the_background_behind_it_and_nothing_else(disc_clip):
    clip, motion = disc_clip
    assert max(warping_errors(clip, motion)) < 1e-6
    flow, keep = motion[0]
    untrusted = ~keep
    assert 0.01 < untrusted.mean() < 0.1
    ys, xs = np.nonzero(untrusted)
    assert xs.min() >= 6 and xs.max() < 6 + 4 + 24  # behind the disc's first place, on its trailing side
    assert np.allclose(flow[keep & (flow[..., 0] != 0)], (-4, 0))  # the disc's pixels came from 4 px left
    # DIS finds the same: its round trip fails mostly where the disc uncovered the background
    back, forward = flow_pair(clip[0], clip[1])
    found = occlusions(back, forward)
    assert found[untrusted].mean() > 3 * found[keep].mean()


def test_the_frame_difference_loss_is_one_at_the_photo_and_zero_when_the_change_matches(photo):
    before, now = photo[:48, :64], photo[2:50, 3:67]
    b, n = preprocess(Image.fromarray(before)), preprocess(Image.fromarray(now))
    tinted = (before * np.array([1.0, 0.8, 0.5])).astype(np.uint8)
    previous = preprocess(Image.fromarray(tinted))  # a previous "result": its photo, recoloured
    features = nl.FeatureExtractor(("relu2_1",))
    pixels, both = (FrameDifferenceLoss(previous, b, n, features=ext) for ext in (None, features))
    for loss in (pixels, both):
        assert float(loss(n)) == pytest.approx(1.0, rel=1e-5)
        assert float(loss(previous)) > 1  # not changing at all is penalised where the photo changed
    # the result that changes exactly as the photos did, previous + (now - before): 0 in pixels; VGG's
    # features are not linear, so the feature term is small there but not 0
    matched = previous + n - b
    assert float(pixels(matched)) == pytest.approx(0.0, abs=1e-9)
    assert float(both(matched)) < 0.2 * float(both(previous))


def test_the_region_restricts_the_content_ratio_to_its_pixels(photo):
    style = nl.load_tensor(CAFE, 64)
    p = nl.load_image(IMG / "content" / "chelsea-cat.jpg", 64)
    c = preprocess(p)
    out = c.clone()
    out[..., :, 32:] = preprocess(Image.fromarray(255 - np.asarray(p)))[..., :, 32:]  # right half wrecked
    judge = nl.FeatureExtractor(nl.quality.MEASURE_LAYERS)
    left, right = torch.zeros(c.shape[-2:]), torch.zeros(c.shape[-2:])
    left[:, :24], right[:, 40:] = 1, 1
    whole = nl.result_ratios(out, c, style, judge)["content"]
    on_left = nl.result_ratios(out, c, style, judge, region=left)["content"]
    on_right = nl.result_ratios(out, c, style, judge, region=right)["content"]
    assert on_left < whole < on_right
    assert nl.result_ratios(c, c, style, judge, region=right)["content"] == pytest.approx(0, abs=1e-6)
    with pytest.raises(nl.NSTError, match="region"):
        nl.result_ratios(out, c, style, judge, region=torch.zeros(3, 3))


def test_without_the_occlusion_mask_the_disc_leaves_a_ghost_behind(disc_clip):
    clip, motion = disc_clip
    style = nl.load_tensor(CAFE, 64)
    first = next(stylize_frames(clip[:1], style, steps=20))
    start = preprocess(Image.fromarray(first.pixels))
    runs = {
        mask: [
            f.pixels
            for f in stylize_frames(
                clip, style, steps=20, first=start, occlusion_mask=mask, temporal_weight=100
            )
        ]  # fmt: skip
        for mask in (True, False)
    }
    # on the background the disc uncovered, the unmasked run keeps more of the disc's past picture
    uncovered = ~motion[0][1]
    ghost = {
        m: np.abs(r[1].astype(float) - r[0].astype(float)).mean(-1)[uncovered].mean() for m, r in runs.items()
    }
    assert ghost[True] > ghost[False]
    e = {m: temporal_error(r, clip, motion=motion)["E"] for m, r in runs.items()}
    assert all(np.isfinite(v) for v in e.values())


def test_the_flow_free_loss_makes_the_result_change_as_the_photo_does(photo):
    rng = np.random.default_rng(0)
    still = photo[20:68, 40:104].astype(float)
    clip = [
        np.clip(still + rng.normal(0, 6, still.shape), 0, 255).astype(np.uint8) for _ in range(3)
    ]  # noise only
    style = nl.load_tensor(CAFE, 64)
    opts = dict(steps=8, start="content")
    runs = {"alone": stylize_frames(clip, style, **opts),
            "frame difference": stylize_frames(clip, style, temporal="difference", temporal_weight=50, **opts)}  # fmt: skip
    photos = np.diff(np.asarray(clip, float), axis=0)
    # how far each result's change from frame to frame is from its photos' change: what the loss penalises
    off = {
        k: np.abs(np.diff([f.pixels.astype(float) for f in r], axis=0) - photos).mean()
        for k, r in runs.items()
    }
    assert off["frame difference"] < 0.8 * off["alone"]
    with pytest.raises(nl.NSTError, match="temporal"):
        next(stylize_frames(clip, style, temporal="sideways"))
