"""The TensorFlow side of the pipeline: tasks run in-process on TensorFlow, or here as a script.

``python -m kerasnets.tflite._convert SPEC.json`` (started by
:func:`kerasnets.tflite.conversion.run_in_tensorflow` with ``KERAS_BACKEND=tensorflow``) loads the
``.keras`` models and ``.npy`` arrays the spec names, runs the task, and writes its result (or
``{"error": one line, "traceback": ...}``) to the spec's ``result`` path.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback

import numpy as np


def register_custom_objects():
    """Import the kerasnets modules that register serializable layers (those that exist)."""
    for name in ("activations", "layers", "blocks", "models", "compression"):
        try:
            importlib.import_module(f"kerasnets.{name}")
        except ModuleNotFoundError as err:
            if not (err.name or "").startswith(f"kerasnets.{name}"):
                raise


def task_convert(model, calibration, jobs, num_calibration):
    from kerasnets.tflite.conversion import _convert_here

    return {
        "files": [
            _convert_here(
                model,
                job["path"],
                job["quantize"],
                calibration,
                job["io_dtype"],
                job["sparse"],
                num_calibration,
                job.get("per_channel", "conv"),
            )
            for job in jobs
        ]
    }


def task_tfmot(model, x_train, y_train, calibration, **options):
    from kerasnets.tflite.twin import _tfmot_here

    return _tfmot_here(model, x_train, y_train, calibration, **options)


TASKS = {"convert": task_convert, "tfmot": task_tfmot}


def main(spec_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    from kerasnets.io import write_json

    try:
        import keras

        if keras.backend.backend() != "tensorflow":
            raise RuntimeError("the converter subprocess must run with KERAS_BACKEND=tensorflow")
        register_custom_objects()
        models = {
            name: keras.saving.load_model(path, compile=False, safe_mode=True)
            for name, path in spec["models"].items()
        }
        arrays = {
            name: (None if path is None else np.load(path, allow_pickle=False))
            for name, path in spec["arrays"].items()
        }
        result = TASKS[spec["task"]](**models, **arrays, **spec["options"])
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
