"""The deployment bundle: everything an app needs to run a ``.tflite`` classifier.

``write_bundle(tflite_path, directory, labels, sample)`` writes into ``directory``:

* ``model.tflite`` — the model;
* ``labels.txt`` — one class name per line, in output order;
* ``model.json`` — input shape and dtype, the normalization to apply to raw inputs, and the
  quantization ``(scale, zero_point)`` of the input and output tensors;
* ``sample.npy`` — one normalized float sample;
* ``example.py`` — a short script that loads the model with the LiteRT interpreter, prepares
  the sample exactly as ``model.json`` says, and prints the predicted class.

Example:
    >>> write_bundle("/tmp/mlp_int8.tflite", "/tmp/bundle", [str(i) for i in range(10)],
    ...              sample)                                   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: What kerasnets' datasets feed their models (see kerasnets.data).
UNIT_RANGE = {
    "description": "float32 in [0, 1]: x = raw_pixel / 255 (channels last)",
    "scale": 1 / 255,
    "offset": 0.0,
}

EXAMPLE = '''"""Classify one sample with model.tflite in the LiteRT interpreter.

Run: python example.py   (needs numpy and ai-edge-litert: pip install ai-edge-litert)
"""

import json
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

here = Path(__file__).resolve().parent
meta = json.loads((here / "model.json").read_text())
labels = (here / "labels.txt").read_text().splitlines()

# A normalized float sample, as model.json's "normalization" describes
# (from raw pixels: x = raw * scale + offset).
x = np.load(here / "sample.npy").astype("float32")[None]

interpreter = Interpreter(model_path=str(here / "model.tflite"))
try:
    interpreter.allocate_tensors()
except RuntimeError:  # e.g. sparse int8 weights: run without the XNNPACK delegate
    interpreter = Interpreter(
        model_path=str(here / "model.tflite"),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
inp = interpreter.get_input_details()[0]
out = interpreter.get_output_details()[0]

if meta["input"]["dtype"] != "float32":  # integer model: quantize the input
    q = np.round(x / meta["input"]["scale"] + meta["input"]["zero_point"])
    info = np.iinfo(meta["input"]["dtype"])
    x = np.clip(q, info.min, info.max).astype(meta["input"]["dtype"])

interpreter.set_tensor(inp["index"], x)
interpreter.invoke()
y = interpreter.get_tensor(out["index"]).astype("float32")
if meta["output"]["dtype"] != "float32":  # dequantize the output
    y = (y - meta["output"]["zero_point"]) * meta["output"]["scale"]

k = int(np.argmax(y[0]))
print(f"predicted class {k}: {labels[k]} (score {y[0, k]:.3f})")
'''


def write_bundle(
    tflite_path,
    directory,
    labels,
    sample,
    normalization: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """Write the deployment bundle for ``tflite_path`` into ``directory``; return it.

    Args:
        tflite_path: the ``.tflite`` file to ship.
        directory: where to write (created; files written atomically).
        labels: class names in output order.
        sample: one normalized float sample shaped like the model input (without batch).
        normalization: how raw inputs become model inputs (default: kerasnets' [0, 1]).
        extra: more keys for ``model.json`` (e.g. the quantization mode, accuracy).
    """
    from kerasnets.io import atomic_path, write_bytes, write_json, write_text
    from kerasnets.tflite.runtime import TFLiteModel, io_details

    directory = Path(directory)
    labels = [str(label) for label in labels]
    details = io_details(tflite_path)
    outputs = int(np.prod([s for s in details["output"]["shape"][1:] if s > 0]))
    if len(labels) != outputs:
        raise ValueError(f"{len(labels)} labels for a model with {outputs} outputs")
    sample = np.asarray(sample, dtype="float32")
    if tuple(sample.shape) != TFLiteModel(tflite_path).input_shape:
        raise ValueError(
            f"sample has shape {sample.shape}; the model input is "
            f"{TFLiteModel(tflite_path).input_shape}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    write_bytes(directory / "model.tflite", Path(tflite_path).read_bytes())
    write_text(directory / "labels.txt", "\n".join(labels) + "\n")
    meta = {
        "model": "model.tflite",
        "labels": "labels.txt",
        "input": {**details["input"], "shape": [1, *sample.shape]},
        "output": {**details["output"], "shape": [1, *details["output"]["shape"][1:]]},
        "normalization": normalization or UNIT_RANGE,
        "runtime": "ai_edge_litert.interpreter.Interpreter",
        **(extra or {}),
    }
    write_json(directory / "model.json", meta)
    with atomic_path(directory / "sample.npy") as tmp:
        np.save(tmp, sample)
    write_text(directory / "example.py", EXAMPLE)
    return directory
