"""Dream: DeepDream's octaves on a real photo, class images from noise that the model calls their
class, the pieces built on optvis, `deepvis dream` and its one-line errors, and the Dream mode."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json

import cv2
import numpy as np
import pytest
import torch

from deepvis import DeepvisError
from deepvis.config import Config
from deepvis.dream.ascent import NormalizedStep, Roll, channel_l2, dream_objective
from deepvis.dream.classes import ClassSettings, class_gallery, closest_labels, find_class
from deepvis.dream.deepdream import DreamSettings, dream, dream_layer, octave_sizes
from deepvis.optvis.objectives import Tap
from deepvis.optvis.seeds import ImageRandom
from deepvis.paths import SAMPLE_IMAGES
from deepvis.sources import read_image
from deepvis.device import one_cpu_thread

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: the tests' images are small, and on a busy machine a team of OpenMP threads
    waits on its slowest member (50x slower steps seen with 2 threads on 2 shared cores)."""
    with one_cpu_thread():
        yield


def small_photo(width: int = 128) -> np.ndarray:
    rgb = read_image(SAMPLE_IMAGES / "chelsea.png")
    height = round(rgb.shape[0] * width / rgb.shape[1])
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


# --------------------------------------------------------------------------- pieces on optvis


def test_roll_shifts_within_the_jitter_and_its_gradient_rolls_back():
    image = torch.arange(2 * 3 * 9 * 9, dtype=torch.float32).view(2, 3, 9, 9).requires_grad_(True)
    roll = Roll(3)
    random = ImageRandom([0, 1])
    shifts = roll.shifts(ImageRandom([0, 1]))
    assert all(-3 <= s <= 3 for shift in shifts for s in shift)
    view = roll(image, random)
    assert torch.equal(view[0], torch.roll(image[0], shifts[0], dims=(1, 2)))
    weight = torch.rand_like(view)
    (grad,) = torch.autograd.grad((view * weight).sum(), [image])
    # The gradient lands on the unshifted pixels: the notebook's roll back.
    assert torch.equal(grad[1], torch.roll(weight[1], (-shifts[1][0], -shifts[1][1]), dims=(1, 2)))


def test_normalized_step_moves_each_image_by_lr_on_average():
    p = torch.zeros(2, 3, 4, 4)
    grads = [torch.randn(2, 3, 4, 4) * torch.tensor([1e-4, 1e3]).view(2, 1, 1, 1)]
    NormalizedStep(1.5).start([p])(grads)
    assert torch.allclose(p.abs().flatten(1).mean(dim=1), torch.tensor([1.5, 1.5]))


def test_channel_l2_reads_one_channel():
    conv = torch.nn.Conv2d(3, 4, 1)
    model = torch.nn.Sequential(conv).eval()
    x = torch.randn(1, 3, 5, 5)
    value = channel_l2(Tap(conv), 2)(model, x)
    assert torch.allclose(value, conv(x)[:, 2].pow(2).mean(dim=(1, 2)))


def test_octaves_go_from_small_to_the_image_size():
    sizes = octave_sizes(300, 451, DreamSettings(octaves=4, octave_scale=1.4))
    assert sizes[-1] == (300, 451) and sizes[0] == (round(300 / 1.4 ** 3), round(451 / 1.4 ** 3))
    assert sizes == sorted(sizes)


# --------------------------------------------------------------------------- DeepDream on a real photo


def test_objective_rises_octave_over_octave_on_a_real_photo(loaded):
    rgb = small_photo(192)
    layer = dream_layer(loaded)
    result = dream(loaded, rgb, layer, None, DreamSettings(octaves=3, steps=4))
    assert [o.size for o in result.octaves] == [(w, h) for h, w in octave_sizes(*rgb.shape[:2], result.settings)]
    objective = dream_objective(loaded, layer, None)
    mean = torch.tensor(loaded.card.mean).view(1, 3, 1, 1)
    std = torch.tensor(loaded.card.std).view(1, 3, 1, 1)
    for index, octave in enumerate(result.octaves):
        # Each octave raises the objective (measured x1.28-1.39 in 4 steps on torch 2.14.1)...
        assert octave.objective_end > 1.15 * octave.objective_start
        if index:
            # ... and hands it up: the next octave starts above the undreamed photo at its size
            # (measured x1.11 and x1.17).
            plain = cv2.resize(rgb, octave.size, interpolation=cv2.INTER_AREA)
            x = torch.as_tensor(plain).permute(2, 0, 1)[None].float() / 255.0
            with torch.no_grad():
                assert octave.objective_start > 1.05 * float(objective(loaded.model, (x - mean) / std)[0])
    assert result.ratio > 1.2  # measured 1.45: the whole dream raises the objective by a fifth at least
    assert result.image.shape == rgb.shape and result.image.dtype == np.uint8
    assert np.abs(result.image.astype(int) - rgb).mean() > 2  # it changed the picture


