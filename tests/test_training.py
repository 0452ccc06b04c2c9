import math

import pytest
import torch

import nstlib as nl
from conftest import small


def _style_distance(ext, image, style):
    """Mean over layers of the relative Gram distance to the style image."""
    a, b = ext(image), ext(style)
    return sum(
        float((nl.gram(a[n]) - nl.gram(b[n])).norm() / nl.gram(b[n]).norm()) for n in nl.STYLE_LAYERS
    ) / len(nl.STYLE_LAYERS)


@pytest.fixture(scope="module")
def images():
    return small("content/chelsea-cat.jpg", 64), small("style/van-gogh-night-cafe.jpg", 64)


def test_real_stylisation_moves_toward_the_style(images, caffe_net, random_net):
    content, style = images
    judge = nl.FeatureExtractor(nl.STYLE_LAYERS + nl.CONTENT_LAYERS, net=caffe_net)
    pretrained = nl.stylize(content, style, extractor=judge, optimizer="lbfgs", steps=40, progress=False)
    h = pretrained.history
    assert h["style"][-1] < h["style"][0] / 5  # measured 10.5x at 40 steps (random-init: none)
    before = _style_distance(judge, content, style)
    after = _style_distance(judge, pretrained.image, style)
    assert after < 0.6 * before
    # Same run through a random-init VGG: judged by the pretrained net, it barely moves.
    rand_ext = nl.FeatureExtractor(nl.STYLE_LAYERS + nl.CONTENT_LAYERS, net=random_net)
    control = nl.stylize(content, style, extractor=rand_ext, optimizer="lbfgs", steps=40, progress=False)
    control_after = _style_distance(judge, control.image, style)
    assert (before - after) > 3 * (before - control_after)
    # ...and it is still the cat: in pixels it stays nearer the photo than the painting is.
    painting = nl.init_image(content, style, init="style")
    assert (pretrained.image - content).abs().mean() < 0.5 * (painting - content).abs().mean()


def test_adam_lowers_the_loss_and_follows_steplr(images, random_net):
    content, style = images
    ext = nl.FeatureExtractor(nl.STYLE_LAYERS + nl.CONTENT_LAYERS, net=random_net)
    r = nl.stylize(content, style, extractor=ext, steps=60, progress=False, lr_decay_step=20)
    h = r.history
    assert h["total"][-1] < h["total"][0]
    assert r.evaluations == 60 and h["step"] == list(range(1, 61))
    assert (
        h["lr"][0] == 0.3 and math.isclose(h["lr"][20], 0.3 * 0.8) and math.isclose(h["lr"][59], 0.3 * 0.8**2)
    )
    assert r.image.shape == content.shape and not r.image.requires_grad


def test_same_seed_same_output(images, random_net):
    content, style = images
    ext = nl.FeatureExtractor(nl.STYLE_LAYERS + nl.CONTENT_LAYERS, net=random_net)
    runs = [
        nl.stylize(content, style, extractor=ext, init="noise", seed=7, steps=5, progress=False) for _ in "ab"
    ]
    assert torch.equal(runs[0].image, runs[1].image)
    assert runs[0].history == {**runs[1].history}


def test_callback_every_k_steps_and_after_the_last(images, random_net):
    content, style = images
    ext = nl.FeatureExtractor(["relu1_1", "conv4_2"], net=random_net)
    seen = []
    nl.stylize(
        content,
        style,
        extractor=ext,
        style_layers=["relu1_1"],
        steps=7,
        progress=False,
        callback=lambda step, img, terms: seen.append((step, img.shape, terms.total.item())),
        callback_every=3,
    )
    assert [s for s, _, _ in seen] == [3, 6, 7] and seen[0][1] == content.shape


def test_nan_loss_stops_with_advice():
    synth = nl.SynthesizedImage(torch.zeros(1, 3, 4, 4))

    def exploding(img):
        t = (img * float("nan")).sum()
        return nl.LossTerms(t, t, t, t)

    with pytest.raises(nl.NSTError, match=r"loss became nan at step 1 with adam lr=0.3; .*try lr=0.03"):
        nl.train(synth, exploding, steps=3, progress=False)


def test_argument_errors():
    synth = nl.SynthesizedImage(torch.zeros(1, 3, 4, 4))
    with pytest.raises(nl.NSTError, match="unknown optimizer 'sgd'"):
        nl.train(synth, None, optimizer="sgd")
    with pytest.raises(nl.NSTError, match="steps must be a whole number >= 0, got -1"):
        nl.train(synth, None, steps=-1)
    with pytest.raises(nl.NSTError, match="lr must be > 0"):
        nl.train(synth, None, lr=0)
