import pytest
import torch
from PIL import Image

import nstlib as nl
from nstlib import color, spatial
from tests.helpers import small


def test_rectangle_and_color_masks():
    m = spatial.rectangle_mask((10, 20), top=0, left=0.5, bottom=0.5, right=1)
    assert m.shape == (1, 1, 10, 20) and m.sum() == 5 * 10 and m[0, 0, 0, 19] == 1 and m[0, 0, 9, 0] == 0
    device = nl.default_device()  # masks combine with masks made from images on that device
    assert spatial.rectangle_mask((4, 4), 0, 0, 1, 1, device=device).device.type == device.type
    with pytest.raises(nl.NSTError, match="rectangle must satisfy"):
        spatial.rectangle_mask((10, 10), 0.5, 0, 0.2, 1)
    img = torch.zeros(1, 3, 2, 2)
    img[..., 0, 0] = 1
    pixels = color.from_pixels(img)
    assert spatial.color_mask(pixels, (255, 255, 255), 0.1)[0, 0].tolist() == [[1, 0], [0, 0]]


def test_load_mask_sizes_and_refusals(tmp_path):
    m = Image.new("L", (40, 20), 0)
    m.paste(255, (0, 0, 20, 20))
    m.save(tmp_path / "m.png")
    assert spatial.load_mask(tmp_path / "m.png", (20, 40)).sum() == 400
    with pytest.warns(UserWarning, match="mask resized from 40x20 to 80x40 px"):
        assert spatial.load_mask(tmp_path / "m.png", (40, 80)).shape == (1, 1, 40, 80)
    with pytest.raises(nl.NSTError, match="different aspect ratio"):
        spatial.load_mask(tmp_path / "m.png", (40, 40))
    Image.linear_gradient("L").resize((40, 20)).save(tmp_path / "g.png")
    with pytest.raises(nl.NSTError, match=r"g\.png: not a black-and-white mask \(\d+% of pixels are gray\)"):
        spatial.load_mask(tmp_path / "g.png", (20, 40))


def test_guided_gram_of_a_full_mask_is_the_gram():
    x = torch.randn(1, 4, 6, 5)
    assert torch.allclose(spatial.guided_gram(x, torch.ones(1, 1, 6, 5)), nl.gram(x), atol=1e-6)
    half = torch.zeros(1, 1, 6, 5)
    half[..., :3, :] = 1
    assert torch.allclose(spatial.guided_gram(x, half), nl.gram(x[..., :3, :]), atol=1e-6)


def test_guided_loss_argument_errors(random_net):
    ext = nl.FeatureExtractor(nl.STYLE_LAYERS + nl.CONTENT_LAYERS + ("relu4_2",), net=random_net)
    c, s = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)
    full = torch.ones(1, 1, 32, 32)
    with pytest.raises(nl.NSTError, match="2 styles for 1 masks"):
        spatial.GuidedStyleTransferLoss(ext, c, [s, s], [full])
    with pytest.raises(nl.NSTError, match=r"mask 1 is \(16, 16\) \(H, W\), the content \(32, 32\)"):
        spatial.GuidedStyleTransferLoss(ext, c, [s], [torch.ones(1, 1, 16, 16)])
    with pytest.raises(nl.NSTError, match="mask 1 is empty"):
        spatial.GuidedStyleTransferLoss(ext, c, [s], [torch.zeros(1, 1, 32, 32)])
    with pytest.raises(nl.NSTError, match="at least one style"):
        spatial.GuidedStyleTransferLoss(ext, c, [None], [full])


def test_style_stays_inside_its_mask(caffe_net):
    content, style = small("content/chelsea-cat.jpg", 64), small("style/van-gogh-night-cafe.jpg", 64)
    h, w = content.shape[-2:]
    mask = spatial.rectangle_mask((h, w), 0, 0, 1, 0.5)  # left half styled
    ext = nl.FeatureExtractor(nl.STYLE_LAYERS + nl.CONTENT_LAYERS + ("relu4_2",), net=caffe_net)
    loss = spatial.GuidedStyleTransferLoss(ext, content, [style, None], [mask, 1 - mask])
    r = nl.train(nl.SynthesizedImage(content), loss, optimizer="lbfgs", steps=30, progress=False)
    change = (color.to_pixels(r.image) - color.to_pixels(content)).abs().mean(dim=(0, 1))
    inside, outside = change[:, : w // 2 - 8].mean(), change[:, w // 2 + 8 :].mean()
    assert outside < 0.025  # content kept within ~6 gray levels on average (measured 0.015)
    assert inside > 3 * outside  # measured 4x at 64 px; the margin is small next to relu5_1's reach
    assert r.history["style"][-1] < r.history["style"][0] / 3


def test_guided_gram_divides_by_the_squared_mask():
    # Features the same everywhere: any mask, fractional or not, must give the plain Gram
    x = torch.randn(1, 4, 1, 1).expand(1, 4, 6, 5).contiguous()
    for mask in (torch.full((1, 1, 6, 5), 0.5), torch.linspace(0.1, 1, 30).view(1, 1, 6, 5)):
        assert torch.allclose(spatial.guided_gram(x, mask), nl.gram(x), rtol=1e-5)


def test_region_weights_average_one_so_equal_weights_are_the_default(random_net):
    ext = nl.FeatureExtractor(nl.STYLE_LAYERS, net=random_net)
    c, s, t = (torch.randn(1, 3, 32, 32) for _ in range(3))
    left = spatial.rectangle_mask((32, 32), 0, 0, 1, 0.5)

    def regions(weights):
        term = spatial.GuidedGramStyle(ext, c, [s, t], [left, 1 - left], region_weights=weights)
        return [w for w, _, _ in term.regions], term(ext(c))["relu3_1"]

    (default, loss), (ones, same) = regions(None), regions([1, 1])
    assert default == ones == [1.0, 1.0] and torch.equal(loss, same)  # --style-weights 1 1 changes nothing
    assert regions([3, 1])[0] == [1.5, 0.5]


def test_guided_loss_follows_to(random_net):
    import copy

    ext = nl.FeatureExtractor(nl.STYLE_LAYERS + ("relu4_2",), net=copy.deepcopy(random_net))
    c, s = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)
    left = spatial.rectangle_mask((32, 32), 0, 0, 1, 0.5)
    loss = spatial.GuidedStyleTransferLoss(ext, c, [s, None], [left, 1 - left], content_layers=("relu4_2",))
    before = loss(c + 0.1).total.item()
    loss.to(torch.float64)
    _, masks, targets = loss.style_term.regions[0]
    assert {t.dtype for t in [*masks.values(), *targets.values()]} == {torch.float64}
    assert loss((c + 0.1).double()).total.item() == pytest.approx(before, rel=1e-4)
