"""A long clip on several ranks: the chunk plan, and the command under a real two-rank torchrun (Gloo)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nstlib as nl
from nstlib.video import pan, read_frames, write_video
from nstlib.video.chunks import Chunk, anchors, boundaries, plan_chunks
from nstlib.video.cli import main
from tests.helpers import IMG, ROOT

FRAMES = 6


@pytest.mark.parametrize("n_frames", [1, 2, 5, 6, 17, 100])
@pytest.mark.parametrize("ranks", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("warmup", [0, 1, 4])
@pytest.mark.parametrize("pairs", [0, 1, 4])
def test_the_plan_writes_every_frame_once_in_order(n_frames, ranks, warmup, pairs):
    plan = plan_chunks(n_frames, ranks, warmup=warmup, pairs=pairs)
    assert len(plan) == ranks
    written = [t for c in plan for t in c.written]
    assert written == list(range(n_frames))  # each once, in rank order
    used = [c for c in plan if c.written]
    assert all(c.start <= c.first <= c.end <= c.stop and c.start >= 0 and c.stop <= n_frames for c in plan)
    # the clip's first frame has no past to warm up: the first chunk starts there, or ends at its anchor
    assert used[0].start == 0 and used[0].warmup == 0
    for rank, (before, after) in enumerate(zip(used, used[1:])):
        assert before.end == after.first
        if before.backward:  # back to back: both start from the anchor, written by the second only
            assert rank % 2 == 0 and rank < 2 * pairs and not after.backward
            assert before.stop - 1 == after.start == after.first and before.lead == 1 and after.lead == 0
        elif after.backward:  # two chunk ends meet: no warm-up can give either a past
            assert rank % 2 == 1 and after.lead == 1
        else:  # a full warm-up, on frames an earlier chunk writes: here they only give a past
            assert after.warmup == warmup and (rank >= 2 * pairs or rank % 2 == 1)
    work = [len(c.stylised) for c in used]
    assert max(work) - min(work) <= 1  # as equal as possible, warm-up counted: no rank waits long
    assert all(not c.stylised for c in plan[len(used) :])  # ranks the clip cannot feed do nothing
    # only a warm-up or an anchor longer than a share idles ranks
    assert len(used) == min(ranks, n_frames) or warmup or pairs


def test_the_plan_of_a_known_case():
    # 10 frames stylised each
    assert plan_chunks(16, 2, warmup=4) == [Chunk(0, 0, 10, 10), Chunk(6, 10, 16, 16)]
    assert plan_chunks(3, 4, warmup=0) == [Chunk(t, t, t + 1, t + 1) for t in range(3)] + [Chunk(3, 3, 3, 3)]
    # no room for a warm-up: one rank
    assert plan_chunks(4, 2, warmup=4) == [Chunk(0, 0, 4, 4), Chunk(4, 4, 4, 4)]
    assert boundaries(plan_chunks(30, 3, warmup=2)) == [12, 21]  # 34 frames stylised: 12, 11, 11


def test_a_pair_meets_back_to_back_and_the_last_odd_rank_warms_up():
    # rank 0 stylises 8 down to 0 and writes 0-7; rank 1 stylises and writes 8-15
    assert plan_chunks(16, 2, warmup=4, pairs=1) == [Chunk(0, 0, 8, 9, backward=True), Chunk(8, 8, 16, 16)]
    three = plan_chunks(16, 3, warmup=4, pairs=1)  # 16 + 1 + 4 frames stylised: 7, 7, 7
    assert three == [Chunk(0, 0, 6, 7, backward=True), Chunk(6, 6, 13, 13), Chunk(9, 13, 16, 16)]
    four = plan_chunks(16, 4, warmup=4, pairs=2)  # 16 + 2: 5, 5, 4, 4; the ends meet at 9
    assert boundaries(four) == [4, 9, 12] and anchors(four) == [4, 12]
    assert plan_chunks(2, 2, warmup=4, pairs=1) == [Chunk(0, 0, 1, 2, backward=True), Chunk(1, 1, 2, 2)]
    # one frame: no pair, one rank
    assert plan_chunks(1, 2, warmup=4, pairs=1) == [Chunk(0, 0, 1, 1), Chunk(1, 1, 1, 1)]


def test_a_backward_chunk_is_stylised_from_its_anchor_down():
    chunk = plan_chunks(10, 2, warmup=0, pairs=1)[0]
    order = list(chunk.stylised)[::-1]
    # the anchor first, never written
    assert order[0] == 5 and order[chunk.lead :] == list(chunk.written)[::-1]


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> str:
    """Six 48x32 frames of a pan over the cat photo, 4 px a frame, as an MP4."""
    frames = pan(
        nl.load_image(IMG / "content" / "chelsea-cat.jpg", 160), shape=(32, 48), frames=FRAMES, step=(4, 0)
    )
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    write_video(frames, path, fps=10)
    return str(path)


def torchrun(*argv: str) -> subprocess.CompletedProcess:
    """`python -m nstlib.video ARGV` on two ranks of a fresh torchrun (Gloo on localhost)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "NSTLIB_DEVICE": "cpu"}
    return subprocess.run(
        [*command, "-m", "nstlib.video", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def nearest(frames: list[np.ndarray], others: list[np.ndarray]) -> np.ndarray:
    """The mean absolute difference of every frame to every other (grey levels): rows `frames`, columns `others`."""
    return np.array([[np.abs(f.astype(float) - o).mean() for o in others] for f in frames])


def check_one_clip(done: subprocess.CompletedProcess, out, spread: str) -> list[np.ndarray]:
    """One summary line from rank 0 with the chunks' `spread`, one file of every frame, nothing else beside it."""
    assert done.returncode == 0, done.stderr
    said = done.stdout.splitlines()
    assert len(said) == 1 and said[0].startswith(f"wrote {out} ({FRAMES} frames"), done.stdout
    assert f"2 ranks: chunks of {spread}" in said[0], said[0]
    assert [p.name for p in out.parent.iterdir() if p.name != "one.mp4"] == [out.name]  # no temporary left
    frames, _ = read_frames(out)
    assert len(frames) == FRAMES
    return frames


def test_two_ranks_write_the_one_process_clip_with_the_model(clip_file, tmp_path):
    one, out = tmp_path / "one.mp4", tmp_path / "out.mp4"
    assert (
        main([clip_file, "-o", str(one), "--model", "night-cafe", "--quiet"]) == 0
    )  # one process, as before
    chunked = check_one_clip(
        torchrun(clip_file, "-o", str(out), "--model", "night-cafe", "--warmup", "2"),
        out,
        "4+2 frames, warm-up 2",
    )  # each rank stylises 4 frames
    distance = nearest(chunked, read_frames(one)[0])
    assert list(distance.argmin(axis=1)) == list(range(FRAMES)), distance.round(1)  # each frame in its place
    # rank 0's chunk is the one process's first frames (up to the encoder's rounding); after it the
    # blend has forgotten half its start per warm-up frame
    assert distance.diagonal().max() < 8 < distance[~np.eye(FRAMES, dtype=bool)].min()


def test_two_ranks_stylise_a_clip_by_optimisation(clip_file, tmp_path):
    out = tmp_path / "out.mp4"
    painting = str(IMG / "style" / "van-gogh-night-cafe.jpg")
    done = torchrun(clip_file, "-o", str(out), "--style", painting, "--steps", "2")
    # rank 0 stylises frames 3, 2, 1, 0 and writes 0-2; rank 1 stylises and writes 3-5
    chunked = check_one_clip(done, out, "3+3 frames, 1 pair back to back")
    distance = nearest(chunked, read_frames(clip_file)[0])  # two steps from the photo: still near it
    assert list(distance.argmin(axis=1)) == list(range(FRAMES)), distance.round(1)


def test_a_refusal_under_torchrun_is_one_line_from_rank_0(clip_file, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"kept")
    done = torchrun(clip_file, "-o", str(out), "--model", "night-cafe", "--quiet")
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {out}: already exists; choose another path or add --force to overwrite it"]
    assert out.read_bytes() == b"kept" and done.stdout == ""
