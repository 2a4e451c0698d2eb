"""The network drawn as TensorFlow Playground draws it, without Qt: a column of nodes per layer,
every weight a line whose colour is its sign and whose width is its size.

The window's diagram (gui/learn/diagram.py) paints what `layout_diagram` returns and edits a
weight through `weight_index`: the flat parameter vector is laid out layer by layer, each
layer's weights (fan_out x fan_in, row-major) followed by its biases (learn/network.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A weight of this size or more is drawn at the widest line; the scale is fixed, not the run's
# largest weight, so that a line's width can be compared from one moment to the next.
FULL_WEIGHT = 4.0
THINNEST, WIDEST = 0.5, 8.0
MIN_NODE, MAX_NODE = 14.0, 56.0


@dataclass(frozen=True)
class Node:
    layer: int  # 0: the input features; the last: the output
    unit: int
    x: float  # top-left corner
    y: float
    size: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.size / 2, self.y + self.size / 2


@dataclass(frozen=True)
class Edge:
    layer: int  # the layer the weight feeds (1-based, as in Node.layer)
    target: int  # unit in `layer`
    source: int  # unit in `layer - 1`
    weight: float
    width: float
    start: tuple[float, float]  # the source node's right edge
    end: tuple[float, float]  # the target node's left edge


def line_width(weight: float) -> float:
    return THINNEST + (WIDEST - THINNEST) * min(abs(weight), FULL_WEIGHT) / FULL_WEIGHT


def weight_matrices(sizes: tuple[int, ...], flat: np.ndarray) -> list[np.ndarray]:
    """Each layer's (fan_out, fan_in) weights out of the flat parameter vector."""
    matrices, offset = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        matrices.append(np.asarray(flat[offset:offset + fan_in * fan_out]).reshape(fan_out, fan_in))
        offset += fan_in * fan_out + fan_out
    if offset != len(flat):
        raise ValueError(f"{len(flat)} parameters do not make a {'-'.join(map(str, sizes))} network")
    return matrices


def weight_index(sizes: tuple[int, ...], layer: int, target: int, source: int) -> int:
    """The flat index of the weight from unit `source` of layer-1 to unit `target` of `layer`."""
    if not 1 <= layer < len(sizes) or not 0 <= target < sizes[layer] or not 0 <= source < sizes[layer - 1]:
        raise IndexError(f"no weight {layer}:{source}->{target} in a {'-'.join(map(str, sizes))} network")
    offset = sum(a * b + b for a, b in zip(sizes[:layer - 1], sizes[1:layer]))
    return offset + target * sizes[layer - 1] + source


def layout_diagram(sizes: tuple[int, ...], matrices: list[np.ndarray], width: float, height: float,
                   margin: float = 8.0) -> tuple[list[Node], list[Edge]]:
    """Nodes and weight lines for a network of `sizes` in a width x height box. Nodes share one
    size, as large as the fullest column and the gaps for the lines allow."""
    columns, rows = len(sizes), max(sizes)
    column_step = (width - 2 * margin) / max(columns, 1)
    size = min(MAX_NODE, (height - 2 * margin) / rows * 0.8, column_step * 0.45)
    size = max(MIN_NODE, size)
    row_step = (height - 2 * margin) / rows
    nodes: list[Node] = []
    for layer, count in enumerate(sizes):
        x = margin + (layer + 0.5) * column_step - size / 2
        top = margin + (height - 2 * margin - count * row_step) / 2
        for unit in range(count):
            nodes.append(Node(layer, unit, x, top + (unit + 0.5) * row_step - size / 2, size))
    by_place = {(n.layer, n.unit): n for n in nodes}
    edges: list[Edge] = []
    for layer, weights in enumerate(matrices, start=1):
        for target in range(weights.shape[0]):
            end_node = by_place[(layer, target)]
            for source in range(weights.shape[1]):
                start_node = by_place[(layer - 1, source)]
                w = float(weights[target, source])
                edges.append(Edge(layer, target, source, w, line_width(w),
                                  (start_node.x + size, start_node.centre[1]), (end_node.x, end_node.centre[1])))
    return nodes, edges


def edge_at(edges: list[Edge], x: float, y: float, tolerance: float = 4.0) -> Edge | None:
    """The line nearest to (x, y) within `tolerance` pixels beyond its half-width."""
    best, best_distance = None, float("inf")
    for edge in edges:
        (x0, y0), (x1, y1) = edge.start, edge.end
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / max(dx * dx + dy * dy, 1e-9), 0.0, 1.0)
        distance = float(np.hypot(x - (x0 + t * dx), y - (y0 + t * dy)))
        if distance <= edge.width / 2 + tolerance and distance < best_distance:
            best, best_distance = edge, distance
    return best
