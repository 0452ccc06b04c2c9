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
