from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

import nstlib as nl
from nstlib.features import BORDER_PADDING
from nstlib.images import from_pixels
from nstlib.quality import as_pixels, border_excess, border_ratio, distance_to_edge, laplacian_magnitude

IMG = Path(__file__).resolve().parent.parent / "img"


def noise(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Uniform [0, 1) pixels, (1, 3, h, w)."""
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_laplacian_is_zero_on_a_ramp_and_counts_a_spike_five_times():
    ramp = torch.linspace(0, 1, 20).view(1, 1, 1, 20).expand(1, 3, 12, 20)
    lap = laplacian_magnitude(from_pixels(ramp))
    assert lap.shape == (12, 20) and lap[:, 1:-1].abs().max() < 1e-5
    spike = torch.zeros(1, 3, 9, 9)
    spike[..., 4, 4] = 0.5
    lap = laplacian_magnitude(from_pixels(spike))
    assert lap.sum().item() == pytest.approx(0.5 * 8, rel=1e-4)  # 4 x 0.5 at the spike, 0.5 at 4 neighbours


def test_uniform_noise_has_a_ratio_near_one():
    assert border_ratio(from_pixels(noise(96, 128))) == pytest.approx(1.0, abs=0.05)


def test_noise_only_in_the_border_band_gives_a_large_ratio():
    calm = 0.5 + 0.02 * noise(64, 96, seed=1)
    busy = calm.clone()
    busy[..., :4, :] = noise(4, 96, seed=2)
    busy[..., -4:, :] = noise(4, 96, seed=3)
    busy[..., :, :4] = noise(64, 4, seed=4)
    busy[..., :, -4:] = noise(64, 4, seed=5)
    assert border_ratio(from_pixels(calm)) == pytest.approx(1.0, abs=0.1)
    assert border_ratio(from_pixels(busy)) > 10
    assert border_excess(from_pixels(busy), from_pixels(calm)) > 10
    # A quiet frame (noise only inside) gives 0: nothing in the band but the interior's spill-over.
    framed = torch.full((1, 3, 64, 96), 0.5)
    framed[..., 8:-8, 8:-8] = noise(48, 80, seed=6)
    assert border_ratio(from_pixels(framed)) == 0.0


def test_ring_compares_the_band_with_the_pixels_just_inside_it():
    # Calm outer 16 px (weak noise), busy centre: the frame is calm against the interior,
    # but no calmer than the ring just inside it -- there is no edge effect.
    x = 0.5 + 0.05 * noise(64, 96, seed=7)
    x[..., 16:-16, 16:-16] = noise(32, 64, seed=8)
    assert border_ratio(from_pixels(x)) < 0.3
    assert border_ratio(from_pixels(x), ring=8) == pytest.approx(1.0, abs=0.1)
    assert border_ratio(from_pixels(noise(64, 96)), ring=8) == pytest.approx(1.0, abs=0.1)
    speckled = x.clone()
    speckled[..., :2, :] = noise(2, 96, seed=9)
    assert border_excess(from_pixels(speckled), from_pixels(x), ring=8) > 3


def test_distance_to_edge():
    d = distance_to_edge(5, 6)
    assert d[0].tolist() == [0] * 6 and d[2].tolist() == [0, 1, 2, 2, 1, 0] and d.max() == 2


def test_pil_images_arrays_and_tensors_agree():
    x = noise(40, 60)
    img = nl.postprocess(from_pixels(x))
    arr = np.asarray(img)
    assert torch.allclose(as_pixels(img), as_pixels(arr))
    assert as_pixels(from_pixels(x)).sub(x).abs().max() < 1e-5  # de-normalised
    assert border_ratio(img) == pytest.approx(border_ratio(from_pixels(x)), rel=1e-2)
    assert border_ratio(Image.fromarray(arr).convert("L")) == pytest.approx(border_ratio(img), rel=0.2)
    assert border_excess(img, img) == pytest.approx(1.0)


def test_band_and_input_errors():
    x = from_pixels(noise(20, 30))
    with pytest.raises(nl.NSTError, match="leave an interior"):
        border_ratio(x, band=10)
    with pytest.raises(nl.NSTError, match="leave an interior"):
        border_ratio(x, band=0)
    with pytest.raises(nl.NSTError, match="leave an interior"):
        border_ratio(x, band=4, ring=6)
    with pytest.raises(nl.NSTError, match="inside is flat"):
        border_ratio(from_pixels(torch.full((1, 3, 20, 30), 0.3)))
    with pytest.raises(nl.NSTError, match=r"\(1, 3, H, W\)"):
        border_ratio(torch.zeros(2, 3, 20, 30))


def test_margin_is_the_net_on_the_mirrored_image_cropped_to_the_image(random_net):
    layers = nl.STYLE_LAYERS + nl.CONTENT_LAYERS
    x = torch.randn(1, 3, 37, 50)
    plain = nl.FeatureExtractor(layers, net=random_net)
    mirrored = nl.FeatureExtractor(layers, net=random_net, margin=16)
    got, whole = mirrored(x), plain(F.pad(x, (16, 16, 16, 16), mode="reflect"))
    strides = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8, "conv4_2": 8, "relu5_1": 16}
    for name, f in plain(x).items():
        k = 16 // strides[name]
        assert got[name].shape == f.shape, name  # the shapes the image alone gives
        crop = whole[name][..., k : k + f.shape[-2], k : k + f.shape[-1]]
        assert torch.allclose(got[name], crop, atol=1e-6), name
    # Away from the edge relu1_1 (3x3 window) is unchanged; at the edge it differs (no zeros).
    a, b = got["relu1_1"], plain(x)["relu1_1"]
    assert torch.allclose(a[..., 1:-1, 1:-1], b[..., 1:-1, 1:-1], atol=1e-5)
    assert not torch.allclose(a[..., 0, :], b[..., 0, :], atol=1e-3)


def test_margin_is_clamped_to_small_images_and_checked(random_net):
    ext = nl.FeatureExtractor(["relu2_1"], net=random_net, margin=40)
    assert ext(torch.randn(1, 3, 16, 20))["relu2_1"].shape == (1, 128, 8, 10)
    assert nl.FeatureExtractor(["relu2_1"], net=random_net).margin == 0
    for bad in (-1, 2.5, True):
        with pytest.raises(nl.NSTError, match="margin must be a whole number"):
            nl.FeatureExtractor(["relu2_1"], net=random_net, margin=bad)


def test_reflect_padding_is_the_conv_on_a_mirrored_map_and_leaves_the_shared_net_alone(random_net):
    x = torch.randn(1, 3, 37, 50)
    plain = nl.FeatureExtractor(["conv1_1", "relu5_1"], net=random_net)
    before = plain(x)
    reflect = nl.FeatureExtractor(["conv1_1", "relu5_1"], net=random_net, padding="reflect")
    conv = random_net[0]
    expected = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), conv.weight, conv.bias)
    got = reflect(x)
    assert torch.allclose(got["conv1_1"], expected, atol=1e-5)
    a, b = got["conv1_1"], before["conv1_1"]
    # A 3x3 window away from the edge never reaches the padding; one on the edge does.
    assert torch.allclose(a[..., 1:-1, 1:-1], b[..., 1:-1, 1:-1], atol=1e-5)
    assert not torch.allclose(a[..., 0, :], b[..., 0, :], atol=1e-3)
    assert got["relu5_1"].shape == before["relu5_1"].shape
    # The reflecting extractor copies the conv modules: the shared net (and `plain`) still pads with zeros.
    assert all(m.padding_mode == "zeros" for m in random_net if isinstance(m, torch.nn.Conv2d))
    assert torch.equal(plain(x)["relu5_1"], before["relu5_1"])
    # The deepest maps of a 16-px image are 1 px, which cannot be mirrored: replicated instead.
    tiny = torch.randn(1, 3, 16, 16)
    assert reflect(tiny)["relu5_1"].shape == plain(tiny)["relu5_1"].shape == (1, 512, 1, 1)
    assert nl.recipe_extractor(net=random_net)(tiny)["relu5_1"].isfinite().all()
    # Only VGG's zeros and the recipes' reflection are offered; "replicate" had no user.
    for unused in ("circular", "replicate"):
        with pytest.raises(nl.NSTError, match=f"^unknown padding '{unused}'; choose one of zeros, reflect$"):
            nl.FeatureExtractor(["relu1_1"], net=random_net, padding=unused)


def test_a_stylised_cat_has_no_speckle_along_its_borders(caffe_net):
    """d2l's weights against VGG's zero padding give this run a border excess of 1.30; reflected: <= 1.2."""
    content, style = (
        nl.preprocess(nl.load_image(IMG / path, max_size=96))
        for path in ("content/chelsea-cat.jpg", "style/van-gogh-night-cafe.jpg")
    )
    ext = nl.FeatureExtractor(nl.CONTENT_LAYERS + nl.STYLE_LAYERS, net=caffe_net, padding=BORDER_PADDING)
    result = nl.train(
        nl.parametrize(content, "fourier"),
        nl.StyleTransferLoss(ext, content, style),
        optimizer="lbfgs",
        steps=50,
        progress=False,
    )
    excess = border_excess(result.image, content)
    assert excess <= 1.2, f"border excess {excess:.2f}: speckle along the borders"


def test_the_readme_example_keeps_its_borders_as_calm_as_the_photos(caffe_net):
    """The README pair at the defaults (192 px, 50 steps): its 4-px band against the 8 px inside it.

    Measured 1.11 (against the whole interior 1.27: with the deep style layers faded out at this size
    the cat's face stays calmer than the painted background, so the whole-interior ratio rises with
    no speckle; both pictures viewed). An edge effect raises the ring ratio; bound 1.2.
    """
    content, style = (
        nl.preprocess(nl.load_image(IMG / path, max_size=192))
        for path in ("content/chelsea-cat.jpg", "style/van-gogh-night-cafe.jpg")
    )
    ext = nl.recipe_extractor(net=caffe_net)
    result = nl.stylize(content, style, extractor=ext, in_range=True, steps=50, tol=None, progress=False)
    excess = border_excess(result.image, content, ring=8)
    assert excess <= 1.2, f"border excess {excess:.2f}: the border is busier than the photo's"
