"""MACO's parameterization and transparency, feature accentuation, the diversity term, and their commands."""

from __future__ import annotations

import json
import math
import sys

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from deepvis.device import one_cpu_thread
from deepvis.optvis.diversity import diversity, gram_similarity
from deepvis.optvis.maco import MacoImage, load_template, maco_views, magnitude_for
from deepvis.optvis.objectives import Tap, class_logit, read
from deepvis.optvis.param import FourierImage
from deepvis.optvis.render import Adam, alpha_blend, alpha_map, render
from deepvis.optvis.seeds import ImageRandom
from deepvis.optvis.transforms import RandomCrops
from deepvis.paths import SAMPLE_IMAGES
from deepvis.sources import read_image

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with one_cpu_thread():
        yield


class SmallNet(nn.Module):
    """A few conv layers and two classes, seeded: enough structure for styles to differ."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(x.mean(dim=(2, 3)))


class CornerUnit(nn.Module):
    """One unit that reads only the top-left 8 x 8 pixels of a 32 x 32 view: a blurred brightness there."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1.0 / 27)

    def forward(self, x):
        return self.conv(x)[:, :, :8, :8].mean(dim=(2, 3))


# --------------------------------------------------------------------------- MACO


def test_the_shipped_spectrum_is_a_natural_one():
    template = load_template()
    assert template.shape == (3, 224, 113) and bool(torch.isfinite(template).all())
    centre = template.shape[1] // 2
    # Natural images: the magnitude falls with the frequency (about 1/f) along both axes.
    for row, col in ((centre, 2), (centre + 2, 0)):
        assert template[0, row, col] > 5 * template[0, centre, 100]


@pytest.mark.parametrize("size", [32, 33])
def test_maco_magnitude_stays_fixed_through_optimization(size):
    model = SmallNet().eval().requires_grad_(False)
    param = MacoImage(ImageRandom([0, 1]), size)
    phase_start = param.phase.detach().clone()
    rendered = render(model, class_logit(model, [0, 1]), param, transforms=maco_views(size, crops=2),
                      step_rule=Adam(0.2), steps=50)
    assert rendered.values.shape == (2,)
    assert (param.phase.detach() - phase_start).abs().mean() > 0.1  # the phase did move
    measured = torch.fft.rfft2(param.decorrelated().detach(), norm="ortho").abs()
    prescribed = param.magnitude.expand_as(measured)
    # float32 FFTs there and back: errors near 1e-7 of the largest magnitude; 1e-5 leaves room.
    assert (measured - prescribed).abs().max() <= 1e-5 * prescribed.max()
    assert torch.allclose(prescribed, magnitude_for(size) * 2.0)  # the natural RMS the image is made with


def test_random_crops_stay_inside_and_give_count_views_per_image():
    images = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).view(2, 3, 16, 16)
    crops = RandomCrops(3, 0.5, 1.0, size=8, centre_std=0.5)
    views = crops(images, ImageRandom([0, 1]))
    assert views.shape == (6, 3, 8, 8)
    # Each image's views come from that image alone: within its own range of values.
    for b in range(2):
        part = views[3 * b:3 * b + 3]
        assert part.min() >= images[b].min() - 1e-4 and part.max() <= images[b].max() + 1e-4


def test_alpha_is_highest_where_the_units_receptive_field_is():
    model = CornerUnit().eval().requires_grad_(False)
    param = MacoImage(ImageRandom([3]), 32)
    views = maco_views(32, crops=2, low=0.7, high=1.0, noise=0.02, centre_std=0.05)
    rendered = render(model, class_logit(model, [0]), param, transforms=views, step_rule=Adam(0.2), steps=30,
                      alpha=True)
    alpha = alpha_map(rendered.alpha)[0, 0]
    quadrants = [alpha[:16, :16].mean(), alpha[:16, 16:].mean(), alpha[16:, :16].mean(), alpha[16:, 16:].mean()]
    # The views hold the image's top-left 8 x 8 px, scaled 0.7-1 and moved by a few px: the gradient
    # falls in the top-left quadrant only; a factor of 10 leaves room for the blur at its border.
    assert quadrants[0] > 10 * max(quadrants[1:])
    peak = int(alpha.flatten().argmax())
    assert peak // 32 < 16 and peak % 32 < 16
    blended = alpha_blend(rendered.images, alpha_map(rendered.alpha))
    assert blended.shape == rendered.images.shape and float(blended[0, :, -1, -1].min()) > 0.99  # faded to white


