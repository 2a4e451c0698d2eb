"""`python -m small_digits digits ...`: the digits commands on a small part of the MNIST-5k split
(30 training and 10 test images per digit), so that an epoch of the small CNN takes a moment
instead of half a minute."""

from __future__ import annotations

import sys

import numpy as np

from deepvis.digits import data


def small_split(train_per_digit: int = 30, test_per_digit: int = 10) -> data.DigitData:
    full = data.load_split()

    def first(labels: np.ndarray, count: int) -> np.ndarray:
        return np.sort(np.concatenate([np.flatnonzero(labels == d)[:count] for d in range(10)]))

    train, test = first(full.train_y, train_per_digit), first(full.test_y, test_per_digit)
    return data.DigitData(full.train_x[train], full.train_y[train], full.test_x[test], full.test_y[test])


if __name__ == "__main__":
    data._loaded = small_split()
    from deepvis.cli import main

    raise SystemExit(main(sys.argv[1:]))
