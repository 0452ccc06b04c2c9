"""Training photos as random crops: every step draws a batch of crops at random scales and flips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..course import IMG
from ..errors import NSTError
from ..images import load_image

#: The shipped training photos (short side <= 320 px); `val/` below it is never trained on.
TRAIN_DIR = IMG / "train"
VAL_DIR = TRAIN_DIR / "val"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder` (not in its subfolders), sorted by name."""
    if not folder.is_dir():
        raise NSTError(f"{folder}: no such folder; give a folder of photos with --data")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class PhotoCrops:
    """Square crops of a folder's photos, each at a random scale, randomly mirrored; repeatable by seed."""

    def __init__(self, folder: Path = TRAIN_DIR, *, crop: int = 128, seed: int = 0) -> None:
        self.crop = crop
        self.photos: list[Image.Image] = []
        self.skipped: list[Path] = []
        for path in image_files(Path(folder)):
            try:
                img = load_image(path)
            except NSTError:
                img = None  # unreadable: counted, not fatal
            if img is None or min(img.size) < crop:
                self.skipped.append(path)
            else:
                self.photos.append(img)
        if not self.photos:
            raise NSTError(
                f"{folder}: no readable photo of at least {crop} px a side "
                f"({len(self.skipped)} skipped); add photos or lower --size"
            )
        self.generator = torch.Generator().manual_seed(seed)

    def _randint(self, low: int, high: int) -> int:
        """A whole number in [low, high] from this set's own generator (so a resume repeats it)."""
        return int(torch.randint(low, high + 1, (1,), generator=self.generator))

    def sample(self) -> torch.Tensor:
        """One (3, crop, crop) crop in [0, 1] with some detail in it (see `_draw`)."""
        for _ in range(20):
            x = self._draw()
            # A flat crop (a clipped sky, black night) has no TV or style distance to normalise by.
            if (x[:, 1:] - x[:, :-1]).abs().mean() > 1e-3:
                return x
        return x + 1e-2 * torch.rand(x.shape, generator=self.generator)  # a folder of flat pictures

    def _draw(self) -> torch.Tensor:
        """A random photo, shrunk to a random scale, cropped, maybe mirrored."""
        img = self.photos[self._randint(0, len(self.photos) - 1)]
        short = self._randint(self.crop, min(img.size))  # the crop covers 100% down to crop/short of it
        w, h = (max(self.crop, round(s * short / min(img.size))) for s in img.size)
        img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0)
        left, top = self._randint(0, w - self.crop), self._randint(0, h - self.crop)
        img = img.crop((left, top, left + self.crop, top + self.crop))
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)
        return x.flip(-1) if self._randint(0, 1) else x

    def batch(self, n: int) -> torch.Tensor:
        """(n, 3, crop, crop) pixels in [0, 1]."""
        return torch.stack([self.sample() for _ in range(n)])
