import torch

from nstlib import color
from tests.helpers import small


def test_yiq_round_trip_and_known_luminance():
    p = torch.rand(1, 3, 5, 7)
    assert torch.allclose(color.yiq_to_rgb(color.rgb_to_yiq(p)), p, atol=1e-5)
    white = torch.ones(1, 3, 1, 1)
    assert torch.allclose(color.rgb_to_yiq(white)[0, :, 0, 0], torch.tensor([1.0, 0, 0]), atol=1e-4)
    x = torch.randn(1, 3, 4, 4)
    assert torch.allclose(color.from_pixels(color.to_pixels(x)), x, atol=1e-6)


def test_luminance_image_is_gray_with_the_same_y():
    x = small("content/coffee.jpg")
    gray = color.to_pixels(color.luminance(x))
    assert torch.allclose(gray[:, 0], gray[:, 1], atol=1e-5) and torch.allclose(
        gray[:, 1], gray[:, 2], atol=1e-5
    )
    y = color.rgb_to_yiq(color.to_pixels(x))[:, 0]
    assert torch.allclose(gray[:, 0], y, atol=1e-5)


def test_with_content_color_keeps_the_content_chroma():
    content = small("content/coffee.jpg")
    stylised = small("style/van-gogh-night-cafe.jpg", 64)
    stylised = torch.nn.functional.interpolate(stylised, size=content.shape[-2:])
    out = color.with_content_color(stylised, content)
    yiq_out, yiq_c = color.rgb_to_yiq(color.to_pixels(out)), color.rgb_to_yiq(color.to_pixels(content))
    yiq_s = color.rgb_to_yiq(color.to_pixels(stylised))
    assert (yiq_out[:, 1:] - yiq_c[:, 1:]).abs().max() < 1e-4  # chroma: the content's
    assert (yiq_out[:, :1] - yiq_s[:, :1]).abs().max() < 1e-4  # luminance: the stylised image's


def test_match_luminance_gives_the_content_mean_and_std():
    content, style = small("content/coffee.jpg"), small("style/van-gogh-night-cafe.jpg")
    y = color.rgb_to_yiq(color.to_pixels(color.match_luminance(style, content)))[:, 0]
    yc = color.rgb_to_yiq(color.to_pixels(content))[:, 0]
    assert abs(float(y.mean() - yc.mean())) < 1e-4 and abs(float(y.std() - yc.std())) < 1e-4


def test_match_color_gives_the_target_mean_and_covariance():
    content, style = small("content/citrus-fruits.jpg"), small("style/van-gogh-night-cafe.jpg")
    out = color.match_color(style, content)
    assert out.shape == style.shape
    mu_o, cov_o = color._mean_cov(color.to_pixels(out))
    mu_c, cov_c = color._mean_cov(color.to_pixels(content))
    mu_s, cov_s = color._mean_cov(color.to_pixels(style))
    assert (mu_o - mu_c).abs().max() < 1e-4 and (cov_o - cov_c).abs().max() < 1e-4
    assert (mu_s - mu_c).abs().max() > 0.05  # the two palettes really differed
