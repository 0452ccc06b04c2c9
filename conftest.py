"""Shared test setup: no network, repeatable CPU runs, CI mode for the notebooks."""

from __future__ import annotations

import os
import socket

# Set before nstlib is imported anywhere (and inherited by the notebook kernels nbval starts);
# importing nstlib (below, before torch) sets OMP_WAIT_POLICY=PASSIVE for them too.
os.environ.setdefault("NSTLIB_FAST", "1")
os.environ.setdefault("NSTLIB_DEVICE", "cpu")

import nstlib as nl  # noqa: E402, I001  (first: it sets OMP_WAIT_POLICY before torch loads)
import pytest  # noqa: E402
import torch  # noqa: E402

from tests.helpers import NetworkBlocked  # noqa: E402

collect_ignore_glob = ["workspace/*"]  # learners' copies (nstlib.course workspace); tests run notebooks/


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail any outgoing connection: tests must work offline."""

    def refuse(*args, **kwargs):
        raise NetworkBlocked("a test tried to open a network connection")

    def guarded(method):
        def connect(self, *args, **kwargs):
            # Unix sockets are local IPC (DataLoader worker processes share tensors through them)
            if self.family == getattr(socket, "AF_UNIX", None):
                return method(self, *args, **kwargs)
            refuse()

        return connect

    monkeypatch.setattr(socket.socket, "connect", guarded(socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(socket.socket.connect_ex))
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def fp32_on_any_cpu(monkeypatch):
    """precision="auto" means fp32 on every CPU here, so a test's numbers do not depend on whether the
    machine has bfloat16 instructions; the bf16 path is tested by name (precision="bf16")."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):  # what has_cpu_bf16_units asks
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)


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
