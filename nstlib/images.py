"""Images in and out: load a file as RGB, resize, turn it into a normalised tensor and back.

Conversion rule for files that are not 8-bit RGB (applied by `to_rgb`):

* ``L`` / ``1`` (grayscale, bilevel): the gray value is copied to R, G and B.
* ``LA`` / ``RGBA`` / ``PA`` and ``P`` with a transparent colour: composited over white,
  because a stylised image has no alpha channel and black would darken the edges.
* ``P`` (palette): looked up in its palette.
* ``CMYK`` / ``YCbCr`` / ``LAB`` / ``HSV``: Pillow's own conversion to RGB.
* ``I;16*`` / ``I`` (16- or 32-bit integer gray): divided by 257, i.e. 0..65535 mapped to
  0..255 (values above are clipped), then treated as ``L``.
* ``F`` (float gray): assumed to lie in [0, 1], scaled to 0..255 and clipped.

Images larger than `MAX_PIXELS` (Pillow's decompression-bomb limit) are refused: decoding
one would take gigabytes before any resize could help.
"""

from __future__ import annotations

import math
import os
import secrets
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import NSTError

#: ImageNet statistics that torchvision's VGG-19 (and our folded Caffe net) expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: The file types the course reads and writes (by name): a photo folder's walk takes these.
IMAGE_TYPES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

#: Refuse images with more pixels than this (Pillow's default bomb limit, ~89.5 Mpx).
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


