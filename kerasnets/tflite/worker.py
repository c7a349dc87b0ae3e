"""Run a task on TensorFlow: in this process on the TensorFlow backend, else in a child process.

Keras' LiteRT export and tfmot need TensorFlow as the Keras backend, which is fixed per process.
:func:`run_in_tensorflow` therefore runs a task (a function named ``"module:function"``) here on
TensorFlow and, under JAX or PyTorch, in a ``python -m kerasnets.tflite.worker SPEC.json`` child
with ``KERAS_BACKEND=tensorflow``: the models are handed over as ``.keras`` files (read back
with :func:`kerasnets.io.load_model`), the arrays as ``.npy`` files, in a private directory
``kerasnets-tflite-<parent pid>-*`` under the system temp dir.

This module imports no other part of :mod:`kerasnets.tflite`: the task modules
(:mod:`~kerasnets.tflite.conversion`, :mod:`~kerasnets.tflite.twin`) import it, never the other
way round, so the package has no import cycle.

Nothing is left behind when the parent is killed (even by SIGKILL, which runs no clean-up code):

* the child dies with its parent: on Linux it asks the kernel for ``SIGKILL`` when its parent
  dies (``prctl(PR_SET_PDEATHSIG)``, set by the child itself first thing, then it checks that
  the parent it was started by is still there); everywhere, a watchdog thread in the child
  polls the parent pid once a second and exits, removing the directory, when it is gone;
* the next call removes the ``kerasnets-tflite-<pid>-*`` directories whose ``pid`` no longer
  runs (:func:`remove_stale_work_dirs`).

Example:
    >>> run_in_tensorflow("kerasnets.tflite.conversion:no_such_task")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from kerasnets.io import pid_alive, remove_stale

WORK_DIR_PREFIX = "kerasnets-tflite-"
_PARENT_ENV = "KERASNETS_PARENT_PID"


class ConversionError(RuntimeError):
    """A conversion failed. ``str(err)`` is one line; ``err.detail`` holds the full log."""

    def __init__(self, summary: str, detail: str = ""):
        super().__init__(summary)
        self.detail = detail


def remove_stale_work_dirs(directory=None) -> list[str]:
    """Remove ``kerasnets-tflite-<pid>-*`` directories of processes that no longer run.

    They are what a killed parent leaves (its clean-up code never ran). Directories of live
    processes are kept. Returns the names removed.

    Example:
        >>> remove_stale_work_dirs(tempfile.mkdtemp())
        []
    """
    return remove_stale(directory or tempfile.gettempdir(), WORK_DIR_PREFIX)


def resolve_task(task: str):
    """The function ``"package.module:function"`` names (imported on demand)."""
    module, _, name = task.partition(":")
    if not module.startswith("kerasnets.") or not name:
        raise ValueError(f"task {task!r} must be 'kerasnets.module:function'")
    return getattr(importlib.import_module(module), name)


def run_in_tensorflow(task: str, models=None, arrays=None, options=None) -> dict:
    """Run ``task`` (``"module:function"``) on TensorFlow and return its result dict.

    On the TensorFlow backend the task runs in this process. Otherwise ``models`` (Keras
    models) are saved to ``.keras`` and ``arrays`` to ``.npy`` in a private temporary
    directory, and a child process with ``KERAS_BACKEND=tensorflow`` loads them, calls
    ``function(**models, **arrays, **options)`` and writes its result as JSON. A failure in the
    child raises :class:`ConversionError` with a one-line summary and the child's log as
    ``detail`` (or ``ValueError`` when the child found bad input).
    """
    import keras

    models, arrays, options = models or {}, arrays or {}, options or {}
    if keras.backend.backend() == "tensorflow":
        return resolve_task(task)(**models, **arrays, **options)
    from kerasnets.io import save_model, write_json

    remove_stale_work_dirs()
    tmp = Path(tempfile.mkdtemp(prefix=f"{WORK_DIR_PREFIX}{os.getpid()}-"))
    try:
        spec = {"task": task, "models": {}, "arrays": {}, "options": options}
        for name, model in models.items():
            spec["models"][name] = str(save_model(model, tmp / f"{name}.keras"))
        for name, value in arrays.items():
            spec["arrays"][name] = None
            if value is not None:
                np.save(tmp / f"{name}.npy", np.asarray(value))
                spec["arrays"][name] = str(tmp / f"{name}.npy")
        spec["result"] = str(tmp / "result.json")
        write_json(tmp / "spec.json", spec)
        env = dict(
            os.environ,
            KERAS_BACKEND="tensorflow",
            TF_CPP_MIN_LOG_LEVEL="3",
            **{_PARENT_ENV: str(os.getpid())},
        )
        proc = subprocess.run(
            [sys.executable, "-m", "kerasnets.tflite.worker", str(tmp / "spec.json")],
            capture_output=True,
            text=True,
            env=env,
        )
        result = None
        if Path(spec["result"]).exists():
            result = json.loads(Path(spec["result"]).read_text())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0 or result is None or "error" in result:
        _raise_child_failure(task, proc, result)
    return result


def _raise_child_failure(task, proc, result):
    detail = (proc.stdout + proc.stderr)[-8000:]
    if result and "error" in result:
        summary = result["error"]
        detail = result.get("traceback", "") + detail
    else:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        summary = lines[-1] if lines else f"exit status {proc.returncode}"
    for kind in (ValueError, TypeError):  # bad input found on the TensorFlow side
        prefix = f"{kind.__name__}: "
        if summary.startswith(prefix):
            raise kind(summary[len(prefix) :])
    prefix = "ConversionError: "
    if summary.startswith(prefix):  # already one line, from conversion.run_converter
        raise ConversionError(f"{summary[len(prefix) :]} (in a TensorFlow subprocess)", detail)
    name = task.rpartition(":")[2]
    raise ConversionError(f"{name} in the TensorFlow subprocess failed: {summary}", detail)


# --- the child side ---------------------------------------------------------------------


def _die_with_parent(work_dir: Path) -> None:
    """Make this child process end when the parent that started it ends (see module doc)."""
    parent = int(os.environ.get(_PARENT_ENV, "0") or 0)
    if not parent:
        return
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass  # the watchdog below still works

    def gone():
        return os.getppid() != parent or not pid_alive(parent)

    def watchdog():
        while not gone():
            time.sleep(1.0)
        shutil.rmtree(work_dir, ignore_errors=True)
        os._exit(1)

    if gone():  # the parent died before the death signal was armed
        shutil.rmtree(work_dir, ignore_errors=True)
        os._exit(1)
    threading.Thread(target=watchdog, daemon=True, name="parent-watchdog").start()


def main(spec_path: str) -> int:
    """The child: load the spec's models and arrays, run its task, write the result JSON."""
    _die_with_parent(Path(spec_path).parent)
    with open(spec_path) as f:
        spec = json.load(f)
    from kerasnets.io import load_model, write_json

    try:
        import keras

        if keras.backend.backend() != "tensorflow":
            raise RuntimeError("the TensorFlow worker must run with KERAS_BACKEND=tensorflow")
        models = {name: load_model(path) for name, path in spec["models"].items()}
        arrays = {
            name: (None if path is None else np.load(path, allow_pickle=False))
            for name, path in spec["arrays"].items()
        }
        result = resolve_task(spec["task"])(**models, **arrays, **spec["options"])
    except Exception as err:  # reported to the parent process as one line + traceback
        message = " ".join(str(err).split()) or type(err).__name__
        write_json(
            spec["result"],
            {
                "error": f"{type(err).__name__}: {message[:500]}",
                "traceback": getattr(err, "detail", "") + "\n" + traceback.format_exc(),
            },
        )
        return 1
    write_json(spec["result"], result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
