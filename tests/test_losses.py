import copy

import pytest
import torch

import nstlib as nl


def test_gram_of_a_hand_made_tensor():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # channels [1, 2] and [3, 4]
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / (2 * 1 * 2)
    assert torch.allclose(nl.gram(x), expected.unsqueeze(0))


def test_gram_ignores_where_features_are():
    x = torch.randn(1, 4, 6, 5)
    shuffled = x.flatten(2)[:, :, torch.randperm(30)].view(1, 4, 6, 5)
    assert torch.allclose(nl.gram(x), nl.gram(shuffled), atol=1e-6)


def test_content_loss_values():
    y = torch.randn(1, 8, 4, 4)
    assert nl.content_loss(y, y) == 0
    assert torch.isclose(nl.content_loss(y + 2, y), torch.tensor(4.0))


def test_style_loss_values():
    y = torch.randn(1, 3, 5, 5)
    assert nl.style_loss(y, nl.gram(y)) == 0
    assert torch.isclose(nl.style_loss(y, nl.gram(y) + 0.5), torch.tensor(0.25))


def test_tv_of_a_hand_made_image():
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).view(1, 1, 2, 2)
    # vertical differences 2 and 2, horizontal 1 and 1: (2 + 1) / 2
    assert torch.isclose(nl.tv_loss(x), torch.tensor(1.5))
    assert nl.tv_loss(torch.ones(1, 3, 7, 9)) == 0


def test_per_image_content_and_tv_losses_known_values():
    """The normalised objective's per-photo terms are the teaching functions with per_image=True."""
    zeros = torch.zeros(2, 3, 4, 4)
    shifted = torch.stack([torch.full((3, 4, 4), 1.0), torch.full((3, 4, 4), 2.0)])
    assert torch.equal(nl.content_loss(shifted, zeros, per_image=True), torch.tensor([1.0, 4.0]))
    assert nl.content_loss(shifted, zeros) == 2.5  # the batch mean, as before
    one_target = zeros[:1]  # one image against a batch broadcasts (the style image in normalize=True)
    assert torch.equal(nl.content_loss(shifted, one_target, per_image=True), torch.tensor([1.0, 4.0]))
    ramp = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).view(1, 1, 2, 2)
    both = torch.cat([ramp, torch.ones_like(ramp)])
    assert torch.equal(nl.tv_loss(both, per_image=True), torch.tensor([1.5, 0.0]))
    assert nl.tv_loss(both) == 0.75


@pytest.fixture(scope="module")
def setup(random_net):
    ext = nl.FeatureExtractor(nl.STYLE_LAYERS + nl.CONTENT_LAYERS + ("relu4_2",), net=random_net)
    content, style = torch.randn(1, 3, 32, 48), torch.randn(1, 3, 40, 40)
    return ext, content, style


def test_total_is_the_weighted_sum(setup):
    ext, content, style = setup
    loss = nl.StyleTransferLoss(ext, content, style, content_weight=2, style_weight=3, tv_weight=5)
    img = torch.randn_like(content)
    terms = loss(img)
    feats = ext(img)
    c = nl.content_loss(feats["conv4_2"], ext(content)["conv4_2"])
    s = sum(nl.style_loss(feats[n], nl.gram(ext(style)[n])) for n in nl.STYLE_LAYERS)
    assert torch.isclose(terms.content, 2 * c) and torch.isclose(terms.style, 3 * s)
    assert torch.isclose(terms.tv, 5 * nl.tv_loss(img))
    assert torch.isclose(terms.total, terms.content + terms.style + terms.tv)
    assert set(terms.style_per_layer) == set(nl.STYLE_LAYERS)
    assert loss(content).content == 0


def test_style_layer_weights(setup):
    ext, content, style = setup
    img = torch.randn_like(content)
    only = nl.StyleTransferLoss(ext, content, style, style_weight=1, style_layer_weights={"relu3_1": 1})
    terms = only(img)
    assert torch.isclose(terms.style, terms.style_per_layer["relu3_1"])
    seq = nl.StyleTransferLoss(ext, content, style, style_weight=1, style_layer_weights=[0, 0, 2, 0, 0])
    assert torch.isclose(seq(img).style, 2 * terms.style)
    with pytest.raises(nl.NSTError, match="3 style_layer_weights for 5 style layers"):
        nl.StyleTransferLoss(ext, content, style, style_layer_weights=[1, 1, 1])
    with pytest.raises(nl.NSTError, match="not in style_layers"):
        nl.StyleTransferLoss(ext, content, style, style_layer_weights={"relu4_4": 1})
    with pytest.raises(nl.NSTError, match="weight of relu1_1 must be >= 0"):
        nl.StyleTransferLoss(ext, content, style, style_layer_weights=[-1, 1, 1, 1, 1])


