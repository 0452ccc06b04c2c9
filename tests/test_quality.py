import numpy as np
import pytest
import torch
from PIL import Image

import nstlib as nl
from nstlib.images import from_pixels
from nstlib.quality import as_pixels, border_excess, border_ratio, laplacian_magnitude


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
    with pytest.raises(nl.NSTError, match="interior is flat"):
        border_ratio(from_pixels(torch.full((1, 3, 20, 30), 0.3)))
    with pytest.raises(nl.NSTError, match=r"\(1, 3, H, W\)"):
        border_ratio(torch.zeros(2, 3, 20, 30))
