"""deepvis against its peers: Captum's backprop rules and Lucent's activation maximization.

Part 1, backprop: the relative L2 error of each tool's gradient, deconvnet and
guided backprop against a reference rule written here, independently of
deepvis: F.relu, F.relu6, F.hardtanh(min 0) and torch.relu / Tensor.relu are
swapped, for the duration of one forward, for functions whose backward is the
rule (nn.ReLU and nn.ReLU6 modules call F.relu and F.hardtanh, so they are
covered too). The target is the model's top logit on a sample photo, the same
for every tool. Errors are taken in float64; times in float32. Models: torchvision's resnet18, googlenet and
mobilenet_v2 with seeded random weights (saved to a temporary folder and loaded
back: nothing is downloaded) and squeezenet1_1 with real ImageNet weights.

Part 2, activation maximization: the same units of one layer, optimized at the
same size and number of steps by deepvis's batched lucid preset (the functions
`deepvis precompute optimize` calls) and by Lucent's render_vis with its
default image parameterization and transforms, once a unit at a time and once
with all units in one batch (`--per-unit`: also one unit per render_vis call,
which takes about twice as long again). Both maximize the unit's output at the centre of
its map; render_vis's resizing to 224 px is replaced by a resize to the padded
view's own size, so that both tools' models see the image at the scale it is
measured at. The reached activation of each final image is measured the same
way for both: one plain forward pass of the images, read at the centre of the
unit's map and at its peak over the map (Lucent's jitter shifts only one way,
so its pattern may land off-centre).

Timing: the tools take turns, round after round (deepvis.bench.take_turns), all on the same
torch thread count (--threads, default 1); each tool's wall seconds and process CPU seconds are
reported as the median and range over the rounds, and tools are compared by the ratio of medians.

    pip install -e '.[compare]'
    python scripts/compare_peers.py [--json FILE] [--rounds 3] [--threads 1] [--units 0-3] [--size 96] [--steps 64]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepvis.bench import Turns, ratio_of_medians, rounded, take_turns

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SQUEEZENET_WEIGHTS = PROJECT_ROOT.parent / "shared" / "weights" / "squeezenet1_1-imagenet.pth"
SAMPLE_IMAGE = PROJECT_ROOT / "assets" / "images" / "chelsea.png"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MODES = ("gradient", "deconv", "guided")
LUCENT_PAD = 12  # the first of Lucent's standard transforms pads by 12 px on each side
DEEPVIS_TOOL = "deepvis (batched, lucid preset)"
LUCENT_BATCHED = "Lucent render_vis, all units in one batch"
LUCENT_PER_UNIT = "Lucent render_vis, one unit per call"


# --------------------------------------------------------------------------- the reference rule


class _ReferenceRectifier(torch.autograd.Function):
    """clamp(x, 0, top) whose backward is the deconvnet or guided backprop rule."""

    @staticmethod
    def forward(ctx, x, top, mode):
        ctx.save_for_backward(x)
        ctx.top, ctx.mode = top, mode
        return x.clamp(min=0) if top is None else x.clamp(0, top)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        passed = grad_out.clamp(min=0)  # both rules pass only positive signals down
        if ctx.mode == "guided":
            # ... and only where the forward op's own gradient is 1.
            inside = x > 0 if ctx.top is None else (x > 0) & (x < ctx.top)
            passed = passed * inside
        return passed, None, None


@contextmanager
def reference_rule(mode: str) -> Iterator[dict]:
    """Every ReLU-family call made inside the block takes the mode's backward rule.

    Yields a counter of the calls taken over. In-place calls run out of place:
    the models compared here use the returned tensor, never the overwritten input.
    """
    calls = {"relu": 0, "relu6": 0}

    def relu(x, *args, **kwargs):
        calls["relu"] += 1
        return _ReferenceRectifier.apply(x, None, mode)

    def relu6(x, *args, **kwargs):
        calls["relu6"] += 1
        return _ReferenceRectifier.apply(x, 6.0, mode)

    original_hardtanh = F.hardtanh

    def hardtanh(x, min_val=-1.0, max_val=1.0, inplace=False):
        if min_val != 0:
            return original_hardtanh(x, min_val, max_val, inplace)
        calls["relu6" if max_val == 6 else "relu"] += 1
        return _ReferenceRectifier.apply(x, float(max_val), mode)

    swaps = [(F, "relu", relu), (F, "relu_", relu), (F, "relu6", relu6), (F, "hardtanh", hardtanh),
             (torch, "relu", relu), (torch, "relu_", relu), (torch.Tensor, "relu", relu),
             (torch.Tensor, "relu_", relu)]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in swaps]
    try:
        for owner, name, function in swaps:
            setattr(owner, name, function)
        yield calls
    finally:
        for owner, name, function in saved:
            setattr(owner, name, function)


def reference_attribution(model: nn.Module, x: torch.Tensor, target: int, mode: str) -> torch.Tensor:
    """d(logit target)/dx with the mode's rule at every ReLU-family call (plain autograd for 'gradient')."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        if mode == "gradient":
            logits = model(x)
        else:
            with reference_rule(mode):
                logits = model(x)
        (grad,) = torch.autograd.grad(logits[:, target].sum(), x)
    return grad


