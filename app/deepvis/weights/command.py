"""`deepvis weights --model M [--weights P] --out DIR`: a model's weights as pictures.

Writes: first_layer_rgb.png (a 3-channel first conv as colour tiles), layers/<path>.png for each
conv/linear layer, filters_on_noise.png (the first conv), histograms.png and weights.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layer", action="append", dest="only_layers", metavar="PATH",
                        help="only this layer (module path); repeatable")
    parser.add_argument("--noise-size", type=int, default=64, help="side of the filters-on-noise images (default: 64)")
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace, config) -> int:
    from deepvis.session import open_model
    from deepvis.weights.report import write_report

    loaded = open_model(config)
    summary = write_report(loaded.model, Path(args.out), args.only_layers, noise_size=args.noise_size,
                           title=loaded.card.title)
    print(f"{loaded.name}: {len(summary['layers'])} weight layers; wrote {args.out}/: "
          + " ".join(summary["files"]))
    return 0
