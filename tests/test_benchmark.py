"""The benchmark's parts on their own: d2l's reference loop, and the report that keeps the notes."""

from __future__ import annotations

import json

import pytest
import torch

import nstlib as nl
from benchmarks import report
from benchmarks.common import CONTENT, STYLE, d2l_extractor, d2l_objective
from benchmarks.d2l_reference import d2l_loss, d2l_net, d2l_reference

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    """The benchmark's content and style at 32x48 px: the smallest size conv5_1 takes, times 2."""
    return tuple(nl.preprocess(nl.load_image(p, shape=(32, 48))) for p in (CONTENT, STYLE))


def test_reference_lowers_its_loss(caffe_net, pair):
    content, style = pair
    ref = d2l_reference(content, style, epochs=5, device=CPU, pretrained=caffe_net)
    assert len(ref["losses"]) == ref["passes"] == 5
    assert ref["losses"][-1] < 0.8 * ref["losses"][0]
    assert ref["image"].shape == content.shape
    assert not any(p.requires_grad for p in caffe_net.parameters())  # the shared net is left frozen


def test_shared_evaluation_gives_the_reference_loss(caffe_net, pair):
    """d2l's indices with its in-place ReLUs tap the layers the shared evaluation names."""
    content, style = pair
    evaluate = d2l_objective(d2l_extractor(CPU, net=caffe_net), content, style)
    ref = d2l_reference(content, style, epochs=1, device=CPU, pretrained=caffe_net)
    noisy = content + 0.3 * torch.randn_like(content)
    net = d2l_net(caffe_net)
    with torch.no_grad():
        assert evaluate(content).total.item() == pytest.approx(ref["losses"][0], rel=1e-5)
        assert evaluate(noisy).total.item() == pytest.approx(d2l_loss(net, noisy, content, style), rel=1e-5)


MEASURED = {
    "machine": "a test machine",
    "device": "cpu",
    "epochs": 5,
    "sizes": {
        "32x48": {
            "levers_s_per_pass": {"VGG requires grad (d2l)": 0.2, "VGG frozen": 0.1},
            "reference_seconds": 1.0,
            "reference_loss": 500.0,
            "fast": {
                "L-BFGS, pixels": {
                    "seconds": 0.5,
                    "passes": 7,
                    "full_size_passes": 7,
                    "loss": 600.0,
                    "reached": False,
                    "speedup_time": 2.0,
                }
            },
        }
    },
    "peak_memory_mib": {"256": 1175.3},
}
NOTES = "- A hand-written note, kept across re-runs.\n- A second one.\n"


def test_report_renders_the_tables_and_the_notes(tmp_path):
    (tmp_path / "cpu.json").write_text(json.dumps(MEASURED))
    (tmp_path / "cpu-notes.md").write_text(NOTES)
    report.main(["cpu", "--dir", str(tmp_path)])
    md = (tmp_path / "cpu.md").read_text()
    assert md.startswith("# Benchmark results: a test machine\n")
    assert "| 32x48 | 1.0 s, 500 | L-BFGS, pixels | 7 (7) | 0.5 s | 600 (bar not reached) | **x2.0** |" in md
    assert "| 32x48 | 0.200 s (x1.00) | 0.100 s (x2.00) |" in md
    assert "| 256x256 | 1,175 |" in md
    assert md.endswith("\nNotes:\n\n" + NOTES)


def test_a_rerun_keeps_the_notes(tmp_path):
    """speed.py writes only measurements; the tracked notes file is rendered in again every time."""
    from benchmarks.speed import save

    (tmp_path / "cpu-notes.md").write_text(NOTES)
    for epochs in (5, 6):
        save({**MEASURED, "epochs": epochs}, tmp_path)
        assert "notes" not in json.loads((tmp_path / "cpu.json").read_text())
        md = (tmp_path / "cpu.md").read_text()
        assert f"{epochs} Adam epochs" in md and NOTES in md
    assert (tmp_path / "cpu-notes.md").read_text() == NOTES


def test_throughput_runs_both_batches_on_the_default_objective(tmp_path):
    from benchmarks import throughput

    out = tmp_path / "throughput.md"
    throughput.main(
        ["--size", "32", "--batch", "2", "--steps", "2", "--precision", "fp32", "--out", str(out)]
    )
    rows = [line.split("|")[1:-1] for line in out.read_text().splitlines() if line.startswith("| ")][1:]
    assert [r[0].strip() for r in rows] == ["1", "2"]
    assert all(float(r[1]) > 0 for r in rows)
    # the batch's column is its photos/s over batch 1's (3 significant digits each: 1% apart at most)
    assert float(rows[1][2].strip()[1:]) == pytest.approx(float(rows[1][1]) / float(rows[0][1]), rel=0.01)


def test_quick_looks_do_not_overwrite_the_tracked_results(tmp_path, monkeypatch):
    from benchmarks import speed, throughput

    assert speed.parse_args([]).out == speed.parse_args(["--device", "cpu"]).out == report.RESULTS
    assert speed.parse_args(["--sizes", "150x225", "--no-memory"]).out == report.QUICK_LOOK != report.RESULTS
    assert speed.parse_args(["--sizes", "150x225", "--out", str(tmp_path)]).out == tmp_path
    monkeypatch.setattr(throughput, "QUICK_LOOK", tmp_path / "quick")
    tracked = report.RESULTS / "throughput-cpu.md"
    before = tracked.read_bytes() if tracked.exists() else None
    throughput.main(["--size", "32", "--batch", "2", "--steps", "1", "--precision", "fp32"])
    assert (tmp_path / "quick" / "throughput-cpu.md").exists()
    assert (tracked.read_bytes() if tracked.exists() else None) == before


def test_memory_runs_in_a_fresh_process_and_grows_with_the_image():
    from benchmarks.memory import peak_memory

    small, large = peak_memory(64, "cpu"), peak_memory(256, "cpu")
    assert 0 < small < large  # the weights are resident in both; activations grow with the side


def test_the_schedule_benchmark_runs_both_paths_and_judges_the_change(tmp_path, monkeypatch):
    from benchmarks import schedule
    from nstlib import recipes

    monkeypatch.setattr(recipes, "SKETCH_FROM", 48)  # the sketch at this test's size, as at 512 px
    out = tmp_path / "schedule.md"
    assert schedule.main(["--size", "48", "--set", "course", "--limit", "1", "--out", str(out)]) == 0
    row = json.loads(out.with_suffix(".json").read_text())[0]
    before, now = row["before"], row["now"]
    assert before["sketch"] == 0 and now["sketch"] == recipes.SKETCH_STEPS
    assert now["full"] <= recipes.AFTER_SKETCH_STEPS and now["passes"] == now["sketch"] + now["full"]
    # both pictures moved toward the painting (the photo's own style ratio is 1) and kept the photo
    assert all(0 < r["style"] < 0.5 and 0 < r["content"] < 1 for r in (before, now))
    assert f"| {row['pair']} | {row['px']} | " in out.read_text()
