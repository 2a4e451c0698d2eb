"""deepvis.optvis: the objective algebra, parameterizations, transforms, regularizers and the loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepvis.optvis import regularizers as reg
from deepvis.optvis.objectives import Tap, channel, class_logit, layer_l2, read, unit
from deepvis.optvis.param import FourierImage, PixelImage
from deepvis.optvis.render import Adam, Constant, Progress, _RedirectedClamp, render
from deepvis.optvis.seeds import ImageRandom
from deepvis.optvis.transforms import Compose, Jitter, Pad, RandomRotate, RandomScale


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(6, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4, 3)
        self.after_fc = 0

    def forward(self, x):
        x = self.conv2(self.act(self.conv(x)))
        out = self.fc(x.mean(dim=(2, 3)))
        self.after_fc += 1
        return out


@pytest.fixture
def tiny():
    return Tiny().eval()


def images(n: int = 3, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- objectives


def test_sums_and_scalings_give_the_right_values(tiny):
    x = images()
    pre, out = Tap(tiny.act, "input"), Tap(tiny.conv2)
    a, b, c = unit(pre, 2), channel(out, 1), layer_l2(out)
    with torch.no_grad():
        conv = tiny.conv(x)
        conv2 = tiny.conv2(torch.relu(conv))
        expect_a = conv[:, 2, 8, 8]
        expect_b = conv2[:, 1].mean(dim=(1, 2))
        expect_c = conv2.pow(2).mean(dim=(1, 2, 3))
        assert torch.allclose(a(tiny, x), expect_a, atol=1e-6)
        assert torch.allclose(b(tiny, x), expect_b, atol=1e-6)
        assert torch.allclose(c(tiny, x), expect_c, atol=1e-6)
        assert torch.allclose((2 * a + b - c)(tiny, x), 2 * expect_a + expect_b - expect_c, atol=1e-5)
        assert torch.allclose((-a + 1.5)(tiny, x), 1.5 - expect_a, atol=1e-6)
        assert torch.allclose(sum([a, b])(tiny, x), expect_a + expect_b, atol=1e-6)
        assert torch.allclose(class_logit(tiny, 1)(tiny, x), tiny(x)[:, 1], atol=1e-6)


def test_a_batched_objective_equals_one_image_at_a_time(tiny):
    x = images(4)
    chosen = [3, 0, 5, 3]
    for make in (lambda u: unit(Tap(tiny.act, "input"), u), lambda u: channel(Tap(tiny.conv), u)):
        batched = make(chosen)(tiny, x)
        single = torch.stack([make(u)(tiny, x[b:b + 1])[0] for b, u in enumerate(chosen)])
        assert torch.allclose(batched, single, atol=1e-6)
    with pytest.raises(Exception, match="indices"):
        unit(Tap(tiny.conv), [0, 1])(tiny, x)


def test_reading_stops_the_forward_and_keeps_the_pre_activation(tiny):
    x = images()
    taken = read(tiny, x, [Tap(tiny.act, "input"), Tap(tiny.conv2)])
    assert tiny.after_fc == 0  # stopped after conv2: the rest never ran
    assert (taken[Tap(tiny.act, "input")] < 0).any()  # read before the in-place ReLU
    assert torch.allclose(taken[Tap(tiny.conv2)], tiny.conv2(torch.relu(tiny.conv(x))), atol=1e-6)


# --------------------------------------------------------------------------- parameterizations


def test_images_are_in_range_and_do_not_depend_on_the_batch():
    fourier = FourierImage(ImageRandom([5, 9]), 16)
    alone = FourierImage(ImageRandom([9]), 16)
    assert fourier.image().shape == (2, 3, 16, 16)
    assert torch.allclose(fourier.image()[1], alone.image()[0])
    pixels = PixelImage.noise(ImageRandom([1, 2]), 16, std=500.0, mean=[0.4, 0.5, 0.6])
    assert 0.0 <= pixels.image().min() and pixels.image().max() <= 1.0 + 1e-6
    given = images(2)
    assert torch.allclose(PixelImage.from_images(given, [0.4, 0.5, 0.6]).image(), given, atol=1e-6)


# --------------------------------------------------------------------------- transforms


@pytest.mark.parametrize("transform", [Pad(4), Jitter(8), RandomScale(0.9, 1.1), RandomRotate(10),
                                       Compose([Pad(12), Jitter(8), RandomScale(0.9, 1.1), RandomRotate(10),
                                                Jitter(4)])])
def test_transforms_keep_the_size_and_repeat_for_a_seed(transform):
    x = images(2, size=20)
    first = transform(x, ImageRandom([1, 2]))
    assert first.shape == x.shape
    assert torch.equal(first, transform(x, ImageRandom([1, 2])))
    if transform.draws:
        assert not torch.equal(first, transform(x, ImageRandom([3, 4])))


def test_a_whole_pixel_shift_moves_the_image():
    x = images(1, size=12)
    shifted = Jitter(4).apply(x, torch.tensor([[0.5, 1.0]]))  # 0 px down, 2 px right
    assert torch.allclose(shifted[..., :-2], x[..., 2:], atol=1e-5)
    assert torch.allclose(RandomScale(1.0, 1.0).apply(x, torch.zeros(1, 1)), x, atol=1e-5)


# --------------------------------------------------------------------------- regularizers


def test_regularizers_do_what_they_say():
    ones = torch.ones(1, 3, 8, 8)
    assert torch.allclose(reg.L2Decay(0.25)(ones, ones, 0), 0.75 * ones)
    noise = images(1, size=32) * 2 - 1
    blur = reg.GaussianBlur(1.0, every=4)
    assert blur(noise, noise, 4).std() < 0.6 * noise.std()  # measured 0.28-0.30 of the std over 5 seeds
    assert torch.equal(blur(noise, noise, 5), noise)  # not a blur step
    assert torch.allclose(blur(ones, ones, 0), ones)
    # Pixel norms grow with 1..16: those below the 8th of 16 (the 50th percentile) are zeroed.
    ramp = torch.arange(1.0, 17.0).view(1, 1, 4, 4).expand(1, 3, 4, 4)
    clipped = reg.ClipSmallNorm(50)(ramp, ramp, 0).flatten(2)
    assert clipped[..., :7].eq(0).all() and torch.equal(clipped[..., 7:], ramp.flatten(2)[..., 7:])
    # A gradient of 1 / v^2 makes the contribution |sum_c x * grad| = 3 / v: the faintest pixels count most.
    kept = reg.ClipSmallContribution(90)(ramp, 1 / ramp**2, 0).flatten(2)
    assert kept[..., :3].ne(0).all() and kept[..., 3:].eq(0).all()


def test_step_rules():
    x, g = torch.zeros(2, 3), torch.tensor([[1.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    Constant(0.5).start([x])([g])
    assert torch.allclose(x[:, 0], torch.tensor([0.5, 5.0]))
    y = torch.zeros(2, 3)
    Progress(1.0, gain=2.0).start([y])([g])  # lr = min(1, 2 / ||g||^2) per image: 1 and 0.02
    assert torch.allclose(y[:, 0], torch.tensor([1.0, 0.2]))


def test_redirected_relu_takes_over_only_where_the_plain_gradient_is_zero():
    # Row 0 has a live input (its plain gradient flows), row 1 is dead everywhere.
    x = torch.tensor([[-1.0, 2.0, 7.0], [-1.0, -2.0, -3.0]], requires_grad=True)
    out = _RedirectedClamp.apply(x, 0.0, 6.0)
    out.backward(torch.tensor([[1.0, 1.0, -1.0], [1.0, -1.0, 1.0]]))
    assert torch.equal(out, x.detach().clamp(0, 6))
    assert x.grad[0].tolist() == [0.0, 1.0, 0.0]  # the plain ReLU6 gradient
    assert x.grad[1].tolist() == [1.0, 0.0, 1.0]  # only the pushes that bring the input back to life


# --------------------------------------------------------------------------- the loop


def test_the_loop_raises_the_objective(tiny):
    objective = unit(Tap(tiny.act, "input"), [0, 4])
    random = ImageRandom([0, 1])
    start = objective(tiny, FourierImage(ImageRandom([0, 1]), 16).image()).detach()
    views = Compose([Pad(2), Jitter(2), RandomRotate(5)])
    result = render(tiny, objective, FourierImage(random, 16), transforms=views, step_rule=Adam(0.05), steps=20,
                    random=random, redirect_steps=5)
    assert (result.values > start).all() and result.images.shape == (2, 3, 16, 16)
    pixels = PixelImage.noise(ImageRandom([0, 1]), 16, std=10.0, mean=[0.5] * 3)
    start = objective(tiny, pixels.image()).detach()
    kept = render(tiny, objective, pixels, regularizers=[reg.L2Decay(0.01), reg.GaussianBlur(0.5, 4)],
                  step_rule=Progress(100.0), steps=10, keep_best=True)
    assert (kept.values > start).all()


def test_progress_and_cancel(tiny):
    objective = layer_l2(Tap(tiny.conv2))
    seen = []
    render(tiny, objective, FourierImage(ImageRandom([0]), 8), steps=4, progress=lambda i, n: seen.append((i, n)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    seen.clear()
    stopped = render(tiny, objective, FourierImage(ImageRandom([0]), 8), steps=4,
                     progress=lambda i, n: seen.append(i), cancel=lambda: len(seen) >= 2)
    assert stopped is None and seen == [1, 2]
