"""Run and measure ``.tflite`` files in the LiteRT interpreter, the runtime a phone uses.

Everything here uses ``ai_edge_litert.interpreter.Interpreter`` (``tf.lite.Interpreter`` is
deprecated) and never imports TensorFlow, so it works in a JAX or PyTorch process too.
Integer inputs are quantized and integer outputs dequantized with the scale and zero point
stored in the file, exactly as an app must do.

Example:
    >>> import numpy as np
    >>> (x, y) = np.random.rand(20, 64).astype("float32"), np.zeros(20, "int32")
    >>> report = evaluate("/tmp/mlp_int8.tflite", x, y, runs=5)   # doctest: +SKIP
    >>> sorted(report)[:3]                                         # doctest: +SKIP
    ['accuracy', 'bytes', 'gzip_bytes']
"""

from __future__ import annotations

import gzip
import os
import statistics
import time
from pathlib import Path

import numpy as np


def check_path(path, what="a .tflite file") -> Path:
    """``path`` as a ``Path``; ``TypeError`` saying what was given instead (e.g. a model).

    Example:
        >>> check_path(np.zeros(3))
        Traceback (most recent call last):
        ...
        TypeError: expected a path to a .tflite file, got an array of shape (3,)
    """
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    if hasattr(path, "layers") and hasattr(path, "predict"):
        got = f"a Keras model ({type(path).__name__}); convert it first with tflite.convert"
    elif isinstance(path, np.ndarray):
        got = f"an array of shape {path.shape}"
    else:
        got = f"a {type(path).__name__}"
    raise TypeError(f"expected a path to {what}, got {got}")


def file_sizes(path) -> dict:
    """``{"bytes": raw size, "gzip_bytes": size gzip-compressed at level 9}`` of a file."""
    data = check_path(path, "a file").read_bytes()
    return {"bytes": len(data), "gzip_bytes": len(gzip.compress(data, compresslevel=9))}


def size_breakdown(path) -> dict:
    """Where the bytes of a ``.tflite`` file go, read from the file by the LiteRT interpreter.

    Constant tensors (weights, biases) are those whose data the interpreter holds before
    ``allocate_tensors``. Quantization parameters cost 4 bytes per scale (float32) and 8 per
    zero point (int64), for every quantized tensor, activations included.

    Returns:
        ``{"bytes": file size, "constants": {dtype: bytes of constant data},
        "quant_params": bytes of scales and zero points, "other": the rest (graph, tensor
        names, signature, metadata, alignment), "tensors": [{"name", "dtype", "shape",
        "bytes", "scales"} per constant tensor]}``. Of a tensor in TFLite's sparse encoding the
        interpreter exposes the stored values only; its index arrays count as ``other``.

    Example:
        >>> size_breakdown("/tmp/mlp_int8.tflite")["constants"]    # doctest: +SKIP
        {'int32': 3112, 'int8': 166400}
    """
    interp = _interpreter(path)
    tensors, quant_params = [], 0
    for detail in interp.get_tensor_details():
        params = detail["quantization_parameters"]
        quant_params += 4 * len(params["scales"]) + 8 * len(params["zero_points"])
        try:
            data = interp.get_tensor(detail["index"])
        except ValueError:  # no data before allocation: an activation
            continue
        tensors.append(
            {
                "name": detail["name"],
                "dtype": np.dtype(detail["dtype"]).name,
                "shape": [int(d) for d in detail["shape"]],
                "bytes": int(data.nbytes),
                "scales": len(params["scales"]),
            }
        )
    constants = {}
    for t in tensors:
        constants[t["dtype"]] = constants.get(t["dtype"], 0) + t["bytes"]
    size = Path(path).stat().st_size
    return {
        "bytes": size,
        "constants": dict(sorted(constants.items())),
        "quant_params": quant_params,
        "other": size - sum(constants.values()) - quant_params,
        "tensors": tensors,
    }