def photo_files(folder: str | Path, *, exclude: Sequence[str | Path] = ()) -> list[Path]:
    """Every image file (`IMAGE_TYPES`) in the tree below `folder`, sorted: nested folders too (a camera's
    DCIM, COCO's train2014); hidden files and folders, and the files and folder trees in `exclude`, left out."""
    skip = {Path(p).resolve() for p in exclude}
    found = []
    for root, dirs, files in os.walk(folder):  # symlinked folders are not followed: no loops
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(root, d).resolve() not in skip)
        found += [
            Path(root, f) for f in files if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_TYPES
        ]
    return sorted(p for p in found if not skip or p.resolve() not in skip)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB by the rule in this module's docstring."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        scale = 255.0 if img.mode == "F" else 1 / 257
        gray = np.clip(np.asarray(img, dtype=np.float32) * scale, 0, 255)
        return Image.fromarray(gray.round().astype(np.uint8), "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("LA", "RGBA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def fitted_size(size: tuple[int, int], max_size: int) -> tuple[int, int]:
    """(width, height) scaled so the long side is `max_size` (at least 1 px a side)."""
    scale = max_size / max(size)
    w, h = (max(1, round(s * scale)) for s in size)
    return w, h


def resize(
    img: Image.Image, max_size: int | None = None, shape: tuple[int, int] | None = None
) -> Image.Image:
    """Resize to an exact ``shape=(height, width)``, or so the long side is ``max_size``."""
    if shape is not None and max_size is not None:
        raise NSTError("give either max_size or shape, not both")
    if shape is not None:
        h, w = shape
        if h < 1 or w < 1:
            raise NSTError(f"shape must be positive (height, width), got {shape}")
        return img.resize((w, h), Image.Resampling.LANCZOS) if img.size != (w, h) else img
    if max_size is not None:
        if max_size < 1:
            raise NSTError(f"max_size must be a positive number of pixels, got {max_size}")
        w, h = fitted_size(img.size, max_size)
        return img.resize((w, h), Image.Resampling.LANCZOS) if img.size != (w, h) else img
    return img


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Normalised (N, 3, H, W) tensor -> RGB in [0, 1] (not clamped)."""
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return x * std + mean


def from_pixels(p: torch.Tensor) -> torch.Tensor:
    """RGB (N, 3, H, W) in [0, 1] -> normalised tensor."""
    mean = p.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = p.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (p - mean) / std


def load_image(
    path: str | Path, max_size: int | None = None, shape: tuple[int, int] | None = None
) -> Image.Image:
    """Read an image file as RGB, EXIF rotation applied, optionally resized."""
    path = Path(path)
    if not path.exists():
        raise NSTError(f"{path}: no such file; check the path (relative paths start at {Path.cwd()})")
    if path.is_dir():
        raise NSTError(f"{path}: is a directory; give the path of an image file inside it")
    try:
        with warnings.catch_warnings():
            # We apply our own limit below, with a message that says what to do.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise NSTError(
                        f"{path}: {img.width}x{img.height} px is over the {MAX_PIXELS:,} px limit "
                        "(a possible decompression bomb); downscale it first, e.g. "
                        "`python -c \"from PIL import Image; i=Image.open('IN'); "
                        "i.thumbnail((4096, 4096)); i.save('OUT')\"`"
                    )
                img.load()
                img = ImageOps.exif_transpose(img)
    except Image.DecompressionBombError as err:
        raise NSTError(f"{path}: too many pixels ({err}); downscale it first") from None
    except UnidentifiedImageError:
        raise NSTError(
            f"{path}: not an image Pillow can read; use a JPEG, PNG, WebP, BMP or TIFF file"
        ) from None
    except OSError as err:
        raise NSTError(
            f"{path}: the file is damaged or truncated ({err}); re-download or re-export it"
        ) from None
    return resize(to_rgb(img), max_size=max_size, shape=shape)


def preprocess(
    img: Image.Image,
    shape: tuple[int, int] | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """PIL image -> ImageNet-normalised float tensor of shape (1, 3, H, W)."""
    img = resize(to_rgb(img), shape=shape)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1) / 255
    return from_pixels(x.unsqueeze(0)).contiguous().to(device or "cpu")


def load_tensor(
    path: str | Path, max_size: int | None = None, *, device: torch.device | str | None = None
) -> torch.Tensor:
    """Read an image file as a normalised (1, 3, H, W) tensor: `load_image`, then `preprocess`."""
    return preprocess(load_image(path, max_size=max_size), device=device)


def postprocess(x: torch.Tensor) -> Image.Image:
    """Normalised (1, 3, H, W) or (3, H, W) tensor -> PIL image, de-normalised and clamped.

    The optimiser is free to push pixels outside [0, 1]; the clamp is where they are cut
    back to displayable colours (and why a stylised image can look flatter than its loss).
    """
    x = x.detach().to("cpu", torch.float32)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.shape[0] != 1:
        raise NSTError(f"postprocess takes one image, got a batch of {x.shape[0]}")
    x = to_pixels(x)[0].clamp(0, 1)
    return Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


#: Encoder settings for saved results. PIL's JPEG default (quality 75, chroma at half resolution)
#: blurs exactly the fine colour texture a stylisation adds: on the README example the style ratio
#: (`quality.result_ratios`) went from 0.018 to 0.074 when saved that way, 0.018 with these.
SAVE_OPTIONS = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"quality": 95}}


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp) on a temporary file beside `path`, then rename it into place.

    The file appears whole or not at all: an interrupted write leaves any earlier file as it was.
    The temporary name keeps `path`'s suffix, so a writer that goes by the suffix (PIL) still can.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)  # same folder, so the rename is atomic
    finally:
        tmp.unlink(missing_ok=True)  # only left if the write or the rename failed


def save_image(img: Image.Image, path: str | Path) -> None:
    """Save a result; JPEG and WebP at quality 95 (full-resolution chroma for JPEG), not PIL's 75.

    Written with `write_atomically`, so an interrupted save leaves any earlier file as it was.
    """
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    write_atomically(path, lambda tmp: img.save(tmp, format=fmt, **SAVE_OPTIONS.get(fmt, {})))


def show_images(
    images: Sequence[Image.Image | torch.Tensor],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 3.0,
):
    """Show images (PIL or normalised tensors) in a grid; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    images = [postprocess(im) if isinstance(im, torch.Tensor) else im for im in images]
    ncols = ncols or len(images)
    nrows = math.ceil(len(images) / ncols)
    aspect = images[0].height / images[0].width
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * aspect * nrows + 0.3 * nrows), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i])
            if titles is not None:
                ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig
