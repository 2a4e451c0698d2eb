"""Dream on large images: the gradient taken tile by tile under a moving roll, the untiled step kept
for an image of one tile, progress in pixel-steps, and no model tensor larger than a tile."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from deepvis.config import Config
from deepvis.device import one_cpu_thread
from deepvis.dream.ascent import Roll, dream_objective
from deepvis.dream.deepdream import DreamSettings, dream, dream_layer, octave_sizes, pixel_steps, shrunk_pixels
from deepvis.dream.tiles import (TILE, cuts, margin_of, mean_abs, seam_shift, spans, tile_count, tiled_gradient,
                                 tiled_value)
from deepvis.optvis.objectives import Tap, layer_l2
from deepvis.optvis.seeds import ImageRandom
from deepvis.paths import SAMPLE_IMAGES
from deepvis.sources import read_image
from support.windows import tiny_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with one_cpu_thread():  # small images; a team of threads on a shared machine only waits
        yield


def photo(width: int, height: int) -> np.ndarray:
    return cv2.resize(read_image(SAMPLE_IMAGES / "chelsea.png"), (width, height), interpolation=cv2.INTER_AREA)


def model_input_of(loaded):
    mean = torch.tensor(loaded.card.mean).view(1, 3, 1, 1)
    std = torch.tensor(loaded.card.std).view(1, 3, 1, 1)
    return mean, (lambda pixels: (pixels / 255.0 + mean - mean) / std)


# --------------------------------------------------------------------------- the tiles


def test_spans_cover_the_length_in_equal_pieces_within_the_tile():
    for length, tile in ((1, 512), (512, 512), (513, 512), (3000, 512), (6000, 512), (97, 10)):
        pieces = spans(length, tile)
        assert pieces[0][0] == 0 and pieces[-1][1] == length
        assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))  # no gap, no overlap
        sizes = [end - start for start, end in pieces]
        assert max(sizes) <= tile and max(sizes) - min(sizes) <= 1  # no sliver at the edge
        assert len(pieces) == -(-length // tile)  # as few as fit


def test_an_axis_longer_than_a_tile_is_cut_with_context_that_fits_the_tile():
    assert cuts(451) == [(0, 451, 0)] and tile_count(300, 451) == 1  # fits: not cut, no context
    margin = margin_of(TILE)
    for length in (513, 3000, 6000):
        pieces = cuts(length)
        assert [(start, end) for start, end, _ in pieces] == spans(length, TILE - 2 * margin)
        assert all(m == margin and end - start + 2 * m <= TILE for start, end, m in pieces)
    assert tile_count(3000, 3000) == len(cuts(3000)) ** 2 == 49
    assert tile_count(300, 3000) == len(cuts(3000))  # only the long axis is cut


def test_seams_move_anywhere_along_a_cut_axis_and_one_tile_draws_nothing():
    random, untouched = ImageRandom([4]), ImageRandom([4])
    assert seam_shift(random, 300, 451, TILE) == (0, 0)
    assert torch.equal(random.uniform(2), untouched.uniform(2))  # the jitter's draws are the ones before
    shifts = [seam_shift(random, 200, 50, 64) for _ in range(50)]
    assert all(0 <= rows < 200 and cols == 0 for rows, cols in shifts)  # 50 fits: that axis is not cut
    assert len({rows for rows, _ in shifts}) > 40  # the seams land somewhere else almost every step


def test_mean_abs_in_bands_is_the_mean_of_the_whole():
    x = torch.randn(1, 3, 70, 50)
    assert torch.equal(mean_abs(x, 64), x.abs().flatten(1).mean(dim=1))  # one band: the same sum
    # Many bands: the same mean, summed in another order (float32 rounding: 1e-6 relative).
    assert torch.allclose(mean_abs(x, 8), x.abs().flatten(1).mean(dim=1), rtol=1e-6)


def test_one_tile_gradient_and_value_are_the_untiled_ones(loaded):
    """The roll becomes an index copy and the tile is the whole image: the same arithmetic in the
    same order, so the numbers are equal, not just close."""
    mean, model_input = model_input_of(loaded)
    objective = dream_objective(loaded, dream_layer(loaded), None)
    pixels = shrunk_pixels(photo(120, 80), (80, 120), mean)
    shift = (7, -11)
    out = torch.empty_like(pixels)
    scale = tiled_gradient(loaded.model, objective, pixels, model_input, out, shift, tile=TILE)

    untiled = pixels.clone().requires_grad_(True)
    view = torch.roll(untiled / 255.0 + mean, shift, dims=(2, 3))
    value = objective(loaded.model, (view - mean) / torch.tensor(loaded.card.std).view(1, 3, 1, 1))
    (grad,) = torch.autograd.grad(value.sum(), [untiled])
    assert torch.equal(out, grad)
    assert torch.equal(scale, grad.abs().flatten(1).mean(dim=1))
    with torch.no_grad():
        plain = objective(loaded.model, model_input(pixels))
    assert torch.equal(tiled_value(loaded.model, objective, pixels, model_input), plain)


def test_with_context_the_tiles_give_the_whole_images_gradient_where_the_net_reaches_no_farther():
    """A stride-1 net of two 3 x 3 convs: a pixel's gradient depends on the pixels 4 px around it.
    Cut into tiles that read 4 px of context, every kept pixel's gradient is what the whole image
    gives (away from the rolled image's border, where the whole image sees padding and the tiles
    see the other side)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.Conv2d(8, 4, 3, padding=1)).eval()
    objective = layer_l2(Tap(model[2]))
    pixels = torch.randn(1, 3, 150, 110) * 60
    shift, tile = (13, -40), 64  # 3 x 2 tiles, 4 px of context
    assert margin_of(tile) == 4 and tile_count(150, 110, tile) == 6
    out = torch.empty_like(pixels)
    tiled_gradient(model, objective, pixels, lambda p: p / 255.0, out, shift, tile)

    whole = pixels.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(model, torch.roll(whole, shift, dims=(2, 3)) / 255.0).sum(), [whole])
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))
    rolled_tiles, rolled_whole = torch.roll(out, shift, dims=(2, 3))[inner], torch.roll(grad, shift, dims=(2, 3))[inner]
    # Float32 sums in another order: measured 2.4e-7 of the largest; with no context, 0.6 next to a seam.
    assert torch.allclose(rolled_tiles, rolled_whole, rtol=1e-5, atol=1e-5 * float(grad.abs().max()))


