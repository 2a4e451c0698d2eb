"""`deepvis dream`: DeepDream on an image, or class images from noise for several seeds.

  deepvis dream IMAGE [--layer L] [--unit U] [--octaves 4] ... --out FILE.png
      writes FILE.png and FILE.json ({"octaves": [{"size", "objective_start", "objective_end"}], ...})
  deepvis dream IMAGE --accentuate --layer L --unit U [--radius 0.25] --out FILE.png
      the image changed as little as it takes for the unit to respond more: FILE.png and FILE.json
  deepvis dream --class NAME_OR_INDEX --seeds N [--size 224] [--method lucid|maco] --out DIR
      writes DIR/seed_<s>.png as each batch of seeds ends, DIR/classes.json (the seeds done so far:
      a re-run with the same settings makes only the missing ones) and DIR/sheet.png; Ctrl-C or
      SIGTERM keeps the finished seeds and exits 130 or 143
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from deepvis import DeepvisError
from deepvis.files import json_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", nargs="?", help="the image to dream on (any size)")
    parser.add_argument("--layer", help="the layer to amplify: a short name or a module path "
                                        "(default: the model's dream layer)")
    parser.add_argument("--unit", type=int, help="amplify this unit (channel) only (default: the whole layer)")
    parser.add_argument("--octaves", type=int, default=4, help="octaves, smallest first (default: 4)")
    parser.add_argument("--octave-scale", type=float, default=1.4, help="size ratio between octaves (default: 1.4)")
    parser.add_argument("--steps", type=int, help="steps per octave (default: 10); with --class, "
                                                  "Adam steps (default: 512)")
    parser.add_argument("--lr", type=float, help="mean step in grey levels (default: 1.5); with --class, "
                                                 "Adam's rate (default: 0.05)")
    parser.add_argument("--jitter", type=int, default=32, help="random roll in pixels each way (default: 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rolls (default: 0)")
    parser.add_argument("--class", dest="class_name", metavar="NAME_OR_INDEX",
                        help="make images of this class from noise instead (a label or an index)")
    parser.add_argument("--seeds", type=int, default=4, help="with --class: how many seeds (default: 4)")
    parser.add_argument("--method", default="lucid", help="with --class: lucid (default) or maco (phase only, "
                                                          "natural magnitude spectrum; also writes seed_<s>_alpha.png)")
    parser.add_argument("--diversity", type=float,
                        help="with --class: weight of the diversity term between seeds (default: 20 when "
                             "--seeds > 1; 0: off)")
    parser.add_argument("--accentuate", action="store_true",
                        help="accentuate --unit of --layer in IMAGE instead of dreaming: the image changed "
                             "as little as it takes for the unit to respond more")
    parser.add_argument("--radius", type=float, help="with --accentuate: how far the image may move from IMAGE, "
                                                     "as its spectrum's RMS distance (default: 0.25)")
    parser.add_argument("--size", type=int, help="with --class or --accentuate: image side (default: the model's "
                                                 "input size)")
    parser.add_argument("--bench", action="store_true",
                        help="also time bare forward+backward steps and print one JSON line")
    parser.add_argument("--out", help="FILE.png for a dream; a folder with --class")


def run(args: argparse.Namespace, config) -> int:
    if args.class_name is not None:
        return run_classes(args, config)
    if args.accentuate:
        return run_accentuate(args, config)
    return run_dream(args, config)


def _progress_bar(total: int, what: str, unit: str = "step"):
    from tqdm import tqdm

    # Pixel-steps run to hundreds of millions (171M for 3000 x 3000 at the defaults): shown as 171M px.
    return tqdm(total=total, unit=unit, desc=what, leave=False, unit_scale=unit == "px")


def _model_and_layer(config, layer_name: str | None):
    from deepvis.dream.deepdream import dream_layer
    from deepvis.session import open_model

    loaded = open_model(config)
    return loaded, dream_layer(loaded, layer_name)


def run_dream(args: argparse.Namespace, config) -> int:
    from deepvis.dream.deepdream import DreamSettings, dream, pixel_steps
    from deepvis.sources import read_image

    if not args.image:
        raise DeepvisError("dream needs an IMAGE, or --class NAME for class images from noise")
    out = Path(args.out) if args.out else None
    if out is None and not args.bench:
        raise DeepvisError("dream needs --out FILE.png")
    if out is not None and out.suffix.lower() != ".png":
        raise DeepvisError(f"--out must name a .png file, not {out}")
    settings = DreamSettings(octaves=args.octaves, octave_scale=args.octave_scale,
                             steps=10 if args.steps is None else args.steps,
                             lr=1.5 if args.lr is None else args.lr, jitter=args.jitter, seed=args.seed).check()
    rgb = read_image(args.image)
    loaded, layer = _model_and_layer(config, args.layer)
    if args.bench:
        from deepvis.dream.bench import bench_dream

        report, result = bench_dream(loaded, rgb, layer, args.unit, settings)
    else:
        with _progress_bar(pixel_steps(*rgb.shape[:2], settings), "dream", unit="px") as bar:
            result = dream(loaded, rgb, layer, args.unit, settings,
                           progress=lambda done, _total: bar.update(done - bar.n))
    if out is not None:
        from deepvis.dream.files import write_dream

        write_dream(result, out, loaded.name, args.image)
    if args.bench:
        print(json_text(report, indent=None), end="")
    else:
        print(f"{loaded.name} {layer.name}" + ("" if args.unit is None else f" unit {args.unit}")
              + f": objective x{result.ratio:.2f} over {settings.octaves} octaves; wrote {out} and "
              + f"{out.with_suffix('.json')}")
    return 0


def run_classes(args: argparse.Namespace, config) -> int:
    from deepvis.dream.classes import ClassSettings, class_gallery, find_class, finished_seeds, gallery_key
    from deepvis.dream.files import write_png
    from deepvis.dream.sheet import contact_sheet
    from deepvis.interrupt import stop_on_signals
    from deepvis.session import open_model

    if args.image:
        raise DeepvisError("give an IMAGE to dream on, or --class for images from noise, not both")
    if args.layer or args.unit is not None:
        raise DeepvisError("--layer and --unit are for dreaming on an image; --class optimizes the class's output")
    if not args.out:
        raise DeepvisError("dream --class needs --out DIR")
    if args.seeds < 1:
        raise DeepvisError(f"--seeds must be at least 1, not {args.seeds}")
    if args.accentuate:
        raise DeepvisError("--accentuate works on an IMAGE, not with --class")
    settings = ClassSettings(steps=512 if args.steps is None else args.steps, lr=args.lr, size=args.size or 224,
                             method=args.method, diversity=_diversity(args)).check()
    loaded = open_model(config)
    if loaded.card.source != "custom":
        import torch

        # Seeds made together are a batch: channels-last weights run it about 1.2x faster on the CPU
        # (2 images at 224 px). A user's own model keeps its layout, as in `precompute`.
        loaded.model.to(memory_format=torch.channels_last)
    if args.size is None:
        settings = dataclasses.replace(settings, size=loaded.card.input_size)
    target = find_class(loaded.labels, args.class_name)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with stop_on_signals() as stop:
        with _progress_bar(settings.steps * args.seeds, f"class {loaded.labels[target]}") as bar:
            gallery = class_gallery(loaded, target, range(args.seeds), out, settings,
                                    progress=lambda done, _total: bar.update(done - bar.n), cancel=stop)
        if gallery is None:
            done = [s for s in finished_seeds(out, gallery_key(loaded.name, target, settings)) if s < args.seeds]
            return stop.exit(f"stopped with {len(done)} of {args.seeds} seeds written to {out}/; run the same "
                             "command again to make the rest")
    write_png(out / "sheet.png", contact_sheet(gallery.images, gallery.captions()))
    print(f"{loaded.name} '{gallery.label}' ({target}): top-1 in {gallery.top1_share:.0%} of {args.seeds} seeds, "
          f"median probability {gallery.median_probability:.3f}; wrote {out}/: classes.json sheet.png seed_*.png")
    return 0


def _diversity(args: argparse.Namespace) -> float:
    from deepvis.dream.classes import DIVERSITY

    if args.diversity is not None:
        return args.diversity
    return DIVERSITY if args.seeds > 1 else 0.0


def run_accentuate(args: argparse.Namespace, config) -> int:
    from deepvis.dream.accentuate import AccentSettings, accentuate, check_frame, summary, write_accentuation
    from deepvis.session import open_model, pick_layer
    from deepvis.sources import read_image

    if not args.image:
        raise DeepvisError("--accentuate needs an IMAGE")
    if args.unit is None:
        raise DeepvisError("--accentuate needs --unit U (and --layer L: default the model's default layer)")
    out = Path(args.out) if args.out else None
    if out is None or out.suffix.lower() != ".png":
        raise DeepvisError("--accentuate needs --out FILE.png")
    defaults = AccentSettings()
    settings = AccentSettings(steps=defaults.steps if args.steps is None else args.steps,
                              lr=defaults.lr if args.lr is None else args.lr, size=args.size,
                              radius=defaults.radius if args.radius is None else args.radius,
                              seed=args.seed).check()
    rgb = read_image(args.image)
    loaded = open_model(config)
    layer = pick_layer(loaded, args.layer)
    check_frame(rgb, loaded)
    with _progress_bar(settings.steps, "accentuate") as bar:
        result = accentuate(loaded, rgb, layer, args.unit, settings,
                            on_step=lambda step, _steps: bar.update(step - bar.n))
    written = write_accentuation(out, result, summary(result, loaded.name, layer, args.unit, settings, args.image))
    print(f"{loaded.name} {layer.name} unit {args.unit}: objective {result.objective_start:.3g} -> "
          f"{result.objective:.3g}, mean pixel change {result.pixel_change:.3f}; wrote "
          f"{', '.join(str(path) for path in written)}")
    return 0
