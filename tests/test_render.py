"""Grid geometry and normalization on known tensors."""

import numpy as np
import pytest
import torch

from deepvis.render import (BORDER_RGB, SELECTED_RGB, GridRenderer, grid_shape, layout_for, normalize, to_levels,
                            tile)


@pytest.mark.parametrize("n, shape", [(1, (1, 1)), (2, (1, 2)), (3, (2, 2)), (16, (4, 4)), (17, (4, 5)),
                                      (240, (15, 16)), (1000, (32, 32))])
def test_near_square_grid(n, shape):
    assert grid_shape(n) == shape


def test_layout_geometry_and_hit_testing():
    layout = layout_for((10, 4, 6), min_size=0, border=1)
    assert (layout.rows, layout.cols, layout.tile_h, layout.tile_w) == (3, 4, 4, 6)
    assert layout.width == 4 * 7 + 1 and layout.height == 3 * 5 + 1
    assert layout.tile_rect(0) == (1, 1, 6, 4)
    assert layout.tile_rect(5) == (1 + 7, 1 + 5, 6, 4)
    for unit in range(10):
        x, y, w, h = layout.tile_rect(unit)
        assert layout.unit_at(x, y) == unit and layout.unit_at(x + w - 1, y + h - 1) == unit
    assert layout.unit_at(layout.width - 2, layout.height - 2) is None  # an empty cell after the last unit
    assert layout.move(0, 0, -1) == 0 and layout.move(0, 1, 0) == 4 and layout.move(5, 9, 9) == 9


def test_tiles_scale_up_to_the_minimum_size():
    layout = layout_for((16, 7, 7), min_size=480, border=1)
    assert layout.tile_h == layout.tile_w and layout.tile_h % 7 == 0
    assert 400 <= layout.width <= 480


def test_tiles_hold_each_channel_in_place_with_borders():
    maps = torch.zeros(5, 2, 3, dtype=torch.uint8)
    for c in range(5):
        maps[c] = 10 * (c + 1)
    layout = layout_for((5, 2, 3), min_size=0, border=1)
    grid = tile(maps, layout).numpy()
    assert grid.shape == (layout.height, layout.width, 3)
    for c in range(5):
        x, y, w, h = layout.tile_rect(c)
        assert (grid[y : y + h, x : x + w] == 10 * (c + 1)).all()
    assert (grid[0, :] == BORDER_RGB).all() and (grid[:, 0] == BORDER_RGB).all()
    assert (grid[-1, :] == BORDER_RGB).all() and (grid[:, -1] == BORDER_RGB).all()
    x, y, w, h = layout.tile_rect(5)  # the empty cell
    assert (grid[y : y + h, x : x + w] == BORDER_RGB).all()


def test_selected_tile_is_outlined():
    maps = torch.full((4, 8, 8), 200, dtype=torch.uint8)
    layout = layout_for((4, 8, 8), min_size=0, border=1)
    grid = tile(maps, layout, selected=3).numpy()
    x, y, w, h = layout.tile_rect(3)
    assert (grid[y - 1, x - 1 : x + w + 1] == SELECTED_RGB).all()
    assert (grid[y + h, x : x + w] == SELECTED_RGB).all()
    assert (grid[y + 3, x + 3] == 200).all()  # the inside is untouched
    x0, y0, _, _ = layout.tile_rect(0)
    assert not (grid[y0 - 1, x0] == SELECTED_RGB).all()


def test_joint_normalization_boost_and_gamma():
    maps = torch.tensor([[[0.0, 1.0]], [[0.0, 4.0]]])  # channel maxima 1 and 4
    joint = normalize(maps)
    assert torch.allclose(joint, torch.tensor([[[0, 0.25]], [[0, 1.0]]]))
    boosted = normalize(maps, boost=1.0)  # every channel reaches 1
    assert torch.allclose(boosted.amax(dim=(1, 2)), torch.ones(2))
    half = normalize(maps, boost=0.5)
    assert torch.allclose(half[0, 0, 1], torch.tensor(0.5))  # 0.25 * 0.25^-0.5
    assert torch.allclose(normalize(maps, gamma=0.5)[0, 0, 1], torch.tensor(0.5))
    assert torch.equal(to_levels(joint)[1, 0], torch.tensor([0, 255], dtype=torch.uint8))


def test_negative_values_and_signed_mode():
    maps = torch.tensor([[[-2.0, 0.0, 2.0]]])
    assert torch.allclose(normalize(maps), torch.tensor([[[0.0, 0.5, 1.0]]]))
    signed = normalize(torch.tensor([[[-1.0, 0.0, 4.0]]]), signed=True)
    assert torch.allclose(signed, torch.tensor([[[0.375, 0.5, 1.0]]]))


def test_renderer_output_is_host_uint8_rgb_for_conv_and_fc():
    renderer = GridRenderer(min_size=100)
    image, layout = renderer.render(torch.rand(1, 10, 5, 5), selected=2)
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (layout.height, layout.width, 3)
    image, layout = renderer.render(torch.rand(1, 1000))
    assert layout.n_units == 1000 and layout.tile_h == layout.tile_w >= 2
    renderer.colormap = "jet"
    colored, _ = renderer.render(torch.rand(1, 10, 5, 5))
    x, y, w, h = layout_for((10, 5, 5), 100).tile_rect(0)
    patch = colored[y : y + h, x : x + w].reshape(-1, 3)
    assert (patch[:, 0] != patch[:, 2]).any()  # really colored
