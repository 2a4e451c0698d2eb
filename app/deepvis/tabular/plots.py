"""neurons.png: one bar chart per neuron of its variables' attributions (blue positive, red negative)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from deepvis.files import atomic_path

POSITIVE = "#2f6db5"
NEGATIVE = "#c8372d"
MAGNITUDE = "#c9ccd2"


def plot_neurons(report: dict, path: str | Path, columns: int = 4) -> Path:
    """A grid of horizontal bar charts from explain_layer's report, one per neuron, most influential
    first; variables in the table's order and one symmetric scale in every chart, so charts compare."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    variables = report["variables"]
    neurons = sorted(report["neurons"], key=lambda n: n["rank"])
    limit = max(abs(v) for n in neurons for v in n["mean_abs_attributions"].values()) * 1.1 or 1.0
    columns = min(columns, len(neurons))
    rows = math.ceil(len(neurons) / columns)
    height = 0.9 + 0.17 * len(variables)
    label_width = 0.075 * max(len(v) for v in variables) + 0.4
    fig, axes = plt.subplots(rows, columns, figsize=(label_width + 2.6 * columns, 0.5 + height * rows),
                             squeeze=False, sharex=True, sharey=True)
    y = np.arange(len(variables))
    for ax, neuron in zip(axes.flat, neurons):
        values = np.array([neuron["attributions"][v] for v in variables])
        magnitudes = np.array([neuron["mean_abs_attributions"][v] for v in variables])
        # Grey behind: the mean |attribution|, pointing the way of the signed mean, so that a
        # variable whose effects cancel over the rows still shows how much it moves the neuron.
        ax.barh(y, np.where(values >= 0, magnitudes, -magnitudes), color=MAGNITUDE, height=0.8)
        ax.barh(y, values, color=np.where(values >= 0, POSITIVE, NEGATIVE), height=0.5)
        ax.set_xlim(-limit, limit)
        ax.xaxis.set_major_locator(MaxNLocator(5, symmetric=True))
        ax.axvline(0, color="#444444", lw=0.6)
        ax.set_title(f"{report['layer']}[{neuron['index']}]  rank {neuron['rank']}", fontsize=9)
        ax.tick_params(axis="x", labelsize=7, labelbottom=True)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="x", color="#dddddd", lw=0.5)
        ax.set_axisbelow(True)
    for ax in axes.flat[len(neurons):]:
        ax.axis("off")
    axes[0, 0].set_yticks(y, variables)
    axes[0, 0].invert_yaxis()
    method = {"ig": f"integrated gradients ({report['steps']} steps)", "grad-x-input": "gradient x input",
              "ablation": "ablation"}[report["method"]]
    fig.suptitle(f"{report['table']}: what drives each neuron of {report['layer']}, most influential first\n"
                 f"{method} from the {report['baseline']} baseline, mean over {report['rows_averaged']} test rows; "
                 "blue raises the neuron, red lowers it; grey: mean |attribution|", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    path = Path(path)
    try:
        with atomic_path(path) as partial:
            fig.savefig(partial, dpi=110)
    finally:
        plt.close(fig)
    return path
