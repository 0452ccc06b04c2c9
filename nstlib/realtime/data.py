"""Training photos as random crops: every step draws a batch of crops at random scales and flips."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .. import images
from ..errors import NSTError
from ..images import MAX_PIXELS, load_image
from ..install import IMG

#: The shipped training photos (short side <= 320 px); `val/` below it is never trained on.
TRAIN_DIR = IMG / "train"
VAL_DIR = TRAIN_DIR / "val"
IMAGE_SUFFIXES = images.IMAGE_TYPES


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder` (not in its subfolders), sorted by name."""
    if not folder.is_dir():
        raise NSTError(f"{folder}: no such folder; give a folder of photos with --data")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def random_crop(
    img: Image.Image, crop: int, randint: Callable[[int, int], int], *, short: int | None = None
) -> torch.Tensor:
    """`img` shrunk to a random scale, a random `crop`-px square of it, maybe mirrored: (3, crop, crop) in [0, 1].

    `short`: the short side to shrink to, if already drawn (at most the image's own).
    """
    # the crop covers 100% down to crop/short of the photo
    short = randint(crop, min(img.size)) if short is None else min(short, min(img.size))
    w, h = (max(crop, round(s * short / min(img.size))) for s in img.size)
    img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0)
    left, top = randint(0, w - crop), randint(0, h - crop)
    img = img.crop((left, top, left + crop, top + crop))
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)
    return x.flip(-1) if randint(0, 1) else x


def detailed(draw: Callable[[], torch.Tensor], generator: torch.Generator) -> torch.Tensor:
    """A crop from `draw` with some detail in it: up to 20 tries, then faint noise on the last one."""
    for _ in range(20):
        x = draw()
        # A flat crop (a clipped sky, black night) has no TV or style distance to normalise by.
        if (x[:, 1:] - x[:, :-1]).abs().mean() > 1e-3:
            return x
    return x + 1e-2 * torch.rand(x.shape, generator=generator)  # a folder of flat pictures


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
        return detailed(self._draw, self.generator)

    def _draw(self) -> torch.Tensor:
        """A random photo, shrunk to a random scale, cropped, maybe mirrored."""
        img = self.photos[self._randint(0, len(self.photos) - 1)]
        return random_crop(img, self.crop, self._randint)

    def state(self) -> dict:
        """What a resumed run needs to draw the same crops next."""
        return {"crops_rng": self.generator.get_state()}

    def load_state(self, state: dict) -> None:
        """Continue the crop stream of `state()`; a streamed run's checkpoint has none: this one starts afresh."""
        if "crops_rng" in state:
            self.generator.set_state(state["crops_rng"])

    def batch(self, n: int) -> torch.Tensor:
        """(n, 3, crop, crop) pixels in [0, 1]."""
        return torch.stack([self.sample() for _ in range(n)])


def photo_files(folder: Path, *, exclude: Path | Sequence[Path] | None = None) -> list[Path]:
    """Every photo in the tree below `folder` (`nstlib.images.photo_files`), less the trees in `exclude`
    (held-out photos when they live inside the training folder)."""
    if not Path(folder).is_dir():
        raise NSTError(f"{folder}: no such folder; give a folder of photos with --data")
    skip = [exclude] if isinstance(exclude, (str, Path)) else list(exclude or [])
    return images.photo_files(folder, exclude=skip)


