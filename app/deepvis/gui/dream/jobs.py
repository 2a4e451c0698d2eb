"""The Dream mode's jobs, run on its worker: DeepDream on an image (octave by octave) and class
images from noise. Each returns what the mode shows, with what it was made from."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepvis.jobs import Cancelled, Job


@dataclass
class ClassesShown:
    """A gallery made on the worker, with its contact sheet."""

    gallery: object  # deepvis.dream.classes.Gallery
    sheet: np.ndarray
    model: str


@dataclass
class DreamShown:
    """A finished dream with the model and the input it was made from (what Save writes)."""

    result: Any  # deepvis.dream.deepdream.DreamResult
    model: str
    input_name: str
    layers: tuple[str, ...] = ()  # the model's layers, for the layer box (a "start" report may be dropped)


def dream_job(get_model, rgb: np.ndarray, input_name: str, layer_name: str | None, unit: int | None, settings):
    def job(job: Job):
        from deepvis.dream.deepdream import dream, dream_layer

        loaded = get_model()
        layer = dream_layer(loaded, layer_name)
        job.report(("start", loaded.name, layer.name, [l.name for l in loaded.layers]))
        records = []

        def on_octave(index, record, image):
            # Every octave's record so far: only the newest report is shown (latest wins), and it
            # still names them all.
            records.append(record)
            job.report(("octave", index, list(records), image))
        result = dream(loaded, rgb, layer, unit, settings, progress=job.progress, cancel=job.should_stop,
                       on_octave=on_octave)
        if result is None:
            raise Cancelled
        return DreamShown(result, loaded.name, input_name, tuple(l.name for l in loaded.layers))
    return job


def classes_job(get_model, name: str, seeds: int, steps: int):
    def job(job: Job):
        from deepvis.dream.classes import ClassSettings, class_gallery, find_class
        from deepvis.dream.sheet import contact_sheet

        loaded = get_model()
        settings = ClassSettings(steps=steps, size=loaded.card.input_size)
        target = find_class(loaded.labels, name)
        job.report(("classes", loaded.labels[target], seeds))
        # Measured as the command line measures them: the PNGs re-read from disk.
        with tempfile.TemporaryDirectory(prefix="deepvis-classes-") as folder:
            gallery = class_gallery(loaded, target, range(seeds), Path(folder), settings,
                                    progress=job.progress, cancel=job.should_stop)
        if gallery is None:
            raise Cancelled
        return ClassesShown(gallery, contact_sheet(gallery.images, gallery.captions()), loaded.name)
    return job
