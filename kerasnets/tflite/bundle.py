"""The deployment bundle: everything an app needs to run a ``.tflite`` classifier.

``write_bundle(tflite_path, directory, labels, sample, normalization, output)`` writes into
``directory``:

* ``model.tflite`` — the model;
* ``labels.txt`` — one class name per line, in output order;
* ``model.json`` — input shape, layout and dtype, the normalization that turns raw inputs into
  model inputs (``x = raw * scale + offset``: the one the model was trained and calibrated
  with), the quantization ``(scale, zero_point)`` of the input and output tensors, and whether
  the output holds logits or probabilities;
* ``README.md`` — how to call the model from Android (Kotlin, LiteRT ``Interpreter`` and
  ``CompiledModel``) and iOS (Swift), with this model's shape, range and quantization;
* ``sample.npy`` — one normalized float sample;
* ``example.py`` — a short script that loads the model with the LiteRT interpreter, prepares
  the sample exactly as ``model.json`` says, and prints the predicted class.

Why ``model.json`` and not TFLite metadata: the standard metadata writer (``tflite_support``'s
``metadata_writers``) has had no release since 0.4.4 (2023), which requires ``protobuf<4`` and
so cannot be installed next to TensorFlow 2.21 (protobuf 6+); ``ai-edge-litert`` reads
models but writes no metadata. Labels and normalization therefore travel as ``labels.txt`` and
``model.json`` beside the model.

Example:
    >>> write_bundle("/tmp/mlp_int8.tflite", "/tmp/bundle", [str(i) for i in range(10)],
    ...              sample, data.normalization("digits"), "logits")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
# (from raw inputs: x = raw * scale + offset).
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


def _layout(shape):
    if len(shape) == 4:
        return f"NHWC: [1, height {shape[1]}, width {shape[2]}, channels {shape[3]}], row-major"
    if len(shape) == 2:
        return f"a flat vector of {shape[1]} values, [1, {shape[1]}]"
    return f"{shape}, row-major"


def _range(normalization):
    scale, offset = normalization.get("scale"), normalization.get("offset")
    if scale is None:
        return "as the calibration data (not stated): " + normalization["description"]
    return f"x = raw * {scale:.8g}{_plus(offset)} ({normalization['description']})"


def _plus(n, suffix=""):
    """`` + n`` or `` - |n|`` (with a literal suffix such as Kotlin's ``f``) for snippets."""
    return f" + {n:.8g}{suffix}" if n >= 0 else f" - {-n:.8g}{suffix}"


def readme(meta: dict) -> str:
    """The bundle's ``README.md`` for ``model.json``'s contents ``meta``.

    Example:
        >>> meta = {"input": {"shape": [1, 64], "dtype": "float32", "scale": 0.0,
        ...                   "zero_point": 0},
        ...         "output": {"shape": [1, 10], "dtype": "float32", "scale": 0.0,
        ...                    "zero_point": 0},
        ...         "normalization": {"scale": 0.0625, "offset": 0.0,
        ...                           "description": "x = raw / 16"},
        ...         "output_kind": "logits"}
        >>> "interpreter.run(input, output)" in readme(meta)
        True
    """
    inp, out, norm = meta["input"], meta["output"], meta["normalization"]
    n_in = int(np.prod(inp["shape"][1:]))
    n_out = int(np.prod(out["shape"][1:]))
    scale = 1.0 if norm.get("scale") is None else float(norm["scale"])
    offset = 0.0 if norm.get("offset") is None else float(norm["offset"])
    integer_in = inp["dtype"] != "float32"
    integer_out = out["dtype"] != "float32"
    lo, hi = {"int8": (-128, 127), "uint8": (0, 255)}.get(inp["dtype"], (0, 0))
    if integer_in:
        put = (
            f"val q = Math.round(x / {inp['scale']:.8g}f{_plus(inp['zero_point'])})"
            f".coerceIn({lo}, {hi})\n        input.put(q.toByte())"
        )
        swift_put = (
            f"let q = max({lo}, min({hi}, Int((x / {inp['scale']:.8g}"
            f"{_plus(inp['zero_point'])}).rounded())))\n        "
            + (
                "bytes.append(UInt8(q))"
                if inp["dtype"] == "uint8"
                else "bytes.append(UInt8(bitPattern: Int8(q)))"
            )
        )
        in_bytes = n_in
    else:
        put, swift_put, in_bytes = "input.putFloat(x)", "floats.append(x)", 4 * n_in
    if integer_out:
        read_kt = (
            f"val bytes = ByteArray({n_out}); output.rewind(); output.get(bytes)\n"
            f"val scores = FloatArray({n_out}) {{ i -> "
            + ("(bytes[i].toInt() and 0xFF" if out["dtype"] == "uint8" else "(bytes[i].toInt()")
            + f"{_plus(-out['zero_point'])}) * {out['scale']:.8g}f }}"
        )
        out_alloc = (
            f"val output = ByteBuffer.allocateDirect({n_out}).order(ByteOrder.nativeOrder())"
        )
        read_swift = (
            "let scores = output.data.map { (Float("
            + ("" if out["dtype"] == "uint8" else "Int8(bitPattern: $0)")
            + ("$0" if out["dtype"] == "uint8" else "")
            + f"){_plus(-out['zero_point'])}) * {out['scale']:.8g} }}"
        )
    else:
        read_kt = (
            f"val scores = FloatArray({n_out}); output.rewind(); output.asFloatBuffer().get(scores)"
        )
        out_alloc = (
            f"val output = ByteBuffer.allocateDirect({4 * n_out}).order(ByteOrder.nativeOrder())"
        )
        read_swift = (
            "let scores = output.data.withUnsafeBytes { Array($0.bindMemory(to: Float32.self)) }"
        )
    quant = ""
    if integer_in or integer_out:
        quant = (
            f"\n- **Quantized I/O**: the input tensor is {inp['dtype']} (scale "
            f"{inp['scale']:.8g}, zero point {inp['zero_point']}):\n"
            f"  q = round(x / scale + zero_point), clamped to [{lo}, {hi}]. The output is "
            f"{out['dtype']} (scale {out['scale']:.8g},\n  zero point {out['zero_point']}): "
            "y = (q - zero_point) * scale."
        )
    compiled = (
        f"LiteRT's documented `CompiledModel` Kotlin example writes float buffers "
        f"(`writeFloat`);\nthis file's input is {inp['dtype']}: use the `Interpreter` code "
        "above, which quantizes it."
        if integer_in
        else f"""```kotlin
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel

val model = CompiledModel.create(context.assets, "model.tflite",
                                 CompiledModel.Options(Accelerator.CPU))
val inputs = model.createInputBuffers()
val outputs = model.createOutputBuffers()
inputs[0].writeFloat(FloatArray({n_in}) {{ i -> raw[i] * {scale:.8g}f{_plus(offset, "f")} }})
model.run(inputs, outputs)
val scores = outputs[0].readFloat()                 // {n_out} values: {meta["output_kind"]}
```
(See LiteRT's "CompiledModel Kotlin API" guide on its `Environment` argument and GPU/NPU
accelerators.)"""
    )
    softmax_hint = ""
    if not meta["output_kind"].startswith("prob"):
        softmax_hint = " (apply softmax yourself if you need probabilities)"
    swift_data = "Data(bytes)"
    if not integer_in:
        swift_data = "floats.withUnsafeBufferPointer { Data(buffer: $0) }"
    return f"""# model.tflite: how to call it from an app

Files: `model.tflite` (the model), `labels.txt` (class names, one per line, in output order),
`model.json` (everything below, machine-readable), `sample.npy` + `example.py` (a Python check:
`pip install ai-edge-litert numpy && python example.py`).

## Input and output

- **Input**: {inp["dtype"]} tensor of shape {inp["shape"]}; layout {_layout(inp["shape"])}.
- **Normalization** (the one the model was trained and calibrated with):
  {_range(norm)}.
  Apply it to every raw value before anything else.{quant}
- **Output**: shape {out["shape"]}, {n_out} {meta["output_kind"]}, one per line of
  `labels.txt`; the predicted class is the arg-max{softmax_hint}.

Why `model.json`: TFLite's standard metadata writer (`tflite_support`) has no release that
installs next to TensorFlow 2.21 (it needs `protobuf<4`), so labels and normalization are in
`labels.txt` and `model.json` rather than inside `model.tflite`.

## Android (Kotlin), LiteRT `Interpreter`

`build.gradle`: `implementation("com.google.ai.edge.litert:litert:<version>")`; put
`model.tflite` and `labels.txt` in `src/main/assets` (keep `.tflite` uncompressed:
`androidResources {{ noCompress += "tflite" }}`).

```kotlin
import org.tensorflow.lite.Interpreter
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel

fun classify(context: android.content.Context, raw: FloatArray): Int {{  // raw: {n_in} values
    val fd = context.assets.openFd("model.tflite")
    val modelBuffer = FileInputStream(fd.fileDescriptor).channel
        .map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
    val interpreter = Interpreter(modelBuffer)
    val input = ByteBuffer.allocateDirect({in_bytes}).order(ByteOrder.nativeOrder())
    for (v in raw) {{
        val x = v * {scale:.8g}f{_plus(offset, "f")}  // the model's normalization
        {put}
    }}
    {out_alloc}
    interpreter.run(input, output)
    {read_kt.replace(chr(10), chr(10) + "    ")}
    interpreter.close()
    return scores.indices.maxBy {{ scores[it] }}       // index into labels.txt
}}
```

## Android (Kotlin), LiteRT `CompiledModel`

{compiled}

## iOS (Swift)

Podfile: `pod 'TensorFlowLiteSwift'` (the LiteRT runtime for iOS); add `model.tflite` and
`labels.txt` to the app bundle.

```swift
import TensorFlowLite

func classify(raw: [Float]) throws -> Int {{  // raw: {n_in} values
    let path = Bundle.main.path(forResource: "model", ofType: "tflite")!
    let interpreter = try Interpreter(modelPath: path)
    try interpreter.allocateTensors()
    var {"bytes = [UInt8]()" if integer_in else "floats = [Float]()"}
    for v in raw {{
        let x = v * {scale:.8g}{_plus(offset)}  // the model's normalization
        {swift_put}
    }}
    try interpreter.copy({swift_data}, toInputAt: 0)
    try interpreter.invoke()
    let output = try interpreter.output(at: 0)
    {read_swift}
    return scores.indices.max {{ scores[$0] < scores[$1] }}!  // index into labels.txt
}}
```
"""


def write_bundle(
    tflite_path,
    directory,
    labels,
    sample,
    normalization: dict,
    output: str,
    extra: dict | None = None,
) -> Path:
    """Write the deployment bundle for ``tflite_path`` into ``directory``; return it.

    Args:
        tflite_path: the ``.tflite`` file to ship.
        directory: where to write (created; files written atomically).
        labels: class names in output order.
        sample: one normalized float sample shaped like the model input (without batch).
        normalization: how raw inputs become model inputs, ``{"scale", "offset",
            "description"}`` (``x = raw * scale + offset``): the one the model was trained and
            calibrated with, e.g. :func:`kerasnets.data.normalization` of its dataset.
        output: what the output holds, e.g. ``"logits"`` or ``"probabilities (softmax)"``
            (:func:`kerasnets.tflite.pipeline.output_kind` of the Keras model).
        extra: more keys for ``model.json`` (e.g. the quantization mode, accuracy).
    """
    from kerasnets.io import atomic_path, write_bytes, write_json, write_text
    from kerasnets.tflite.runtime import TFLiteModel, check_path, io_details

    check_path(tflite_path)
    directory = Path(directory)
    labels = [str(label) for label in labels]
    if not isinstance(normalization, dict) or not {"scale", "offset", "description"} <= set(
        normalization
    ):
        raise ValueError(
            f"normalization must be a dict with scale, offset, description; got {normalization!r}"
        )
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
        "input_layout": _layout([1, *sample.shape]),
        "output": {**details["output"], "shape": [1, *details["output"]["shape"][1:]]},
        "output_kind": str(output),
        "normalization": dict(normalization),
        "runtime": "ai_edge_litert.interpreter.Interpreter",
        **(extra or {}),
    }
    write_json(directory / "model.json", meta)
    write_text(directory / "README.md", readme(meta))
    with atomic_path(directory / "sample.npy") as tmp:
        np.save(tmp, sample)
    write_text(directory / "example.py", EXAMPLE)
    return directory