def test_a_tiled_gradient_reaches_every_region_and_is_finite(loaded):
    mean, model_input = model_input_of(loaded)
    objective = dream_objective(loaded, dream_layer(loaded), None)
    pixels = shrunk_pixels(photo(200, 150), (150, 200), mean)
    out = torch.full_like(pixels, float("nan"))  # a pixel no tile wrote stays NaN
    tiled_gradient(loaded.model, objective, pixels, model_input, out, shift=(37, 90), tile=64)  # 4 x 3 tiles of 50 x 50
    assert torch.isfinite(out).all()
    blocks = out.abs().mean(dim=1)[0].unfold(0, 25, 25).unfold(1, 25, 25).mean(dim=(2, 3))  # 6 x 8 blocks
    # A skipped tile would leave a 50 x 50 patch at NaN (or at 0, had it written zeros), which
    # covers a whole block; on the photo the weakest block measured 0.62 of the mean, so 0.06 leaves a
    # 10x margin.
    assert blocks.min() > 0.06 * out.abs().mean()


def test_tile_weights_add_up_to_the_whole_images_objective(loaded):
    """Each tile's mean weighted by its share of the pixels: the tiles' objective is the whole
    image's up to what the seams change (padding where a neighbour was)."""
    mean, model_input = model_input_of(loaded)
    objective = dream_objective(loaded, dream_layer(loaded), None)
    pixels = shrunk_pixels(photo(256, 192), (192, 256), mean)
    whole = tiled_value(loaded.model, objective, pixels, model_input, tile=TILE)
    tiled = tiled_value(loaded.model, objective, pixels, model_input, tile=128)  # 3 x 2 tiles
    # Unweighted, the sum of 6 tile means would be ~6x the whole; measured x1.08 (context reads the
    # image's border twice); the bounds leave room for what the seams change.
    assert 0.7 < float(tiled / whole) < 1.4


