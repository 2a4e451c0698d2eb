"""The on-disk store of per-unit images.

Layout, one folder per model, layer and unit:

    ROOT/MODEL/store.json                    {"model": name}: a store of another model is refused
    ROOT/MODEL/LAYER/index.json              the layer's JSON index: {"units": {"7": {...}}}
    ROOT/MODEL/LAYER/unit_0007/info.json     the unit's own entries (the index is rebuilt from these)
    ROOT/MODEL/LAYER/unit_0007/opt_lucid.png optimized images, one per preset (maco: also
                                             opt_maco_alpha.png, faded where the unit does not look)
    ROOT/MODEL/LAYER/unit_0007/patch_00.png  top-k crops, best first
    ROOT/MODEL/LAYER/unit_0007/deconv_00.png their deconvs
    ROOT/MODEL/LAYER/unit_0007/live_<id>.png the best moments seen live, saved from the window
                                             (listed best first, with their activations, in info.json)

Two layers: the store a user writes to (Config.store_path: the platform's data
folder unless config.yaml or --store say otherwise), and the images shipped in
assets/units, read-only. They are merged per unit and per kind of image: the
user's optimized images, top-k scan (patches and their deconvs) or live moments
replace the shipped ones of that kind for that unit only.

Weights: store.json records a fingerprint of the weights that made the images.
Images of the same model name made with other weights (another --weights file)
go to a folder of their own, ROOT/MODEL@FINGERPRINT, so they never mix; shipped
images are shown only for the weights they were made with.

Every file is written to a temporary name in the same folder and renamed, so a
reader never sees half a file and an interrupted run loses nothing written.
A unit's info.json is the record of what is done; the layer index is rebuilt
from the units' files, so several processes can write units without a lock.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from deepvis import DeepvisError
from deepvis.files import json_text, write_png_atomic, write_text_atomic
from deepvis.files import write_bytes_atomic  # noqa: F401  (imported from here by topk)

STORE_FILE = "store.json"
INDEX_FILE = "index.json"
UNIT_INFO = "info.json"
PATCH_RE = re.compile(r"patch_(\d+)\.png$")
DECONV_RE = re.compile(r"deconv_(\d+)\.png$")
LIVE_RE = re.compile(r"live_(\d+)\.png$")  # a live top-k saved by an older deepvis, best first
LIVE_ANY_RE = re.compile(r"live_[0-9a-f]+\.png$")  # every saved live moment's file, old or new
LIVE_KEPT = 9  # a unit keeps its nine best moments seen live, over every session saved


def safe_name(name: str) -> str:
    """A folder name for a model or layer name (timm:x, my_module:make, features.10)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "_"


ALPHA_SUFFIX = "_alpha"  # opt_maco_alpha.png: opt_maco.png faded where the unit's gradient was small


def alpha_image_name(preset: str) -> str:
    """The optimized image faded by its transparency map (MACO's), stored beside `opt_<preset>.png`."""
    return f"opt_{preset}{ALPHA_SUFFIX}.png"


def unit_folder_name(unit: int) -> str:
    return f"unit_{unit:04d}"


# --------------------------------------------------------------------------- atomic writes


def write_json_atomic(path: Path, value: Any) -> None:
    """The store's JSON: compact and sorted, so a file changes only where its content does."""
    write_text_atomic(path, json_text(value, indent=1, sort_keys=True, note=False))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # a damaged file counts as absent; it is rewritten


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class UnitImages:
    """The stored images of one unit; paths exist when listed."""

    optimized: tuple[Path, ...] = ()  # optimized-image PNGs of the unit (one per preset computed)
    patches: tuple[Path, ...] = ()  # top-k crops, best first
    deconvs: tuple[Path, ...] = ()  # the deconv of each crop, same order
    live: tuple[Path, ...] = ()  # the best moments seen live and saved (all sessions), best first
    live_values: tuple[float, ...] = ()  # the unit's maximum in each of those moments
    live_dates: tuple[str, ...] = ()  # when each was saved (ISO date and time; "" when unknown)
    info: dict = field(default_factory=dict)  # this unit's entries from the layer's JSON index

    @property
    def empty(self) -> bool:
        return not (self.optimized or self.patches or self.deconvs or self.live)


