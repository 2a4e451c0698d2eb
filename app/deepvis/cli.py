"""Command-line entry points: gui (default), probe, snapshot, bench, precompute, models."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from deepvis import DeepvisError, __version__
from deepvis.config import BACKPROP_MODES, Config, load_config
from deepvis.session import first_frame, open_model, pick_layer

COMMANDS = ("gui", "probe", "snapshot", "bench", "precompute", "models", "digits", "weights", "tabular", "learn",
            "dream")
log = logging.getLogger("deepvis")


# --------------------------------------------------------------------------- parser


def _model_flags(parser: argparse.ArgumentParser, layer: bool = True) -> None:
    parser.add_argument("--model", help="a name from `deepvis models`, timm:NAME, or my_module:make_model")
    parser.add_argument("--weights", help="a local state dict (.pth, .pt, .safetensors) for the model")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: config.yaml)")
    if layer:
        parser.add_argument("--layer", help="a layer's short name from the model card, or a module path")
        parser.add_argument("--unit", type=int, default=0, help="the selected unit (channel) of the layer")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepvis",
        description="Live deep visualization for PyTorch CNNs. With no command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"deepvis {__version__}")
    parser.add_argument("--config", help="a config file instead of the project's config.yaml")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the live window (the default command)")
    gui.add_argument("input", nargs="?", help="an image, a video or a folder (default: the camera)")
    gui.add_argument("--camera", type=int, help="camera index")
    gui.add_argument("--mode", help="the mode shown first: live (default), or another tab's name")
    _model_flags(gui)
    # `deepvis bench --startup` times the real window up to its first frame.
    gui.add_argument("--exit-at-first-frame", action="store_true", help=argparse.SUPPRESS)

    probe = sub.add_parser("probe", help="run one image through the model and write its outputs")
    probe.add_argument("input", help="an image, or a video (its first frame)")
    _model_flags(probe)
    probe.add_argument("--out", default="probe-out", help="output folder (default: probe-out)")
    probe.add_argument("--backprop", choices=[m for m in BACKPROP_MODES if m != "off"],
                       help="also write the unit's backprop signal at the input")

    snap = sub.add_parser("snapshot", help="render the window offscreen (a mode, an input) and save it as PNG")
    snap.add_argument("input", nargs="?", help="an image, a video or a folder (the live mode needs one)")
    snap.add_argument("--mode", default="live", help="the mode to render (default: live)")
    _model_flags(snap)
    snap.add_argument("--out", required=True, help="the PNG file to write")
    snap.add_argument("--size", default=None, help="window size as WxH (default: config.yaml)")

    bench = sub.add_parser("bench", help="measure the headless pipeline against the bare model, or start-up")
    _model_flags(bench)
    bench.add_argument("--frames", type=int, default=100, help="frames to time (default: 100)")
    bench.add_argument("--source", help="a video, image or folder (default: the sample video)")
    bench.add_argument("--backprop", choices=[m for m in BACKPROP_MODES if m != "off"],
                       help="also compute this backprop mode for the selected unit on every frame")
    bench.add_argument("--top-frames", action="store_true",
                       help="also time the pipeline keeping every unit's live top-9 (top_frames_ratio)")
    bench.add_argument("--unit-image", action="store_true",
                       help="also time the image the window computes for a unit without one (unit_image_s)")
    bench.add_argument("--startup", action="store_true",
                       help="instead, time `deepvis --help` against importing torch, and the window's first "
                            "frame against importing its libraries (in subprocesses)")
    bench.add_argument("--rounds", type=int, default=5, help="rounds of the --startup timings (default: 5)")

    pre = sub.add_parser("precompute", help="compute per-unit images offline (top-k patches, optimized images)")
    from deepvis.unitvis import commands as unit_commands

    unit_commands.add_arguments(pre, _model_flags)

    sub.add_parser("models", help="list the models and their layers")

    from deepvis.digits import command as digits_command

    digits_command.add_arguments(
        sub.add_parser("digits", help="train an MLP or a small CNN on MNIST-5k and draw what it stores"))
    from deepvis.weights import command as weights_command

    weights = sub.add_parser("weights", help="draw a model's weights: filters, Linear rows, histograms")
    _model_flags(weights, layer=False)
    weights_command.add_arguments(weights)
    from deepvis.tabular import command as tabular_command

    tabular_command.add_arguments(
        sub.add_parser("tabular", help="an MLP on a table: which variables drive each neuron"))
    from deepvis.learn import command as learn_command

    learn_command.add_arguments(
        sub.add_parser("learn", help="train a small MLP on 2-D data; write its views and metrics"))
    from deepvis.dream import command as dream_command

    dream = sub.add_parser("dream", help="DeepDream on an image, or class images from noise (--class)")
    _model_flags(dream, layer=False)
    dream_command.add_arguments(dream)
    return parser


def _config_first(argv: list[str]) -> list[str]:
    """--config FILE may stand anywhere (`deepvis probe x.png --config my.yaml`): moved to the front."""
    rest, config, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        if arg == "--config" and i + 1 < len(argv):
            config, i = [arg, argv[i + 1]], i + 2
            continue
        if arg.startswith("--config="):
            config = [arg]
        else:
            rest.append(arg)
        i += 1
    return config + rest


def parse_args(argv: list[str]) -> argparse.Namespace:
    # `deepvis` and `deepvis INPUT` mean `deepvis gui [INPUT]`; global options may come first.
    argv = _config_first(argv)
    start = 2 if argv[:1] == ["--config"] else 1 if argv[:1] and argv[0].startswith("--config=") else 0
    rest = argv[start:]
    if not (rest[:1] and (rest[0] in COMMANDS or rest[0] in ("-h", "--help", "--version"))):
        argv = argv[:start] + ["gui"] + rest
    return build_parser().parse_args(argv)


# --------------------------------------------------------------------------- commands


def settings(args: argparse.Namespace) -> Config:
    """config.yaml with the command line's flags laid over it."""
    config = load_config(getattr(args, "config", None))
    return config.replace(
        model=getattr(args, "model", None),
        weights=getattr(args, "weights", None),
        device=getattr(args, "device", None),
        layer=getattr(args, "layer", None),
        camera_index=getattr(args, "camera", None),
    )