def test_maco_preset_makes_unit_images_with_their_alpha():
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "support"))
    from deepvis.unitvis.optimize import get_preset, optimize_units
    from deepvis.zoo import load_model

    tiny = load_model("tiny_unit_model:make_model", device="cpu")
    layer = tiny.find_layer("features.3")
    result = optimize_units(tiny, layer, [0, 1, 2], get_preset("maco", steps=12), size=48)
    start = optimize_units(tiny, layer, [0, 1, 2], get_preset("maco", steps=1), size=48)
    assert result.images.shape == (3, 3, 48, 48) and result.alpha.shape == (3, 1, 48, 48)
    assert result.objective.mean() > start.objective.mean()


def test_a_maco_unit_image_is_stored_beside_its_faded_copy(tmp_path):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "support"))
    from deepvis.gui.live.unit_panel import optimized_caption
    from deepvis.unitvis.ondemand import compute_unit
    from deepvis.unitvis.store import UnitStore
    from deepvis.zoo import load_model

    tiny = load_model("tiny_unit_model:make_model", device="cpu")
    store = UnitStore(tmp_path, "tiny")
    images = compute_unit(tiny, "features.3", 1, store, preset="maco", steps=6, size=40)
    assert [p.name for p in images.optimized] == ["opt_maco.png", "opt_maco_alpha.png"]
    plain, faded = (read_image(p).astype(np.float32) for p in images.optimized)
    # Faded towards white: never darker than the image where the unit's gradient was small.
    assert plain.shape == faded.shape and (faded >= plain - 1).all() and (faded > plain + 8).any()
    entry = store.unit_info("features.3", 1)["optimize"]["maco"]
    assert entry["alpha_image"] == "opt_maco_alpha.png"
    assert [optimized_caption(p.name) for p in images.optimized] == ["maco", "maco: where it looks"]
    lucid = compute_unit(tiny, "features.3", 2, store, preset="lucid", steps=2, size=40)
    assert [p.name for p in lucid.optimized] == ["opt_lucid.png"]  # no transparency: no second image


# --------------------------------------------------------------------------- diversity


def test_diversity_lowers_pairwise_similarity_on_a_small_model():
    model = SmallNet().eval().requires_grad_(False)
    tap = Tap(model.relu2, "output")

    def similarity(weight: float) -> float:
        param = FourierImage(ImageRandom([0, 1, 2, 3]), 32)
        objective = class_logit(model, [0] * 4)
        if weight:
            objective = objective + weight * diversity(tap, [0] * 4)
        rendered = render(model, objective, param, step_rule=Adam(0.05), steps=60)
        grams = gram_similarity(read(model, rendered.images, [tap])[tap])
        return float(grams[~torch.eye(4, dtype=torch.bool)].mean())

    plain, diverse = similarity(0.0), similarity(5.0)
    # Without the term the four seeds end alike in style (cosine near 1); the term must cut the
    # mean pairwise cosine clearly, by more than 0.05.
    assert diverse < plain - 0.05, (plain, diverse)


def test_the_digits_cnns_seeds_of_one_digit_differ_with_the_diversity_term():
    import itertools

    from deepvis.digits.cnn import DIVERSITY, class_images
    from deepvis.digits.nets import SmallCNN

    torch.manual_seed(0)
    model = SmallCNN().eval().requires_grad_(False)

    def within(weight: float) -> float:
        images = class_images(model, [1, 7], 3, steps=40, diversity_weight=weight)[0]
        return float(np.mean([np.abs(images[d, a] - images[d, b]).mean()
                              for d in range(2) for a, b in itertools.combinations(range(3), 2)]))

    # Measured 0.079 without the term and 0.36 with it (seeded weights): at least twice apart.
    assert within(DIVERSITY) > 2 * within(0.0)