def test_bad_weights_layers_and_sizes(setup):
    ext, content, style = setup
    with pytest.raises(nl.NSTError, match="style_weight must be >= 0, got -1"):
        nl.StyleTransferLoss(ext, content, style, style_weight=-1)
    with pytest.raises(nl.NSTError, match="tv_weight must be >= 0, got nan"):
        nl.StyleTransferLoss(ext, content, style, tv_weight=float("nan"))
    with pytest.raises(nl.NSTError, match="does not tap relu4_4"):
        nl.StyleTransferLoss(ext, content, style, content_layers=["relu4_4"])
    loss = nl.StyleTransferLoss(ext, content, style)
    with pytest.raises(nl.NSTError, match="synthesise as many images as photos, at the content.s size"):
        loss(torch.randn(1, 3, 32, 32))
    with pytest.raises(nl.NSTError, match="style image is 8x8 px"):
        nl.StyleTransferLoss(ext, content, torch.randn(1, 3, 8, 8))


def test_style_blend_targets_the_weighted_mean_gram(setup):
    ext, content, style = setup
    other = torch.randn(1, 3, 36, 36)
    one = nl.StyleTransferLoss(ext, content, style)
    two = nl.StyleTransferLoss(ext, content, other)
    mixed = nl.StyleTransferLoss(ext, content, [style, other], style_blend=[7, 3])
    assert mixed.style_term.blend == [0.7, 0.3]
    for n in nl.STYLE_LAYERS:
        assert torch.allclose(
            mixed.style_term.targets[n],
            0.7 * one.style_term.targets[n] + 0.3 * two.style_term.targets[n],
            atol=1e-6,
        )
    only_first = nl.StyleTransferLoss(ext, content, [style, other], style_blend=[1, 0])
    assert torch.allclose(only_first.style_term.targets["relu3_1"], one.style_term.targets["relu3_1"])
    assert nl.StyleTransferLoss(ext, content, [style, other]).style_term.blend == [0.5, 0.5]
    with pytest.raises(nl.NSTError, match="1 style weights for 2 style images"):
        nl.StyleTransferLoss(ext, content, [style, other], style_blend=[1])
    with pytest.raises(nl.NSTError, match="must be >= 0 and not all 0"):
        nl.StyleTransferLoss(ext, content, [style, other], style_blend=[1, -1])
    with pytest.raises(nl.NSTError, match="style image 2 is 8x8 px"):
        nl.StyleTransferLoss(ext, content, [style, torch.randn(1, 3, 8, 8)])


def test_targets_and_divisors_follow_to(random_net):
    from nstlib.recipes import objective

    ext = nl.FeatureExtractor(nl.STYLE_LAYERS + ("relu4_2",), net=copy.deepcopy(random_net))  # .to() moves it
    content, style = torch.randn(1, 3, 32, 48), torch.randn(1, 3, 40, 40)
    loss = nl.StyleTransferLoss(ext, content, style, **objective())  # normalised: with divisors
    image = content + 0.1 * torch.randn_like(content)
    before = loss(image).total.item()
    assert loss.to(torch.float64) is loss
    held = [loss.content_targets, loss.style_term.targets, loss.content_scale, loss.style_scale]
    assert (
        all(t.dtype == torch.float64 for d in held for t in d.values())
        and loss.tv_scale.dtype == torch.float64
    )
    # derived from the images, so not saved with the loss: only the network's weights are
    assert set(loss.state_dict()) == {f"extractor.{k}" for k in ext.state_dict()}
    after = loss(image.double()).total
    assert after.dtype == torch.float64 and after.item() == pytest.approx(before, rel=1e-4)


def test_degenerate_pairs_are_refused_with_their_cause(setup):
    from nstlib.recipes import objective

    ext, content, style = setup
    flat = torch.zeros_like(content)  # one colour: its total variation is 0
    with pytest.raises(
        nl.NSTError, match=r"content image is flat .*; use a photo with detail, or tv_weight=0$"
    ):
        nl.StyleTransferLoss(ext, flat, style, **objective())
    off = nl.StyleTransferLoss(ext, flat, style, **objective(tv_weight=0))  # TV off: nothing to scale
    assert off.tv_scale.item() == 1 and torch.isfinite(off(flat + 0.1).total)
    resized = torch.nn.functional.interpolate(content, size=(40, 40))  # a resized copy differs: allowed
    with pytest.raises(nl.NSTError, match="content and style images are the same picture"):
        nl.StyleTransferLoss(ext, content, content, **objective())
    assert torch.isfinite(nl.StyleTransferLoss(ext, content, resized, **objective())(content).total)
