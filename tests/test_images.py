import numpy as np
import pytest
import torch
from PIL import Image

import nstlib as nl
from nstlib import images
from nstlib.images import IMAGENET_MEAN, IMAGENET_STD
from tests.helpers import IMG

CAT = IMG / "content" / "chelsea-cat.jpg"


def test_load_resizes_by_long_side_and_exact_shape():
    img = nl.load_image(CAT, max_size=120)
    assert img.mode == "RGB" and max(img.size) == 120
    assert img.size == (120, 80)  # 451x300 keeps its aspect ratio
    assert nl.load_image(CAT, shape=(50, 70)).size == (70, 50)


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (200, 0, 0))
    img.paste((0, 0, 200), (0, 0, 20, 20))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img.save(tmp_path / "rot.jpg", exif=exif)
    out = nl.load_image(tmp_path / "rot.jpg")
    assert out.size == (20, 40)
    top = np.asarray(out)[5, 10]
    assert top[2] > 150 and top[0] < 60  # the blue half is now on top


@pytest.mark.parametrize(
    "mode, value, expected",
    [
        ("L", 77, (77, 77, 77)),
        ("1", 1, (255, 255, 255)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("I;16", 100 * 257, (100, 100, 100)),
        ("I;16", 65535, (255, 255, 255)),
        ("I", 40000 * 257, (255, 255, 255)),  # above 16 bit: clipped
        ("F", 0.5, (128, 128, 128)),
    ],
)
def test_mode_conversion_rule(tmp_path, mode, value, expected):
    img = Image.new(mode, (4, 3), value)
    assert nl.to_rgb(img).getpixel((1, 1)) == expected


def test_alpha_is_composited_over_white():
    rgba = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 0, 255))
    rgb = nl.to_rgb(rgba)
    assert rgb.getpixel((1, 1)) == (255, 255, 255)
    assert rgb.getpixel((0, 0)) == (0, 0, 0)
    la = Image.new("LA", (2, 2), (0, 128))
    assert nl.to_rgb(la).getpixel((0, 0)) == (127, 127, 127)


def test_palette_and_transparent_palette(tmp_path):
    p = Image.new("RGB", (3, 3), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert nl.to_rgb(p).getpixel((0, 0)) == (10, 200, 30)
    p.info["transparency"] = p.getpixel((0, 0))
    p.save(tmp_path / "t.png")
    assert nl.load_image(tmp_path / "t.png").getpixel((0, 0)) == (255, 255, 255)


def test_preprocess_normalises_known_values():
    white = Image.new("RGB", (5, 4), (255, 255, 255))
    x = nl.preprocess(white)
    assert x.shape == (1, 3, 4, 5) and x.dtype == torch.float32 and x.is_contiguous()
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(x[0, :, 2, 3], expected)
    assert nl.preprocess(white, shape=(8, 6)).shape == (1, 3, 8, 6)


def test_round_trip_is_exact_and_postprocess_clamps():
    img = nl.load_image(CAT, max_size=64)
    back = nl.postprocess(nl.preprocess(img))
    assert np.abs(np.asarray(back, int) - np.asarray(img, int)).max() <= 1
    huge = torch.full((1, 3, 2, 2), 100.0)
    assert np.asarray(nl.postprocess(huge)).min() == 255
    assert np.asarray(nl.postprocess(-huge)).max() == 0


def test_postprocess_refuses_a_batch():
    with pytest.raises(nl.NSTError, match="one image"):
        nl.postprocess(torch.zeros(2, 3, 4, 4))


def test_show_images_grid():
    imgs = [nl.load_image(CAT, max_size=32)] * 3
    fig = nl.show_images(imgs + [nl.preprocess(imgs[0])], titles=list("abcd"), ncols=2)
    assert len(fig.axes) == 4 and fig.axes[3].get_title() == "d"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(nl.NSTError, match=r"nope\.jpg: no such file"):
        nl.load_image(tmp_path / "nope.jpg")
    with pytest.raises(nl.NSTError, match="is a directory"):
        nl.load_image(tmp_path)


def test_not_an_image(tmp_path):
    f = tmp_path / "notes.jpg"
    f.write_text("these are not pixels")
    with pytest.raises(nl.NSTError, match=r"notes\.jpg: not an image"):
        nl.load_image(f)


def test_truncated_jpeg(tmp_path):
    data = CAT.read_bytes()
    f = tmp_path / "cut.jpg"
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(nl.NSTError, match=r"cut\.jpg: the file is damaged or truncated"):
        nl.load_image(f)


def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    f = tmp_path / "big.png"
    Image.new("RGB", (50, 50)).save(f)  # 2500 px > the patched limit
    with pytest.raises(nl.NSTError, match=r"big\.png: 50x50 px is over the 1,000 px limit"):
        nl.load_image(f)


def test_resize_argument_errors():
    img = Image.new("RGB", (10, 10))
    with pytest.raises(nl.NSTError, match="either max_size or shape"):
        nl.resize(img, max_size=5, shape=(5, 5))
    with pytest.raises(nl.NSTError, match="max_size must be a positive"):
        nl.resize(img, max_size=0)
    with pytest.raises(nl.NSTError, match="shape must be positive"):
        nl.resize(img, shape=(0, 4))


def test_save_image_keeps_fine_colour_texture(tmp_path):
    """PIL's JPEG default (quality 75, half-resolution chroma) smears 1-px colour detail; ours keeps it."""
    rng = np.random.default_rng(0)
    texture = Image.fromarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    texture.save(tmp_path / "pil.jpg")
    nl.save_image(texture, tmp_path / "ours.jpg")
    nl.save_image(texture, tmp_path / "ours.png")

    def error(name):
        return np.abs(np.asarray(Image.open(tmp_path / name), dtype=float) - np.asarray(texture)).mean()

    assert error("ours.png") == 0  # lossless stays lossless
    assert error("ours.jpg") < 0.5 * error("pil.jpg")
    assert Image.open(tmp_path / "ours.jpg").format == "JPEG"


@pytest.mark.parametrize("interruption", [OSError("No space left on device"), KeyboardInterrupt()])
def test_an_interrupted_save_keeps_the_earlier_file(tmp_path, monkeypatch, interruption):
    from PIL import ImageFile

    out = tmp_path / "out.jpg"
    out.write_bytes(b"earlier result")

    def broken(im, fp, *args, **kwargs):  # the encoder dies after its first bytes
        fp.write(b"\xff\xd8 half a JPEG")
        raise interruption

    monkeypatch.setattr(ImageFile, "_save", broken)
    with pytest.raises(type(interruption)):
        nl.save_image(Image.new("RGB", (8, 8)), out)
    assert out.read_bytes() == b"earlier result" and [p.name for p in tmp_path.iterdir()] == ["out.jpg"]
    monkeypatch.undo()
    nl.save_image(Image.new("RGB", (8, 8), "red"), out)  # a save that completes replaces it
    assert Image.open(out).getpixel((4, 4))[0] > 250 and [p.name for p in tmp_path.iterdir()] == ["out.jpg"]
