"""Build the shipped optimized images of the embedded model (assets/units/efficientnet_lite0).

Every unit of the default layer (block3) and of fc (all 1000 classes), and units
0-63 of every other displayed layer, get a lucid image: `deepvis precompute
optimize` runs into a work store (PNG; interrupted runs resume), then each image
is written here as a small JPEG with its unit's figures. Units that already ship a
lucid PNG (block4 and fc 0-63, at 128 px) keep it.

    python assets/make_unit_images.py [--work DIR] [--size 96] [--steps 128] [--quality 80]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2

ASSETS = Path(__file__).resolve().parent
MODEL = "efficientnet_lite0"
# layer -> units ("all" or a --units spec), the default layer first; stem and block1 have 32 units.
PLAN = {"block3": "all", "fc": "all", "stem": "all", "block1": "all", "block2": "0-63", "block4": "0-63",
        "block5": "0-63", "block6": "0-63", "block7": "0-63", "head": "0-63"}


def optimize(work: Path, layer: str, units: str, size: int, steps: int) -> None:
    command = [sys.executable, "-m", "deepvis", "precompute", "optimize", "--model", MODEL, "--layers", layer,
               "--preset", "lucid", "--steps", str(steps), "--size", str(size), "--store", str(work), "--device",
               "cpu"]
    if units != "all":
        command += ["--units", units]
    subprocess.run(command, check=True)


def ship(work: Path, layer: str, quality: int) -> int:
    """The work store's lucid PNGs of a layer -> opt_lucid.jpg beside the shipped images, with info."""
    from deepvis.unitvis.store import UnitStore, write_bytes_atomic

    shipped = UnitStore(ASSETS / "units", MODEL)
    source_folder = work / MODEL / layer
    written = 0
    for unit_folder in sorted(source_folder.glob("unit_*")):
        unit = int(unit_folder.name[5:])
        png = unit_folder / "opt_lucid.png"
        info = json.loads((unit_folder / "info.json").read_text()) if (unit_folder / "info.json").exists() else {}
        entry = info.get("optimize", {}).get("lucid")
        if not png.exists() or entry is None:
            continue
        if (shipped.unit_folder(layer, unit) / "opt_lucid.png").exists():
            continue  # a larger PNG ships already
        ok, encoded = cv2.imencode(".jpg", cv2.imread(str(png)), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise SystemExit(f"cannot encode {png}")
        write_bytes_atomic(shipped.unit_folder(layer, unit) / "opt_lucid.jpg", encoded.tobytes())
        shipped.update_unit(layer, unit, "optimize", {**entry, "image": "opt_lucid.jpg",
                                                      "display": f"as optimized, JPEG quality {quality}"},
                            key="lucid")
        written += 1
    index = source_folder / "index.json"
    shipped.rebuild_index(layer, json.loads(index.read_text()).get("path", "") if index.exists() else "")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(Path.home() / ".cache" / "deepvis" / "ship-units"),
                        help="the work store (resumable)")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--quality", type=int, default=80, help="JPEG quality (80: a 96-px image fits one 4 KB block)")
    parser.add_argument("--layers", nargs="+", default=list(PLAN), help="a part of the plan")
    parser.add_argument("--ship-only", action="store_true", help="convert what the work store holds, no optimizing")
    args = parser.parse_args()
    work = Path(args.work)
    for layer in args.layers:
        if not args.ship_only:
            optimize(work, layer, PLAN[layer], args.size, args.steps)
        if (work / MODEL / layer).is_dir():
            print(f"{layer}: {ship(work, layer, args.quality)} images shipped", flush=True)


if __name__ == "__main__":
    main()
