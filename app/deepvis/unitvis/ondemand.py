"""Optimized images into the store: for the CLI (many units) and for the window (one unit, now).

Both save the image and the unit's figures: the best value, majority success
(the unit is the top unit of its layer) and, where a top-k scan of the same
model is stored, R = best value / the highest value over the scanned images.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from deepvis.render import to_levels
from deepvis.unitvis.optimize import OptimizeResult, Preset, get_preset, optimize_units
from deepvis.unitvis.store import UnitImages, UnitStore, alpha_image_name
from deepvis.zoo import Layer, LoadedModel

# The window computes a selected unit's missing image by itself: lucid at the side its unit panel
# shows, with steps few enough to finish within 10 s on one of 2 CPU cores (`deepvis bench
# --unit-image` measures it), leaving the other to the live view.
BACKGROUND_STEPS = 48
BACKGROUND_SIZE = 128


def _ratio(value: float, reference) -> float | None:
    if reference is None or reference <= 0:
        return None
    return round(value / reference, 6)


def stretch_contrast(images: torch.Tensor, percentile: float = 99.5) -> torch.Tensor:
    """B x 3 x H x W in [0, 1] -> each image centred on grey and scaled to fill the range.

    The pixel-space presets (A-D) change the image by a few grey levels, which
    looks flat at true contrast; the paper and the original toolbox show them
    stretched like this. The figures are measured on the unstretched images.
    """
    deviation = images - images.mean(dim=(1, 2, 3), keepdim=True)
    peak = deviation.abs().flatten(1).quantile(percentile / 100.0, dim=1).clamp_min(1e-6)
    return (deviation / (2 * peak[:, None, None, None]) + 0.5).clamp(0, 1)


def save_results(store: UnitStore, layer: Layer, preset: Preset, result: OptimizeResult, seed: int,
                 size: int) -> None:
    """Each unit's PNG, then its entry (the entry last: it marks the unit as done)."""
    stretched = preset.lr_policy != "adam"  # lucid's sigmoid image already spans the range
    shown = stretch_contrast(result.images) if stretched else result.images
    images = to_levels(shown.permute(0, 2, 3, 1)).cpu().numpy()
    faded = None
    if result.alpha is not None:  # maco: the image beside itself faded where the unit does not look
        from deepvis.optvis.render import alpha_blend, alpha_map

        faded = to_levels(alpha_blend(shown, alpha_map(result.alpha).to(shown)).permute(0, 2, 3, 1)).cpu().numpy()
    for b, unit in enumerate(result.units.tolist()):
        name = f"opt_{preset.name}.png"
        store.write_image(layer.name, unit, name, np.ascontiguousarray(images[b]))
        if faded is not None:
            store.write_image(layer.name, unit, alpha_image_name(preset.name), np.ascontiguousarray(faded[b]))
        topk = store.unit_info(layer.name, unit).get("topk") or {}
        objective, shown = float(result.objective[b]), float(result.shown[b])
        entry = {
            "method": "optimize", "preset": preset.name, "image": name, "seed": seed, "size": size,
            "hyperparameters": {k: v for k, v in vars(preset).items() if k != "name"},
            "display": "contrast stretched per image" if stretched else "as optimized",
            "alpha_image": alpha_image_name(preset.name) if faded is not None else None,
            "objective": f"{'pre-activation' if result.site == 'pre' else 'output'} of the unit at the centre",
            "best_activation": round(objective, 6), "best_shown": round(shown, 6),
            "success": bool(result.success[b]), "success_shown": bool(result.success_shown[b]),
            "tied_shown": bool(result.tied_shown[b]),
            "R": _ratio(shown, topk.get("max")),
            "R_pre": _ratio(objective, topk.get("pre_max")) if result.site == "pre" else None,
            "topk_scan": topk.get("scan"),
        }
        store.update_unit(layer.name, unit, "optimize", entry, key=preset.name)


def optimize_into_store(loaded: LoadedModel, layer: Layer, units: Sequence[int] | None, store: UnitStore,
                        preset: Preset, seed: int = 0, size: int | None = None, batch_size: int = 32,
                        use_pre: bool = True, force: bool = False, progress_bar: bool = True,
                        rank: int = 0, world: int = 1) -> dict:
    """Optimize this process's share of the layer's units, batch by batch; done units are skipped."""
    from tqdm import tqdm

    from deepvis.unitvis.optimize import Objective

    size = size or loaded.card.input_size
    if units is None:
        with torch.no_grad():
            channels = Objective(loaded, layer, use_pre).channels_at_centre(
                torch.zeros(1, 3, size, size, device=loaded.device)).shape[1]
        units = range(channels)
    done = set() if force else set(store.done_units(layer.name, "optimize", preset.name))
    mine = [u for u in list(units)[rank::world] if u not in done]
    bar = tqdm(total=len(mine) * preset.steps, disable=not progress_bar or rank != 0, unit="step",
               desc=f"optimize {layer.name} ({preset.name})", dynamic_ncols=True)
    try:
        for start in range(0, len(mine), batch_size):
            batch = mine[start:start + batch_size]
            base = bar.n
            result = optimize_units(loaded, layer, batch, preset, seed=seed, size=size, use_pre=use_pre,
                                    progress=lambda step, _total: bar.update(base + step * len(batch) - bar.n))
            save_results(store, layer, preset, result, seed, size)
    finally:
        bar.close()
    return {"optimized_here": len(mine), "already_done": len(done)}


def compute_unit(loaded: LoadedModel, layer: str, unit: int, store: UnitStore, preset: str = "lucid",
                 progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, steps: int | None = None,
                 size: int | None = None) -> UnitImages:
    """Optimize one unit now (the window's key, or on selection) and store it; returns its images.

    Runs on the given model (the window passes its own copy, so the live view
    keeps running). When should_stop() turns true, nothing is written. `steps`
    and `size` override the preset's steps and the model's input size.
    """
    target = loaded.find_layer(layer)
    chosen = get_preset(preset, steps)
    size = size or loaded.card.input_size
    result = optimize_units(loaded, target, [unit], chosen, size=size, progress=progress,
                            should_stop=should_stop)
    if result is not None:
        store.claim()
        save_results(store, target, chosen, result, seed=0, size=size)
        store.rebuild_index(target.name, target.path)
    return store.unit_images(target.name, unit)
