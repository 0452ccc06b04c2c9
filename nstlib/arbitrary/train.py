"""Training a decoder to reconstruct photos from their VGG-19 features: no painting is ever seen.

Loss per crop (Li et al. 2017): the pixels' mean squared error plus `feature_weight` x the mean
squared error of the reconstruction's features at the decoder's own layer, relative to the photo's
(divided by their mean square, so the term reads the same at every layer). The pixel term keeps
the colours; the feature term keeps what the encoder sees (edges, texture) sharp.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

from ..device import seed_everything
from ..features import FeatureExtractor
from ..images import from_pixels, load_tensor, to_pixels, write_atomically
from ..realtime.data import TRAIN_DIR, VAL_DIR, image_files
from ..realtime.train import training_crops
from .decoder import Decoder, encoder_for, reconstruct
from .model import load_decoder


@dataclasses.dataclass
class DecoderConfig:
    """Everything that decides what a decoder learns (saved in checkpoints and cards)."""

    level: str = "relu3_1"
    crop: int = 128  # side of the square training crops, px
    batch: int = 4
    lr: float = 1e-3
    # The feature term is ~0.1 (relative) where the pixel term is ~0.005 at the start of a warm-started
    # run: weight 0.1 lets the pixels' error still steer the colours.
    feature_weight: float = 0.1
    seed: int = 0
    warm_from: str | None = None  # a shallower decoder's file whose weights start this one's tail
    # "bf16": the frozen encoder's two passes (most of a step) in bfloat16, the decoder and its Adam
    # in fp32: relu4_1 on this CPU 0.87 s a step against fp32's 1.32. Not used for the shipped decoders:
    # its one trial ran at a learning rate that failed in fp32 too, so its quality is not judged yet.
    precision: str = "fp32"


Callback = Callable[["DecoderTrainer", dict], None]
#: Batches of crops relu1_1's least-squares fit reads: 20 x 4 crops of 128 px, 1.3 M pixels (held-out
#: photos: 40.28 dB from 10 batches, 40.33 from 50).
LINEAR_BATCHES = 20


class DecoderTrainer:
    """The decoder, its Adam, the frozen encoder, the crops and the run's history."""

    def __init__(
        self,
        config: DecoderConfig,
        *,
        data: Path = TRAIN_DIR,
        device: str | torch.device = "cpu",
        workers: int | None = None,
        val: Path = VAL_DIR,
        net=None,
    ) -> None:
        seed_everything(config.seed)
        self.config, self.device = config, torch.device(device)
        self.decoder = Decoder(config.level).to(self.device)
        self.copied = 0
        if config.warm_from:
            self.copied = self.decoder.warm_start(load_decoder(config.warm_from))
        self.encoder = encoder_for((config.level,), device=self.device, net=net)
        self.optimizer = torch.optim.Adam(self.decoder.parameters(), lr=config.lr)
        self.crops = training_crops(data, config, workers=workers, val=val)
        self.step, self.seconds = 0, 0.0
        self.history: list[dict[str, float]] = []  # step, pixel, feature, total (per crop)
        self.validation: list[dict[str, float]] = []  # step, psnr, feature error on the held-out photos
        self.commands: list[str] = []
        self.polished = 0  # batches the last convolution's least-squares polish read (`solve`)

    def losses(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The reconstruction's pixel and feature errors for a batch of pixels in [0, 1]."""
        level = self.config.level
        with self._encoder_precision():
            target = self.encoder(from_pixels(pixels))[level].float()
        out = self.decoder(target)
        pixel = F.mse_loss(out, pixels)
        with self._encoder_precision():
            seen = self.encoder(from_pixels(out))[level].float()
        feature = F.mse_loss(seen, target) / target.square().mean()
        return {"pixel": pixel, "feature": feature, "total": pixel + self.config.feature_weight * feature}

    def _encoder_precision(self) -> torch.autocast:
        bf16 = self.config.precision == "bf16"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16)

    def solve(self, batches: int = LINEAR_BATCHES, *, polish: bool = False) -> dict[str, float]:
        """The last convolution (all of relu1_1's decoder) by least squares on `batches` batches (`fit_linear`).

        `polish`: after Adam's steps (the decoder's other weights fixed), not counted as steps; measured
        on relu2_1 after 659 Adam steps: 28.06 -> 29.16 dB on the held-out photos at 256 px.
        """
        start = time.perf_counter()
        fit_linear(
            self.decoder, self.encoder, lambda: self.crops.batch(self.config.batch).to(self.device), batches
        )
        self.step += 0 if polish else batches
        self.polished += batches if polish else 0
        self.seconds += time.perf_counter() - start
        with torch.no_grad():  # the losses Adam would have seen, on a fresh batch
            terms = self.losses(self.crops.batch(self.config.batch).to(self.device))
        row = {"step": self.step, **{k: float(v) for k, v in terms.items()}}
        self.history.append(row)
        return row

    def train_step(self) -> dict[str, float]:
        """One Adam step on a fresh batch of crops."""
        start = time.perf_counter()
        pixels = self.crops.batch(self.config.batch).to(self.device)
        terms = self.losses(pixels)
        self.optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        self.optimizer.step()
        self.step += 1
        self.seconds += time.perf_counter() - start
        row = {"step": self.step, **{k: float(v.detach()) for k, v in terms.items()}}
        self.history.append(row)
        return row

    def run(
        self,
        *,
        steps: int | None = None,
        minutes: float | None = None,
        checkpoint: Path | None = None,
        checkpoint_every: int = 100,
        callback: Callback | None = None,
    ) -> None:
        """Train until `steps` steps or `minutes` of training in all (resumed runs count); checkpoint as it goes."""
        limit = math.inf if minutes is None else 60 * minutes
        try:
            while not ((steps is not None and self.step >= steps) or self.seconds >= limit):
                row = self.train_step()
                if callback is not None:
                    callback(self, row)
                if checkpoint is not None and self.step % checkpoint_every == 0:
                    self.save_checkpoint(checkpoint)
        except BaseException:  # Ctrl-C too: the steps done are kept
            if checkpoint is not None:
                self.save_checkpoint(checkpoint)
            raise
        if checkpoint is not None:
            self.save_checkpoint(checkpoint)

    def state(self) -> dict:
        """Everything a resumed run needs to continue where this one is."""
        return {
            "config": dataclasses.asdict(self.config),
            "decoder": self.decoder.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            **self.crops.state(),
            "step": self.step,
            "seconds": self.seconds,
            "history": self.history,
            "validation": self.validation,
            "commands": self.commands,
            "polished": self.polished,
        }

    def load_state(self, state: dict) -> None:
        """Continue from `state()` of an earlier run with the same config."""
        self.decoder.load_state_dict(state["decoder"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.crops.load_state(state)
        self.step, self.seconds = state["step"], state["seconds"]
        self.history, self.validation = state["history"], state["validation"]
        self.commands = state["commands"]
        self.polished = state.get("polished", 0)

    def save_checkpoint(self, path: Path) -> None:
        """Write `state()` to `path` atomically."""
        state = self.state()
        write_atomically(path, lambda tmp: torch.save(state, tmp))


@torch.no_grad()
def fit_linear(decoder: Decoder, encoder: FeatureExtractor, batches: Callable[[], torch.Tensor], n: int,
               ridge: float = 1e-4) -> float:  # fmt: skip
    """Solve the decoder's last convolution by least squares on `n` batches; returns the pixels' MSE.

    The last convolution is linear: a 3x3 convolution from 64 channels to 3 pixels (all of relu1_1's
    decoder). Its best weights for the pixel error, the rest held fixed, solve the normal equations
    (X^T X + ridge I) w = X^T y over every pixel's 3x3 x 64 neighbourhood, exactly and in seconds.
    Adam on the same problem crawls (relu1_1 at lr 1e-3: 19.7 dB on the held-out photos after 450
    steps; higher rates diverge), because the 64 channels are strongly correlated.
    """
    conv = decoder.net[-1]
    body = decoder.net[:-1]
    k = conv.in_channels * 9 + 1
    device = conv.weight.device
    xtx, xty = (torch.zeros(k, n_out, dtype=torch.double, device=device) for n_out in (k, 3))
    for _ in range(n):
        pixels = batches()
        inputs = body(encoder(from_pixels(pixels))[decoder.level].float())
        padded = F.pad(inputs, (1, 1, 1, 1), mode="reflect")  # as the conv pads
        cols = F.unfold(padded, 3).transpose(1, 2).reshape(-1, k - 1).double()  # (N * H * W, 64 * 9)
        cols = torch.cat([cols, cols.new_ones(len(cols), 1)], 1)
        y = pixels.permute(0, 2, 3, 1).reshape(-1, 3).double()
        xtx += cols.T @ cols
        xty += cols.T @ y
    scale = xtx.diagonal().mean()
    w = torch.linalg.solve(xtx + ridge * scale * torch.eye(k, dtype=torch.double, device=device), xty)
    conv.weight.copy_(w[:-1].T.reshape(3, conv.in_channels, 3, 3).float())
    conv.bias.copy_(w[-1].float())
    return float(F.mse_loss(conv(inputs), pixels))


def validation_pixels(folder: Path = VAL_DIR, size: int = 256, device: str = "cpu") -> list[torch.Tensor]:
    """The held-out photos as (1, 3, H, W) pixels in [0, 1], long side `size` px."""
    return [to_pixels(load_tensor(p, size, device=device)).clamp(0, 1) for p in image_files(folder)]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of two pictures in [0, 1] (higher is closer; 30 dB looks the same)."""
    return float(10 * torch.log10(1 / F.mse_loss(a.detach().clamp(0, 1), b).clamp_min(1e-12)))


@torch.no_grad()
def reconstruction_error(
    decoder: Decoder, encoder: FeatureExtractor, photos: list[torch.Tensor]
) -> dict[str, float]:
    """Mean PSNR (dB) and relative feature error of the decoder's reconstructions of `photos`."""
    was = decoder.training
    decoder.eval()
    total = {"psnr": 0.0, "feature": 0.0}
    for p in photos:
        out = reconstruct(decoder, encoder, p)
        target = encoder(from_pixels(p))[decoder.level]
        mine = encoder(from_pixels(out.clamp(0, 1)))[decoder.level]
        total["psnr"] += psnr(out, p) / len(photos)
        total["feature"] += float(F.mse_loss(mine, target) / target.square().mean()) / len(photos)
    decoder.train(was)
    return {k: round(v, 4) for k, v in total.items()}