@pytest.mark.parametrize("shape, views", [((4, 50, 3, 3), 1), ((4, 5, 6, 6), 1), ((6, 40, 2, 2), 2), ((3, 7), 1)])
def test_gram_similarity_equals_the_cosine_of_the_gram_matrices(shape, views):
    from deepvis.optvis.diversity import gram_matrices

    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).relu()
    grams = gram_matrices(x)
    grams = grams.view(len(x) // views, views, *grams.shape[1:]).mean(dim=1).flatten(1)
    grams = torch.nn.functional.normalize(grams, dim=1)
    # Two ways to the same numbers (products of channels or of positions): float32 rounding only.
    assert torch.allclose(gram_similarity(x, views), grams @ grams.T, atol=1e-5)


def test_diversity_compares_only_images_of_a_group():
    tap_model = nn.Identity()
    tap = Tap(tap_model, "output")
    x = torch.rand(4, 3, 5, 5)
    x[1] = x[0]  # images 0 and 1: the same style, but in different groups
    values = diversity(tap, [0, 1, 0, 1]).score({tap: x})
    cos = gram_similarity(x)
    assert torch.allclose(values, -torch.stack([cos[0, 2], cos[1, 3], cos[2, 0], cos[3, 1]]), atol=1e-6)
    alone = diversity(tap, [0, 1, 2, 3]).score({tap: x})
    assert torch.equal(alone, torch.zeros(4))


# --------------------------------------------------------------------------- accentuation


def photo(width: int) -> np.ndarray:
    rgb = read_image(SAMPLE_IMAGES / "chelsea.png")
    return cv2.resize(rgb, (width, round(rgb.shape[0] * width / rgb.shape[1])), interpolation=cv2.INTER_AREA)


def test_a_fourier_image_made_from_an_image_is_that_image():
    x = torch.rand(2, 3, 24, 24) * 0.9 + 0.05
    assert torch.allclose(FourierImage.from_images(x).image(), x, atol=1e-5)


def test_accentuation_stays_within_its_radius_of_the_frame_and_raises_the_unit(loaded):
    from deepvis.dream.accentuate import AccentSettings, accentuate

    settings = AccentSettings(steps=24, size=64, radius=0.1, first=6, lr=0.05)
    seen = []
    result = accentuate(loaded, photo(96), loaded.find_layer("block4"), 5, settings, on_result=seen.append)
    assert [r.step for r in seen] == [6, 12, 24] and result is seen[-1]
    # The bound is enforced after every step: exact up to float rounding.
    assert all(r.distance <= 0.1 * (1 + 1e-5) for r in seen)
    assert result.distance > 0.05  # and the unit pulls it well away from the frame
    assert result.objective > result.objective_start
    assert result.image.shape == result.frame.shape == (64, 64, 3)
    assert 0 < result.pixel_change < 0.1 and result.alpha.shape == (64, 64)


# --------------------------------------------------------------------------- the commands


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    from deepvis.cli import main

    code = main(args)
    return code, capsys.readouterr().err


def test_accentuate_command_writes_the_image_and_its_figures(tmp_path, same_model, capsys):
    source = tmp_path / "cat.png"
    cv2.imwrite(str(source), cv2.cvtColor(photo(100), cv2.COLOR_RGB2BGR))  # 100 x 66
    out = tmp_path / "accent.png"
    code, err = run_cli(["dream", str(source), "--accentuate", "--layer", "block3", "--unit", "2", "--size", "56",
                         "--steps", "4", "--out", str(out)], capsys)
    assert code == 0, err
    assert read_image(out).shape == read_image(tmp_path / "accent_where.png").shape == (56, 56, 3)
    figures = json.loads(out.with_suffix(".json").read_text())
    assert figures["layer"] == "block3" and figures["unit"] == 2 and figures["distance"] <= figures["radius"]


def test_maco_class_images_come_with_their_alpha(tmp_path, same_model, capsys):
    out = tmp_path / "maco"
    code, err = run_cli(["dream", "--class", "daisy", "--method", "maco", "--seeds", "2", "--size", "32",
                         "--steps", "2", "--out", str(out)], capsys)
    assert code == 0, err
    summary = json.loads((out / "classes.json").read_text())
    assert summary["method"] == "maco" and summary["diversity"] > 0
    assert read_image(out / "seed_1_alpha.png").shape == (32, 32, 3)


@pytest.mark.parametrize("args, message", [
    (["--class", "daisy", "--method", "deepdream"], "unknown --method 'deepdream' (one of lucid, maco)"),
    (["IMAGE", "--accentuate", "--layer", "block3"], "--accentuate needs --unit"),
    (["SMALL", "--accentuate", "--unit", "3"], "too small for the model"),
])
def test_bad_input_is_one_line(tmp_path, same_model, capsys, args, message):
    image, small = tmp_path / "cat.png", tmp_path / "small.png"
    cv2.imwrite(str(image), cv2.cvtColor(photo(80), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(small), cv2.cvtColor(photo(40), cv2.COLOR_RGB2BGR))
    args = [str(image) if a == "IMAGE" else str(small) if a == "SMALL" else a for a in args]
    code, err = run_cli(["dream", *args, "--out", str(tmp_path / "out.png")], capsys)
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_the_spectrum_file_is_refused_in_one_line_when_it_is_not_one(tmp_path):
    from deepvis import DeepvisError

    bad = tmp_path / "spectrum.npy"
    np.save(bad, np.zeros((3, 10, 10), dtype=np.float16))
    with pytest.raises(DeepvisError, match="not a 3 x N"):
        load_template(bad)
    assert math.isfinite(float(load_template().sum()))