# --------------------------------------------------------------------------- dream on tiles


def test_dream_of_an_image_of_one_tile_is_the_untiled_dream():
    """The loop dream ran before it was tiled (optvis's render: a rolled view, g / mean|g|, clip),
    written out here: the same pixels, octave for octave."""
    import torch.nn.functional as F

    loaded = tiny_model()
    rgb = photo(60, 44)
    settings = DreamSettings(octaves=2, steps=3, seed=5)
    tiled = dream(loaded, rgb, loaded.default_layer(), None, settings)

    objective = dream_objective(loaded, loaded.default_layer(), None)
    mean = torch.tensor(loaded.card.mean).view(1, 3, 1, 1)
    std = torch.tensor(loaded.card.std).view(1, 3, 1, 1)
    low, high = -255.0 * mean, 255.0 * (1 - mean)
    original = torch.as_tensor(rgb).permute(2, 0, 1)[None].float() / 255.0
    detail = None
    for index, size in enumerate(octave_sizes(*rgb.shape[:2], settings)):
        shrunk = original if size == rgb.shape[:2] else F.interpolate(
            original, size=size, mode="bilinear", align_corners=False, antialias=True)
        base = (shrunk - mean) * 255.0
        detail = torch.zeros_like(base) if detail is None else F.interpolate(
            detail, size=size, mode="bilinear", align_corners=False)
        pixels = torch.maximum(torch.minimum(base + detail, high), low).requires_grad_(True)
        random, roll = ImageRandom([settings.seed * 1000 + index]), Roll(settings.jitter)
        for _ in range(settings.steps):
            value = objective(loaded.model, (roll(pixels / 255.0 + mean, random) - mean) / std)
            (g,) = torch.autograd.grad(value.sum(), [pixels])
            with torch.no_grad():
                pixels.add_(g * (settings.lr / g.abs().flatten(1).mean(dim=1).clamp_min(1e-12)).view(-1, 1, 1, 1))
                pixels.copy_(torch.maximum(torch.minimum(pixels, high), low))
        detail = pixels.detach() - base
    untiled = ((pixels.detach() / 255.0 + mean)[0].permute(1, 2, 0) * 255.0 + 0.5).clamp(0, 255).to(torch.uint8)
    assert np.array_equal(tiled.image, untiled.numpy())


def test_dream_on_tiles_changes_the_whole_image_and_raises_the_objective(loaded):
    rgb = photo(160, 120)
    layer = dream_layer(loaded)
    result = dream(loaded, rgb, layer, None, DreamSettings(octaves=2, steps=3), tile=80)  # 3 x 2 tiles
    change = np.abs(result.image.astype(np.float32) - rgb).mean(axis=2)
    blocks = change.reshape(6, 20, 8, 20).mean(axis=(1, 3))
    # 6 steps of 1.5 grey levels on average; a block that no tile reached would move only by the
    # rounding to uint8, far under a third of the mean change.
    assert blocks.min() > 0.3 * change.mean() and change.mean() > 2
    # The whole image's objective (it fits one tile of TILE) rises: measured x1.34 (untiled: x1.41);
    # tiles of 57 x 43 px at the small octave are mostly context to a stride-16 layer, hence x1.1.
    mean, model_input = model_input_of(loaded)
    objective = dream_objective(loaded, layer, None)
    before, after = (float(tiled_value(loaded.model, objective, shrunk_pixels(image, (120, 160), mean), model_input))
                     for image in (rgb, result.image))
    assert after > 1.1 * before


