"""neurons.png: one bar chart per neuron of its variables' attributions (blue positive, red negative)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from deepvis.files import atomic_path
from deepvis.tabular.explain import neuron_name

POSITIVE = "#2f6db5"
NEGATIVE = "#c8372d"
MAGNITUDE = "#c9ccd2"
DPI = 110
MIN_WIDTH = 6.0  # inches: one neuron (a regression's output) still leaves its title room on few lines
LABEL_CHARACTERS = 24  # an output neuron's class name in its chart's title, shortened beyond this


def _short(text: str, limit: int = LABEL_CHARACTERS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def neuron_figure(report: dict, columns: int = 4):
    """A grid of horizontal bar charts from explain_layer's report, one per neuron, most influential
    first; variables in the table's order and one symmetric scale in every chart, so charts compare.
    Every text lies inside the figure: the title wraps to its width and the figure grows to hold it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    variables = report["variables"]
    neurons = sorted(report["neurons"], key=lambda n: n["rank"])
    labels = [_short(n["label"]) for n in report["neurons"]] if "label" in report["neurons"][0] else None
    limit = max(abs(v) for n in neurons for v in n["mean_abs_attributions"].values()) * 1.1 or 1.0
    columns = min(columns, len(neurons))
    rows = math.ceil(len(neurons) / columns)
    chart_height = 0.9 + 0.17 * len(variables)
    label_width = 0.075 * max(len(v) for v in variables) + 0.4
    charts_height = 0.2 + chart_height * rows
    fig = Figure(figsize=(max(MIN_WIDTH, label_width + 2.6 * columns), charts_height), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
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
        ax.set_title(f"{neuron_name(report['layer'], neuron['index'], labels)}  rank {neuron['rank']}", fontsize=9)
        ax.tick_params(axis="x", labelsize=7, labelbottom=True)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="x", color="#dddddd", lw=0.5)
        ax.set_axisbelow(True)
    for ax in axes.flat[len(neurons):]:
        ax.axis("off")
    axes[0, 0].set_yticks(y, variables)
    axes[0, 0].invert_yaxis()
    _title(fig, report, charts_height)
    return fig


def _title(fig, report: dict, charts_height: float) -> None:
    """The suptitle, wrapped to the figure's width; the figure grows by its height."""
    method = {"ig": f"integrated gradients ({report['steps']} steps)", "grad-x-input": "gradient x input",
              "ablation": "ablation"}[report["method"]]
    lines = [f"{report['table']}: what drives each neuron of {report['layer']}, most influential first",
             f"{method} from the {report['baseline']} baseline, mean over {report['rows_averaged']} test rows; "
             "blue raises the neuron, red lowers it; grey: mean |attribution|"]
    if "output_value" in report:
        lines.append(f"an output neuron's value: its {report['output_value']}")
    title = fig.suptitle("\n".join(lines), fontsize=10, y=1.0, va="top")
    renderer = fig.canvas.get_renderer()
    room = 0.96 * fig.bbox.width
    width = title.get_window_extent(renderer).width
    if width > room:  # fewer characters a line, in proportion, until it fits
        characters = max(len(line) for line in lines)
        while width > room and characters > 20:
            characters = int(characters * room / width) - 1
            title.set_text("\n".join(part for line in lines for part in textwrap.wrap(line, characters)))
            width = title.get_window_extent(renderer).width
    margin = 0.08  # inches above the title
    fig.set_figheight(charts_height + margin + title.get_window_extent(renderer).height / fig.dpi)
    title.set_y(1 - margin / fig.get_figheight())
    fig.tight_layout()  # places the charts under the suptitle


def plot_neurons(report: dict, path: str | Path, columns: int = 4) -> Path:
    """neurons.png (see neuron_figure), written whole or not at all."""
    fig = neuron_figure(report, columns)
    path = Path(path)
    with atomic_path(path) as partial:
        fig.savefig(partial, dpi=DPI)
    return path
