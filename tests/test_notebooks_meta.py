"""The chapters' plumbing stays in one place: set-up cell, kernel metadata, paths, line length, run times."""

import json
import re

import pytest

from nstlib import course
from tests.helpers import ROOT
from tools import chapter_times

CHAPTERS = course.chapters()


def load(path):
    return json.loads(path.read_text())


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_code_cell_is_the_rendered_setup_cell(path):
    """Fix a failure with `python tools/sync_setup_cells.py` (COURSE_REPO lives in nstlib/course.py)."""
    assert "".join(code_cells(load(path))[0]["source"]) == course.setup_cell_source()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_kernel_metadata_is_what_jupyterlab_writes(path):
    """Opening a chapter in JupyterLab must not change it (`python tools/sync_setup_cells.py` fixes it)."""
    metadata = load(path)["metadata"]
    assert set(metadata) == {"kernelspec", "language_info"}
    assert metadata["kernelspec"] == course.KERNELSPEC
    info = dict(metadata["language_info"])
    assert re.fullmatch(r"3\.\d+\.\d+", info.pop("version"))
    assert info == course.LANGUAGE_INFO


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_images_are_read_by_asset_not_by_relative_path(path):
    for cell in code_cells(load(path)):
        assert "../img" not in "".join(cell["source"])


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_lines_fit_in_110_characters(path):
    long = [
        (i, line)
        for i, cell in enumerate(load(path)["cells"])
        for line in "".join(cell["source"]).splitlines()
        if len(line) > 110
    ]
    assert not long


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_opening_states_the_run_time_of_the_stored_run(path):
    """Re-running a chapter changes its time: `python tools/chapter_times.py --write` restates it."""
    nb = load(path)
    stated = chapter_times.stated(nb)
    assert stated and "on a 2-core CPU" in stated and chapter_times.gpu_sentence(nb) in stated
    value, unit = re.search(r"about (\d+) (s|min) on a 2-core CPU", stated).groups()
    claimed = int(value) * (60 if unit == "min" else 1)
    measured = chapter_times.run_seconds(nb)
    assert abs(claimed - measured) <= max(0.25 * measured, 5)


def test_readme_colab_links_open_the_course_repository():
    readme = (ROOT / "README.md").read_text()
    repo = course.COURSE_REPO.removeprefix("https://github.com/")
    links = re.findall(r"https://colab\.research\.google\.com/github/([^)\s]+)", readme)
    assert {f"{repo}/blob/main/notebooks/{p.name}" for p in CHAPTERS} == set(links)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_nbval_marks_live_in_cell_tags_not_in_the_code_learners_read(path):
    """A run-dependent cell is tagged `nbval-ignore-output`; a `# NBVAL_…` comment would show in the code."""
    for cell in code_cells(load(path)):
        assert not re.search(r"^\s*#\s*(NBVAL|PYTEST_VALIDATE)_", "".join(cell["source"]), re.M)
        assert set(cell["metadata"].get("tags", [])) <= {"nbval-ignore-output", "nbval-skip"}
