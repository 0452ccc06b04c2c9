"""A folder of photos for one process or several (torchrun): skip, force, failures, one summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nstlib as nl
from nstlib import cli, distributed
from nstlib.batch import Job, Tally, check_folders, plan, result_path
from nstlib.distributed import World, shard
from nstlib.errors import NSTError
from nstlib.realtime import cli as realtime_cli
from tests.helpers import IMG, ROOT

CAFE = IMG / "style" / "van-gogh-night-cafe.jpg"
SUMMARY = re.compile(r"^summary: (\d+) done, (\d+) skipped, (\d+) failed in [\d.]+ s on (.+?) \(")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


@pytest.fixture(autouse=True)
def one_process(monkeypatch):
    """In this process no torchrun: a test that wants ranks starts them."""
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def folder(tmp_path) -> Path:
    """A camera-like tree: three small photos (one a PNG, two in subfolders) and one corrupt .jpg."""
    root = tmp_path / "DCIM"
    (root / "100" / "deep").mkdir(parents=True)
    (root / ".thumbnails").mkdir()
    small = {
        "a.jpg": "eval/colosseum.jpg",
        "100/b.png": "eval/red-panda.jpg",
        "100/deep/c.jpg": "content/coffee.jpg",
    }
    for name, source in small.items():
        nl.load_image(IMG / source, max_size=80).save(root / name)
    (root / "100" / "broken.jpg").write_text("not a picture, only text")
    (root / ".thumbnails" / "a.jpg").write_bytes((root / "a.jpg").read_bytes())  # hidden: passed over
    return root


GOOD = ["a.jpg", "100/b.png", "100/deep/c.jpg"]


def summary_of(stdout: str) -> tuple[int, int, int, str]:
    """done, skipped, failed and 'on ...' of the one summary line."""
    (line,) = [s for s in stdout.splitlines() if s.startswith("summary:")]
    done, skipped, failed, ranks = SUMMARY.match(line).groups()
    return int(done), int(skipped), int(failed), ranks


def files_below(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_folder_in_one_process_writes_each_result_skips_it_on_a_rerun_and_names_the_bad_photo(
    folder, tmp_path, capsys
):
    out = tmp_path / "styled"
    apply = ["apply", "night-cafe", str(folder), "-o", str(out), "--size", "64"]
    assert realtime_cli.main(apply) == 1  # one photo failed: the run says so in its exit code
    said = capsys.readouterr()
    assert files_below(out) == sorted(GOOD)  # the tree mirrored, each stem and suffix kept
    assert summary_of(said.out) == (3, 0, 1, "1 process")
    assert said.out.count("wrote ") == 3
    (failure,) = said.err.splitlines()
    assert failure.startswith(f"failed: {folder / '100' / 'broken.jpg'}: not an image")
    first = {name: (out / name).stat().st_mtime_ns for name in GOOD}

    assert realtime_cli.main(apply) == 1  # the broken photo is tried again; the others are done
    said = capsys.readouterr()
    assert summary_of(said.out) == (0, 3, 1, "1 process") and "wrote " not in said.out
    assert "3 skipped, their results exist (--force redoes them)" in said.out
    assert {name: (out / name).stat().st_mtime_ns for name in GOOD} == first

    assert realtime_cli.main([*apply, "--force"]) == 1
    assert summary_of(capsys.readouterr().out) == (3, 0, 1, "1 process")
    assert all((out / name).stat().st_mtime_ns > first[name] for name in GOOD)
    assert files_below(out) == sorted(GOOD)  # no temporary files left


def test_the_results_stay_out_of_the_photo_folder_and_the_inputs(folder, tmp_path, capsys):
    for out in (folder, folder / "styled", folder / "100" / "styled"):
        assert realtime_cli.main(["apply", "night-cafe", str(folder), "-o", str(out)]) == 2
    assert cli.main([str(folder), str(CAFE), "-o", str(folder / "x")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 4 and errors[0] == f"error: {folder}: is the photo folder; write the results " + (
        f"outside it, e.g. -o {os.path.relpath(folder.parent / 'DCIM-styled')}"
    )
    assert all("is inside the photo folder" in e and "-o " in e for e in errors[1:])
    assert not (folder / "styled").exists() and files_below(folder).count("a.jpg") == 1
    # the painting inside the folder is not a photo, and no result may be written over an input
    (folder / "painting.jpg").write_bytes(CAFE.read_bytes())
    todo, skipped = plan(folder, tmp_path / "out", inputs=[folder / "painting.jpg"])
    assert sorted(j.photo.name for j in todo) == ["a.jpg", "b.png", "broken.jpg", "c.jpg"] and skipped == 0
    with pytest.raises(NSTError, match="is an input"):
        plan(folder, tmp_path / "out", inputs=[tmp_path / "out" / "a.jpg"])
    (folder / "DCIM").mkdir()
    (folder / "DCIM" / "z.jpg").write_bytes(b"")
    with pytest.raises(NSTError, match="is an input"):  # -o the folder above: DCIM/DCIM/z.jpg -> DCIM/z.jpg
        plan(folder, folder.parent)
    (folder / "a.JPG").write_bytes(b"")  # a.JPG and a.jpg: both a.jpg
    with pytest.raises(NSTError, match="would both be written to"):
        plan(folder, tmp_path / "out")
    with pytest.raises(NSTError, match="no such folder"):
        check_folders(tmp_path / "none", tmp_path / "out")


def test_a_folder_mixed_with_files_and_files_under_torchrun_are_refused(folder, monkeypatch, capsys):
    photo = str(folder / "a.jpg")
    assert realtime_cli.main(["apply", "night-cafe", str(folder), photo, "-o", "out"]) == 2
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert realtime_cli.main(["apply", "night-cafe", photo, "-o", "out.jpg"]) == 2
    assert cli.main([photo, str(CAFE), "-o", "out.jpg"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert "give one folder of photos alone" in errors[0]
    assert all("torchrun splits a folder" in e for e in errors[1:]) and len(errors) == 3


def test_each_photo_has_exactly_one_owner_among_the_ranks(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(5):
        (photos / f"p{i}.jpg").write_bytes(b"")
    todo, skipped = plan(photos, tmp_path / "out")
    shares = [shard(todo, World(rank, 2)) for rank in range(2)]
    assert skipped == 0 and sorted(len(s) for s in shares) == [2, 3]
    owners = {job: [rank for rank, s in enumerate(shares) if job in s] for job in todo}
    assert all(len(ranks) == 1 for ranks in owners.values()) and len(owners) == 5
    assert result_path(photos / "p0.jpg", photos, tmp_path / "out") == tmp_path / "out" / "p0.jpg"


def test_a_photo_that_fails_mid_batch_is_counted_once_and_the_written_ones_stay_done(capsys):
    tally, jobs = Tally(), [Job(Path(f"{n}.jpg"), Path(f"out/{n}.jpg")) for n in "ab"]
    with tally.attempt(*jobs):
        tally.wrote(jobs[0])
        raise RuntimeError("out of memory\nsecond line")
    assert (tally.done, tally.failed) == (1, 1)
    assert capsys.readouterr().err == "failed: b.jpg: RuntimeError: out of memory\n"


def run_ranks(command: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    """`command` under torchrun with two ranks (Gloo, on this machine's loopback); its seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    start = time.perf_counter()
    done = subprocess.run(
        [*TORCHRUN, *command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    return done, time.perf_counter() - start


def check_two_rank_run(
    done: subprocess.CompletedProcess, folder: Path, out: Path, written_by_rank0: int
) -> None:
    """Every result once, no temporary files, the bad photo alone failed, one summary for both ranks."""
    assert done.returncode != 0, done.stderr  # a photo failed
    assert files_below(out) == sorted(GOOD), done.stderr  # also: no .NAME.part files left
    assert summary_of(done.stdout) == (3, 0, 1, "2 ranks"), done.stdout
    failures = [line for line in done.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failures) == 1 and failures[0].startswith(f"failed: {folder / '100' / 'broken.jpg'}: ")
    assert done.stdout.count("wrote ") == written_by_rank0  # the other rank is quiet
    assert "on 2 ranks (progress lines: rank 0's share)" in done.stdout.splitlines()[0]


def rank0_good_photos(folder: Path, out: Path) -> int:
    todo, _ = plan(folder, out)
    return sum(job.photo.name != "broken.jpg" for job in shard(todo, World(0, 2)))


def test_two_ranks_split_a_folder_for_the_real_time_network(folder, tmp_path):
    out = tmp_path / "styled"
    expected = rank0_good_photos(folder, out)
    done, seconds = run_ranks(
        ["-m", "nstlib.realtime", "apply", "night-cafe", str(folder), "-o", str(out), "--size", "64"],
        tmp_path,
    )
    check_two_rank_run(done, folder, out, expected)
    assert seconds < 120


def test_two_ranks_split_a_folder_for_the_optimisation(folder, tmp_path):
    out = tmp_path / "styled"
    expected = rank0_good_photos(folder, out)
    command = [
        "-m",
        "nstlib",
        str(folder),
        str(CAFE),
        "-o",
        str(out),
        "--size",
        "32",
        "--steps",
        "1",
        "--quiet",
    ]
    done, seconds = run_ranks(command, tmp_path)
    check_two_rank_run(done, folder, out, expected)
    assert seconds < 120


def test_joined_is_one_process_without_torchrun():
    with distributed.joined("cpu") as (world, device):
        assert world == World() and not world.distributed and str(device) == "cpu"
    assert distributed.broadcast(["plan"], world) == ["plan"]


def test_apply_help_ends_with_examples_that_parse():
    import shlex

    parser = realtime_cli.build_parser()
    commands = [line.strip() for line in realtime_cli.APPLY_EXAMPLES.splitlines() if line.startswith("  ")]
    assert len(commands) == 3 and "torchrun --standalone --nproc_per_node=2" in commands[2]
    for command in commands:
        argv = shlex.split(command)
        args = parser.parse_args(argv[argv.index("nstlib.realtime") + 1 :])
        assert args.command == "apply" and args.photos and args.output
    (apply,) = [a.choices["apply"] for a in parser._actions if getattr(a, "choices", None)]
    assert apply.format_help().rstrip().endswith(realtime_cli.APPLY_EXAMPLES.rstrip())