def weights_fingerprint(model) -> str:
    """A short hash of a model's weights: names, shapes and values (large tensors by a strided
    sample of 65536 values, enough to tell two trainings apart)."""
    import torch

    digest = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
                continue
            flat = tensor.detach().reshape(-1)
            if flat.numel() > 65536:
                flat = flat[:: flat.numel() // 65536 + 1]
            digest.update(f"{name}{tuple(tensor.shape)}".encode())
            digest.update(flat.float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def store_folder(root: Path, model_name: str, fingerprint: str | None) -> Path:
    """ROOT/MODEL, or ROOT/MODEL@FINGERPRINT when ROOT/MODEL holds images of other weights."""
    base = Path(root) / safe_name(model_name)
    recorded = (read_json(base / STORE_FILE) or {}).get("weights")
    if fingerprint is None or recorded is None or recorded == fingerprint:
        return base
    return Path(root) / f"{safe_name(model_name)}@{fingerprint[:10]}"


class UnitStore:
    """Reads and writes one model's unit images under a store root, over the shipped images."""

    def __init__(self, root: Path, model_name: str, fingerprint: str | None = None,
                 shipped: Path | None = None):
        self.root = Path(root)
        self.model_name = model_name
        self.fingerprint = fingerprint
        self.folder = store_folder(self.root, model_name, fingerprint)
        self._lock = threading.Lock()
        self._live_lock = threading.Lock()  # one save of live moments at a time (read, merge, write)
        self._index_cache: dict[str, tuple[float, dict]] = {}
        for marker in (self.root / STORE_FILE, self.folder / STORE_FILE):
            owner = (read_json(marker) or {}).get("model") if marker.exists() else None
            if owner is not None and owner != model_name:
                raise DeepvisError(
                    f"the unit store {marker.parent} was made for the model '{owner}', not '{model_name}' "
                    f"(choose another store folder)")
        self.shipped: UnitStore | None = None
        if shipped is not None and Path(shipped).resolve() != self.root.resolve():
            below = UnitStore(shipped, model_name, fingerprint)
            recorded = (read_json(below.folder / STORE_FILE) or {}).get("weights")
            if below.folder.is_dir() and (fingerprint is None or recorded in (None, fingerprint)):
                self.shipped = below

    # ---- paths

    def layer_folder(self, layer: str) -> Path:
        return self.folder / safe_name(layer)

    def unit_folder(self, layer: str, unit: int) -> Path:
        return self.layer_folder(layer) / unit_folder_name(unit)

    # ---- reading (file system only, thread-safe)

    def layer_index(self, layer: str) -> dict:
        """The layer's JSON index ({} when none), re-read only when the file changed."""
        path = self.layer_folder(layer) / INDEX_FILE
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return {}
        with self._lock:
            cached = self._index_cache.get(layer)
            if cached and cached[0] == mtime:
                return cached[1]
        index = read_json(path) or {}
        with self._lock:
            self._index_cache[layer] = (mtime, index)
        return index

    def unit_info(self, layer: str, unit: int) -> dict:
        """The unit's entries: its own info.json (newest), else the layer index's copy."""
        own = read_json(self.unit_folder(layer, unit) / UNIT_INFO)
        if isinstance(own, dict):
            return own
        return dict(self.layer_index(layer).get("units", {}).get(str(unit), {}))

    def unit_images(self, layer: str, unit: int) -> UnitImages:
        """The unit's images: the user's store over the shipped images, kind by kind."""
        own = self._own_unit_images(layer, unit)
        if self.shipped is None:
            return own
        return merge_unit_images(own, self.shipped._own_unit_images(layer, unit))

    def _own_unit_images(self, layer: str, unit: int) -> UnitImages:
        folder = self.unit_folder(layer, unit)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return UnitImages()
        optimized = tuple(folder / n for n in names if n.startswith("opt_") and n.endswith((".png", ".jpg")))
        patches = sorted((int(m.group(1)), n) for n in names if (m := PATCH_RE.match(n)))
        deconvs = sorted((int(m.group(1)), n) for n in names if (m := DECONV_RE.match(n)))
        info = self.unit_info(layer, unit)
        moments = [m for m in saved_live_moments(info, names) if m[1] in names]
        return UnitImages(
            optimized=optimized,
            patches=tuple(folder / n for _, n in patches),
            deconvs=tuple(folder / n for _, n in deconvs),
            live=tuple(folder / name for _, name, _ in moments),
            live_values=tuple(value for value, _, _ in moments),
            live_dates=tuple(date for _, _, date in moments),
            info=info,
        )

    def done_units(self, layer: str, method: str, key: str | None = None) -> dict[int, dict]:
        """Units whose info.json holds an entry for the method (and preset `key`), with that entry."""
        done = {}
        folder = self.layer_folder(layer)
        if not folder.is_dir():
            return done
        for child in folder.iterdir():
            if not child.name.startswith("unit_"):
                continue
            info = read_json(child / UNIT_INFO) or {}
            entry = info.get(method)
            if key is not None and isinstance(entry, dict):
                entry = entry.get(key)
            if entry:
                done[int(child.name[5:])] = entry
        return done

    # ---- writing

    def unwritable(self) -> str | None:
        """Why nothing can be written here (None when it can): checked before a compute of a
        minute starts, so a read-only store is said at once, not found at the first write."""
        existing = self.folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent  # the folders below it are made at the first write
        if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
            return None
        return (f"the unit store {existing} is not writable: no unit images can be saved there "
                f"(choose another folder: store in config.yaml, or --store)")

    def claim(self) -> None:
        """Mark the model folder as this model's (before the first write)."""
        marker = self.folder / STORE_FILE
        recorded = read_json(marker) or {}
        if not marker.exists() or (self.fingerprint and recorded.get("weights") is None):
            write_json_atomic(marker, {**recorded, "model": self.model_name, "weights": self.fingerprint})

    def write_image(self, layer: str, unit: int, name: str, rgb: np.ndarray) -> Path:
        path = self.unit_folder(layer, unit) / name
        write_png_atomic(path, rgb)
        return path

    def update_unit(self, layer: str, unit: int, method: str, entry: dict, key: str | None = None) -> None:
        """Record a method's entry (under a preset `key` for optimize) in the unit's info.json."""
        path = self.unit_folder(layer, unit) / UNIT_INFO
        with self._lock:
            info = read_json(path) or {}
            if key is None:
                info[method] = entry
            else:
                info.setdefault(method, {})[key] = entry
            write_json_atomic(path, info)

    def write_live_topk(self, layer: str, layer_path: str, crops, values, frames_seen: int) -> int:
        """A live session's top-k (per unit: crops, their values) merged into the moments saved
        before: each unit keeps its LIVE_KEPT best by activation, over every session saved, as
        live_<id>.png files listed best first in its `topk_live` entry. Returns the number of units
        that had a moment to save."""
        self.claim()
        now = datetime.datetime.now().isoformat(timespec="seconds")
        written = 0
        with self._live_lock:
            for unit, (unit_crops, unit_values) in enumerate(zip(crops, values)):
                new = [(float(v), crop) for crop, v in zip(unit_crops, unit_values) if np.isfinite(v)]
                if new:
                    self._merge_live_moments(layer, unit, new, now, frames_seen)
                    written += 1
        self.rebuild_index(layer, layer_path)
        return written

    def _merge_live_moments(self, layer: str, unit: int, new: list, now: str, frames_seen: int) -> None:
        """One unit: the new moments and the saved ones, the best LIVE_KEPT kept. New files are written
        first, then the entry that lists them (atomic), then the files no longer listed are removed:
        a reader always finds the files of the entry it reads."""
        folder = self.unit_folder(layer, unit)
        names = sorted(os.listdir(folder)) if folder.is_dir() else []
        info = self.unit_info(layer, unit)
        saved = [(value, name, date, None) for value, name, date in saved_live_moments(info, names)
                 if name in names]
        known = {name for _, name, _, _ in saved}
        for value, crop in new:
            name = live_file_name(crop)
            if name not in known:  # the same crop saved twice (two saves of one session) is one moment
                known.add(name)
                saved.append((value, name, now, crop))
        kept = sorted(saved, key=lambda moment: -moment[0])[:LIVE_KEPT]
        for _, name, _, crop in kept:
            if crop is not None:
                write_png_atomic(folder / name, crop)
        before = info.get("topk_live") if isinstance(info.get("topk_live"), dict) else {}
        self.update_unit(layer, unit, "topk_live", {
            "images": [name for _, name, _, _ in kept],
            "values": [round(value, 6) for value, _, _, _ in kept],
            "dates": [date for _, _, date, _ in kept],
            "frames_seen": int(before.get("frames_seen", 0) or 0) + int(frames_seen),
            "sessions": int(before.get("sessions", 1 if before else 0) or 0) + 1,
            "saved": now, "method": "maximum over the unit's map in frames seen live, the best of every session"})
        listed = {name for _, name, _, _ in kept}
        for name in names:
            if LIVE_ANY_RE.match(name) and name not in listed:
                (folder / name).unlink(missing_ok=True)

    def clear_topk(self, layer: str, unit: int) -> None:
        """Remove a unit's old patches before a new scan's are written."""
        folder = self.unit_folder(layer, unit)
        if folder.is_dir():
            for child in folder.iterdir():
                if PATCH_RE.match(child.name) or DECONV_RE.match(child.name):
                    child.unlink(missing_ok=True)

    def rebuild_index(self, layer: str, layer_path: str, extra: dict | None = None) -> dict:
        """Gather the units' info.json files into the layer's index.json."""
        folder = self.layer_folder(layer)
        units = {}
        if folder.is_dir():
            for child in sorted(folder.iterdir()):
                if child.name.startswith("unit_"):
                    info = read_json(child / UNIT_INFO)
                    if info:
                        units[str(int(child.name[5:]))] = info
        old = read_json(folder / INDEX_FILE) or {}
        index = {**{k: v for k, v in old.items() if k != "units"}, **(extra or {}),
                 "model": self.model_name, "layer": layer, "path": layer_path, "units": units}
        write_json_atomic(folder / INDEX_FILE, index)
        return index


def live_file_name(crop: np.ndarray) -> str:
    """A saved live moment's file name, from its crop's pixels: the same crop saved twice is one file,
    and the window can tell a crop it shows from one already saved."""
    return f"live_{hashlib.sha1(np.ascontiguousarray(crop).tobytes()).hexdigest()[:12]}.png"


def saved_live_moments(info: dict, names: list[str]) -> list[tuple[float, str, str]]:
    """(value, file name, date saved) of a unit's saved live moments, best first, from its
    `topk_live` entry; a save of an older deepvis (live_00.png... with a list of values) reads too."""
    entry = info.get("topk_live") if isinstance(info, dict) else None
    if not isinstance(entry, dict):
        return []
    values = [float(v) for v in entry.get("values") or [] if isinstance(v, (int, float))]
    images = entry.get("images")
    if isinstance(images, list):
        dates = entry.get("dates") if isinstance(entry.get("dates"), list) else []
        dates = [str(d) for d in dates] + [""] * (len(images) - len(dates))
        moments = [(v, str(n), d) for v, n, d in zip(values, images, dates)]
    else:
        legacy = sorted((int(m.group(1)), n) for n in names if (m := LIVE_RE.match(n)))
        moments = [(v, n, str(entry.get("saved", ""))) for v, (_, n) in zip(values, legacy)]
    return sorted(moments, key=lambda moment: -moment[0])


def merge_unit_images(own: UnitImages, shipped: UnitImages) -> UnitImages:
    """The user's images over the shipped ones, kind by kind: optimized images, a top-k scan (its
    patches with their deconvs, which are of those patches), live moments. The entries of `info`
    follow the images: the shipped scan's record goes with the shipped patches."""
    info = {**shipped.info, **own.info}
    if own.patches:
        patches, deconvs = own.patches, own.deconvs
    else:
        patches, deconvs = shipped.patches, shipped.deconvs
        if "topk" in shipped.info:
            info["topk"] = shipped.info["topk"]
        else:
            info.pop("topk", None)
    live = own if own.live else shipped
    return UnitImages(optimized=own.optimized or shipped.optimized, patches=patches, deconvs=deconvs,
                      live=live.live, live_values=live.live_values, live_dates=live.live_dates, info=info)


def relative_paths(paths: Iterable[Path], base: Path) -> list[str]:
    out = []
    for p in paths:
        try:
            out.append(os.path.relpath(p, base))
        except ValueError:
            out.append(str(p))
    return out
