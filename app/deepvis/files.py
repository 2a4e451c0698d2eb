"""Writing result files: each one goes to a temporary name in its own folder and is renamed over
the target when it is complete.

So a reader never sees half a file, a failed write (a full disk) keeps the old file whole, and a
symlink planted where a result goes is replaced, never followed: os.replace renames over the link
itself. JSON is always valid: a value that is not finite (NaN, infinity) is written as null, and a
top-level "note" says which.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from deepvis import DeepvisError

if TYPE_CHECKING:  # numpy is imported where it is used: not by `deepvis --help`
    import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


def _temporary(path: Path) -> Path:
    """A new empty file next to path; it keeps path's suffix, which cv2, numpy and matplotlib read
    the format from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_UMASK)  # mkstemp makes it private; a result is shared like any file
    return Path(name)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_failure(error: BaseException) -> bool:
    """A failed write (a full disk, a read-only or missing folder), not a bug: OSError, or torch's
    archive writer failing on a full disk ("unexpected pos ...")."""
    if isinstance(error, OSError):
        return True
    return isinstance(error, RuntimeError) and ("unexpected pos" in str(error)
                                                 or "PytorchStreamWriter" in str(error))


def _write_error(path: Path, error: BaseException) -> DeepvisError:
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error).strip().splitlines()[-1]
    return DeepvisError(f"cannot write {path}: {reason}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path for a library that writes to a path itself (cv2.imwrite, savefig,
    torch.save, np.save): renamed over `path` when the block ends, removed when it raises. A
    failed write is one line naming the file (a DeepvisError); the old file stays whole."""
    path = Path(path)
    try:
        temporary = _temporary(path)
    except OSError as error:
        raise _write_error(path, error) from None
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException as error:
        _remove(temporary)
        if _write_failure(error):
            raise _write_error(path, error) from None
        raise


class AtomicFiles:
    """Several files that make one result: each is written to its temporary path, and all are
    renamed into place only when every one is written."""

    def __init__(self):
        self.pending: list[tuple[Path, Path]] = []

    def path(self, target: str | Path) -> Path:
        """Where to write `target` for now."""
        target = Path(target)
        try:
            temporary = _temporary(target)
        except OSError as error:
            raise _write_error(target, error) from None
        self.pending.append((temporary, target))
        return temporary

    def discard(self) -> None:
        for temporary, _ in self.pending:
            _remove(temporary)
        self.pending.clear()

    def commit(self) -> None:
        for temporary, target in self.pending:
            os.replace(temporary, target)
        self.pending.clear()


@contextmanager
def atomic_files() -> Iterator[AtomicFiles]:
    """`with atomic_files() as files: torch.save(state, files.path(folder / "model.pth")) ...`"""
    files = AtomicFiles()
    try:
        yield files
        files.commit()
    except BaseException as error:
        where = files.pending[-1][1] if files.pending else Path(".")  # the file being written
        files.discard()
        if _write_failure(error):
            raise _write_error(where, error) from None
        raise


def result_folder(path: str | Path) -> Path:
    """A folder deepvis makes inside an output folder (weights' layers/, a sweep's runs): a link
    planted in its place is replaced by a real folder, never followed, as for result files."""
    path = Path(path)
    try:
        if path.is_symlink():
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_error(path, error) from None
    return path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode())


# --------------------------------------------------------------------------- JSON


def finite_json(value: Any, where: str = "", nulled: list[str] | None = None) -> Any:
    """value with every float that is not finite made None; `nulled` collects where
    (a dotted path, with [i] for list items)."""
    import numpy as np

    if isinstance(value, (float, np.floating)):
        if math.isfinite(value):
            return float(value)
        if nulled is not None:
            nulled.append(f"{where or 'the value'} ({float(value)})")
        return None
    if isinstance(value, dict):
        return {k: finite_json(v, f"{where}.{k}" if where else str(k), nulled) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v, f"{where}[{i}]", nulled) for i, v in enumerate(value)]
    return value


def json_text(value: Any, indent: int | None = 2, sort_keys: bool = False, note: bool = True) -> str:
    """Valid JSON (allow_nan=False): non-finite floats become null, and a dict gains a "note"
    that names them (unless note=False: a file whose keys are read as names, like the store's)."""
    nulled: list[str] = []
    value = finite_json(value, nulled=nulled)
    if note and nulled and isinstance(value, dict):
        note = "null stands for a value that was not finite: " + ", ".join(nulled[:10])
        note += f" and {len(nulled) - 10} more" if len(nulled) > 10 else ""
        value["note"] = f"{value['note']}; {note}" if isinstance(value.get("note"), str) else note
    return json.dumps(value, indent=indent, sort_keys=sort_keys, allow_nan=False) + "\n"


def write_json_atomic(path: str | Path, value: Any, indent: int | None = 2, sort_keys: bool = False) -> Path:
    return write_text_atomic(path, json_text(value, indent, sort_keys))


# --------------------------------------------------------------------------- images


def png_bytes(rgb: np.ndarray, name: str = "an image") -> bytes:
    """HxWx3 uint8 RGB (or HxW grey) encoded as PNG."""
    import cv2
    import numpy as np

    image = np.ascontiguousarray(rgb)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise DeepvisError(f"cannot encode {name} as PNG")
    return encoded.tobytes()


def write_png_atomic(path: str | Path, rgb: np.ndarray) -> Path:
    """Encoded in memory and written as bytes (cv2.imwrite cannot open non-ASCII paths on Windows)."""
    return write_bytes_atomic(path, png_bytes(rgb, Path(path).name))
