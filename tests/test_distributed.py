"""Training and applying across processes: torchrun, two Gloo ranks on this CPU, for real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

from nstlib import distributed
from nstlib.realtime import load_model
from tests import ddp_worker
from tests.helpers import IMG, ROOT

CAFE = str(IMG / "style" / "van-gogh-night-cafe.jpg")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}


def _run(args: list[str], cwd, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def val(tmp_path):
    folder = tmp_path / "val"
    folder.mkdir()
    Image.open(IMG / "content" / "honey-bee.jpg").resize((64, 48)).save(folder / "bee.jpg")
    return folder


def _train_args(out, val, *more) -> list[str]:
    return ["-m", "nstlib.realtime", "train", CAFE, "-o", str(out), "--size", "32", "--batch", "2",
            "--style-size", "64", "--val", str(val), *more]  # fmt: skip


def test_two_gloo_ranks_take_the_same_step_as_one_process_with_both_their_batches(tmp_path):
    """Batch 2 on each of two ranks = batch 4 in one process: DDP sums the ranks' gradients (`_summed`)."""
    out = tmp_path / "ranks.pt"
    run = _run([*TORCHRUN, str(ROOT / "tests" / "ddp_worker.py"), str(out)], cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    two = torch.load(out)
    one = ddp_worker.train(distributed.SINGLE).net.state_dict()  # batch 4 in one process, same crops
    assert max((two[k] - v).abs().max().item() for k, v in one.items()) < 1e-5
    first = ddp_worker.Trainer(
        ddp_worker.TrainConfig(batch=4, **ddp_worker.CONFIG), workers=0
    ).net.state_dict()
    assert max((one[k] - v).abs().max().item() for k, v in first.items()) > 1e-3  # the steps moved it


def test_torchrun_trains_one_model_and_card_that_applies_like_any_other(tmp_path, val):
    out = tmp_path / "two.pt"
    run = _run([*TORCHRUN, *_train_args(out, val, "--steps", "3")], cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("wrote ") == 1  # rank 0 alone writes and reports
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["iterations"] == 3 and card["command"].startswith("torchrun --nproc_per_node=2 -m nstlib")
    assert card["data"]["world_size"] == 2 and card["data"]["global_batch"] == 4
    assert card["data"]["backend"] == "gloo" and card["data"]["batch_per_rank"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two.ckpt", "two.json", "two.pt", "val"]
    load_model(out)  # its sha256 matches its card
    styled = tmp_path / "styled.jpg"
    apply = _run([sys.executable, "-m", "nstlib.realtime", "apply", str(out), str(IMG / "content" / "coffee.jpg"),
                  "-o", str(styled), "--size", "64"], cwd=tmp_path)  # fmt: skip
    assert apply.returncode == 0, apply.stderr and Image.open(styled).size[0] == 64


def _ranks(parent: int) -> list[int]:
    """The pids of the rank processes torchrun started (its children running nstlib)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            cmd = open(f"/proc/{pid}/cmdline").read()
        except OSError:
            continue
        if int(stat[1]) == parent and "nstlib.realtime" in cmd:
            found.append(int(pid))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the ranks through /proc (Linux)")
def test_a_killed_rank_leaves_a_checkpoint_that_resumes_in_one_process(tmp_path, val):
    out = tmp_path / "m.pt"
    ckpt = out.with_suffix(".ckpt")
    args = [*TORCHRUN, *_train_args(out, val, "--steps", "100000", "--checkpoint-every", "2")]
    launcher = subprocess.Popen(
        args, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 180
        while not ckpt.exists() and time.monotonic() < deadline and launcher.poll() is None:
            time.sleep(0.5)
        assert ckpt.exists(), "no checkpoint was written"
        ranks = _ranks(launcher.pid)
        assert len(ranks) == 2
        os.kill(ranks[-1], signal.SIGKILL)  # one rank dies: torchrun stops the other
        assert launcher.wait(timeout=120) != 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert not out.exists()  # no model from a failed run, only its checkpoint
    state = torch.load(ckpt, weights_only=False)
    assert state["step"] >= 2 and state["stream"]["world_size"] == 2
    assert len(state["streams"]) == 2  # each rank's place in its crop stream, for a resume on 2 ranks
    resumed = _run([sys.executable, *_train_args(out, val, "--steps", str(state["step"] + 2), "--resume",
                                                 "--workers", "0")], cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["iterations"] == state["step"] + 2 and card["data"]["world_size"] == 1
    assert len(card["resumed_with"]) == 1


def test_one_process_is_rank_0_of_1_and_each_item_has_one_owner():
    assert not distributed.launched() and distributed.start("cpu")[0] == distributed.SINGLE
    world = [distributed.World(rank=r, size=3, backend="gloo") for r in range(3)]
    owners = [distributed.shard(list(range(10)), w) for w in world]
    assert sorted(sum(owners, [])) == list(range(10)) and [len(o) for o in owners] == [4, 3, 3]
    assert distributed.total({"done": 2}, distributed.SINGLE) == {"done": 2}
