"""A folder of photos as one job, for one process or several (`torchrun`): both commands use it.

    python -m nstlib.realtime apply night-cafe DCIM/ -o styled/
    torchrun --standalone --nproc_per_node=2 -m nstlib DCIM/ painting.jpg -o styled/

The folder is walked recursively and its tree mirrored under the output folder (DCIM/100/a.JPG ->
styled/100/a.jpg). Rank 0 lists the photos and decides which are done already (their result exists:
skipped unless --force); every rank takes its `shard` of the rest, so each photo has one owner and each
result is written once, whole (`save_image` renames a finished file into place). A photo that fails
gets one line on stderr and the others go on; rank 0 prints one summary for the whole run, its
counts summed over the ranks, and `PhotosFailed` makes the exit code 1 if any photo failed.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .distributed import World, broadcast, gather, launched, on_every_rank, patient_group, shard, total
from .errors import NSTError
from .images import IMAGE_TYPES, photo_files

#: How long a rank that finished its share waits for the slowest (a share of photos at 1024 px on a CPU
#: can take far longer than `distributed.TIMEOUT`).
FOLDER_WAIT = datetime.timedelta(hours=24)


class Reported(NSTError):
    """An error already printed (by this rank, or by rank 0 for all): the command only exits with `code`."""

    code = 2


class PhotosFailed(Reported):
    """Some photos of a folder failed (each already named on its own line); the others were written."""

    code = 1


@dataclass(frozen=True)
class Job:
    """One photo and the file its result goes to."""

    photo: Path
    output: Path


@dataclass
class Tally:
    """One rank's counts, the results it wrote, and the one line each photo that fails gets."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    slowest: float = 0.0  # seconds of the longest attempt (one photo, or one batch of them)
    written: list[Path] = field(default_factory=list)
    _finished: set[Path] = field(default_factory=set, repr=False)

    @contextmanager
    def attempt(self, *jobs: Job) -> Iterator[None]:
        """Run the block for these photos: an error fails each one not yet `wrote`, and the run goes on."""
        start = time.perf_counter()
        try:
            yield
        except Exception as err:  # whatever went wrong, it is these photos', not the run's
            for job in jobs:
                if job.output not in self._finished:
                    self.failed += 1
                    print(f"failed: {job.photo}: {_reason(err, job.photo)}", file=sys.stderr, flush=True)
        finally:
            self.slowest = max(self.slowest, time.perf_counter() - start)

    def wrote(self, job: Job) -> None:
        """Count `job`'s result as written."""
        self.done += 1
        self.written.append(job.output)
        self._finished.add(job.output)


def _reason(err: Exception, photo: Path) -> str:
    """The error on one line, without the photo's name if it starts with it (the line names it first)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = text.removeprefix(f"{photo}: ")
    return text if isinstance(err, NSTError) else f"{type(err).__name__}: {text}"


def folder_argument(paths: Sequence[Path]) -> Path | None:
    """The folder given instead of photo files (None: only files); refuses a mix, and files under torchrun."""
    folders = [p for p in paths if p.is_dir()]
    if folders and len(paths) > 1:
        raise NSTError(f"{folders[0]}: is a folder; give one folder of photos alone, or photo files")
    if not folders and launched():
        raise NSTError("torchrun splits a folder of photos across its processes; give one folder, not files")
    return folders[0] if folders else None


def result_path(photo: Path, folder: Path, outdir: Path) -> Path:
    """Where `photo`'s result goes: its place below `folder` mirrored below `outdir`, suffix in lower case."""
    return outdir / photo.relative_to(folder).parent / (photo.stem + photo.suffix.lower())


def check_folders(folder: Path, outdir: Path) -> None:
    """Refuse a missing folder, an output that is a file (or named like one), the photo folder or inside it."""
    if not folder.is_dir():
        raise NSTError(f"{folder}: no such folder; check the path")
    if outdir.exists() and not outdir.is_dir():
        raise NSTError(f"{outdir}: is a file; a folder of photos needs a folder as -o (created if missing)")
    if outdir.suffix.lower() in IMAGE_TYPES and not outdir.exists():  # meant one photo, gave its folder?
        raise NSTError(
            f"{folder}: is a folder of photos, so -o names a folder for their results, not the image file "
            f"{outdir}; e.g. -o {outdir.with_suffix('')}"
        )
    if not outdir.resolve().parent.is_dir():
        raise NSTError(f"{outdir}: folder {outdir.parent} does not exist; create it first")
    inside, top = outdir.resolve(), folder.resolve()
    if inside == top or inside.is_relative_to(top):
        fix = Path(os.path.relpath(top.parent / f"{top.name}-styled"))
        where = "is the photo folder" if inside == top else f"is inside the photo folder {folder}"
        # a re-run would find the results among the photos and stylise them again
        raise NSTError(f"{outdir}: {where}; write the results outside it, e.g. -o {fix}")


