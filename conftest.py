"""Shared test setup: no network, repeatable CPU runs, CI mode for the notebooks."""

from __future__ import annotations

import os
import socket
from pathlib import Path

# Set before torch is imported anywhere (and inherited by the notebook kernels nbval starts).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("NSTLIB_FAST", "1")
os.environ.setdefault("NSTLIB_DEVICE", "cpu")

import pytest  # noqa: E402
import torch  # noqa: E402

import nstlib as nl  # noqa: E402

ROOT = Path(__file__).resolve().parent
IMG = ROOT / "img"


class NetworkBlocked(RuntimeError):
    """Raised by any socket connection attempted during a test."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail any outgoing connection: tests must work offline."""

    def refuse(*args, **kwargs):
        raise NetworkBlocked("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def seeded():
    """Same random numbers in every test."""
    nl.seed_everything(0)


@pytest.fixture(scope="session")
def caffe_net() -> torch.nn.Sequential:
    """The pretrained (Caffe) VGG-19, loaded once per session."""
    return nl.load_vgg19("caffe")


@pytest.fixture(scope="session")
def random_net() -> torch.nn.Sequential:
    """A randomly initialised VGG-19 (torchvision's init, seed 0)."""
    return nl.load_vgg19("random", seed=0)


def small(path: str, size: int = 64) -> torch.Tensor:
    """A course image as a normalised tensor whose long side is `size`."""
    return nl.preprocess(nl.load_image(IMG / path, max_size=size))