def default_threads() -> tuple[int, ...]:
    """``(1, N)`` with N the number of CPU cores (just ``(1,)`` on one core)."""
    n = os.cpu_count() or 1
    return (1,) if n == 1 else (1, n)


def _allocate(interpreter):
    """``allocate_tensors`` with LiteRT's native "Created ... XNNPACK delegate" line kept quiet."""
    from kerasnets._quiet import native_output_captured

    with native_output_captured():
        interpreter.allocate_tensors()


def _interpreter(path, num_threads=1, xnnpack=True):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such .tflite file: {str(path)!r}")
    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    from kerasnets._quiet import native_output_captured

    try:
        with native_output_captured():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
            interpreter = Interpreter(
                model_path=str(path),
                num_threads=int(num_threads),
                experimental_op_resolver_type=resolver,
            )
        return interpreter
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"{str(path)!r} is not a valid .tflite model: {err}") from None


def io_details(path) -> dict:
    """Input and output shape, dtype and quantization ``(scale, zero_point)`` of a model."""
    interp = TFLiteModel(path).interpreter
    (inp,), outs = interp.get_input_details(), interp.get_output_details()

    def describe(d):
        scale, zero_point = d["quantization"]
        return {
            "shape": [int(s) for s in d["shape_signature"]],
            "dtype": np.dtype(d["dtype"]).name,
            "scale": float(scale),
            "zero_point": int(zero_point),
        }

    return {"input": describe(inp), "output": describe(outs[0])}