def plan(
    folder: Path, outdir: Path, *, force: bool = False, inputs: Sequence[Path] = ()
) -> tuple[list[Job], int]:
    """The photos still to stylise (all with `force`) and how many were skipped: their result exists.

    `inputs` (the painting, say) are left out of the walk and never written over.
    """
    check_folders(folder, outdir)
    photos = photo_files(folder, exclude=inputs)
    if not photos:
        raise NSTError(f"{folder}: no photos in it or below it (looked for {', '.join(IMAGE_TYPES)})")
    jobs = [Job(p, result_path(p, folder, outdir)) for p in photos]
    _check_results(jobs, folder, outdir, inputs)
    todo = [job for job in jobs if force or not job.output.exists()]
    return todo, len(jobs) - len(todo)


def _check_results(jobs: list[Job], folder: Path, outdir: Path, inputs: Sequence[Path]) -> None:
    """Refuse two photos with one result (a.JPG, a.jpg), and a result that is an input or in the folder."""
    seen: dict[Path, Path] = {}
    protected = {Path(p).resolve() for p in inputs}
    top, base = folder.resolve(), outdir.resolve()
    for job in jobs:
        if job.output in seen:
            raise NSTError(
                f"{seen[job.output]} and {job.photo} would both be written to {job.output}; rename one"
            )
        seen[job.output] = job.photo
        where = base / job.output.relative_to(outdir)
        if where in protected or where.is_relative_to(top):  # e.g. -o a folder that holds the photos' folder
            raise NSTError(
                f"{job.output}: is an input; choose an output folder outside {folder} and the inputs"
            )


def run_folder(
    folder: Path,
    outdir: Path,
    work: Callable[[list[Job], Tally], None],
    *,
    world: World,
    force: bool = False,
    inputs: Sequence[Path] = (),
    started: float | None = None,
) -> list[Path]:
    """Stylise a folder's photos: `work(jobs, tally)` does this rank's share; returns the results it wrote.

    Every rank calls it (the collectives need all). Rank 0 prints an opening line and the summary, its
    seconds counted from `started` (a `time.perf_counter()`; default now); raises `PhotosFailed` on
    every rank if any photo failed anywhere.
    """
    started = time.perf_counter() if started is None else started
    # Rank 0 plans alone and sends it (or its one-line error), so every rank shards the same list
    # even where another node's view of the output folder lags; no rank waits for a plan that failed.
    planned = broadcast(_plan_or_error(folder, outdir, force, inputs) if world.main else None, world)
    if isinstance(planned, str):  # rank 0 prints it; the others exit as quietly
        raise NSTError(planned) if world.main else Reported(planned)
    todo, skipped = planned
    if world.main:
        print(_opening(folder, outdir, len(todo), skipped, world), flush=True)
    tally = Tally(skipped=skipped if world.main else 0)
    # shares are even in photos, not in time, and a rank may fail outside a photo (loading the model):
    # every rank learns of it, and none waits past the default timeout for a slow one
    on_every_rank(world, lambda: work(shard(todo, world), tally), group=patient_group(world, FOLDER_WAIT))
    counts = total({"done": tally.done, "skipped": tally.skipped, "failed": tally.failed}, world)
    done, skipped, failed = (int(counts[k]) for k in ("done", "skipped", "failed"))
    slowest = max(gather(tally.slowest, world))
    if world.main:
        print(summary(done, skipped, failed, time.perf_counter() - started, slowest, world), flush=True)
    if failed:
        raise PhotosFailed(
            f"{failed} of {done + failed} photos failed (each named above); the others were written"
        )
    return tally.written


def _plan_or_error(
    folder: Path, outdir: Path, force: bool, inputs: Sequence[Path]
) -> tuple[list[Job], int] | str:
    """`plan`'s result, or its error's message (a message can be sent to the other ranks)."""
    try:
        return plan(folder, outdir, force=force, inputs=inputs)
    except NSTError as err:
        return str(err)


def _opening(folder: Path, outdir: Path, todo: int, skipped: int, world: World) -> str:
    """Rank 0's first line: how many photos, where their results go, how many are done already."""
    line = f"{folder}: {_photos(todo)} to stylise into {outdir}"
    if world.distributed:
        line += f" on {world.size} ranks (progress lines: rank 0's share)"
    if skipped:
        line += f"; {skipped} skipped, their results exist (--force redoes them)"
    return line


def _photos(n: int) -> str:
    return f"{n} photo" if n == 1 else f"{n} photos"


def summary(done: int, skipped: int, failed: int, seconds: float, slowest: float, world: World) -> str:
    """The run's one summary line (counts over all ranks)."""
    ranks = f"{world.size} ranks" if world.distributed else "1 process"
    rate = f"{done / seconds:.2f} photos/s, " if done and seconds > 0 else ""
    return (
        f"summary: {done} done, {skipped} skipped, {failed} failed in {seconds:.1f} s on {ranks} "
        f"({rate}slowest photo {slowest:.2f} s)"
    )