def cmd_models(args, config: Config) -> int:
    from deepvis.cards import builtin_models

    for card in builtin_models():
        default = " (default)" if card.name == config.model else ""
        print(f"{card.name}{default}: {card.title}, {card.input_size}x{card.input_size}")
        print("    layers: " + " ".join(layer.name for layer in card.layers))
    print("timm:NAME: any timm model (e.g. timm:convnext_tiny); its stages are derived from the model")
    print("my_module:make_model: your own nn.Module factory, with --weights for its state dict")
    return 0


def cmd_probe(args, config: Config) -> int:
    import numpy as np

    from deepvis.files import atomic_path, write_json_atomic, write_png_atomic
    from deepvis.live.pipeline import Pipeline, ViewState

    loaded = open_model(config)
    layer = pick_layer(loaded, config.layer)
    rgb = first_frame(args.input)
    pipeline = Pipeline(loaded)
    result_probe = pipeline.probe(rgb)
    view = ViewState(layer=layer.name, unit=args.unit, crop=config.crop, boost=config.boost,
                     gamma=config.gamma, colormap=config.colormap)
    n_units = result_probe.activations[layer.name].shape[1]
    if not 0 <= args.unit < n_units:
        raise DeepvisError(f"--unit {args.unit} is out of range: {layer.name} has units 0..{n_units - 1}")
    frame = pipeline.render(result_probe, view)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for p in result_probe.top:
        print(f"{p.prob:7.2%}  {p.label}")
    write_json_atomic(out / "predictions.json", {
        "model": loaded.name, "layer": layer.name, "unit": args.unit,
        "top5": [{"label": p.label, "index": p.index, "prob": p.prob} for p in result_probe.top]})
    with atomic_path(out / "input.npy") as path:
        np.save(path, result_probe.input.detach().cpu().numpy().astype(np.float32))
    write_png_atomic(out / "grid.png", frame.grid)
    with atomic_path(out / "activations.npz") as path:
        np.savez(path, **{name: act.detach().float().cpu().numpy()
                          for name, act in result_probe.activations.items()})
    if args.backprop:
        from deepvis.backprop import write_probe_backprop

        write_probe_backprop(loaded, result_probe.input, layer, args.unit, args.backprop, out)
    print(f"wrote {out}/: predictions.json input.npy grid.png activations.npz"
          + (" backprop.npy backprop.png" if args.backprop else ""))
    return 0


