"""`deepvis precompute topk|optimize`: arguments and dispatch.

Both run as one process or under `torchrun --nproc-per-node N -m deepvis
precompute ...`, which splits the images (topk) or the units (optimize)
across the processes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from deepvis import DeepvisError
from deepvis.files import json_text
from deepvis.interrupt import Interrupted, Stop, stop_on_signals

log = logging.getLogger("deepvis.precompute")


def add_arguments(parser, model_flags) -> None:
    sub = parser.add_subparsers(dest="precompute", metavar="WHAT", required=True)

    topk = sub.add_parser("topk", help="the top-k images of every unit over an image folder, cropped, with deconvs")
    model_flags(topk, layer=False)
    topk.add_argument("--images", required=True, help="a folder of images (searched recursively)")
    _common(topk)
    topk.add_argument("--k", type=int, default=9, help="images kept per unit (default: 9)")
    topk.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default: 32)")
    topk.add_argument("--workers", type=int, default=2, help="DataLoader processes decoding images (default: 2)")
    topk.add_argument("--max-images", type=int, help="scan only the first N images (in sorted order)")
    topk.add_argument("--no-deconv", action="store_true", help="save the crops without their deconvs")
    topk.add_argument("--compare-forward", action="store_true",
                      help="also time the bare batched forward on the same images and print the ratio")

    opt = sub.add_parser("optimize", help="activation maximization: one optimized image per unit")
    model_flags(opt, layer=False)
    _common(opt)
    opt.add_argument("--preset", default="lucid", help="A, B, C, D (Yosinski et al. 2015), lucid (default) or "
                                                       "maco (phase only, natural magnitude spectrum)")
    opt.add_argument("--steps", type=int, help="override the preset's number of steps")
    opt.add_argument("--size", type=int, help="image side (default: the model's input size)")
    opt.add_argument("--batch-size", type=int, default=32, help="units optimized together (default: 32)")
    opt.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    opt.add_argument("--shown", action="store_true",
                     help="optimize the shown (post-activation) value, not the pre-activation")
    opt.add_argument("--force", action="store_true", help="recompute units already in the store")
    opt.add_argument("--compare-single", type=int, metavar="N", default=0,
                     help="speed check: after the batched run, optimize N of its units one at a time "
                          "(not saved) and print units/s of both")


def _common(parser) -> None:
    parser.add_argument("--layers", nargs="+", help="short layer names (default: every displayed layer)")
    parser.add_argument("--units", nargs="+", help="units, e.g. 0 5 10-20 (default: all)")
    parser.add_argument("--store", help="the store folder (default: config.yaml's store, else the platform's "
                        "data folder, e.g. ~/.local/share/deepvis/units; assets/units adds to the shipped images)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_units(specs: list[str] | None) -> list[int] | None:
    """'0 5 10-20' or '0,5,10-20' -> sorted unique ints; None means every unit."""
    if not specs:
        return None
    units: set[int] = set()
    for spec in specs:
        for part in spec.replace(",", " ").split():
            try:
                if "-" in part[1:]:
                    lo, hi = (int(v) for v in part.split("-", 1))
                    if hi < lo:
                        raise DeepvisError(f"--units: {part} is an empty range (write {hi}-{lo})")
                    units.update(range(lo, hi + 1))
                else:
                    units.add(int(part))
            except ValueError:
                raise DeepvisError(f"--units: '{part}' is not a unit number or a range like 10-20") from None
    if any(u < 0 for u in units):
        raise DeepvisError("--units must not be negative")
    return sorted(units)


def run(args, config) -> int:
    from deepvis.unitvis import distributed

    if args.precompute == "topk":
        check_topk_args(args)
    config = config.replace(device=distributed.local_device(config.device))
    import torch

    from deepvis.session import open_model

    loaded = open_model(config)
    if loaded.card.source != "custom":
        # Batched convolutions run faster on channels-last weights: 1.45-1.5x on the CPU with the
        # embedded default, batches of 8-32 (one image at a time, as in the live view, gains little).
        # A user's own model keeps its layout: code calling .view() on a conv output would break.
        loaded.model.to(memory_format=torch.channels_last)
    distributed.setup(loaded.device)
    try:
        if args.precompute == "topk":
            with stop_on_signals() as stop:
                report = run_topk(args, config, loaded, stop)
        else:
            report = run_optimize(args, config, loaded)
        if distributed.rank_world()[0] == 0:
            print(json_text(report, indent=None), end="")
        return 0
    except Interrupted as stopped:
        return stopped.exit()
    finally:
        distributed.teardown()


def check_topk_args(args) -> None:
    """The numbers that need no model, refused in one line before anything is loaded."""
    if args.k < 1 or args.batch_size < 1 or args.workers < 0:
        raise DeepvisError("--k and --batch-size must be at least 1, --workers at least 0")
    if args.max_images is not None and args.max_images < 1:
        raise DeepvisError(f"--max-images must be at least 1, not {args.max_images}")
    parse_units(args.units)


def check_units(loaded, layers, units: list[int] | None) -> None:
    """Every asked unit exists in every layer: one line now, not after a scan of every image."""
    from deepvis.unitvis.topk import unit_counts

    if not units:
        return
    for name, count in unit_counts(loaded, layers).items():
        if units[-1] >= count:
            raise DeepvisError(f"--units {units[-1]} is out of range: layer {name} has units 0..{count - 1}")


def _store(args, config, loaded):
    from deepvis.unitvis.store import UnitStore, weights_fingerprint

    root = Path(args.store).expanduser() if args.store else config.store_path
    store = UnitStore(root, loaded.name, weights_fingerprint(loaded.model))
    store.claim()
    return store


def run_topk(args, config, loaded, stop: Stop | None = None) -> dict:
    """The scan and the patches; on a signal (`stop`), Interrupted once the scan is checkpointed."""
    from deepvis.unitvis import distributed
    from deepvis.unitvis.sites import unit_layers
    from deepvis.unitvis.topk import list_image_files, scan, write_topk

    check_topk_args(args)
    layers = unit_layers(loaded, args.layers)
    units = parse_units(args.units)
    check_units(loaded, layers, units)
    files = list_image_files(args.images)
    if args.max_images:
        files = files[: args.max_images]
    store = _store(args, config, loaded)
    scanner, report = scan(loaded, layers, files, args.k, store, args.batch_size, args.workers,
                           progress=not args.quiet, stop=stop)
    image_root = Path(args.images).resolve()
    write_topk(loaded, scanner, files, store, image_root, deconv=not args.no_deconv,
               progress=not args.quiet, units={l.name: units for l in layers} if units else None, stop=stop)
    distributed.barrier()
    Path(report.pop("checkpoint")).unlink(missing_ok=True)  # the store now holds everything
    if distributed.rank_world()[0] == 0:
        for layer in layers:
            store.rebuild_index(layer.name, layer.path)
    report.update({"model": loaded.name, "layers": [l.name for l in layers], "k": args.k,
                   "store": str(store.folder), "device": str(loaded.device),
                   "processes": distributed.rank_world()[1]})
    if args.compare_forward:
        from deepvis.unitvis.speed import compare_scan

        report["compare_forward"] = compare_scan(loaded, layers, files, args.k, args.batch_size, args.workers)
    return report


def run_optimize(args, config, loaded) -> dict:
    from deepvis.unitvis import distributed
    from deepvis.unitvis.ondemand import optimize_into_store
    from deepvis.unitvis.optimize import get_preset
    from deepvis.unitvis.sites import unit_layers

    if args.batch_size < 1:
        raise DeepvisError("--batch-size must be at least 1")
    if args.size is not None and not 16 <= args.size <= 4096:
        raise DeepvisError(f"--size must be an image side of 16 to 4096 pixels, not {args.size}")
    preset = get_preset(args.preset, args.steps)
    store = _store(args, config, loaded)
    layers = unit_layers(loaded, args.layers)
    wanted = parse_units(args.units)
    rank, world = distributed.rank_world()
    summary = {}
    for layer in layers:
        summary[layer.name] = optimize_into_store(
            loaded, layer, wanted, store, preset, seed=args.seed, size=args.size, batch_size=args.batch_size,
            use_pre=not args.shown, force=args.force, progress_bar=not args.quiet, rank=rank, world=world)
    distributed.barrier()
    if rank == 0:
        for layer in layers:
            index = store.rebuild_index(layer.name, layer.path)
            summary[layer.name] |= layer_figures(index, preset.name, wanted)
    report = {"model": loaded.name, "preset": preset.name, "steps": preset.steps, "store": str(store.folder),
              "device": str(loaded.device), "processes": world, "layers": summary}
    if args.compare_single:
        from deepvis.unitvis.speed import compare_single

        report["compare_single"] = compare_single(loaded, layers[0], wanted, preset, args.compare_single,
                                                  args.batch_size, args.size, not args.shown)
    return report


def layer_figures(index: dict, preset: str, wanted: list[int] | None) -> dict:
    """Success rates and median R over the layer's units optimized with the preset."""
    from statistics import median

    entries = [info["optimize"][preset] for key, info in index.get("units", {}).items()
               if preset in info.get("optimize", {}) and (wanted is None or int(key) in wanted)]
    if not entries:
        return {"units": 0}
    ratios = [e["R"] for e in entries if e.get("R") is not None]
    ratios_pre = [e["R_pre"] for e in entries if e.get("R_pre") is not None]
    return {
        "units": len(entries),
        "success_rate": round(sum(e["success"] for e in entries) / len(entries), 4),
        "success_rate_shown": round(sum(e["success_shown"] for e in entries) / len(entries), 4),
        "tied_shown": sum(e["tied_shown"] for e in entries),
        "median_R": round(median(ratios), 4) if ratios else None,
        "median_R_pre": round(median(ratios_pre), 4) if ratios_pre else None,
    }