def rectifier_calls(model: nn.Module, x: torch.Tensor) -> dict:
    """How many ReLU and ReLU6 calls one forward makes, and how many are nn.ReLU module calls
    (the only ones Captum's rules reach)."""
    module_calls = [0]

    def count(*_):
        module_calls[0] += 1

    handles = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad(), reference_rule("deconv") as calls:
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return {**calls, "nn.ReLU modules": module_calls[0]}


# --------------------------------------------------------------------------- the tools


def deepvis_attribution(model: nn.Module, x: torch.Tensor, target: int, mode: str) -> torch.Tensor:
    from deepvis.backprop import run_backprop

    # Seeded with 1 at the logit, as the references are.
    return run_backprop(model, x, "", target, mode, position=(0, 0)).input_signal


def captum_methods(model: nn.Module) -> dict[str, Callable]:
    """Captum's three attributions, each as f(x, target) -> input signal."""
    from captum.attr import Deconvolution, GuidedBackprop, Saliency

    saliency, deconv, guided = Saliency(model), Deconvolution(model), GuidedBackprop(model)
    return {
        "gradient": lambda x, target: saliency.attribute(x, target=target, abs=False),
        "deconv": lambda x, target: deconv.attribute(x, target=target),
        "guided": lambda x, target: guided.attribute(x, target=target),
    }


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    return float((value - reference).norm() / reference.norm().clamp_min(1e-300))


def check_backprop(model: nn.Module, x: torch.Tensor, target: int, with_captum: bool = True) -> dict:
    """Per mode: each tool's relative error against the reference rule, and Captum's against the
    plain gradient (near 0: Captum's rule changed nothing)."""
    plain = reference_attribution(model, x, target, "gradient")
    captum = captum_methods(model) if with_captum else {}
    figures = {}
    for mode in MODES:
        reference = reference_attribution(model, x, target, mode)
        row = {"deepvis": relative_error(deepvis_attribution(model, x, target, mode), reference)}
        if captum:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Captum warns on every call that it sets hooks
                theirs = captum[mode](x.detach().clone(), target)
            row["captum"] = relative_error(theirs, reference)
            row["captum_vs_gradient"] = relative_error(theirs, plain) if mode != "gradient" else 0.0
        figures[mode] = row
    return figures


