"""Class images from noise, measured: do other models see the class, do the seeds differ, how fast.

For each ImageNet class and seed, an image is made on the default model
(efficientnet_lite0) by each method:

- lucid: deepvis's class images (`deepvis dream --class NAME --method lucid`);
- maco: the same with `--method maco` (phase-only, natural magnitude spectrum);
- lucent: Lucent's render_vis with its defaults (param.image: decorrelated
  Fourier image; standard_transforms; Adam 0.05), the class logit as objective
  and the model's own input normalization (Lucent's default is ImageNet's);
  only when the `compare` extra is installed (pip install -e '.[compare]').

Each image is written as a PNG, read back and shown to a second model it was
not made with (squeezenet1_1 with ImageNet weights from ../shared/weights):
the share of images whose class is its top-1 and top-5 (transferability). The
seeds of a class are compared: the mean absolute pixel difference of every pair
(in [0, 1]) and the cosine distance of the second model's pooled features.
Seconds per image are wall-clock, everything in one process, one method after
another, class by class; deepvis makes a class's seeds in one batch (its
default: the diversity term compares them), Lucent one image per call.

    python scripts/featvis_quality.py [--classes 20] [--seeds 2] [--steps 512] [--size 224]
        [--methods lucid maco lucent] [--out table.md] [--json report.json] [--images DIR] [--sheet sheet.png]
        (run again with the same --json and --images, it resumes where it stopped)
    python scripts/featvis_quality.py --speed [--rounds 3]        # lucid against Lucent, one image at a time
    python scripts/featvis_quality.py --accentuation              # accentuation's first result, 128 px
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SQUEEZENET_WEIGHTS = PROJECT_ROOT.parent / "shared" / "weights" / "squeezenet1_1-imagenet.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLASSES = ("goldfish", "flamingo", "tabby", "golden retriever", "monarch", "ladybug", "daisy", "lemon", "pizza",
           "strawberry", "volcano", "school bus", "jellyfish", "pineapple", "zebra", "peacock", "king penguin",
           "castle", "ambulance", "violin")
METHODS = ("lucid", "maco", "lucent")


def second_model(weights: Path) -> torch.nn.Module:
    import torchvision

    model = torchvision.models.squeezenet1_1(weights=None)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval().requires_grad_(False)


@torch.no_grad()
def judge(model: torch.nn.Module, rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The second model's logits and pooled features of an RGB uint8 image (resized to 224 px)."""
    import cv2

    if rgb.shape[:2] != (224, 224):
        rgb = cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float()[None] / 255.0
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    features = model.features(x)
    return model(x)[0], features.mean(dim=(2, 3))[0]


def deepvis_images(loaded, method: str, target: int, seeds: list[int], steps: int, size: int):
    from deepvis.dream.classes import ClassSettings, render_classes, to_uint8

    rendered = render_classes(loaded, [target] * len(seeds), seeds, ClassSettings(steps=steps, size=size,
                                                                                   method=method))
    return to_uint8(rendered.images)


