"""Atomic file output: nothing half-written is ever left on disk.

Every file kerasnets writes goes through these helpers. A file is written to a temporary name in
the same directory and renamed into place (``os.replace`` is atomic on POSIX); a run directory is
assembled under a hidden temporary name and renamed when complete, so an interrupted command
leaves either the old state or the new one, never a mix.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_json(d / "metrics.json", {"accuracy": 0.9})
    >>> with run_directory(d / "run1") as tmp:
    ...     _ = write_text(tmp / "notes.txt", "hello")
    >>> sorted(p.name for p in (d / "run1").iterdir())
    ['notes.txt']
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


class RunDirectoryExistsError(FileExistsError):
    """Raised when an output directory exists and overwriting it was not asked for."""


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def to_json(data, indent: int = 2) -> str:
    """Serialize ``data`` to JSON text; numpy scalars/arrays and paths become plain values."""
    return json.dumps(data, indent=indent, default=_json_default, allow_nan=True) + "\n"


def pid_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` exists (signal 0 probes without signalling)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    except OverflowError:
        return False
    return True


def remove_stale(directory, prefix: str) -> list[str]:
    """Remove entries ``<prefix><pid>...`` of ``directory`` whose process ``pid`` is gone.

    Temporary names carry the pid of the process that made them, so what a killed run left
    behind (SIGKILL runs no clean-up code) is told apart from the work of a run still going.
    Returns the names removed.
    """
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        digits = ""
        for char in entry.name[len(prefix) :]:
            if not char.isdigit():
                break
            digits += char
        if not digits or pid_alive(int(digits)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry.name)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds.

    Use it for writers that insist on a file name (``model.save``, ``fig.savefig``). The
    temporary name ``.NAME.tmp-<pid>-XXXX<suffix>`` keeps the final suffix (or ``suffix``)
    because some writers check it, and carries this process's id: temporary files of killed
    processes for the same ``path`` are removed here. An unwritable directory raises the
    ``OSError`` naming ``path``, never the temporary name.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path.parent, f".{path.name}.tmp-")
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.tmp-{os.getpid()}-",
            suffix=suffix or path.suffix,
            dir=path.parent,
        )
    except OSError as err:
        raise type(err)(err.errno, f"cannot write {str(path)!r}: {err.strerror}") from None
    os.close(fd)
    os.unlink(tmp)  # writers such as model.save refuse to overwrite some paths
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically and return the path."""
    return write_text(path, to_json(data))


def save_model(model, path: str | os.PathLike, portable: bool = False) -> Path:
    """Save a Keras model to ``path`` (``.keras``) atomically and return the path.

    With ``portable=True`` a zoo model (a registered ``kerasnets`` class) is first rebuilt as a
    plain ``keras.Model`` over the same layers (:func:`kerasnets.models.to_functional`), so that
    plain ``keras.saving.load_model`` reads the file in a process that never imported kerasnets,
    as long as every layer is a built-in Keras layer.
    """
    if portable:
        from kerasnets.models import to_functional

        model = to_functional(model)
    with atomic_path(path) as tmp:
        model.save(tmp)
    return Path(path)


def _register_kerasnets_objects() -> None:
    """Import every kerasnets module that registers serializable classes (zoo, layers, ...)."""
    import importlib

    for name in ("activations", "layers", "blocks", "models", "compression"):
        importlib.import_module(f"kerasnets.{name}")


