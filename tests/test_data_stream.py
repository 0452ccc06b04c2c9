"""Training photos at scale: a folder tree read on demand by DataLoader workers, sharded by rank."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from nstlib.realtime.data import VAL_DIR, CropStream, PhotoCrops, photo_files
from tests.helpers import IMG


def _tree(root):
    """Photos in nested folders (a camera's DCIM), a hidden one, a text file, a tiny photo, a held-out folder."""
    names = ("chelsea-cat.jpg", "coffee.jpg", "astronaut.jpg", "honey-bee.jpg")
    for n, name in enumerate(names):
        folder = root / "DCIM" / f"10{n % 2}CANON"
        folder.mkdir(parents=True, exist_ok=True)
        Image.open(IMG / "content" / name).resize((80, 60)).save(folder / f"IMG_{n}.JPG")
    (root / ".thumbs").mkdir()
    Image.open(IMG / "content" / "coffee.jpg").resize((80, 60)).save(root / ".thumbs" / "t.jpg")
    (root / "DCIM" / "notes.jpg").write_text("not a photo")
    Image.open(IMG / "content" / "coffee.jpg").resize((20, 15)).save(root / "DCIM" / "tiny.png")
    (root / "val").mkdir()
    Image.open(IMG / "content" / "coffee.jpg").save(root / "val" / "held-out.jpg")
    return root


def test_photo_files_walks_nested_folders_and_leaves_out_hidden_and_held_out_ones(tmp_path):
    root = _tree(tmp_path)
    names = [p.name for p in photo_files(root, exclude=root / "val")]
    assert names == ["IMG_0.JPG", "IMG_2.JPG", "IMG_1.JPG", "IMG_3.JPG", "notes.jpg", "tiny.png"]
    assert "held-out.jpg" in [p.name for p in photo_files(root)]
    assert not [p for p in photo_files(IMG / "train", exclude=VAL_DIR) if VAL_DIR in p.parents]


def test_unusable_files_are_skipped_and_counted_never_fatal(tmp_path):
    root = _tree(tmp_path)
    stream = CropStream(photo_files(root, exclude=root / "val"), crop=32, workers=0)
    for _ in range(6):
        x = stream.batch(3)
        assert x.shape == (3, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    assert sorted(p.name for p in stream.skipped) == ["notes.jpg", "tiny.png"]


def test_worker_processes_give_the_same_crops_as_the_main_process(tmp_path):
    files = photo_files(_tree(tmp_path), exclude=tmp_path / "val")
    here, workers = (CropStream(files, crop=32, seed=1, workers=w) for w in (0, 2))
    assert all(torch.equal(here.batch(4), workers.batch(4)) for _ in range(3))


def test_a_resumed_stream_continues_exactly_and_two_ranks_share_each_epoch(tmp_path):
    files = photo_files(IMG / "train", exclude=VAL_DIR)
    stream = CropStream(files, crop=32, workers=0)
    for _ in range(17):  # into the second epoch (56 photos)
        stream.batch(4)
    saved, expected = stream.state(), stream.batch(4)
    resumed = CropStream(files, crop=32, workers=0)
    resumed.load_state(saved)
    assert saved["stream"]["epoch"] == 1 and torch.equal(resumed.batch(4), expected)
    # each rank reads its own half of an epoch: together every photo once
    ranks = [CropStream(files, crop=32, rank=r, world_size=2, workers=0) for r in (0, 1)]
    seen = [[key[1] for key in rank.sampler] for rank in ranks]
    assert not set(seen[0]) & set(seen[1]) and sorted(seen[0] + seen[1]) == list(range(len(files)))


def test_the_in_memory_crops_stay_as_they_were_for_the_shipped_photos():
    """The shipped models' commands train from `PhotoCrops`; its stream must not change."""
    crops = PhotoCrops(crop=64, seed=3)
    x = crops.batch(2)
    assert x.shape == (2, 3, 64, 64)
    # the first batch's statistics as the code before the streaming loader drew them (commit 2a53cfb)
    assert [round(float(v), 4) for v in (x.mean(), x.std())] == [0.7548, 0.2455]


def test_streamed_crops_read_images_by_load_images_rule_alpha_over_white(tmp_path):
    Image.new("RGBA", (64, 64), (255, 0, 0, 0)).save(tmp_path / "clear.png")  # transparent red: white
    stream = CropStream(photo_files(tmp_path), crop=32, workers=0)
    assert stream.batch(1).min() > 0.95


def test_a_held_out_folder_inside_the_data_is_never_trained_on(tmp_path):
    from nstlib.realtime.train import TrainConfig, training_crops

    root = _tree(tmp_path)
    config = TrainConfig(style="img/style/van-gogh-night-cafe.jpg", crop=32)
    crops = training_crops(root, config, workers=0, val=root / "val")
    assert "held-out.jpg" not in [Path(f).name for f in crops.dataset.files]
    # another --val does not put the shipped held-out photos back into the shipped training photos
    shipped = training_crops(IMG / "train", config, workers=0, val=tmp_path / "elsewhere")
    assert len(shipped.dataset.files) == 56 and not any("/val/" in f for f in shipped.dataset.files)
    # a checkpoint of a streamed run resumed on photos held in memory starts that stream afresh
    memory = PhotoCrops(IMG / "train", crop=32)
    memory.load_state(crops.state())
    assert memory.batch(1).shape == (1, 3, 32, 32)
