"""Real-time style transfer: the network, a training step, checkpoints, shipped models, the command line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from nstlib.errors import NSTError
from nstlib.realtime import TrainConfig, Trainer, TransformerNet, load_model, save_model, shipped
from nstlib.realtime.cli import list_models, main
from nstlib.realtime.model import MODELS_DIR, read_card, sha256
from tests.helpers import IMG, ROOT

CAFE = str(IMG / "style" / "van-gogh-night-cafe.jpg")
CAT = IMG / "content" / "chelsea-cat.jpg"
TINY = dict(crop=32, batch=2, style_size=64)


@pytest.fixture
def photos(tmp_path):
    """A folder of three course photos, one file that is not an image, and a held-out folder."""
    data, val = tmp_path / "data", tmp_path / "val"
    data.mkdir(), val.mkdir()
    for name in ("chelsea-cat.jpg", "coffee.jpg", "astronaut.jpg"):
        Image.open(IMG / "content" / name).resize((64, 48)).save(data / name)
    (data / "notes.jpg").write_text("not a photo")
    Image.open(IMG / "content" / "honey-bee.jpg").resize((64, 48)).save(val / "bee.jpg")
    return data, val


def test_the_network_keeps_the_photos_shape_and_gives_pixels():
    net = TransformerNet()
    assert net.parameter_count() == 424_899  # half of Johnson et al.'s widths: c9s1-16 ... 5 blocks of 64
    for h, w in ((64, 64), (37, 50)):  # sides need not be multiples of 4
        y = net(torch.rand(2, 3, h, w) * 2 - 0.5)
        assert y.shape == (2, 3, h, w) and 0 <= y.min() and y.max() <= 1
    with pytest.raises(NSTError, match="at least 16 px"):
        net(torch.rand(1, 3, 8, 64))


def test_instance_norm_treats_each_photo_alone_and_batch_norm_does_not():
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32) * 0.2
    inst = TransformerNet(width=4, blocks=1)
    assert torch.allclose(inst(torch.cat([a, b]))[:1], inst(a), atol=1e-5)
    batch = TransformerNet(width=4, blocks=1, norm="batch").train()
    assert not torch.allclose(batch(torch.cat([a, b]))[:1], batch(a), atol=1e-3)


def test_training_steps_lower_the_loss_on_one_photo(photos, tmp_path):
    data, _ = photos
    assert [p.name for p in Trainer(TrainConfig(style=CAFE, **TINY), data=data).crops.skipped] == [
        "notes.jpg"
    ]
    one = tmp_path / "one"
    one.mkdir()
    Image.open(CAT).resize((48, 48)).save(one / "cat.jpg")  # crops = the photo, mirrored or not
    trainer = Trainer(TrainConfig(style=CAFE, crop=48, batch=1, style_size=96), data=one)
    for _ in range(12):
        trainer.train_step()
    totals = [row["total"] for row in trainer.history]
    assert trainer.step == 12 and max(totals[-3:]) < 0.5 * totals[0]  # measured: 18.5 -> 4.0


def test_a_resumed_run_continues_exactly_where_the_checkpoint_stopped(photos, tmp_path):
    data, _ = photos
    config = TrainConfig(style=CAFE, **TINY)
    straight = Trainer(config, data=data)
    straight.run(steps=4)
    first = Trainer(config, data=data)
    first.run(steps=2, checkpoint=tmp_path / "m.ckpt")
    resumed = Trainer(config, data=data)
    resumed.load_state(torch.load(tmp_path / "m.ckpt", weights_only=False))
    resumed.run(steps=4)
    assert resumed.step == 4
    for p, q in zip(straight.net.parameters(), resumed.net.parameters()):
        assert torch.equal(p, q)


def test_a_saved_model_loads_with_its_hash_checked(tmp_path):
    net = TransformerNet(width=4, blocks=1)
    card = save_model(net, tmp_path / "m.pt", {"style": "img/style/x.jpg"})
    assert card["sha256"] == sha256(tmp_path / "m.pt") == read_card(tmp_path / "m.pt")["sha256"]
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(load_model(tmp_path / "m.pt")(x), net.eval()(x))
    with open(tmp_path / "m.pt", "ab") as f:
        f.write(b"\0")
    with pytest.raises(NSTError, match="sha256 does not match"):
        load_model(tmp_path / "m.pt")


def test_every_shipped_model_matches_its_card_and_is_small():
    models = shipped()
    assert len(models) >= 4 and "night-cafe" in models
    for name, path in models.items():
        card = read_card(path)
        assert card["sha256"] == sha256(path), name
        assert path.stat().st_size <= 2 * 2**20, name
        assert (ROOT / card["style"]).is_file(), name
        assert (
            card["iterations"] > 0
            and card["minutes"] > 0
            and set(card["final_loss"]) >= {"content", "style", "tv"}
        )
        assert card["command"].startswith("python -m nstlib.realtime train ")
        assert set(card["validation"]["512px"]) == {"style", "content"}
        stages = [card, *card["earlier"]]  # every stage on record, and the totals are their sums
        assert card["total_iterations"] == sum(s["iterations"] for s in stages), name
        assert card["total_minutes"] == pytest.approx(sum(s["minutes"] for s in stages), abs=0.01), name
        assert isinstance(load_model(name), TransformerNet)


def test_every_shipped_style_was_fine_tuned_from_the_base_within_ten_minutes():
    # The budget for a new style; the cards are written by the training command itself.
    base = read_card(MODELS_DIR / "base" / "night-cafe-s10.pt")
    for name, path in shipped().items():
        card = read_card(path)
        assert Path(card["from"]).name == "night-cafe-s10.pt", name
        assert card["earlier"][0]["command"] == base["command"], name
        # --minutes 10 stops at the first step that ends past ten minutes
        assert "--minutes 10 " in card["command"] and card["minutes"] <= 10.05, name


def test_list_prints_a_name_and_a_style_path_per_line(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == list_models() and len(lines) == len(shipped())
    for line in lines:
        name, path = line.split(" ")
        assert name in shipped() and (ROOT / path).is_file()


def test_apply_writes_one_file_or_a_folder_and_never_an_input(tmp_path, capsys):
    model = tmp_path / "m.pt"
    save_model(TransformerNet(width=4, blocks=1), model, {"style": "img/style/x.jpg"})
    out = tmp_path / "cat.jpg"
    assert main(["apply", str(model), str(CAT), "-o", str(out), "--size", "64"]) == 0
    assert Image.open(out).size == (64, 43)
    assert capsys.readouterr().out.startswith(f"wrote {out} (64x43 px, fp32, cpu) in ")
    assert (
        main(
            [
                "apply",
                str(model),
                str(CAT),
                str(IMG / "content" / "coffee.jpg"),
                "-o",
                str(tmp_path / "many"),
                "--size",
                "32",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == ["chelsea-cat.jpg", "coffee.jpg"]
    photo = tmp_path / "photo.jpg"
    shutil.copy(CAT, photo)
    assert main(["apply", str(model), str(photo), "-o", str(photo), "--force"]) == 2
    assert main(["apply", str(model), str(CAT), "-o", str(out)]) == 2  # exists, no --force
    assert main(["apply", "no-such-model", str(CAT), "-o", str(tmp_path / "x.jpg")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and "is an input image" in errors[0] and "--force" in errors[1]
    assert "no such model file or shipped model" in errors[2]
    assert photo.read_bytes() == CAT.read_bytes()


def test_train_writes_a_model_and_card_resumes_and_refuses_to_overwrite(photos, tmp_path, capsys):
    data, val = photos
    out = tmp_path / "m.pt"
    common = [
        CAFE,
        "-o",
        str(out),
        "--data",
        str(data),
        "--val",
        str(val),
        "--size",
        "32",
        "--batch",
        "1",
        "--quiet",
    ]
    assert main(["train", *common, "--steps", "2", "--validate-every", "1"]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["iterations"] == 2 and [v["step"] for v in card["validation_history"]] == [1, 2]
    assert card["style"] == "img/style/van-gogh-night-cafe.jpg" and "--steps 2" in card["command"]
    assert "skipped 1 unreadable or too small files" in capsys.readouterr().out
    assert main(["train", *common, "--steps", "3"]) == 2  # exists
    assert main(["train", *common, "--steps", "3", "--resume"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["iterations"] == 3
    tuned = tmp_path / "tuned.pt"  # fine-tuning records the base's stage and sums the cost
    assert (
        main(["train", *common[:1], "-o", str(tuned), *common[3:], "--steps", "1", "--from", str(out)]) == 0
    )
    card = json.loads(tuned.with_suffix(".json").read_text())
    assert [e["iterations"] for e in card["earlier"]] == [3] and card["total_iterations"] == 4
    assert card["total_minutes"] == pytest.approx(card["minutes"] + card["earlier"][0]["minutes"], abs=0.01)
    assert main(["train", *common, "--steps", "3", "--resume", "--strength", "5"]) == 2  # other options
    assert main(["train", CAFE, "-o", str(tmp_path / "n.pt"), "--resume"]) == 2  # nothing to resume
    assert main(["train", CAFE, "-o", CAFE.replace(".jpg", ".pt"), "--data", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and "already exists" in err[0] and "other options" in err[1]
    assert "no checkpoint to resume" in err[2] and "no such folder" in err[3]


def test_the_readme_real_time_example_runs_twice(tmp_path):
    """The README's `python -m nstlib.realtime apply` line, as written (plus a small --size), twice."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    (example,) = [b.strip() for b in blocks if b.startswith("python -m nstlib.realtime apply")]
    (tmp_path / "img").symlink_to(ROOT / "img")
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    for _ in range(2):
        done = subprocess.run(
            ["bash", "-c", example + " --size 64"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("wrote cat-fast.jpg (64x43 px, ")


def test_flat_crops_are_redrawn_so_every_crop_has_detail(tmp_path):
    """A flat crop has no TV to normalise by (the objective refuses it): the crop set draws another."""
    import numpy as np

    from nstlib.realtime.data import PhotoCrops

    pixels = np.full((64, 64, 3), 255, np.uint8)
    pixels[:, 52:] = np.random.default_rng(0).integers(0, 256, (64, 12, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "mostly-white.png")
    crops = PhotoCrops(tmp_path, crop=32, seed=0)
    tv = [(x[:, 1:] - x[:, :-1]).abs().mean().item() for x in (crops.sample() for _ in range(30))]
    assert min(tv) > 1e-3
    (tmp_path / "mostly-white.png").unlink()
    Image.fromarray(np.full((40, 40, 3), 255, np.uint8)).save(tmp_path / "white.png")
    assert PhotoCrops(tmp_path, crop=32).sample().std() > 0  # only flat photos: noise, no crash


def test_the_apply_memory_estimate_is_above_every_measured_peak_and_refuses_a_huge_size(
    tmp_path, monkeypatch, capsys
):
    from nstlib.realtime import cli

    for pixels, mib in cli.APPLY_MEASURED_PEAKS_MIB.items():
        assert cli.apply_bytes(pixels, 1) >= 1.1 * mib * 2**20
    big = tmp_path / "big.jpg"
    Image.new("RGB", (2000, 1000), "gray").save(big)
    model = tmp_path / "m.pt"
    save_model(TransformerNet(width=4, blocks=1), model, {"style": "img/style/x.jpg"})
    out = tmp_path / "out.jpg"
    monkeypatch.setattr(cli, "available_bytes", lambda device: 900 * 2**20)  # room for 836 x 418 px
    assert main(["apply", str(model), str(big), "-o", str(out), "--size", "2000"]) == 2
    monkeypatch.setattr(cli, "available_bytes", lambda device: 100 * 2**20)  # not even torch fits
    assert main(["apply", str(model), str(big), "-o", str(out), "--size", "64"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "use --size 836 or less" in err[0] and "free some memory first" in err[1]
    assert not out.exists()


def test_a_size_above_the_photos_own_is_capped_with_one_line_saying_so(tmp_path, capsys):
    model = tmp_path / "m.pt"
    save_model(TransformerNet(width=4, blocks=1), model, {"style": "img/style/x.jpg"})
    out = tmp_path / "cat.jpg"
    assert main(["apply", str(model), str(CAT), "-o", str(out), "--size", "50000"]) == 0
    assert Image.open(out).size == (451, 300)
    said = capsys.readouterr()
    assert said.err == (
        f"note: --size 50000 capped to 451 px for {CAT}, its own long side (451x300 px): "
        "enlarging a photo first only blurs the strokes\n"
    )
    assert said.out.startswith(f"wrote {out} (451x300 px, ")
    assert main(["apply", str(model), str(CAT), "-o", str(out), "--force"]) == 0  # the default 512: no note
    assert capsys.readouterr().err == ""


def test_a_time_budget_shows_seconds_of_a_fixed_total_and_the_end_gives_targets_and_verdicts(
    photos, tmp_path, capsys
):
    from nstlib.realtime.train_cli import TARGETS, verdict

    data, val = photos
    out = tmp_path / "m.pt"
    common = [CAFE, "-o", str(out), "--data", str(data), "--val", str(val), "--size", "32", "--batch", "1"]
    assert main(["train", *common, "--minutes", "0.05"]) == 0  # a 3-second budget
    said = capsys.readouterr()
    bars = [line for line in said.err.replace("\r", "\n").splitlines() if line.startswith("training")]
    assert bars and all("/3 s [" in line for line in bars), bars  # the total never moves
    assert "step=" in bars[-1] and "content=" in bars[-1]
    card = json.loads(out.with_suffix(".json").read_text())
    v = card["validation"]["512px"]
    assert said.out.rstrip().endswith(f"held-out photos at 512 px (mean of 1): {verdict(v)}")
    assert TARGETS == {"style": 0.2, "content": 0.5}
    assert verdict({"style": 0.172, "content": 0.605}) == (
        "style 0.172 (target <= 0.2: met), content 0.605 (target <= 0.5: missed)"
    )
    assert main(["train", *common, "--steps", "2", "--force"]) == 0  # a step budget: a step bar, fixed total
    bars = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if "training" in line]
    assert bars and all("/2 [" in line for line in bars), bars


def test_the_default_strength_is_the_shipped_models_median():
    from nstlib.realtime.cli import build_parser

    strengths = sorted(read_card(path)["config"]["strength"] for path in shipped().values())
    assert TrainConfig.strength == 3.0 == strengths[len(strengths) // 2]
    args = build_parser().parse_args(["train", CAFE, "-o", "m.pt"])
    assert args.strength == TrainConfig.strength


def test_the_cards_name_the_base_where_it_lives():
    base = MODELS_DIR / "base" / "night-cafe-s10.pt"
    assert " -o models/base/night-cafe-s10.pt " in read_card(base)["command"]
    for name, path in shipped().items():
        assert " -o models/base/night-cafe-s10.pt " in read_card(path)["earlier"][0]["command"], name