def lucent_images(loaded, target: int, seeds: list[int], steps: int, size: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # kornia's torch.jit.script at import
        from lucent.optvis import objectives, param, render, transform

    mean = torch.tensor(loaded.card.mean).view(1, 3, 1, 1)
    std = torch.tensor(loaded.card.std).view(1, 3, 1, 1)
    transforms = list(transform.standard_transforms) + [lambda images: (images - mean) / std]
    made = []
    for seed in seeds:
        torch.manual_seed(seed)
        np.random.seed(seed)
        before = {m: set(m._forward_hooks) for m in loaded.model.modules()}
        try:
            final = render.render_vis(loaded.model, objectives.channel("labels", target),
                                      lambda: param.image(size), transforms=transforms, thresholds=(steps,),
                                      preprocess=False, progress=False, show_image=False)[-1]
        finally:  # render_vis leaves a hook on every module
            for module in loaded.model.modules():
                for key in set(module._forward_hooks) - before[module]:
                    del module._forward_hooks[key]
        made.append((np.clip(final[0], 0, 1) * 255 + 0.5).astype(np.uint8))
    return np.stack(made)


def lucent_available() -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import lucent.optvis.render  # noqa: F401
    except ImportError:
        return False
    return True


def pair_distances(images: list[np.ndarray], features: list[torch.Tensor]) -> tuple[list[float], list[float]]:
    pixels, cosines = [], []
    for a, b in itertools.combinations(range(len(images)), 2):
        pixels.append(float(np.abs(images[a].astype(np.float32) - images[b].astype(np.float32)).mean() / 255))
        cosines.append(1.0 - float(torch.nn.functional.cosine_similarity(features[a], features[b], dim=0)))
    return pixels, cosines


def summarize(rows: list[dict], method: str) -> dict:
    mine = [r for r in rows if r["method"] == method]
    if not mine:
        return {}
    pixels = [d for r in mine for d in r.get("pair_pixel", [])]
    cosines = [d for r in mine for d in r.get("pair_feature", [])]
    return {
        "images": sum(r["images"] for r in mine),
        "top1": sum(r["top1"] for r in mine) / sum(r["images"] for r in mine),
        "top5": sum(r["top5"] for r in mine) / sum(r["images"] for r in mine),
        "own_top1": sum(r["own_top1"] for r in mine) / sum(r["images"] for r in mine),
        "pixel_distance": float(np.mean(pixels)) if pixels else None,
        "feature_distance": float(np.mean(cosines)) if cosines else None,
        "seconds_per_image": sum(r["seconds"] for r in mine) / sum(r["images"] for r in mine),
    }


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"{len(report['classes'])} classes x {report['seeds']} seeds, {report['size']} px, {report['steps']} steps, "
        f"made on {report['model']}, judged by squeezenet1_1 (ImageNet weights); {m['torch_threads']} torch "
        f"thread(s), {m['cpu']}, load average {m['load_average']:.1f} at the start.",
        "",
        "| method | top-1 under squeezenet1_1 | top-5 under squeezenet1_1 | top-1 under the model made with "
        "| seeds' pixel distance | seeds' feature distance | seconds per image |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, s in report["summary"].items():
        if not s:
            continue
        pixel = "-" if s["pixel_distance"] is None else f"{s['pixel_distance']:.3f}"
        feature = "-" if s["feature_distance"] is None else f"{s['feature_distance']:.3f}"
        lines.append(f"| {method} | {s['top1']:.1%} | {s['top5']:.1%} | {s['own_top1']:.1%} | {pixel} | "
                     f"{feature} | {s['seconds_per_image']:.1f} |")
    return "\n".join(lines) + "\n"


def machine(threads: int) -> dict:
    from deepvis.bench import machine_facts

    facts = machine_facts()
    return {"cpu": facts["cpu"], "torch": facts["torch"], "torch_threads": threads,
            "load_average": facts["load_average"], "date": facts["date"]}


def run(args) -> dict:
    import tempfile

    from deepvis.config import Config
    from deepvis.dream.classes import find_class
    from deepvis.dream.files import write_png
    from deepvis.session import open_model
    from deepvis.sources import read_image

    torch.set_num_threads(args.threads)
    methods = [m for m in args.methods if m != "lucent" or lucent_available()]
    if "lucent" in args.methods and "lucent" not in methods:
        print("lucent left out: pip install -e '.[compare]' to include it", file=sys.stderr)
    loaded = open_model(Config().replace(device="cpu"))
    loaded.model.to(memory_format=torch.channels_last)  # as `deepvis dream --class` runs it; Lucent runs on it too
    judge_model = second_model(args.squeezenet_weights)
    names = list(CLASSES[:args.classes]) if args.names is None else args.names
    targets = [find_class(loaded.labels, name) for name in names]
    seeds = list(range(args.seeds))
    folder = Path(args.images) if args.images else Path(tempfile.mkdtemp(prefix="featvis_quality_"))
    report = {"model": loaded.name, "second_model": "squeezenet1_1", "classes": names, "seeds": args.seeds,
              "steps": args.steps, "size": args.size, "methods": methods, "machine": machine(args.threads),
              "rows": []}
    done = resumed_rows(report, args.json)
    report["rows"] = [row for row in done if row["method"] in methods and row["class"] in names]
    if report["rows"]:
        print(f"resuming: {len(report['rows'])} class x method rows kept from {args.json}", file=sys.stderr)
    x = torch.rand(2, 3, args.size, args.size, requires_grad=True)
    loaded.model(x).sum().backward()  # the first call's setup, paid by no method
    for name, target in zip(names, targets):
        for method in methods:
            if any(row["class"] == name and row["method"] == method for row in report["rows"]):
                continue
            start = time.perf_counter()
            if method == "lucent":
                images = lucent_images(loaded, target, seeds, args.steps, args.size)
            else:
                images = deepvis_images(loaded, method, target, seeds, args.steps, args.size)
            seconds = time.perf_counter() - start
            row = {"method": method, "class": name, "index": target, "images": len(images), "seconds": seconds,
                   "top1": 0, "top5": 0, "own_top1": 0, "ranks": []}
            read, features = [], []
            for seed, image in zip(seeds, images):
                path = image_path(folder, method, target, name, seed)
                path.parent.mkdir(parents=True, exist_ok=True)
                write_png(path, image)
                rgb = read_image(path)
                logits, pooled = judge(judge_model, rgb)
                rank = int((logits > logits[target]).sum()) + 1
                row["ranks"].append(rank)
                row["top1"] += rank == 1
                row["top5"] += rank <= 5
                row["own_top1"] += own_rank(loaded, rgb, target) == 1
                read.append(rgb)
                features.append(pooled)
            row["pair_pixel"], row["pair_feature"] = pair_distances(read, features)
            report["rows"].append(row)
            print(f"{name} {method}: {seconds / len(images):.1f} s/image, squeezenet ranks {row['ranks']}",
                  file=sys.stderr, flush=True)
        report["summary"] = {m: summarize(report["rows"], m) for m in methods}
        save(report, args)  # after every class: a long run stopped early still has its table
    if args.sheet:
        write_sheet(report, folder, Path(args.sheet))
    return report


def image_path(folder: Path, method: str, target: int, name: str, seed: int) -> Path:
    return folder / method / f"{target:03d}_{name.replace(' ', '_')}_seed{seed}.png"


def write_sheet(report: dict, folder: Path, out: Path, side: int = 128) -> None:
    """One row per class: each method's seeds side by side, captioned with the second model's rank
    of the class (1: its top-1)."""
    from deepvis.dream.files import write_png
    from deepvis.dream.sheet import contact_sheet
    from deepvis.sources import read_image

    images, captions = [], []
    for name in report["classes"]:
        for method in report["methods"]:
            row = next((r for r in report["rows"] if r["class"] == name and r["method"] == method), None)
            for seed in range(report["seeds"]):
                path = None if row is None else image_path(folder, method, row["index"], name, seed)
                if path is None or not path.exists():
                    images.append(np.zeros((side, side, 3), np.uint8))
                    captions.append(f"{name[:12]} {method}: none")
                    continue
                images.append(read_image(path))
                captions.append(f"{name[:12]} {method} #{row['ranks'][seed]}")
    columns = len(report["methods"]) * report["seeds"]
    write_png(out, contact_sheet(images, captions, columns=columns, side=side))
    print(f"wrote {out}: rows are classes; columns {' '.join(report['methods'])} x {report['seeds']} seeds; "
          "#N: the class's rank under squeezenet1_1", file=sys.stderr)


def resumed_rows(report: dict, path: str | None) -> list[dict]:
    """The rows of an earlier run's report at `path` made with the same model, seeds, steps and size
    (an interrupted run resumes where it stopped); none when it differs or cannot be read."""
    if not path or not Path(path).exists():
        return []
    try:
        earlier = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        print(f"not resuming from {path}: {exc}", file=sys.stderr)
        return []
    same = ("model", "seeds", "steps", "size")
    if any(earlier.get(key) != report[key] for key in same):
        print(f"not resuming from {path}: made with other settings", file=sys.stderr)
        return []
    return earlier.get("rows", [])


@torch.no_grad()
def own_rank(loaded, rgb: np.ndarray, target: int) -> int:
    from deepvis.probe import preprocess

    card = loaded.card
    logits = loaded.model(preprocess(rgb, card.input_size, card.mean, card.std, loaded.device))[0]
    return int((logits > logits[target]).sum()) + 1


def accentuation_speed(args) -> str:
    """Seconds to feature accentuation's first result and to its last, at the window's unit-image size,
    on a sample photo, for a unit of an early, a late and the class layer."""
    from deepvis.config import Config
    from deepvis.dream.accentuate import AccentSettings, accentuate
    from deepvis.paths import SAMPLE_IMAGES
    from deepvis.session import open_model
    from deepvis.sources import read_image
    from deepvis.unitvis.ondemand import BACKGROUND_SIZE

    torch.set_num_threads(args.threads)
    loaded = open_model(Config().replace(device="cpu"))
    rgb = read_image(SAMPLE_IMAGES / "chelsea.png")
    settings = AccentSettings(size=BACKGROUND_SIZE)
    lines = [f"| layer, unit | first result (step {settings.first}) | last (step {settings.steps}) | objective "
             "| mean pixel change |", "|---|---|---|---|---|"]
    for layer, unit in (("block4", 5), ("block6", 30), ("fc", 291)):
        times = []
        start = time.perf_counter()
        result = accentuate(loaded, rgb, loaded.find_layer(layer), unit, settings,
                            on_result=lambda _r: times.append(time.perf_counter() - start))
        lines.append(f"| {layer} {unit} | {times[0]:.2f} s | {times[-1]:.1f} s | {result.objective_start:.2f} -> "
                     f"{result.objective:.2f} | {result.pixel_change:.3f} |")
    return "\n".join(lines) + "\n"


def speed(args) -> str:
    """deepvis's lucid against Lucent's render_vis (the same decorrelated Fourier image, views, Adam
    0.05 and steps), one image at a time, and deepvis with 2 seeds together as its command makes
    them, alternated round by round; wall and CPU seconds per image."""
    import statistics

    from deepvis.config import Config
    from deepvis.dream.classes import ClassSettings, find_class, render_classes
    from deepvis.session import open_model

    torch.set_num_threads(args.threads)
    loaded = open_model(Config().replace(device="cpu"))
    loaded.model.to(memory_format=torch.channels_last)  # as `deepvis dream --class` runs it
    target = find_class(loaded.labels, (args.names or CLASSES)[0])
    x = torch.rand(1, 3, args.size, args.size, requires_grad=True)
    loaded.model(x).sum().backward()  # the first call's setup, paid by neither
    settings = ClassSettings(steps=args.steps, size=args.size)
    tools = {"deepvis lucid, one image": lambda seed: render_classes(loaded, [target], [seed], settings),
             "Lucent render_vis, one image": lambda seed: lucent_images(loaded, target, [seed], args.steps,
                                                                       args.size),
             # as `deepvis dream --class NAME --seeds 2` makes them: together, with the diversity term
             "deepvis lucid, 2 seeds together (per image)": lambda seed: render_classes(
                 loaded, [target] * 2, [2 * seed, 2 * seed + 1], settings)}
    per_call = {tool: 2 if "2 seeds" in tool else 1 for tool in tools}
    wall: dict[str, list[float]] = {tool: [] for tool in tools}
    cpu: dict[str, list[float]] = {tool: [] for tool in tools}
    for seed in range(args.rounds):
        for tool, make in tools.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            make(seed)
            wall[tool].append((time.perf_counter() - start) / per_call[tool])
            cpu[tool].append((time.process_time() - start_cpu) / per_call[tool])
            print(f"{tool}: {wall[tool][-1]:.1f} s ({cpu[tool][-1]:.1f} CPU s)", file=sys.stderr, flush=True)
    lines = ["| tool | seconds per image (median) | CPU seconds (median) |", "|---|---|---|"]
    for tool in tools:
        lines.append(f"| {tool} | {statistics.median(wall[tool]):.1f} | {statistics.median(cpu[tool]):.1f} |")
    one, lucent, batched = cpu.values()
    lines.append("")
    for name, ours in (("one image", one), ("2 seeds together", batched)):
        ratio = statistics.median(b / a for a, b in zip(ours, lucent))
        lines.append(f"Lucent / deepvis ({name}): {statistics.median(lucent) / statistics.median(ours):.2f}x by "
                     f"median CPU seconds, {ratio:.2f}x the median of the {args.rounds} alternated rounds")
    lines.append(f"({args.steps} steps, {args.size} px, {args.threads} torch thread(s), channels-last weights)")
    return "\n".join(lines) + "\n"


def save(report: dict, args) -> None:
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.out:
        Path(args.out).write_text(markdown(report))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=len(CLASSES), help=f"the first N of {len(CLASSES)} classes")
    parser.add_argument("--names", nargs="+", help="these class names instead")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--squeezenet-weights", type=Path, default=SQUEEZENET_WEIGHTS)
    parser.add_argument("--images", help="keep the images in this folder (default: a temporary one)")
    parser.add_argument("--out", help="write the markdown table here as the run goes")
    parser.add_argument("--sheet", help="at the end, a contact sheet PNG of every image (needs --images, or "
                        "the run's own temporary folder)")
    parser.add_argument("--json", help="write the full report here as the run goes; a run with the same "
                        "settings resumes from it, keeping the classes it has")
    parser.add_argument("--accentuation", action="store_true",
                        help="instead: time feature accentuation's first and last result at the window's "
                             "unit-image size (128 px)")
    parser.add_argument("--speed", action="store_true",
                        help="instead: one class image at a time, lucid against Lucent's render_vis, alternated")
    parser.add_argument("--rounds", type=int, default=3, help="with --speed: alternated pairs (default: 3)")
    args = parser.parse_args(argv)
    if args.speed:
        if not lucent_available():
            print("--speed needs Lucent: pip install -e '.[compare]'", file=sys.stderr)
            return 2
        print(speed(args), end="")
        return 0
    if args.accentuation:
        print(f"{args.threads} torch thread(s), load average {machine(args.threads)['load_average']:.1f}")
        print(accentuation_speed(args), end="")
        return 0
    if not args.squeezenet_weights.exists():
        print(f"no squeezenet1_1 weights at {args.squeezenet_weights}", file=sys.stderr)
        return 2
    report = run(args)
    print(markdown(report), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