def time_backprop(model: nn.Module, x: torch.Tensor, target: int, rounds: int) -> dict[str, dict[str, Turns]]:
    """Per mode: deepvis's and Captum's timings, taking turns over `rounds` after one warm-up each."""
    captum = captum_methods(model)
    figures = {}
    for mode in MODES:
        runs = {"deepvis": lambda: deepvis_attribution(model, x, target, mode),
                "captum": lambda: captum[mode](x.detach().clone(), target)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            figures[mode] = take_turns(runs, rounds)
    return figures


# --------------------------------------------------------------------------- models and inputs


def random_torchvision(name: str, folder: Path, seed: int) -> nn.Module:
    """A torchvision architecture with seeded random weights, saved to `folder` and loaded back."""
    import torchvision

    extra = {"init_weights": True} if name == "googlenet" else {}
    torch.manual_seed(seed)
    path = folder / f"{name}-random-seed{seed}.pth"
    torch.save(torchvision.models.get_model(name, weights=None, **extra).state_dict(), path)
    return weights_into(name, path)


def weights_into(name: str, path: Path) -> nn.Module:
    import torchvision

    extra = {"init_weights": False} if name == "googlenet" else {}
    model = torchvision.models.get_model(name, weights=None, **extra)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval().requires_grad_(False)


def sample_input(size: int = 224) -> torch.Tensor:
    """The sample photo, ImageNet-normalized, 1 x 3 x size x size."""
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(SAMPLE_IMAGE)), cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255.0
    return (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def backprop_models(folder: Path, seed: int, squeezenet_weights: Path) -> list[tuple[str, str, nn.Module]]:
    models = [(name, f"random (seed {seed})", random_torchvision(name, folder, seed))
              for name in ("resnet18", "googlenet", "mobilenet_v2")]
    if squeezenet_weights.exists():
        models.append(("squeezenet1_1", "ImageNet", weights_into("squeezenet1_1", squeezenet_weights)))
    else:
        print(f"squeezenet1_1 left out: no weights at {squeezenet_weights}", file=sys.stderr)
    return models


def compare_backprop(args, folder: Path) -> list[dict]:
    x = sample_input(args.backprop_size)
    rows = []
    for name, weights, model in backprop_models(folder, args.seed, args.squeezenet_weights):
        with torch.no_grad():
            target = int(model(x).argmax(dim=1))
        calls = rectifier_calls(model, x)
        errors = check_backprop(model.double(), x.double(), target)
        times = time_backprop(model.float(), x, target, args.rounds)
        for mode in MODES:
            turns = times[mode]
            rows.append({"model": name, "weights": weights, "target_logit": target, "calls": calls,
                         "mode": mode, **{f"error_{k}": v for k, v in errors[mode].items()},
                         "seconds": {tool: t.spread() for tool, t in turns.items()},
                         "seconds_each": {tool: {"wall": t.wall, "cpu": t.cpu} for tool, t in turns.items()},
                         "captum_over_deepvis": ratio_of_medians(turns, "captum", "deepvis")})
        print(f"backprop: {name} done", file=sys.stderr)
    return rows


# --------------------------------------------------------------------------- activation maximization


def optvis_model(args, folder: Path):
    """The LoadedModel to optimize units of, as `deepvis precompute optimize --model M [--weights W]`
    loads and lays it out."""
    from deepvis.zoo import load_model

    weights = None
    if args.opt_model == "googlenet":
        torch.manual_seed(args.seed)
        import torchvision

        weights = folder / "googlenet-optvis.pth"
        torch.save(torchvision.models.get_model("googlenet", weights=None, init_weights=True).state_dict(), weights)
    elif args.opt_model == "squeezenet1_1":
        weights = args.squeezenet_weights
    loaded = load_model(args.opt_model, weights=weights, device="cpu", fallback=False)
    loaded.model.to(memory_format=torch.channels_last)  # as the precompute commands run it
    return loaded


def measure_units(loaded, path: str, units: list[int], images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Image b's value of unit units[b] in the module's output, from one plain forward: at the centre
    of its map (what both tools maximize) and its peak over the map (wherever the pattern landed)."""
    mean = torch.tensor(loaded.card.mean).view(1, 3, 1, 1)
    std = torch.tensor(loaded.card.std).view(1, 3, 1, 1)
    taken = {}
    handle = loaded.module(path).register_forward_hook(lambda _m, _i, out: taken.__setitem__("out", out))
    try:
        with torch.no_grad():
            loaded.model((images - mean) / std)
    finally:
        handle.remove()
    out = taken["out"].float()
    maps = out[torch.arange(len(units)), torch.tensor(units)]
    if maps.dim() == 1:  # a flat layer: the unit is its own centre and peak
        return {"centre": maps, "peak": maps}
    return {"centre": maps[:, maps.shape[1] // 2, maps.shape[2] // 2], "peak": maps.flatten(1).amax(dim=1)}


def run_deepvis_optimize(loaded, path: str, units: list[int], size: int, steps: int, seed: int) -> torch.Tensor:
    from deepvis.unitvis.optimize import get_preset, optimize_units

    layer = loaded.find_layer(path)
    # The module's output, as Lucent's objective reads it (not a pre-activation inside it).
    result = optimize_units(loaded, layer, units, get_preset("lucid", steps), seed=seed, size=size, use_pre=False)
    return result.images


def run_lucent(loaded, path: str, units: list[int], size: int, steps: int, seed: int,
               batched: bool) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # kornia's torch.jit.script at import
        from lucent.optvis import objectives, param, render, transform

    layer = path.replace(".", "_")  # Lucent's names for module paths
    mean = torch.tensor(loaded.card.mean).view(1, 3, 1, 1)
    std = torch.tensor(loaded.card.std).view(1, 3, 1, 1)
    # The model's own normalization (Lucent's default is ImageNet's), after Lucent's standard transforms.
    transforms = list(transform.standard_transforms) + [lambda images: (images - mean) / std]

    def render_units(objective, batch: int) -> torch.Tensor:
        torch.manual_seed(seed)
        np.random.seed(seed)
        with hooks_removed_after(loaded.model):
            final = render.render_vis(loaded.model, objective, lambda: param.image(size, batch=batch),
                                      transforms=transforms, thresholds=(steps,), preprocess=False,
                                      progress=False, show_image=False,
                                      fixed_image_size=size + 2 * LUCENT_PAD)[-1]
        return torch.from_numpy(final).permute(0, 3, 1, 2).float()

    if batched:
        objective = objectives.Objective.sum([objectives.neuron(layer, u, batch=b) for b, u in enumerate(units)])
        return render_units(objective, len(units))
    return torch.cat([render_units(objectives.neuron(layer, u), 1) for u in units])


@contextmanager
def hooks_removed_after(model: nn.Module) -> Iterator[None]:
    """Removes the forward hooks added inside the block.

    render_vis hooks every module and never removes the hooks: left there, they
    would slow every later run on the same model.
    """
    before = {module: set(module._forward_hooks) for module in model.modules()}
    try:
        yield
    finally:
        for module in model.modules():
            for key in set(module._forward_hooks) - before[module]:
                del module._forward_hooks[key]


def warm_up(loaded, size: int, batch: int) -> None:
    """One forward and backward first, so that no tool pays the first call's setup."""
    x = torch.rand(batch, 3, size, size, requires_grad=True)
    with torch.enable_grad():
        loaded.model(x).sum().backward()


def compare_optimize(args, folder: Path) -> list[dict]:
    loaded = optvis_model(args, folder)
    path = loaded.find_layer(args.layer).path
    tools = {
        DEEPVIS_TOOL: lambda: run_deepvis_optimize(loaded, path, args.units, args.size, args.steps, args.seed),
        LUCENT_BATCHED: lambda: run_lucent(loaded, path, args.units, args.size, args.steps, args.seed, batched=True),
    }
    if args.per_unit:
        tools[LUCENT_PER_UNIT] = lambda: run_lucent(loaded, path, args.units, args.size, args.steps, args.seed,
                                                    batched=False)
    warm_up(loaded, args.size, len(args.units))
    turns = take_turns(tools, args.rounds, warmup=0)  # rounds of minutes: the warm-up above is enough
    rows, reached = [], {}
    for tool, t in turns.items():
        reached[tool] = measure_units(loaded, path, args.units, t.results[-1])
        rows.append({"tool": tool, "model": loaded.name, "layer": path, "units": args.units, "size": args.size,
                     "steps": args.steps, "seconds": t.spread(), "seconds_each": {"wall": t.wall, "cpu": t.cpu},
                     "units_per_s": len(args.units) / statistics.median(t.wall),
                     "same_images_every_round": all(torch.equal(t.results[0], r) for r in t.results),
                     "reached": reached[tool]["centre"].tolist(), "peak": reached[tool]["peak"].tolist()})
        if tool != DEEPVIS_TOOL:
            rows[-1]["tool_over_deepvis"] = ratio_of_medians(turns, tool, DEEPVIS_TOOL)
    ours = reached[DEEPVIS_TOOL]
    for row in rows:
        row["deepvis_higher"] = int((ours["centre"] > torch.tensor(row["reached"])).sum())
        row["deepvis_higher_peak"] = int((ours["peak"] > torch.tensor(row["peak"])).sum())
    return rows


# --------------------------------------------------------------------------- report


def machine() -> dict:
    from deepvis.bench import machine_facts

    versions = {}
    for package in ("captum", "torch-lucent"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = None
    facts = machine_facts()
    return {**{k: facts[k] for k in ("date", "cpu", "cores", "torch", "threads")}, **versions,
            "load_average": facts["load_average"]}


def _error(value: float) -> str:
    return f"{value:.1e}" if value < 1e-3 else f"{value:.3f}"


def _spread(spread: dict[str, float], scale: float = 1.0, digits: int = 1) -> str:
    """'median (min-max)' of a spread, times scale."""
    return (f"{spread['median'] * scale:.{digits}f} ({spread['min'] * scale:.{digits}f}-"
            f"{spread['max'] * scale:.{digits}f})")


def markdown(report: dict) -> str:
    m, args = report["machine"], report["args"]
    lines = [f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores, torch {m['torch']}, {m['threads']} "
             f"thread(s) for every tool, Captum {m['captum']}, Lucent {m['torch-lucent']}; load average "
             f"{m['load_average']:.1f} at the start). Times: the tools take turns, {args['rounds']} rounds; "
             f"median (min-max) of wall seconds and of process CPU seconds, ratios of the medians.",
             ""]
    if report.get("backprop"):
        size = args["backprop_size"]
        lines += [f"Backprop: relative L2 error against the reference rule (float64) for the top logit of the "
                  f"sample photo at {size} px; times in float32, after one warm-up each. "
                  f"Calls: ReLU / ReLU6 calls in one forward, of which nn.ReLU module calls (all that Captum's "
                  f"rule reaches).",
                  "",
                  "| model (weights) | calls | mode | deepvis error | Captum error | Captum vs plain gradient "
                  "| deepvis ms, wall | Captum ms, wall | deepvis ms, CPU | Captum ms, CPU "
                  "| Captum / deepvis, wall; CPU |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for row in report["backprop"]:
            c, t, ratio = row["calls"], row["seconds"], row["captum_over_deepvis"]
            calls = f"{c['relu']} / {c['relu6']}, {c['nn.ReLU modules']} nn.ReLU"
            lines.append(
                f"| {row['model']} ({row['weights']}) | {calls} | {row['mode']} | {_error(row['error_deepvis'])} "
                f"| {_error(row['error_captum'])} | "
                f"{'-' if row['mode'] == 'gradient' else _error(row['error_captum_vs_gradient'])} "
                f"| {_spread(t['deepvis']['wall'], 1e3, 0)} | {_spread(t['captum']['wall'], 1e3, 0)} "
                f"| {_spread(t['deepvis']['cpu'], 1e3, 0)} | {_spread(t['captum']['cpu'], 1e3, 0)} "
                f"| {ratio['wall']:.2f}x; {ratio['cpu']:.2f}x |")
        lines.append("")
    if report.get("optimize"):
        first = report["optimize"][0]
        lines += [f"Activation maximization: {first['model']} `{first['layer']}`, units "
                  f"{', '.join(map(str, first['units']))}, {first['size']} px, {first['steps']} steps. Reached: the "
                  f"unit's output in one plain forward of each final image (of the last round), at the centre of "
                  f"its map (the value both tools maximize) and at its peak over the map. Higher: units where "
                  f"deepvis's value is higher (centre; peak). Same images: every round made the same images.",
                  "",
                  "| tool | wall s | CPU s | its median / deepvis's, wall; CPU | units/s | centre: mean | median | min "
                  "| peak: mean | deepvis higher | same images |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for row in report["optimize"]:
            values = row["reached"]
            higher = ("-" if row is first else
                      f"{row['deepvis_higher']}; {row['deepvis_higher_peak']} of {len(values)}")
            over = row.get("tool_over_deepvis")
            over = f"{over['wall']:.2f}x; {over['cpu']:.2f}x" if over else "-"
            lines.append(f"| {row['tool']} | {_spread(row['seconds']['wall'])} | {_spread(row['seconds']['cpu'])} "
                         f"| {over} | {row['units_per_s']:.3f} | {statistics.mean(values):.1f} "
                         f"| {statistics.median(values):.1f} | {min(values):.1f} "
                         f"| {statistics.mean(row['peak']):.1f} | {higher} "
                         f"| {'yes' if row['same_images_every_round'] else 'no'} |")
    return "\n".join(lines)


def parse_units(spec: str) -> list[int]:
    units = []
    for part in spec.replace(",", " ").split():
        lo, _, hi = part.partition("-")
        units += list(range(int(lo), int(hi or lo) + 1))
    return units


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--only", choices=("backprop", "optimize"), help="run one part only")
    parser.add_argument("--seed", type=int, default=0, help="random weights and optimization seed (default 0)")
    parser.add_argument("--squeezenet-weights", type=Path, default=SQUEEZENET_WEIGHTS)
    parser.add_argument("--backprop-size", type=int, default=224, help="backprop input side (default 224)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="timed rounds, every tool once a round, in each part (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same for every tool (default 1)")
    parser.add_argument("--per-unit", action="store_true",
                        help="also time Lucent with one unit per render_vis call (about twice the batched time)")
    parser.add_argument("--opt-model", default="efficientnet_lite0",
                        choices=("efficientnet_lite0", "googlenet", "squeezenet1_1"),
                        help="model for activation maximization (default: the embedded efficientnet_lite0; "
                             "googlenet has seeded random weights)")
    parser.add_argument("--layer", default="blocks.4.2",
                        help="module path or card name of the layer (default blocks.4.2, block5's output)")
    parser.add_argument("--units", type=parse_units, default=list(range(4)), help="e.g. 0-3 (default)")
    parser.add_argument("--size", type=int, default=96, help="image side (default 96)")
    parser.add_argument("--steps", type=int, default=64, help="optimization steps (default 64)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    report = {"machine": machine(), "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory(prefix="deepvis-peers-") as folder:
        if args.only in (None, "backprop"):
            report["backprop"] = compare_backprop(args, Path(folder))
        if args.only in (None, "optimize"):
            report["optimize"] = compare_optimize(args, Path(folder))
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(rounded(report, 6), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