def test_one_unit_and_cancel(loaded):
    rgb = small_photo(64)
    settings = DreamSettings(octaves=2, steps=2)
    one = dream(loaded, rgb, loaded.find_layer("block3"), 5, settings)
    assert one.unit == 5 and one.octaves[-1].objective_end > one.octaves[0].objective_start
    calls = []
    stop_at_third = lambda: calls.append(1) or len(calls) > 2  # noqa: E731
    assert dream(loaded, rgb, dream_layer(loaded), None, settings, cancel=stop_at_third) is None
    assert len(calls) == 3


# --------------------------------------------------------------------------- class images from noise


def test_class_names_match_case_insensitively_and_unknown_ones_list_the_closest(loaded):
    labels = loaded.labels
    assert find_class(labels, "Daisy") == labels.index("daisy")
    assert find_class(labels, "985") == 985
    assert "great white shark" in closest_labels(labels, "shark")
    with pytest.raises(DeepvisError, match="closest: .*tabby") as error:
        find_class(labels, "tabbby")
    assert "\n" not in str(error.value)
    with pytest.raises(DeepvisError, match="names 2 classes"):
        find_class(["cat", "Cat", "dog"], "CAT")
    with pytest.raises(DeepvisError, match="out of range"):
        find_class(labels, "1000")


def test_a_class_image_from_noise_is_classified_as_its_class(loaded, tmp_path):
    # Small and short for a test's time: 32 Adam steps at 128 px (the command's default is 512 at 224).
    target = find_class(loaded.labels, "goldfish")
    gallery = class_gallery(loaded, target, [0], tmp_path, ClassSettings(steps=32, size=128, lr=0.1))
    saved = read_image(tmp_path / "seed_0.png")  # measured from the file, as the command writes it
    assert saved.shape == (128, 128, 3)
    assert gallery.measures[0].rank == 1, gallery.measures


# --------------------------------------------------------------------------- the command


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    from deepvis.cli import main

    code = main(args)
    return code, capsys.readouterr().err


def test_dream_command_writes_the_image_and_its_octaves(tmp_path, same_model, capsys):
    photo = tmp_path / "cat.png"
    cv2.imwrite(str(photo), cv2.cvtColor(small_photo(72), cv2.COLOR_RGB2BGR))
    out = tmp_path / "out" / "dream.png"
    code, _ = run_cli(["dream", str(photo), "--octaves", "2", "--steps", "2", "--out", str(out)], capsys)
    assert code == 0
    assert read_image(out).shape == (48, 72, 3)
    summary = json.loads(out.with_suffix(".json").read_text())
    assert [o["size"] for o in summary["octaves"]] == [[51, 34], [72, 48]]
    assert all(o["objective_end"] > o["objective_start"] for o in summary["octaves"])