def _open_for(
    path: str, crop: int, randint: Callable[[int, int], int], short: list[int]
) -> Image.Image | None:
    """The photo, decoded only as large as a random-scale crop needs (JPEG draft mode); None if unusable.

    The scale (the short side the photo is shrunk to) is drawn first and put in `short[0]`.
    """
    try:
        with Image.open(path) as img:
            if min(img.size) < crop or img.width * img.height > MAX_PIXELS:
                return None
            short[0] = randint(crop, min(img.size))  # drawn first, so the decode can be smaller
            img.draft("RGB", tuple(max(crop, s * short[0] // min(img.size)) for s in img.size))
            img = images.to_rgb(ImageOps.exif_transpose(img))  # load_image's rule: alpha over white, 16-bit
    except (OSError, ValueError, Image.DecompressionBombError):
        return None  # unreadable or not an image: counted by the caller, never fatal
    return img if min(img.size) >= crop else None


class CropDataset(torch.utils.data.Dataset):
    """Photo files read on demand: item i is one random crop of file i (memory flat in the number of files).

    An item is read by its key (epoch, i); its randomness comes from (seed, epoch, i) alone, so any
    worker process, rank or resumed run draws the same crop for the same key. Returns (crop, i, ok):
    ok is False, and the crop zeros, for a file that is unreadable, not an image, or smaller than the crop.
    """

    def __init__(self, files: list[Path], *, crop: int = 128, seed: int = 0) -> None:
        self.files = [str(f) for f in files]  # plain strings: cheap to send to worker processes
        self.crop, self.seed = crop, seed

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int, bool]:
        epoch, i = key
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 1_000_003 + i)

        def randint(low: int, high: int) -> int:
            return int(torch.randint(low, high + 1, (1,), generator=g))

        short = [0]
        img = _open_for(self.files[i], self.crop, randint, short)
        if img is None:
            return torch.zeros(3, self.crop, self.crop), i, False
        draws = iter([short[0]])  # the first crop at the scale drawn for the decode; retries draw anew
        return detailed(lambda: random_crop(img, self.crop, randint, short=next(draws, None)), g), i, True


class _Resumable(torch.utils.data.DistributedSampler):
    """A `DistributedSampler` that yields (epoch, index) keys and whose epoch can start past `skip` of them."""

    skip = 0

    def __iter__(self):
        indices = list(super().__iter__())
        start, self.skip = self.skip, 0  # only the resumed epoch starts late
        # the epoch travels with each index: persistent worker processes keep their own dataset copy
        return iter([(self.epoch, i) for i in indices[start:]])


class CropStream:
    """Batches of crops from a folder tree, read by `DataLoader` worker processes, sharded across ranks.

    The same interface as `PhotoCrops` (`batch`, `state`, `load_state`, `skipped`), for folders too
    large to hold in memory and for distributed training: a `DistributedSampler` gives each rank its
    own share of every epoch (shuffled by seed and epoch), the workers decode photos ahead of the
    step, and files that cannot be used are skipped and counted, never fatal.
    """

    def __init__(
        self,
        files: list[Path],
        *,
        crop: int = 128,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        workers: int = 2,
    ) -> None:
        if not files:
            raise NSTError("no photos to train on; give a folder of photos with --data")
        self.dataset = CropDataset(files, crop=crop, seed=seed)
        self.world_size = world_size
        self.sampler = _Resumable(self.dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        self.loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=None, sampler=self.sampler, num_workers=workers,
            persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
        )  # fmt: skip
        self.epoch, self.served, self.bad = 0, 0, set()
        self._items = None

    @property
    def skipped(self) -> list[Path]:
        """The files found unusable so far (each counted once)."""
        return [Path(self.dataset.files[i]) for i in sorted(self.bad)]

    def _next(self) -> tuple[torch.Tensor, int, bool]:
        while True:
            if self._items is None:
                self.sampler.set_epoch(self.epoch)
                self._items = iter(self.loader)
            try:
                item = next(self._items)
                self.served += 1
                return item
            except StopIteration:
                self._items, self.epoch, self.served = None, self.epoch + 1, 0
                if len(self.bad) == len(self.dataset):
                    raise NSTError(f"none of the {len(self.dataset)} files is a photo of at least "
                                   f"{self.dataset.crop} px a side; add photos or lower --size") from None  # fmt: skip

    def batch(self, n: int) -> torch.Tensor:
        """(n, 3, crop, crop) pixels in [0, 1], passing over unusable files."""
        crops = []
        while len(crops) < n:
            x, i, ok = self._next()
            if ok:
                crops.append(x)
            else:
                self.bad.add(int(i))
        return torch.stack(crops)

    def state(self) -> dict:
        """Where this rank is in the stream: the epoch and how many of its items it has read."""
        return {"stream": {"epoch": self.epoch, "served": self.served, "world_size": self.world_size}}

    def load_state(self, state: dict) -> None:
        """Continue at the saved epoch, past the items read; with another world size, the same share of it.

        A checkpoint of photos held in memory (`PhotoCrops`) has no stream position: the stream starts afresh.

        The epoch's order is the sampler's (seed, epoch); with the world size saved it continues
        exactly. With another one every rank skips the same fraction of its new share, so the rest
        of that epoch is covered only approximately (some photos twice, some not) until the next.
        """
        saved = state.get("stream")
        if saved is None:  # a run that held its photos in memory: this stream starts its first epoch
            return
        self.epoch = saved["epoch"]
        self.served = saved["served"] * saved["world_size"] // self.world_size
        self.sampler.skip, self._items = self.served, None