def quantize_input(x, detail):
    """Float samples → the interpreter's input dtype (quantized when it is an integer type)."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return np.asarray(x, dtype=dtype)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    q = np.round(np.asarray(x, dtype="float32") / scale + zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize_output(y, detail):
    """Interpreter output → float32 (dequantized when it is an integer type)."""
    if np.dtype(detail["dtype"]).kind == "f":
        return np.asarray(y, dtype="float32")
    scale, zero_point = detail["quantization"]
    return (np.asarray(y, dtype="float32") - zero_point) * scale


class TFLiteModel:
    """A ``.tflite`` file loaded in the LiteRT interpreter, callable on float batches.

    The interpreter uses its default XNNPACK delegate; files it cannot delegate (e.g. int8
    weights in TFLite's sparse encoding) run on the built-in kernels (``xnnpack`` False).

    Example:
        >>> model = TFLiteModel("/tmp/mlp_int8.tflite")          # doctest: +SKIP
        >>> model.predict(x).shape                              # doctest: +SKIP
        (20, 10)
    """

    def __init__(self, path, num_threads: int = 1):
        self.path = check_path(path)
        self.xnnpack = True
        self.interpreter = _interpreter(path, num_threads)
        try:
            _allocate(self.interpreter)
        except RuntimeError:
            self.xnnpack = False
            self.interpreter = _interpreter(path, num_threads, xnnpack=False)
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1:
            raise ValueError(f"only single-input models are supported, got {len(inputs)} inputs")
        self.input = inputs[0]
        self.output = self.interpreter.get_output_details()[0]
        _allocate(self.interpreter)
        self._batch = int(self.input["shape"][0])

    @property
    def input_shape(self) -> tuple:
        return tuple(int(s) for s in self.input["shape_signature"][1:])

    def _resize(self, batch):
        if batch != self._batch:
            self.interpreter.resize_tensor_input(self.input["index"], [batch, *self.input_shape])
            _allocate(self.interpreter)
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
            self._batch = batch

    def __call__(self, x):
        """Run one batch of float samples; return float32 outputs."""
        self._resize(len(x))
        self.interpreter.set_tensor(self.input["index"], quantize_input(x, self.input))
        self.interpreter.invoke()
        return dequantize_output(self.interpreter.get_tensor(self.output["index"]), self.output)

    def predict(self, x, batch_size: int = 256):
        """Outputs for all samples, in batches (batch 1 if the file has a fixed batch of 1)."""
        x = np.asarray(x, dtype="float32")
        expected = self.input_shape
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"samples have shape {tuple(x.shape[1:])}; the model wants {expected}")
        if self.input["shape_signature"][0] != -1:
            batch_size = int(self.input["shape"][0])
        return np.concatenate(
            [self(x[i : i + batch_size]) for i in range(0, len(x), batch_size)], axis=0
        )

    def latency_ms(self, samples, warmup: int = 10, runs: int = 50) -> float:
        """Median batch-1 latency in ms (set input, invoke, read output) after ``warmup`` runs.

        ``samples`` (float, shaped like the input batch) are fed in turn, as an app would feed
        new data each time; they are quantized beforehand.
        """
        self._resize(1)
        inputs = quantize_input(np.asarray(samples, dtype="float32"), self.input)
        index, out = self.input["index"], self.output["index"]
        times = []
        for i in range(warmup + runs):
            start = time.perf_counter()
            self.interpreter.set_tensor(index, inputs[i % len(inputs)][None])
            self.interpreter.invoke()
            self.interpreter.get_tensor(out)
            times.append(time.perf_counter() - start)
        return 1e3 * statistics.median(times[warmup:])


def evaluate(
    path,
    x,
    y=None,
    reference=None,
    threads=None,
    warmup: int = 10,
    runs: int = 50,
) -> dict:
    """Evaluate a ``.tflite`` file in the LiteRT interpreter.

    Args:
        path: the ``.tflite`` file.
        x: float samples shaped like the model input (normalized as for the Keras model).
        y: integer labels, for ``accuracy``.
        reference: the Keras model's outputs on ``x`` (e.g. ``model.predict(x)``), for
            ``max_abs_diff`` (the float check) and ``top1_agreement`` (the quantized check).
        threads: interpreter thread counts to time (default ``(1, cpu_count)``).
        warmup, runs: latency is the median of ``runs`` batch-1 invocations after ``warmup``.

    Returns:
        dict with ``bytes``, ``gzip_bytes``, ``input``/``output`` (dtype, scale, zero point),
        ``accuracy`` (with ``y``), ``max_abs_diff`` and ``top1_agreement`` (with
        ``reference``), ``latency_ms`` ``{threads: median ms}``, and ``samples``.

    Raises:
        FileNotFoundError / ValueError: missing or invalid file, samples of the wrong shape.
    """
    check_path(path)
    x = np.asarray(x, dtype="float32")
    if y is not None and len(y) != len(x):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)} labels")
    if reference is not None and len(reference) != len(x):
        raise ValueError(f"x has {len(x)} samples but reference has {len(reference)} rows")
    threads = tuple(threads or default_threads())
    if any(int(t) < 1 for t in threads):
        raise ValueError(f"threads must be positive integers, got {threads!r}")
    model = TFLiteModel(path)
    outputs = model.predict(x)
    result = {"path": str(path), **file_sizes(path), **io_details(path), "samples": len(x)}
    result["xnnpack"] = model.xnnpack
    predicted = outputs.reshape(len(x), -1).argmax(axis=1)
    if y is not None:
        result["accuracy"] = float(np.mean(predicted == np.asarray(y).reshape(-1)))
    if reference is not None:
        reference = np.asarray(reference, dtype="float32").reshape(outputs.shape)
        result["max_abs_diff"] = float(np.max(np.abs(outputs - reference)))
        result["top1_agreement"] = float(
            np.mean(predicted == reference.reshape(len(x), -1).argmax(axis=1))
        )
    result["latency_ms"] = {
        str(t): TFLiteModel(path, num_threads=t).latency_ms(x[:8], warmup, runs) for t in threads
    }
    return result


def keras_latency_ms(model, samples, warmup: int = 10, runs: int = 50) -> float:
    """Median ``model.predict_on_batch`` time for batch 1 in ms, after ``warmup`` calls.

    ``samples`` (a batch) are fed one at a time, in turn.
    """
    from kerasnets.tflite.conversion import check_model

    check_model(model)
    samples = np.asarray(samples, dtype="float32")
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        model.predict_on_batch(samples[i % len(samples)][None])
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[warmup:])
