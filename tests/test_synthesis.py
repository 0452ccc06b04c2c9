import pytest
import torch

import nstlib as nl
from nstlib.images import IMAGENET_MEAN, IMAGENET_STD


def test_content_init_is_a_copy_held_as_parameter():
    content = torch.randn(1, 3, 8, 10)
    synth = nl.SynthesizedImage.from_init(content)
    assert torch.equal(synth(), content) and synth().data_ptr() != content.data_ptr()
    assert [p.shape for p in synth.parameters()] == [content.shape]
    assert synth.weight.requires_grad and synth.weight.is_contiguous()


def test_noise_init_is_valid_pixels_and_seeded():
    content = torch.zeros(1, 3, 30, 40)
    a = nl.init_image(content, init="noise", seed=1)
    pixels = a * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    assert pixels.min() >= 0 and pixels.max() <= 1 and 0.45 < pixels.mean() < 0.55
    assert torch.equal(a, nl.init_image(content, init="noise", seed=1))
    assert not torch.equal(a, nl.init_image(content, init="noise", seed=2))


def test_style_init_is_resized_to_content():
    style = torch.randn(1, 3, 20, 20)
    out = nl.init_image(torch.zeros(1, 3, 10, 30), style, init="style")
    assert out.shape == (1, 3, 10, 30)
    with pytest.raises(nl.NSTError, match="needs the style image"):
        nl.init_image(torch.zeros(1, 3, 4, 4), init="style")
    with pytest.raises(nl.NSTError, match="unknown init 'zeros'"):
        nl.init_image(torch.zeros(1, 3, 4, 4), init="zeros")


def test_fourier_image_starts_at_the_start_image_and_is_parametrized_by_its_spectrum():
    start = torch.randn(1, 3, 12, 17)
    img = nl.FourierImage(start)
    assert torch.equal(img(), start) and img().data_ptr() != start.data_ptr()
    ((name, param),) = img.named_parameters()
    assert name == "weight" and param.shape == (1, 3, 12, 17 // 2 + 1, 2) and param.is_contiguous()
    # The DC coefficient (scale 1, orthonormal FFT) shifts one channel by 1/sqrt(H*W) everywhere.
    with torch.no_grad():
        param[0, 1, 0, 0, 0] = 1.0
    change = img() - start
    assert torch.allclose(change[0, 1], torch.full((12, 17), 1 / (12 * 17) ** 0.5), atol=1e-6)
    assert change[0, [0, 2]].abs().max() < 1e-6


def test_fourier_image_damps_fine_detail_by_its_decay():
    start = torch.zeros(1, 1, 32, 32)

    def amplitude(fy: int, fx: int, decay: float) -> float:
        img = nl.FourierImage(start, decay=decay)
        with torch.no_grad():
            img.weight[0, 0, fy, fx, 0] = 1.0
        return float(img().detach().abs().max())

    # Frequency 4/32 is 4x the lowest (1/32): decay 0.5 gives it half the amplitude.
    assert amplitude(0, 4, 0.5) / amplitude(0, 1, 0.5) == pytest.approx(0.5, rel=1e-4)
    assert amplitude(4, 0, 0.5) / amplitude(1, 0, 0.5) == pytest.approx(0.5, rel=1e-4)
    assert amplitude(0, 4, 0.0) / amplitude(0, 1, 0.0) == pytest.approx(1.0, rel=1e-4)
    with pytest.raises(nl.NSTError, match="decay must be >= 0"):
        nl.FourierImage(start, decay=-1)


def test_parametrize_names_the_choices():
    x = torch.randn(1, 3, 8, 8)
    assert isinstance(nl.parametrize(x), nl.SynthesizedImage)
    assert isinstance(nl.parametrize(x, "fourier"), nl.FourierImage)
    with pytest.raises(nl.NSTError, match="unknown parametrization 'wavelet'; choose one of pixels, fourier"):
        nl.parametrize(x, "wavelet")


def test_every_start_has_the_batch_of_the_content():
    photos, style = torch.rand(2, 3, 20, 30), torch.rand(1, 3, 40, 40)
    for init in ("content", "noise", "style"):
        assert nl.init_image(photos, style, init).shape == (2, 3, 20, 30)
    starts = nl.init_image(photos, style, "style")
    assert torch.equal(starts[0], starts[1])  # the same painting under each photo
    with pytest.raises(nl.NSTError, match="unknown init 'blank'; choose one of content, noise, style"):
        nl.init_image(photos, style, "blank")


def test_in_range_clamps_the_picture_and_passes_gradients_inside():
    pixels = torch.tensor([-0.5, 0.2, 0.7, 1.5]).view(1, 1, 1, 4).repeat(1, 3, 1, 1)
    synth = nl.parametrize(nl.images.from_pixels(pixels), "pixels", in_range=True)
    shown = nl.images.to_pixels(synth())
    assert torch.allclose(shown[0, 0, 0], torch.tensor([0.0, 0.2, 0.7, 1.0]), atol=1e-6)
    synth().sum().backward()
    grad = next(synth.parameters()).grad[0, 0, 0]
    assert grad[0] == 0 and grad[3] == 0 and (grad[1:3] != 0).all()  # clamped pixels are held
    assert isinstance(nl.parametrize(pixels, "fourier", in_range=True).inner, nl.synthesis.FourierImage)
