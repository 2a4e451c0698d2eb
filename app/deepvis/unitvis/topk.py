"""Top-k dataset patches: the k images that drive each unit hardest, and where.

One pass over an image folder, batched, with DataLoader workers decoding and
resizing. Hooks reduce each layer's output on the device as it is produced
(the spatial maximum and its position for conv units), and the running top-k
lists are merged on the device; the forward stops after the last wanted layer.
Then, for every unit, the receptive field around each top position is cropped
from the image and its deconv seeded at that position is saved.

Ties are broken by the image's index in the sorted file list, so one process
and many (images split, lists gathered and merged) give the same lists.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from deepvis import DeepvisError
from deepvis.device import sync_device
from deepvis.probe import denormalize, preprocess
from deepvis.sources import IMAGE_EXTENSIONS, SourceError, read_image
from deepvis.unitvis import distributed
from deepvis.hooks import run_stoppable
from deepvis.interrupt import Stop, ignore_interrupts
from deepvis.unitvis.sites import ReceptiveField, Site, has_pre, read_sites, receptive_field
from deepvis.unitvis.store import UnitStore, relative_paths, write_bytes_atomic
from deepvis.zoo import OUTPUT, Layer, LoadedModel

log = logging.getLogger("deepvis.topk")
CHECKPOINT_SECONDS = 60.0


def list_image_files(folder: str | Path) -> list[Path]:
    """Every image file under the folder (subfolders too, as in ImageNet's layout), in a fixed order."""
    root = Path(folder)
    if not root.is_dir():
        raise DeepvisError(f"not a folder of images: {folder}")
    files = [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
             and not p.name.startswith(".") and p.is_file()]
    if not files:
        raise DeepvisError(f"no image files in {folder} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def load_input(path: Path, size: int, mean, std) -> torch.Tensor:
    """An image file as the model sees it: 3xSxS normalized, on the CPU (centre crop, as the window)."""
    return preprocess(read_image(path), size, mean, std, torch.device("cpu"), "crop")[0]


class ImageFiles(torch.utils.data.Dataset):
    """Decoded and preprocessed images; a file that cannot be read comes back flagged, not raised."""

    def __init__(self, files: Sequence[Path], indices: Sequence[int], size: int, mean, std):
        self.files, self.indices, self.size, self.mean, self.std = files, list(indices), size, mean, std

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        index = self.indices[i]
        try:
            return load_input(self.files[index], self.size, self.mean, self.std), index, True
        except SourceError:
            return torch.zeros(3, self.size, self.size), index, False


def _worker_init(_worker_id: int) -> None:
    torch.set_num_threads(1)  # the workers decode; the main process's threads run the model
    ignore_interrupts()  # Ctrl-C reaches them too: the main process checkpoints, then stops them


# --------------------------------------------------------------------------- ranking


@dataclass
class TopLists:
    """The running top-k of one layer: k x C values, image indices, flat positions (best first)."""

    values: torch.Tensor
    images: torch.Tensor
    positions: torch.Tensor
    pre_max: torch.Tensor | None  # C: the highest pre-activation seen (for R on pre-activations)
    width: int = 1  # of the spatial map, to turn flat positions into (y, x)
    spatial: bool = True  # False for fc/output units (no position)

    @classmethod
    def empty(cls, k: int, channels: int, device, with_pre: bool) -> "TopLists":
        return cls(
            values=torch.full((k, channels), float("-inf"), device=device),
            images=torch.full((k, channels), -1, dtype=torch.long, device=device),
            positions=torch.zeros((k, channels), dtype=torch.long, device=device),
            pre_max=torch.full((channels,), float("-inf"), device=device) if with_pre else None,
        )

    def merge(self, values: torch.Tensor, images: torch.Tensor, positions: torch.Tensor) -> None:
        self.values, self.images, self.positions = merge_ranked(
            (self.values, self.images, self.positions), (values, images, positions), self.values.shape[0])


def merge_ranked(a, b, k: int):
    """The best k rows of two ranked (values, images, positions) lists, per column.

    Order: value descending, then image index ascending (deterministic ties).
    Invalid entries (-inf) sort last.
    """
    values = torch.cat([a[0], b[0]])
    images = torch.cat([a[1], b[1]])
    positions = torch.cat([a[2], b[2]])
    # Missing entries (image -1) go to the end of the index order.
    key = torch.where(images < 0, torch.iinfo(torch.long).max, images)
    order = key.argsort(dim=0, stable=True)
    values, images, positions = values.gather(0, order), images.gather(0, order), positions.gather(0, order)
    order = values.argsort(dim=0, descending=True, stable=True)[:k]
    return values.gather(0, order), images.gather(0, order), positions.gather(0, order)


def reduce_units(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """B x C x H x W -> per unit its spatial maximum, the flat position, and W; B x C stays as is."""
    out = out.detach().float()
    if out.dim() == 4:
        values, positions = out.flatten(2).max(dim=2)
        return values, positions, out.shape[-1]
    out = out.flatten(1)
    return out, torch.zeros_like(out, dtype=torch.long), 1


@torch.inference_mode()
def unit_counts(loaded: LoadedModel, layers: Sequence[Layer]) -> dict[str, int]:
    """Each layer's number of units, from one forward pass of a blank image (before a long scan)."""
    counts: dict[str, int] = {}

    def take(site: Site, out: torch.Tensor) -> None:
        counts[site.layer.name] = reduce_units(out[:1])[0].shape[1]

    size = loaded.card.input_size
    with read_sites(loaded, [Site(layer, "shown") for layer in layers], take,
                    stop=all(layer.path != OUTPUT for layer in layers)):
        run_stoppable(loaded.model, torch.zeros(1, 3, size, size, device=loaded.device))
    return counts


# --------------------------------------------------------------------------- the scan


def scan_id(loaded: LoadedModel, layers: Sequence[Layer], files: Sequence[Path], k: int) -> str:
    digest = hashlib.sha256()
    digest.update(f"{loaded.name}|{[(l.name, l.path) for l in layers]}|{k}|{loaded.card.input_size}".encode())
    for path in files:
        digest.update(str(path).encode() + b"\0")
    return digest.hexdigest()[:16]


class Scanner:
    """Feeds batches through the model and keeps every layer's top-k lists on the device."""

    def __init__(self, loaded: LoadedModel, layers: Sequence[Layer], k: int):
        self.loaded, self.layers, self.k = loaded, list(layers), k
        self.sites = [Site(layer, "shown") for layer in self.layers]
        self.sites += [Site(layer, "pre") for layer in self.layers if has_pre(loaded, layer)]
        self.stop = all(layer.path != OUTPUT for layer in self.layers)
        self.lists: dict[str, TopLists] = {}
        self._batch: tuple[torch.Tensor, torch.Tensor] | None = None

    def _take(self, site: Site, out: torch.Tensor) -> None:
        images, valid = self._batch
        name = site.layer.name
        values, positions, width = reduce_units(out)
        values = values.masked_fill(~valid[:, None], float("-inf"))
        if name not in self.lists:
            self.lists[name] = TopLists.empty(self.k, values.shape[1], values.device, has_pre(self.loaded, site.layer))
            self.lists[name].width = width
            self.lists[name].spatial = out.dim() == 4
        lists = self.lists[name]
        if site.kind == "pre":
            lists.pre_max = torch.maximum(lists.pre_max, values.amax(dim=0))
        else:
            lists.merge(values, images[:, None].expand_as(positions), positions)

    @torch.inference_mode()
    def feed(self, x: torch.Tensor, images: torch.Tensor, valid: torch.Tensor) -> None:
        device = self.loaded.device
        self._batch = (images.to(device), valid.to(device))
        with read_sites(self.loaded, self.sites, self._take, stop=self.stop):
            run_stoppable(self.loaded.model, x.to(device, non_blocking=True))

    def state(self) -> dict:
        return {name: {"values": l.values.cpu(), "images": l.images.cpu(), "positions": l.positions.cpu(),
                       "pre_max": None if l.pre_max is None else l.pre_max.cpu(), "width": l.width,
                       "spatial": l.spatial}
                for name, l in self.lists.items()}

    def load_state(self, state: dict) -> None:
        device = self.loaded.device
        self.lists = {name: TopLists(s["values"].to(device), s["images"].to(device), s["positions"].to(device),
                                     None if s["pre_max"] is None else s["pre_max"].to(device), int(s["width"]),
                                     bool(s["spatial"]))
                      for name, s in state.items()}

    def gather(self) -> None:
        """Merge every process's lists into the same exact lists everywhere."""
        for lists in self.lists.values():
            parts = distributed.all_gather([lists.values, lists.images, lists.positions])
            merged = (lists.values[:0], lists.images[:0], lists.positions[:0])
            for values, images, positions in parts:
                merged = merge_ranked(merged, (values, images, positions), self.k)
            lists.values, lists.images, lists.positions = merged
            if lists.pre_max is not None:
                lists.pre_max = torch.stack([p[0] for p in distributed.all_gather([lists.pre_max])]).amax(dim=0)


def scan(loaded: LoadedModel, layers: Sequence[Layer], files: Sequence[Path], k: int, store: UnitStore,
         batch_size: int = 32, workers: int = 2, progress: bool = True,
         stop: Stop | None = None) -> tuple[Scanner, dict]:
    """The top-k lists of every unit over the files, resumed from a checkpoint when one fits.

    Each process takes every world-th image; the lists are gathered at the end.
    Returns the scanner and a report (images, seconds, images/s, skipped files).
    Once `stop` is set (a signal), the scan checkpoints after its batch and raises Interrupted.
    """
    rank, world = distributed.rank_world()
    scanner = Scanner(loaded, layers, k)
    sid = scan_id(loaded, layers, files, k)
    checkpoint = store.folder / f".topk-{sid}-{rank}of{world}.pt"
    mine = list(range(rank, len(files), world))
    done = 0
    if checkpoint.exists():
        try:
            saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
            scanner.load_state(saved["lists"])
            done = int(saved["done"])
            log.info(f"resuming the scan after {done} of {len(mine)} images")
        except Exception:
            log.warning(f"ignoring an unreadable checkpoint {checkpoint.name}")
            scanner.lists, done = {}, 0
    card = loaded.card
    dataset = ImageFiles(files, mine[done:], card.input_size, card.mean, card.std)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, num_workers=workers, worker_init_fn=_worker_init if workers else None,
        pin_memory=loaded.device.type == "cuda", persistent_workers=False)
    bar = _progress(len(mine), done, progress and rank == 0, "top-k scan")
    skipped: list[str] = []
    last_save = time.perf_counter()
    start = time.perf_counter()
    try:
        for x, images, valid in loader:
            for bad in images[~valid].tolist():
                skipped.append(str(files[bad]))
                log.warning(f"skipped a corrupt or unreadable image: {files[bad]}")
            scanner.feed(x, images, valid)
            done += len(images)
            bar.update(len(images) * world)
            if time.perf_counter() - last_save > CHECKPOINT_SECONDS or stop:
                _save_checkpoint(checkpoint, scanner, done)
                last_save = time.perf_counter()
            if stop:
                stop.check(f"the top-k scan stopped after {done} of {len(mine)} images and saved them in "
                           f"{checkpoint}; run the same command again to resume from there")
        sync_device(loaded.device)
        seconds = time.perf_counter() - start
        scanned = len(dataset)
        if done and scanner.lists:
            _save_checkpoint(checkpoint, scanner, done)
    finally:
        bar.close()
    if not scanner.lists:  # every image of this process was resumed past or unreadable: run one empty batch
        scanner.feed(torch.zeros(1, 3, card.input_size, card.input_size), torch.tensor([-1]),
                     torch.tensor([False]))
    scanner.gather()
    report = {"images": len(files), "scanned_here": scanned, "seconds": round(seconds, 3),
              "images_per_s": round(scanned * world / seconds, 2) if seconds > 0 and scanned else None,
              "skipped": len(distributed.gather_objects(skipped, flatten=True))}
    return scanner, report | {"checkpoint": str(checkpoint)}


def _save_checkpoint(path: Path, scanner: Scanner, done: int) -> None:
    buffer = io.BytesIO()
    torch.save({"done": done, "lists": scanner.state()}, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def _progress(total: int, initial: int, enabled: bool, what: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="img", desc=what,
                dynamic_ncols=True, smoothing=0.1)


# --------------------------------------------------------------------------- writing the store


class _InputCache:
    """The last few decoded inputs: the same image is often in many units' lists."""

    def __init__(self, loaded: LoadedModel, files: Sequence[Path], size: int = 256):
        self.loaded, self.files, self.size = loaded, files, size
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()

    def get(self, index: int) -> torch.Tensor:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        card = self.loaded.card
        x = load_input(self.files[index], card.input_size, card.mean, card.std).to(self.loaded.device)
        self._cache[index] = x
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return x


def write_topk(loaded: LoadedModel, scanner: Scanner, files: Sequence[Path], store: UnitStore,
               image_root: Path, deconv: bool = True, batch_size: int = 16, progress: bool = True,
               units: dict[str, Sequence[int]] | None = None, seed_info: dict | None = None,
               stop: Stop | None = None) -> int:
    """Crops and deconvs of every unit's top images into the store; units already written are skipped.

    The units of each layer are shared out among the processes. Returns the
    number of units written here. Once `stop` is set, raises Interrupted before the next batch
    of crops (a re-run skips the units recorded).
    """
    from deepvis.backprop import display_filter, run_backprop

    rank, world = distributed.rank_world()
    sid = scan_id(loaded, scanner.layers, files, scanner.k)
    inputs = _InputCache(loaded, files)
    card = loaded.card
    written = 0
    plan = []
    for layer in scanner.layers:
        lists = scanner.lists[layer.name]
        channels = lists.values.shape[1]
        wanted = list(range(channels)) if units is None or layer.name not in units else list(units[layer.name])
        done = store.done_units(layer.name, "topk")
        todo = [u for u in wanted[rank::world] if done.get(u, {}).get("scan") != sid]
        plan.append((layer, lists, todo))
    total = sum(len(t) for _, _, t in plan)
    bar = _progress(total, 0, progress and rank == 0, "top-k patches")
    bar.unit = "unit"
    try:
        for layer, lists, todo in plan:
            field = receptive_field(loaded, layer, card.input_size) if todo else None
            values = lists.values.cpu()
            images = lists.images.cpu()
            positions = lists.positions.cpu()
            pairs = [(u, j) for u in todo for j in range(scanner.k) if images[j, u] >= 0]
            last_pair = {u: i for i, (u, _) in enumerate(pairs)}
            crops: dict[int, list] = {u: [] for u in todo}
            for u in todo:
                store.clear_topk(layer.name, u)  # a former scan's extra patches
            for start in range(0, len(pairs), batch_size):
                if stop:
                    stop.check(f"stopped after writing the patches of {written} of {total} units (the scan is "
                               "saved); run the same command again to write the rest")
                chunk = pairs[start:start + batch_size]
                x = torch.stack([inputs.get(int(images[j, u])) for u, j in chunk])
                yx = torch.tensor([[int(positions[j, u]) // lists.width, int(positions[j, u]) % lists.width]
                                   for u, j in chunk])
                signal = None
                if deconv:
                    unit_t = torch.tensor([u for u, _ in chunk], device=x.device)
                    pos = yx.to(x.device) if lists.spatial else None
                    signal = run_backprop(loaded.model, x, layer.path, unit_t, "deconv", position=pos).input_signal
                rgb = denormalize(x, card.mean, card.std)
                for b, (u, j) in enumerate(chunk):
                    box = _box(field, yx[b], rgb.shape[-2], rgb.shape[-1])
                    top, left, bottom, right = box
                    crop = (rgb[b, :, top:bottom, left:right].permute(1, 2, 0) * 255).round().to(torch.uint8)
                    store.write_image(layer.name, u, f"patch_{j:02d}.png", crop.cpu().numpy())
                    if signal is not None:
                        image = display_filter(signal[b, :, top:bottom, left:right], "raw")
                        store.write_image(layer.name, u, f"deconv_{j:02d}.png",
                                          (image * 255).round().to(torch.uint8).cpu().numpy())
                    crops[u].append({"rank": j, "image": int(images[j, u]), "activation": float(values[j, u]),
                                     "position": [int(yx[b, 0]), int(yx[b, 1])], "box": list(box)})
                    if last_pair[u] == start + b:  # the unit's last crop: record it as done
                        _record(store, layer, u, crops[u], lists, files, image_root, sid, scanner.k, seed_info, deconv)
                        written += 1
                        bar.update(1)
            for u in todo:
                if u not in last_pair:  # no readable image at all
                    _record(store, layer, u, [], lists, files, image_root, sid, scanner.k, seed_info, deconv)
                    written += 1
                    bar.update(1)
    finally:
        bar.close()
    return written


def _box(field: ReceptiveField | None, yx: torch.Tensor, height: int, width: int) -> tuple[int, int, int, int]:
    if field is None:
        return 0, 0, height, width
    return field.box(int(yx[0]), int(yx[1]), height, width)


def _record(store: UnitStore, layer: Layer, unit: int, crops: list, lists: TopLists, files, image_root: Path,
            sid: str, k: int, seed_info: dict | None, deconv: bool) -> None:
    paths = relative_paths([files[c["image"]] for c in crops], image_root)
    entry = {
        "method": "topk", "scan": sid, "k": k, "images_root": str(image_root), "images": paths,
        "activations": [round(c["activation"], 6) for c in crops], "positions": [c["position"] for c in crops],
        "boxes": [c["box"] for c in crops], "max": round(crops[0]["activation"], 6) if crops else None,
        "pre_max": None if lists.pre_max is None else round(float(lists.pre_max[unit]), 6),
        "deconv": "deconv, seeded 1 at the position, filter raw, cropped to the receptive field" if deconv else None,
        **(seed_info or {}),
    }
    store.update_unit(layer.name, unit, "topk", entry)
