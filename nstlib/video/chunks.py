"""A long clip on several ranks: consecutive chunks, paired back to back or started a few frames early.

    torchrun --standalone --nproc_per_node=2 -m nstlib.video CLIP -o OUT.mp4 --style PAINTING

Each rank stylises one run of consecutive frames. Ranks can be paired, (0, 1), (2, 3), ...: back to
back. The pair's even rank stylises its chunk backwards in time, from the first frame of the odd
rank's chunk (the anchor), and the odd rank forwards from that same frame. Both stylise the anchor
from scratch, the same computation on the same frame, so the two chunks continue one shared frame
and their seam is an ordinary later-frame step; the odd rank writes the anchor, the even rank only
starts from it. Where a pair ends, two chunk ends meet: nothing there can give either a past.

An unpaired chunk after the first starts `warmup` frames before the first frame it writes: the
warm-up's first frame is stylised from scratch (a first frame), and the frames after it carry the
result forward along the flow (the warped start and the temporal loss, or the real-time path's
blend), so the chunk's first written frame has a past. The warm-up frames are stylised but never
written: the previous chunk writes them. Rank 0 gathers the written frames and joins them in order.

The warm-up cannot make two chunks agree exactly: each continues its own first frame. With a
real-time network the blend forgets its start geometrically (blend^K after K frames), so a short
warm-up brings a chunk close to its neighbour; an optimised chunk keeps the texture it started with,
which is why optimisation pairs its ranks. docs/scale.md, "A long clip", gives the numbers measured
at the boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import NSTError


@dataclass(frozen=True)
class Chunk:
    """One rank's share of a clip: it stylises frames [start, stop) and writes frames [first, end)."""

    start: int
    first: int
    end: int
    stop: int
    #: stylised from stop - 1 down to start (its anchor, frame stop - 1, is stylised but not written)
    backward: bool = False

    @property
    def stylised(self) -> range:
        """The frames it stylises, in time order, warm-up or anchor included."""
        return range(self.start, self.stop)

    @property
    def written(self) -> range:
        """The frames it writes."""
        return range(self.first, self.end)

    @property
    def lead(self) -> int:
        """How many frames it stylises before the first one it writes, in the order it stylises them."""
        return len(self.stylised) - len(self.written)

    @property
    def warmup(self) -> int:
        """How many frames it stylises early to give its first written frame a past (0 going backwards)."""
        return 0 if self.backward else self.lead


def _leads(used: int, warmup: int, pairs: int) -> list[int]:
    """Per rank, the frames stylised but not written: 1 (the anchor) going backwards, else the warm-up."""
    paired = 2 * min(pairs, used // 2)
    return [int(r % 2 == 0) if r < paired else warmup * (r > 0) for r in range(used)]


def _written(n_frames: int, used: int, warmup: int, pairs: int) -> list[int]:
    """Per rank, the frames written, so that the frames each stylises differ by at most one."""
    leads = _leads(used, warmup, pairs)
    work = n_frames + sum(leads)
    return [work // used + (r < work % used) - lead for r, lead in enumerate(leads)]


def used_ranks(n_frames: int, ranks: int, warmup: int, pairs: int = 0) -> int:
    """How many ranks get frames: all, unless a chunk would write nothing (mostly warm-up or anchor)."""
    used = min(ranks, n_frames)
    while used > 1 and min(_written(n_frames, used, warmup, pairs)) < 1:
        used -= 1
    return used


def plan_chunks(n_frames: int, ranks: int, *, warmup: int, pairs: int = 0) -> list[Chunk]:
    """Each rank's `Chunk` of an `n_frames` clip: consecutive, in rank order, every frame written once.

    The first `pairs` pairs of ranks, (0, 1), (2, 3), ..., meet back to back: the even rank goes
    backwards from the odd rank's first frame. Other chunks after the first start `warmup` frames
    early. The frames each rank *stylises* (the work, warm-up and anchor included) differ by at most
    one, so no rank waits long for the slowest. Ranks beyond what the clip can feed get empty chunks
    (they stylise nothing).
    """
    if n_frames < 1 or ranks < 1 or warmup < 0 or pairs < 0:
        raise NSTError(
            f"need n_frames >= 1, ranks >= 1, warmup >= 0, pairs >= 0; got {n_frames}, {ranks}, {warmup}, {pairs}"
        )
    used = used_ranks(n_frames, ranks, warmup, pairs)
    paired = 2 * min(pairs, used // 2)
    chunks, begin = [], 0
    for rank, (count, lead) in enumerate(
        zip(_written(n_frames, used, warmup, pairs), _leads(used, warmup, pairs), strict=True)
    ):
        end, backward = begin + count, rank < paired and rank % 2 == 0
        start, stop = (begin, end + lead) if backward else (begin - lead, end)
        chunks.append(Chunk(start, begin, end, stop, backward))
        begin = end
    return chunks + [Chunk(n_frames, n_frames, n_frames, n_frames)] * (ranks - used)


def boundaries(chunks: list[Chunk]) -> list[int]:
    """The frames where a chunk's written frames begin after another's: where the chunks meet."""
    return [c.first for c in chunks[1:] if c.written and c.first > 0]


def anchors(chunks: list[Chunk]) -> list[int]:
    """The boundaries where two chunks meet back to back: both start from that frame."""
    return [c.stop - 1 for c in chunks if c.backward]