def test_dream_bench_prints_one_json_line(tmp_path, same_model, capsys):
    photo = tmp_path / "cat.png"
    cv2.imwrite(str(photo), cv2.cvtColor(small_photo(48), cv2.COLOR_RGB2BGR))
    from deepvis.cli import main

    assert main(["dream", str(photo), "--octaves", "1", "--steps", "2", "--bench"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["dream_steps_per_s"] > 0 and report["bare_steps_per_s"] > 0 and report["speed_ratio"] > 0


def test_class_command_writes_pngs_json_and_sheet(tmp_path, same_model, capsys):
    out = tmp_path / "classes"
    code, err = run_cli(["dream", "--class", "DAISY", "--seeds", "2", "--size", "32", "--steps", "2",
                         "--out", str(out)], capsys)
    assert code == 0, err
    summary = json.loads((out / "classes.json").read_text())
    assert summary["label"] == "daisy" and [s["seed"] for s in summary["seeds"]] == [0, 1]
    assert all(0 <= s["probability"] <= 1 and s["rank"] >= 1 for s in summary["seeds"])
    assert (out / "seed_1.png").exists() and read_image(out / "sheet.png").shape[1] > 2 * 32


@pytest.mark.parametrize("args, message", [
    (["--layer", "nosuch"], "no layer 'nosuch'"),
    (["--octaves", "0"], "--octaves must be at least 1"),
    (["--unit", "100000"], "out of range"),
])
def test_bad_dream_input_is_one_line(tmp_path, same_model, capsys, args, message):
    photo = tmp_path / "cat.png"
    cv2.imwrite(str(photo), cv2.cvtColor(small_photo(32), cv2.COLOR_RGB2BGR))
    code, err = run_cli(["dream", str(photo), *args, "--out", str(tmp_path / "d.png")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and message in err


def test_corrupt_image_and_unknown_class_are_one_line(tmp_path, same_model, capsys):
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, err = run_cli(["dream", str(corrupt), "--out", str(tmp_path / "d.png")], capsys)
    assert code == 2 and err.count("\n") == 1 and "corrupt" in err
    code, err = run_cli(["dream", "--class", "tabbby cat", "--seeds", "1", "--out", str(tmp_path / "c")], capsys)
    assert code == 2 and err.count("\n") == 1 and "closest: tabby" in err


# --------------------------------------------------------------------------- the mode


# Live computes no unit images in these tests: only Dream's worker runs torch beside Live's.
def test_dream_mode_dreams_lives_frame_octave_by_octave_and_saves(qtbot, tmp_path):
    from deepvis.gui.main_window import MainWindow
    from deepvis.sources import VideoSource
    from support.windows import TIMEOUT, tiny_model, write_video

    config = Config().replace(store=str(tmp_path / "units"), device="cpu", auto_unit_images=False)
    window = MainWindow(config, tiny_model(), VideoSource(write_video(tmp_path / "v.mp4"), fps=0).start())
    window.resize(1024, 700)
    window.show()
    qtbot.addWidget(window)
    try:
        live = window.live
        qtbot.waitUntil(lambda: live.last_delivery is not None, timeout=TIMEOUT)
        mode = window.context.show_mode("dream")
        assert mode.dream_from_live()
        assert not live.active and mode.active  # Live waits while Dream is shown
        qtbot.waitUntil(lambda: mode.shown_dream is not None, timeout=TIMEOUT)
        assert [line.split(":")[0] for line in mode.octave_lines] == [f"octave {i}" for i in range(1, 5)]
        assert mode.original_pane.has_image() and mode.dream_pane.has_image()
        assert mode.shown_dream.result.image.shape == mode.original.shape
        assert "objective" in mode.status_text() and mode.ready()

        saved = mode.save_result(tmp_path / "saved.png")
        assert read_image(saved).shape == mode.original.shape and saved.with_suffix(".json").exists()

        # Live's layer and unit; and a stop between steps.
        live.model.press("Right")
        mode.steps.setValue(200)
        mode.octaves.setValue(10)
        assert mode.dream_from_live(use_unit=True)
        assert mode.layer.currentText() == live.view.layer and mode.unit.value() == live.view.unit
        assert mode.worker.busy and "dreaming" in mode.status_text()
        mode.handle_key("x")
        # Stop is said at once, and nothing of the stopped job reaches the panes afterwards.
        assert "stopped" in window.message and not mode.worker.busy
        assert "stopped" in mode.status_text() and "stopped" in mode.dream_pane.placeholder
        qtbot.wait(300)
        assert mode.shown_dream.result.unit is None  # the stopped dream replaced nothing

        # Another image opened, its dream stopped: Save writes the shown dream under its own input.
        other = tmp_path / "other.png"
        cv2.imwrite(str(other), np.full((40, 48, 3), 90, np.uint8))
        assert mode.open_image(str(other))
        mode.stop()
        again = mode.save_result(tmp_path / "again.png")
        assert json.loads(again.with_suffix(".json").read_text())["image"] == mode.shown_dream.input_name
        assert mode.shown_dream.input_name.startswith("Live frame") and mode.original_name == "other.png"

        window.show_mode("live")  # Live resumes
        assert live.active and not mode.active
    finally:
        window.shutdown()


def test_dream_mode_class_gallery_shows_probabilities(qtbot, tmp_path):
    from deepvis.gui.main_window import MainWindow
    from deepvis.sources import VideoSource
    from support.windows import TIMEOUT, tiny_model, write_video

    config = Config().replace(store=str(tmp_path / "units"), device="cpu", auto_unit_images=False)
    window = MainWindow(config, tiny_model(), VideoSource(write_video(tmp_path / "v.mp4"), fps=0).start())
    window.show()
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: window.live.last_delivery is not None, timeout=TIMEOUT)
        mode = window.show_mode("dream")
        mode.class_name.setText("Class 3")
        mode.seeds.setValue(2)
        mode.class_steps.setValue(20)
        mode.handle_key("c")
        qtbot.waitUntil(lambda: mode.classes is not None, timeout=TIMEOUT)
        gallery = mode.classes.gallery
        assert gallery.label == "class 3" and len(gallery.measures) == 2
        assert mode.sheet_pane.has_image() and "median probability" in mode.classes_label.text()
        assert "seed 1: p" in mode.classes_label.text()
        mode.class_name.setText("nosuch")
        mode.start_classes()
        qtbot.waitUntil(lambda: "closest" in window.message, timeout=TIMEOUT)
        assert "closest" in mode.sheet_pane.placeholder  # not "optimizing 'nosuch'…" forever
    finally:
        window.shutdown()
