"""Course plumbing: load_tensor, asset(), and the learner workspace (python -m nstlib.course)."""

import subprocess
import sys

import nbformat
import pytest
import torch
from nbclient import NotebookClient

import nstlib as nl
from nstlib import course
from nstlib.images import load_tensor
from tests.helpers import IMG, ROOT

CAT = IMG / "content" / "chelsea-cat.jpg"


def test_load_tensor_is_load_image_then_preprocess():
    x = load_tensor(CAT, 64, device="cpu")
    assert torch.equal(x, nl.preprocess(nl.load_image(CAT, max_size=64)))
    assert x.shape == (1, 3, 43, 64) and x.device.type == "cpu"
    assert load_tensor(CAT).shape[-2:] == (300, 451)
    with pytest.raises(nl.NSTError, match="no such file"):
        load_tensor(IMG / "content" / "no-such-cat.jpg")


def test_asset_is_absolute_and_found_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = course.asset("content/chelsea-cat.jpg")
    assert path.is_absolute() and path == CAT
    assert nl.load_image(path).size == (451, 300)
    assert course.asset("style").is_dir()


def test_a_missing_asset_is_a_one_line_error_naming_it():
    with pytest.raises(nl.NSTError) as err:
        course.asset("content/no-such-cat.jpg")
    message = str(err.value)
    assert "\n" not in message and "no-such-cat.jpg" in message and "CREDITS.md" in message


def test_the_setup_cell_renders_the_course_address_and_imports_nothing_of_nstlib():
    source = course.setup_cell_source()
    assert f'COURSE_REPO = "{course.COURSE_REPO}"' in source
    assert "{COURSE_REPO}" in source  # IPython expands it in the !git line on Colab
    assert "nstlib" not in source.replace("nst-course", "")  # runs before nstlib is installed
    assert "https://example.org/fork" in course.setup_cell_source("https://example.org/fork")


def run(*args: str, capsys) -> tuple[int, str, str]:
    """`python -m nstlib.course ARGS` in-process: (exit code, stdout, stderr)."""
    try:
        code = course.main(list(args))
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def test_workspace_copies_every_chapter_and_never_overwrites(tmp_path, capsys):
    dest = tmp_path / "ws"
    code, out, _ = run("workspace", str(dest), capsys=capsys)
    originals = course.chapters()
    assert code == 0 and len(originals) == 8  # chapters 1-7 and appendix A1
    assert sorted(p.name for p in dest.iterdir()) == [p.name for p in originals]
    assert all((dest / p.name).read_bytes() == p.read_bytes() for p in originals)
    assert "copied 8" in out and f"jupyter lab {dest}" in out

    edited = dest / originals[2].name
    edited.write_text("my notes")
    code, out, _ = run("workspace", str(dest), capsys=capsys)
    assert code == 0 and "copied 0" in out and "skipped 8" in out and originals[2].name in out
    assert edited.read_text() == "my notes"


def test_reset_restores_the_original_and_keeps_a_backup(tmp_path, capsys):
    dest = tmp_path / "ws"
    run("workspace", str(dest), capsys=capsys)
    original = course.find_chapter(5)
    mine = dest / original.name
    mine.write_text("my edits")
    code, out, _ = run("reset", "5", str(dest), capsys=capsys)
    assert code == 0 and mine.read_bytes() == original.read_bytes()
    backups = list(dest.glob("05_training.backup-*.ipynb"))
    assert len(backups) == 1 and backups[0].read_text() == "my edits"
    assert str(backups[0]) in out

    mine.write_text("more edits")  # a second reset keeps both backups
    assert run("reset", "05_training.ipynb", str(dest), capsys=capsys)[0] == 0
    assert len(list(dest.glob("05_training.backup-*.ipynb"))) == 2

    code, out, _ = run("reset", "05_training", str(dest), capsys=capsys)  # unchanged: nothing to back up
    assert code == 0 and "nothing to do" in out and len(list(dest.glob("05_*.backup-*"))) == 2
    (dest / "01_images.ipynb").unlink()  # a deleted chapter comes back
    assert run("reset", "01", str(dest), capsys=capsys)[0] == 0
    assert (dest / "01_images.ipynb").read_bytes() == course.find_chapter(1).read_bytes()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["reset", "9", "{tmp}"], "no chapter '9'"),
        (["reset", "1", "{tmp}/missing"], "python -m nstlib.course workspace {tmp}/missing"),
        (["workspace", "{tmp}/a-file"], "is a file, not a folder"),
        (["workspace", str(ROOT / "notebooks")], "the course's own copy"),
        (["reset", "1", str(ROOT / "notebooks")], "the course's own copy"),
        (["bogus"], "invalid choice"),
        ([], "required"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(args, expected, tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, out, err = run(*args, capsys=capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert expected.replace("{tmp}", str(tmp_path)) in err
    assert sorted(p.name for p in (ROOT / "notebooks").glob("*.backup-*")) == []


def test_the_command_runs_as_a_module(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "nstlib.course", "workspace", str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and len(list((tmp_path / "ws").glob("*.ipynb"))) == 8


def test_a_chapter_runs_from_a_workspace_outside_notebooks(tmp_path, capsys, monkeypatch):
    run("workspace", str(tmp_path), capsys=capsys)
    monkeypatch.setenv("NSTLIB_FAST", "1")
    nb = nbformat.read(tmp_path / "01_images.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = next(c for c in nb.cells if c.cell_type == "code" and "content_img = " in c.source)
    assert "content: (451, 300) RGB" in "".join(o.get("text", "") for o in images.outputs)
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in course.chapters()]


def test_pick_follows_the_tier(monkeypatch):
    from nstlib import course, device

    monkeypatch.setattr(course, "FAST", True)
    assert course.tier() == "fast" and course.pick(1, 2, gpu=3) == 2
    monkeypatch.setattr(course, "FAST", False)
    monkeypatch.setenv("NSTLIB_DEVICE", "cpu")
    assert course.tier() == "cpu" and course.pick(1, 2, gpu=3) == 1
    monkeypatch.setattr(device.torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("NSTLIB_DEVICE")
    assert course.tier() == "gpu" and course.pick(1, 2, gpu=3) == 3
    assert course.pick(1, 2) == 1  # no GPU budget given: the full one
