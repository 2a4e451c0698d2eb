"""The Learn network diagram's geometry, without Qt: nodes, weight lines, picking, editing."""

from __future__ import annotations

import numpy as np
import torch

from deepvis.learn.diagram import (FULL_WEIGHT, THINNEST, WIDEST, edge_at, layout_diagram, weight_index,
                                   weight_matrices)
from deepvis.learn.network import Network, NetworkSpec


def test_line_widths_follow_the_weights_of_a_known_network():
    sizes = (2, 2, 1)
    matrices = [np.array([[0.0, 1.0], [-2.0, 8.0]]), np.array([[-4.0, 0.5]])]
    _nodes, edges = layout_diagram(sizes, matrices, 400, 300)
    by_weight = {edge.weight: edge.width for edge in edges}
    assert by_weight[0.0] == THINNEST and by_weight[8.0] == WIDEST == by_weight[-4.0]  # clipped at FULL_WEIGHT
    assert by_weight[1.0] < by_weight[-2.0] < by_weight[-4.0]  # the sign does not make a line thinner
    assert np.isclose(by_weight[-2.0], THINNEST + (WIDEST - THINNEST) * 2 / FULL_WEIGHT)


def test_weight_index_is_where_the_network_keeps_that_weight():
    spec = NetworkSpec(hidden=(3, 4), activations=("tanh",))
    network = Network(spec, dtype=torch.float64)
    network.load(torch.arange(network.n_parameters, dtype=torch.float64))
    matrices = weight_matrices(spec.sizes, network.flat.numpy())
    for layer, weights in enumerate(network.weights, start=1):
        assert np.array_equal(matrices[layer - 1], weights.numpy())
        for target in range(weights.shape[0]):
            for source in range(weights.shape[1]):
                assert network.flat[weight_index(spec.sizes, layer, target, source)] == weights[target, source]


def test_playgrounds_largest_network_keeps_every_node_readable_and_apart():
    # Six hidden layers of eight (Playground's largest), in the pane the window gives the diagram at
    # 1440x900 (about 560 x 380 px): nodes of 24 px or more, none overlapping.
    sizes = (2, 8, 8, 8, 8, 8, 8, 1)
    matrices = [np.ones((b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    nodes, edges = layout_diagram(sizes, matrices, 560, 380)
    assert len(nodes) == sum(sizes) and len(edges) == sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    assert min(node.size for node in nodes) >= 24
    for a in nodes:
        for b in nodes:
            if a is not b:
                apart = abs(a.x - b.x) >= a.size or abs(a.y - b.y) >= a.size
                assert apart, (a, b)
    assert all(0 <= n.x and n.x + n.size <= 560 and 0 <= n.y and n.y + n.size <= 380 for n in nodes)


def test_a_point_on_a_line_picks_that_line():
    sizes = (2, 1)
    nodes, edges = layout_diagram(sizes, [np.array([[1.0, -1.0]])], 300, 200)
    for edge in edges:
        middle = ((edge.start[0] + edge.end[0]) / 2, (edge.start[1] + edge.end[1]) / 2)
        assert edge_at(edges, *middle) is edge
    assert edge_at(edges, 0, 0) is None
