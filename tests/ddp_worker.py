"""Run by tests/test_distributed.py under torchrun: three training steps on fixed crops, each rank its slice.

python -m torch.distributed.run --standalone --nproc_per_node=2 tests/ddp_worker.py OUT.pt
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nstlib import distributed  # noqa: E402
from nstlib.realtime import TrainConfig, Trainer  # noqa: E402

STEPS, GLOBAL_BATCH, CROP = 3, 4, 32
CONFIG = dict(crop=CROP, style_size=64, style="img/style/van-gogh-night-cafe.jpg")


def fixed_crops() -> torch.Tensor:
    """(STEPS, GLOBAL_BATCH, 3, CROP, CROP): the same crops in every process."""
    return torch.rand(STEPS, GLOBAL_BATCH, 3, CROP, CROP, generator=torch.Generator().manual_seed(7))


class Fixed:
    """Stands in for the crop stream: this rank's slice of each step's global batch."""

    def __init__(self, crops: torch.Tensor, rank: int, size: int) -> None:
        per = crops.shape[1] // size
        self.batches = iter(crops[:, rank * per : (rank + 1) * per])
        self.skipped: list = []

    def batch(self, n: int) -> torch.Tensor:
        x = next(self.batches)
        assert len(x) == n
        return x


def train(world: distributed.World) -> Trainer:
    """Three steps with batch GLOBAL_BATCH / world size per rank, by plain SGD.

    SGD, not the trainer's Adam: Adam's first steps are about lr x sign(gradient), so a gradient that is
    0 up to rounding (a conv bias before instance norm) moves by +-lr either way; one process on 1 and
    on 2 threads already differ by 5e-3 after three Adam steps. SGD shows the gradients themselves.
    """
    trainer = Trainer(TrainConfig(batch=GLOBAL_BATCH // world.size, **CONFIG), world=world, workers=0)
    trainer.optimizer = torch.optim.SGD(trainer.net.parameters(), lr=0.01)
    trainer.crops = Fixed(fixed_crops(), world.rank, world.size)
    for _ in range(STEPS):
        trainer.train_step()
    return trainer


if __name__ == "__main__":
    world, _ = distributed.start("cpu")
    trainer = train(world)
    if world.main:
        torch.save(trainer.net.state_dict(), sys.argv[1])
    distributed.stop()