def test_progress_counts_pixel_steps_evenly_to_the_total():
    loaded = tiny_model()
    rgb = photo(90, 70)
    settings = DreamSettings(octaves=3, steps=2)
    calls = []
    dream(loaded, rgb, loaded.default_layer(), None, settings, progress=lambda d, t: calls.append((d, t)), tile=32)
    total = sum(h * w for h, w in octave_sizes(70, 90, settings)) * settings.steps
    assert pixel_steps(70, 90, settings) == total
    assert {t for _, t in calls} == {total} and calls[-1][0] == total
    done = [d for d, _ in calls]
    assert all(b > a for a, b in zip(done, done[1:]))
    # One report per tile, each a tile's pixels: no jump bigger than a tile however large the octave.
    assert max(b - a for a, b in zip([0] + done, done)) <= 32 * 32


def test_dream_job_reports_pixel_steps():
    from deepvis.gui.dream.jobs import dream_job

    class RecordingJob:
        def __init__(self):
            self.calls = []

        def report(self, item):
            pass

        def progress(self, done, total):
            self.calls.append((done, total))

        def should_stop(self):
            return False

    job = RecordingJob()
    rgb, settings = photo(48, 40), DreamSettings(octaves=2, steps=2)
    dream_job(tiny_model, rgb, "photo", None, None, settings)(job)
    assert job.calls[-1] == (pixel_steps(40, 48, settings),) * 2


def test_no_tensor_in_the_model_is_larger_than_a_tile():
    """The memory bound: whatever the image's size, the model only ever sees one tile, so its
    activations (and what the backward keeps of them) are those of a tile."""
    loaded = tiny_model()
    sizes = []

    def record(_module, inputs, output):
        for tensor in (*inputs, output):
            if isinstance(tensor, torch.Tensor) and tensor.dim() == 4:
                sizes.append(tuple(tensor.shape[-2:]))
    handles = [m.register_forward_hook(record) for m in loaded.model.modules()]
    try:
        dream(loaded, photo(150, 110), loaded.default_layer(), None, DreamSettings(octaves=2, steps=2), tile=32)
    finally:
        for handle in handles:
            handle.remove()
    assert sizes and max(h for h, _ in sizes) <= 32 and max(w for _, w in sizes) <= 32
    assert any(h >= 29 and w >= 29 for h, w in sizes)  # whole tiles were read: 25-28 kept + 2 x 2 of context


def test_the_dream_modes_bar_counts_pixel_steps(qtbot, tmp_path):
    from deepvis.gui.main_window import MainWindow
    from deepvis.sources import VideoSource
    from support.windows import TIMEOUT, write_video

    config = Config().replace(store=str(tmp_path / "units"), device="cpu", auto_unit_images=False)
    window = MainWindow(config, tiny_model(), VideoSource(write_video(tmp_path / "v.mp4"), fps=0).start())
    qtbot.addWidget(window)
    try:
        mode = window.show_mode("dream")
        qtbot.waitUntil(lambda: mode.shown_dream is not None, timeout=TIMEOUT)  # the sample it dreams first
        shown = []
        mode.progress.connect(lambda done, total: shown.append((done, total)))
        mode.steps.setValue(3)
        mode.octaves.setValue(2)
        path = tmp_path / "photo.png"
        cv2.imwrite(str(path), cv2.cvtColor(photo(90, 60), cv2.COLOR_RGB2BGR))
        assert mode.open_image(str(path))
        qtbot.waitUntil(lambda: mode.ready() and mode.shown_dream.input_name == "photo.png", timeout=TIMEOUT)
        total = pixel_steps(60, 90, mode.dream_settings())
        counted = [pair for pair in shown if pair[1] > 0]
        assert counted[0] == (0, total) and counted[-1] == (total, total)
    finally:
        window.shutdown()