def check_model_file(path) -> Path:
    """Check that ``path`` names a readable ``.keras`` archive; raise a one-line error if not.

    ``FileNotFoundError`` only when nothing is there; ``ValueError`` saying what is wrong with a
    file that exists (a directory, another suffix, empty, not a zip archive, truncated or
    corrupted, no ``config.json`` inside). Nothing is loaded.
    """
    import zipfile

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"expected a path to a .keras file, got {type(path).__name__}"
            + (" (a model: pass it directly, not to a loader)" if hasattr(path, "layers") else "")
        )
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such model file: {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not a .keras model file")
    if path.suffix != ".keras":
        raise ValueError(
            f"{str(path)!r} is not a Keras model file: expected a name ending in '.keras'"
        )
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{str(path)!r} is empty (0 bytes), not a .keras model file")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{str(path)!r} ({size:,} bytes) is not a .keras model file: not a zip archive "
            "(truncated, corrupted, or another format)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(f"{str(path)!r} is a damaged .keras archive ({err})") from None
    if bad is not None:
        raise ValueError(f"{str(path)!r} is a corrupted .keras archive (bad entry {bad!r})")
    if "config.json" not in names:
        raise ValueError(f"{str(path)!r} is a zip archive but not a .keras model (no config.json)")
    return path


def load_model(path: str | os.PathLike, compile: bool = False):
    """Load any ``.keras`` file kerasnets writes (zoo models, pruning wrappers, custom layers).

    The one model loader of the toolkit: every CLI command, the TFLite pipeline and compression
    use it. It registers kerasnets' serializable classes first (a zoo ``.keras`` file loads
    only in a process that imported ``kerasnets.models``; plain ``keras.saving.load_model``
    elsewhere fails with "Could not locate class"), keeps Keras' ``safe_mode`` on, and turns
    every failure into one line that says what is wrong with the file.

    Example:
        >>> import tempfile, pathlib
        >>> from kerasnets import models
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "mlp.keras"
        >>> _ = save_model(models.build("mlp", input_shape=(64,), depth=2, width=8), path)
        >>> type(load_model(path)).__name__
        'MLP'
        >>> load_model(path.with_name("missing.keras"))
        Traceback (most recent call last):
        ...
        FileNotFoundError: no such model file: '.../missing.keras'
    """
    path = check_model_file(path)
    import keras

    _register_kerasnets_objects()
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as err:
        message = " ".join(str(err).split())[:300]
        raise ValueError(
            f"{str(path)!r} could not be loaded as a Keras model ({type(err).__name__}: {message})"
        ) from None


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically, close it, and return the path."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def check_writable(path: str | os.PathLike, force: bool = False, what: str = "output") -> Path:
    """Check, before any work, that ``path`` can be created (or replaced with ``force``).

    Raises ``FileExistsError`` if it exists without ``force``, ``ValueError`` if its nearest
    existing parent is not a directory, and ``PermissionError`` naming the user's path (never a
    temporary name) if that directory cannot be written. Nothing is created.

    Example:
        >>> check_writable("/proc/nope.keras")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        PermissionError: cannot write output '/proc/nope.keras': directory '/proc' is not ...
    """
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{what} {str(path)!r} already exists; pass --force to replace it")
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"cannot write {what} {str(path)!r}: {str(parent)!r} is not a directory")
    try:  # a real probe: root passes os.access() checks on read-only mounts and /proc
        fd, probe = tempfile.mkstemp(prefix=".kn-probe-", dir=parent)
    except OSError as err:
        raise PermissionError(
            f"cannot write {what} {str(path)!r}: directory {str(parent)!r} is not writable "
            f"({err.strerror or err})"
        ) from None
    os.close(fd)
    os.unlink(probe)
    return path


def check_output_dir(path: str | os.PathLike, force: bool = False) -> Path:
    """Raise unless ``path`` can become a new run directory; call it before any work starts.

    :class:`RunDirectoryExistsError` if ``path`` exists and ``force`` is false; ``ValueError``
    if it exists and is not a directory; ``PermissionError`` naming ``path`` if it cannot be
    written (:func:`check_writable`). So a long job never fails at its end on either.
    """
    path = Path(path)
    if path.exists() and not force:
        raise RunDirectoryExistsError(
            f"output directory {str(path)!r} already exists; pass --force (force=True) to "
            "replace it or choose another name"
        )
    if path.exists() and not path.is_dir():
        raise ValueError(f"output directory {str(path)!r} exists and is not a directory")
    return check_writable(path, force=True, what="output directory")


@contextlib.contextmanager
def run_directory(path: str | os.PathLike, force: bool = False):
    """Build a directory atomically: yield a hidden temporary directory, then rename it.

    If the block raises, the temporary directory is removed and ``path`` is left as it was.
    If ``path`` exists, :class:`RunDirectoryExistsError` is raised before the block runs unless
    ``force`` is true, in which case the old directory is replaced only once the new one is
    complete. The temporary name ``.NAME.tmp-<pid>-XXXX`` carries this process's id: what a
    killed run left for the same ``path`` (its pid no longer runs) is removed first.
    """
    path = check_output_dir(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, f".{path.name}.tmp-")
    remove_stale(path.parent, f".{path.name}.old-")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