def _window_flags(args: argparse.Namespace) -> list[str]:
    """The options given to `bench --startup` that the window it starts should get too."""
    names = ("config", "model", "weights", "device", "layer")
    return [text for name in names if getattr(args, name, None) for text in (f"--{name}", str(getattr(args, name)))]


def cmd_bench(args, config: Config) -> int:
    from deepvis.files import json_text  # numpy with it: not for --help

    if args.startup:
        from deepvis.startup import run_startup_bench

        report = run_startup_bench(args.rounds, args.source, _window_flags(args), log=log.info)
        print(json_text(report, indent=None), end="")
        return 0
    from deepvis.bench import run_bench

    loaded = open_model(config)
    layer = pick_layer(loaded, config.layer)
    report = run_bench(loaded, layer, frames=args.frames, source=args.source, unit=args.unit,
                       backprop=args.backprop, top_frames=args.top_frames, unit_image=args.unit_image)
    print(json_text(report, indent=None), end="")
    return 0


def cmd_gui(args, config: Config) -> int:
    from deepvis.gui.app import run_app

    return run_app(args, config)


def cmd_snapshot(args, config: Config) -> int:
    from deepvis.gui.snapshot import run_snapshot

    return run_snapshot(args, config)


def cmd_precompute(args, config: Config) -> int:
    from deepvis.unitvis import commands as unit_commands

    return unit_commands.run(args, config)


def cmd_digits(args, config: Config) -> int:
    from deepvis.digits import command as digits_command

    return digits_command.run(args, config)


def cmd_weights(args, config: Config) -> int:
    from deepvis.weights import command as weights_command

    return weights_command.run(args, config)


def cmd_tabular(args, config: Config) -> int:
    from deepvis.tabular import command as tabular_command

    return tabular_command.run(args, config)


def cmd_learn(args, config: Config) -> int:
    from deepvis.learn import command as learn_command

    return learn_command.run(args, config)


def cmd_dream(args, config: Config) -> int:
    from deepvis.dream import command as dream_command

    return dream_command.run(args, config)


HANDLERS = {"gui": cmd_gui, "probe": cmd_probe, "snapshot": cmd_snapshot, "bench": cmd_bench,
            "precompute": cmd_precompute, "models": cmd_models, "digits": cmd_digits, "weights": cmd_weights,
            "tabular": cmd_tabular, "learn": cmd_learn, "dream": cmd_dream}


def main(argv: list[str] | None = None) -> int:
    # deepvis's own lines at INFO; the libraries' only when they warn (PyOpenGL's "No
    # OpenGL_accelerate module loaded" is not a word for the user).
    logging.basicConfig(level=logging.WARNING, format="deepvis: %(message)s", stream=sys.stderr)
    logging.getLogger("deepvis").setLevel(logging.INFO)
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parse_args(argv)
        config = settings(args)
        return HANDLERS[args.command](args, config)
    except DeepvisError as exc:
        print(f"deepvis: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused (a read-only or full disk, a file where a folder goes)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"deepvis: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deepvis: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
