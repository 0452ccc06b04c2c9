import pytest
import torch
from torch.nn import functional as F

import nstlib as nl
from nstlib.recipes import objective
from tests.helpers import small


def test_inplace_relu_trap_is_avoided(caffe_net):
    x = small("content/chelsea-cat.jpg")
    # The d2l way: run the torchvision layers in order and keep the conv output...
    kept, y = None, x
    for i, layer in enumerate(caffe_net[:3]):
        y = layer(y)
        if i == 0:
            kept = y
    # ...which the in-place ReLU at index 1 has since overwritten with its rectified copy.
    assert kept.min() >= 0
    conv1_1 = F.conv2d(x, caffe_net[0].weight, caffe_net[0].bias, padding=1)
    assert conv1_1.min() < 0
    feats = nl.FeatureExtractor(["conv1_1", "relu1_1", "conv1_2"], net=caffe_net)(x)
    assert torch.allclose(feats["conv1_1"], conv1_1, atol=1e-5)
    assert torch.allclose(feats["relu1_1"], conv1_1.clamp(min=0), atol=1e-5)


def test_truncated_after_deepest_layer(random_net):
    ext = nl.FeatureExtractor(["conv4_2", "relu1_1"], net=random_net)
    assert len(ext.net) == nl.LAYERS["conv4_2"] + 1
    assert ext.layers == ("conv4_2", "relu1_1")
    assert set(ext(torch.randn(1, 3, 32, 32))) == {"conv4_2", "relu1_1"}


def test_frozen_and_stays_in_eval(random_net):
    ext = nl.FeatureExtractor(net=random_net)
    ext.train()
    assert not ext.training and not any(p.requires_grad for p in ext.parameters())


def test_gradient_flows_to_the_image_only(random_net):
    ext = nl.FeatureExtractor(["relu3_1"], net=random_net)
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    ext(x)["relu3_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in ext.parameters())


def test_min_size_and_clear_error(random_net):
    ext = nl.FeatureExtractor(["relu5_1"], net=random_net)
    assert ext.min_size == 16
    assert nl.FeatureExtractor(["pool5"], net=random_net).min_size == 32
    assert nl.FeatureExtractor(["relu1_1"], net=random_net).min_size == 1
    ext(torch.randn(1, 3, 16, 16))  # exactly the minimum works
    with pytest.raises(nl.NSTError, match="is 20x12 px; .* at least 16 px"):
        ext(torch.randn(1, 3, 12, 20))
    with pytest.raises(nl.NSTError, match=r"expected a \(N, 3, H, W\) tensor"):
        ext(torch.randn(3, 32, 32))


def test_average_pooling_option(random_net):
    ext = nl.FeatureExtractor(["relu3_1"], net=random_net, pooling="avg")
    assert sum(isinstance(m, torch.nn.AvgPool2d) for m in ext.net) == 2
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in ext.net)
    assert isinstance(random_net[4], torch.nn.MaxPool2d)  # the shared net is not modified
    # The library's one wording for a bad choice (errors.check_choice), as for every other option.
    with pytest.raises(nl.NSTError, match="^unknown pooling 'median'; choose one of max, avg$"):
        nl.FeatureExtractor(net=random_net, pooling="median")


def test_channels_last_gives_the_same_features_and_gradients(caffe_net):
    x = small("content/chelsea-cat.jpg")
    layers = ["relu1_1", "conv4_2", "relu5_1"]
    outs, grads = [], []
    for cl in (False, True):
        ext = nl.FeatureExtractor(layers, net=caffe_net, channels_last=cl)
        img = x.clone().requires_grad_(True)
        feats = ext(img)
        assert feats["relu1_1"].is_contiguous(memory_format=torch.channels_last) == cl
        sum(f.square().mean() for f in feats.values()).backward()
        outs.append(feats)
        grads.append(img.grad)
    for name in layers:
        scale = outs[0][name].abs().max()
        assert (outs[0][name] - outs[1][name]).abs().max() <= 1e-5 * scale
    # Rounding can flip a max-pool tie or a value at ReLU's kink, rerouting a pixel's gradient
    # (2 of 8256 here), so the gradients are compared as a whole.
    assert (grads[0] - grads[1]).norm() <= 1e-2 * grads[0].norm()


def test_a_pass_for_some_layers_stops_after_the_deepest_of_them(random_net):
    ext = nl.FeatureExtractor(["relu1_1", "relu3_1", "relu5_1"], net=random_net)
    x = torch.randn(1, 3, 48, 48)
    full, part = ext(x), ext(x, layers=("relu1_1", "relu3_1"))
    assert set(part) == {"relu1_1", "relu3_1"}
    assert all(torch.equal(part[n], full[n]) for n in part)
    ran = []
    hook = ext.net[nl.LAYERS["relu3_1"] + 1].register_forward_hook(lambda *_: ran.append(1))
    ext(x, layers=("relu3_1",))
    hook.remove()
    assert ran == []  # the module after relu3_1 never ran
    with pytest.raises(nl.NSTError, match=r"layers must be a non-empty subset of the extractor's"):
        ext(x, layers=("relu4_1",))


def test_a_loss_skips_the_layers_it_weighs_zero_and_keeps_its_value(caffe_net):
    content, style = small("content/chelsea-cat.jpg", 128), small("style/van-gogh-night-cafe.jpg", 128)
    ext = nl.recipe_extractor(net=caffe_net)
    loss = nl.StyleTransferLoss(ext, content, style, **objective())
    assert loss.layer_weights["relu5_1"] == 0 and "relu5_1" not in loss.tapped  # by size, at 128 px
    image = content + 0.1 * torch.randn_like(content)
    fast = loss(image)

    class EveryLayer(type(ext)):  # the pass before: every layer computed, relu5_1 weighted 0
        def forward(self, x, layers=None):
            return super().forward(x)

    loss.extractor.__class__ = EveryLayer
    slow = loss(image)
    loss.extractor.__class__ = nl.FeatureExtractor
    assert torch.equal(fast.total, slow.total)
    zero = {n for n, w in loss.layer_weights.items() if w == 0}  # relu4_1 too at 128 px
    assert set(slow.style_per_layer) - set(fast.style_per_layer) == zero


def test_a_loss_with_every_style_layer_off_has_a_zero_style_term(random_net):
    content, style = small("content/chelsea-cat.jpg"), small("style/van-gogh-night-cafe.jpg")
    ext = nl.recipe_extractor(net=random_net)
    loss = nl.StyleTransferLoss(ext, content, style, **{**objective(), "style_layer_weights": [0.0] * 5})
    terms = loss(content + 0.1)
    assert loss.tapped == ("relu4_2",) and terms.style.item() == 0 and terms.content.item() > 0
