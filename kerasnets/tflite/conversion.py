"""Keras 3 model → ``.tflite``, from any backend, with post-training quantization.

Keras' LiteRT export (``model.export(path, format="litert")``) runs on the TensorFlow backend
only. :func:`convert` therefore converts in-process on TensorFlow and, under JAX or PyTorch,
hands the model to a TensorFlow child process (:func:`kerasnets.tflite.worker.run_in_tensorflow`,
which dies with its parent and leaves no temporary files): the caller sees one call and one
result either way.

Quantization modes (``QUANTIZE_MODES``), in TFLite's terms:

========== =================================================================================
none       float32 weights and activations
float16    float16 weights (dequantized to float32 at load time); float32 I/O
dynamic    dynamic-range quantization: int8 weights, float activations; no calibration
int8       full-integer: int8 weights and activations from a representative dataset
           (``calibration``), float32 input and output (quantize/dequantize at the edges)
int8-full  full-integer with integer input and output (``io_dtype`` int8 or uint8), for
           microcontrollers and integer-only accelerators
========== =================================================================================

``sparse=True`` adds TFLite's sparse-tensor encoding (``Optimize.EXPERIMENTAL_SPARSITY``),
which stores pruned weights compactly.

``per_channel`` (``PER_CHANNEL_MODES``) picks the granularity of the int8 weight scales in the
``dynamic``, ``int8`` and ``int8-full`` modes:

========== =================================================================================
"conv"     (default) one scale per output channel for convolution kernels (depthwise
           included), one scale per Dense (``FULLY_CONNECTED``) kernel (TFLite's converter
           flag ``_experimental_disable_per_channel_quantization_for_dense_layers``)
True       one scale per output channel everywhere, Dense kernels included
False      one scale per weight tensor everywhere
========== =================================================================================

Why Dense kernels default to one scale: the file stores, per quantized channel, a float32
scale and an int64 zero point (12 bytes; the LiteRT interpreter rejects a file whose zero
points are missing), and it stores them twice, for the int8 kernel and again for the int32
bias. A Dense unit with ``n`` inputs costs ``4n + 4`` bytes in float32 but ``n + 4 + 24`` bytes
per channel in int8, so per-channel Dense layers stop being 4x smaller: the digits MLP
64-512-256-10 (167K parameters) is 3.51x smaller per channel and 3.89x per tensor, at the
same test accuracy (97.50%; ``benchmarks/tflite.py``); its 512 units of 64 inputs alone add
12 KB of scales. Per-channel scales matter most where channels differ in range, i.e. in
(depthwise) convolutions, which keep them.

Example:
    >>> import keras, numpy as np
    >>> inputs = keras.Input((64,))
    >>> model = keras.Model(inputs, keras.layers.Dense(10)(inputs))
    >>> x = np.random.rand(32, 64).astype("float32")
    >>> path = convert(model, "/tmp/mlp_int8.tflite", quantize="int8", calibration=x)
    >>> path.suffix
    '.tflite'
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kerasnets.tflite.worker import ConversionError, run_in_tensorflow

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8", "int8-full")
IO_DTYPES = ("float32", "int8", "uint8")
NEEDS_CALIBRATION = ("int8", "int8-full")
PER_CHANNEL_MODES = ("conv", True, False)
WEIGHT_QUANTIZING = ("dynamic", *NEEDS_CALIBRATION)


def check_model(model, what="model"):
    """Raise ``TypeError`` unless ``model`` is a Keras model; say what it is instead.

    A path (load it with :func:`kerasnets.io.load_model`) and an array are the usual mistakes.

    Example:
        >>> check_model(np.zeros(3))
        Traceback (most recent call last):
        ...
        TypeError: model must be a Keras model, got an array of shape (3,)
    """
    import keras

    if isinstance(model, keras.Model):
        return model
    if isinstance(model, (str, os.PathLike)):
        got = f"the path {str(model)!r} (load it with kerasnets.io.load_model)"
    elif isinstance(model, np.ndarray) or hasattr(model, "__array__"):
        got = f"an array of shape {tuple(np.shape(model))}"
    else:
        got = f"a {type(model).__name__}"
    raise TypeError(f"{what} must be a Keras model, got {got}")


def check_per_channel(per_channel="conv"):
    """Return ``per_channel`` as one of ``PER_CHANNEL_MODES``; raise ``ValueError`` otherwise."""
    if isinstance(per_channel, (bool, np.bool_)):
        return bool(per_channel)
    if per_channel == "conv":
        return "conv"
    raise ValueError(
        f"per_channel={per_channel!r} is not supported; use one of {PER_CHANNEL_MODES}"
    )


def check_options(quantize="none", calibration=None, io_dtype=None, num_calibration=100):
    """Validate conversion options; return the resolved ``io_dtype``. Raises ``ValueError``."""
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"quantize={quantize!r} is not supported; use one of {QUANTIZE_MODES}")
    if io_dtype is None:
        io_dtype = "int8" if quantize == "int8-full" else "float32"
    if io_dtype not in IO_DTYPES:
        raise ValueError(f"io_dtype={io_dtype!r} is not supported; use one of {IO_DTYPES}")
    if io_dtype != "float32" and quantize != "int8-full":
        raise ValueError(
            f"io_dtype={io_dtype!r} needs quantize='int8-full' (got quantize={quantize!r})"
        )
    if quantize == "int8-full" and io_dtype == "float32":
        raise ValueError("quantize='int8-full' has integer I/O: use io_dtype 'int8' or 'uint8'")
    if quantize in NEEDS_CALIBRATION:
        if calibration is None:
            raise ValueError(
                f"quantize={quantize!r} needs calibration data (a representative dataset "
                "drawn from the training data), e.g. calibration='digits' or an array"
            )
        if len(calibration) == 0:
            raise ValueError("calibration data is empty")
    if int(num_calibration) < 1:
        raise ValueError(f"num_calibration must be >= 1, got {num_calibration!r}")
    return io_dtype


def check_input_shape(model, x, what="calibration data"):
    """Raise ``ValueError`` unless samples ``x`` fit the single input of ``model``."""
    if len(model.inputs) != 1:
        raise ValueError(f"only single-input models are supported, got {len(model.inputs)}")
    expected = tuple(model.inputs[0].shape[1:])
    got = tuple(np.shape(x)[1:])
    if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got)):
        raise ValueError(f"{what} has samples of shape {got}; the model's input is {expected}")


def converter_options(
    quantize="none",
    calibration=None,
    io_dtype=None,
    sparse=False,
    num_calibration=100,
    per_channel="conv",
):
    """``tf.lite.TFLiteConverter`` attributes for a mode (TensorFlow is imported here).

    The dict is what ``model.export(path, format="litert", **options)`` accepts (Keras sets
    each key on the converter; ``target_spec`` is a dict of ``target_spec`` attributes).
    """
    import tensorflow as tf

    io_dtype = check_options(quantize, calibration, io_dtype, num_calibration)
    per_channel = check_per_channel(per_channel)
    options = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    optimizations = []
    if quantize != "none":
        optimizations.append(tf.lite.Optimize.DEFAULT)
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    if optimizations:
        options["optimizations"] = optimizations
    if quantize in WEIGHT_QUANTIZING and per_channel is False:
        options["_experimental_disable_per_channel"] = True
    if quantize in WEIGHT_QUANTIZING and per_channel == "conv":
        options["_experimental_disable_per_channel_quantization_for_dense_layers"] = True
    if quantize == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    if quantize in NEEDS_CALIBRATION:
        samples = np.asarray(calibration, dtype="float32")[: int(num_calibration)]

        def representative_dataset():
            for i in range(len(samples)):
                yield [samples[i : i + 1]]

        options["representative_dataset"] = representative_dataset
        options["target_spec"]["supported_ops"] = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if quantize == "int8-full":
        dtype = {"int8": tf.int8, "uint8": tf.uint8}[io_dtype]
        options["inference_input_type"] = dtype
        options["inference_output_type"] = dtype
    return options


def apply_options(converter, options):
    """Set ``options`` (from :func:`converter_options`) on a ``TFLiteConverter``."""
    for key, value in options.items():
        if key == "target_spec":
            for spec_key, spec_value in value.items():
                setattr(converter.target_spec, spec_key, spec_value)
        else:
            setattr(converter, key, value)
    return converter


def _convert_here(
    model, path, quantize, calibration, io_dtype, sparse, num_calibration, per_channel="conv"
):
    """Convert on the TensorFlow backend, in this process; write ``path`` atomically."""
    from kerasnets.io import atomic_path

    options = converter_options(
        quantize, calibration, io_dtype, sparse, num_calibration, per_channel
    )
    with atomic_path(path) as tmp:
        run_converter(lambda: model.export(str(tmp), format="litert", verbose=False, **options))
    return {"path": str(path), "bytes": Path(path).stat().st_size}


def run_converter(fn):
    """Run a TFLite conversion; turn converter failures into a one-line :class:`ConversionError`.

    The summary names the operations TFLite's builtin kernels lack when that is the cause
    (``TF Select`` ops would need the Flex delegate, which the LiteRT interpreter lacks).
    """
    try:
        return _quiet(fn)
    except ConversionError:
        raise
    except Exception as err:
        if type(err).__name__ != "ConverterError" and "convert" not in type(err).__module__:
            raise
        text = str(err)
        ops = sorted(
            {
                op.strip()
                for line in text.splitlines()
                if line.strip().startswith(("TF Select ops:", "Custom ops:"))
                for op in line.split(":", 1)[1].split(",")
            }
        )
        if ops:
            summary = f"TFLite has no builtin kernel for: {', '.join(ops)}"
        else:
            lines = [line.strip() for line in text.splitlines() if "error:" in line]
            summary = (lines[-1] if lines else text.strip().splitlines()[0])[:300]
        raise ConversionError(f"TFLite conversion failed: {summary}", text) from None


def _quiet(fn):
    """Run ``fn`` with TensorFlow's Python logging turned down and the converter's native
    prints (``fully_quantize: 0, ...``) kept off the terminal; return its result."""
    import logging

    from kerasnets._quiet import native_output_captured

    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with native_output_captured():
            return fn()
    finally:
        logger.setLevel(level)


def task_convert(model, calibration, jobs, num_calibration):
    """The TensorFlow side of :func:`convert_many` (run by :func:`run_in_tensorflow`)."""
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


def convert(
    model,
    path,
    quantize: str = "none",
    calibration=None,
    io_dtype: str | None = None,
    sparse: bool = False,
    num_calibration: int = 100,
    per_channel: bool | str = "conv",
) -> Path:
    """Convert a Keras 3 model to a ``.tflite`` file at ``path``; return the path.

    Works on every backend (see the module docstring). The file is written atomically.

    Args:
        model: a Keras 3 model with one input (functional, sequential or subclassed).
        path: output file, ending in ``.tflite``.
        quantize: one of ``QUANTIZE_MODES``.
        calibration: representative samples (array shaped like the model input); required
            for ``int8`` and ``int8-full``. The first ``num_calibration`` are used.
        io_dtype: input/output type for ``int8-full``: ``"int8"`` (default) or ``"uint8"``.
        sparse: also apply TFLite's sparse-tensor encoding (for pruned models).
        per_channel: int8 weight scales: ``"conv"`` (default) per output channel for
            convolution kernels and per tensor for Dense kernels, ``True`` per channel
            everywhere, ``False`` per tensor everywhere (see the module docstring).
        num_calibration: how many calibration samples to feed the converter.

    Raises:
        TypeError: ``model`` is not a Keras model (e.g. a path or an array).
        ValueError: bad option, missing or mis-shaped calibration data (before any work).
        ConversionError: the converter failed (one line; the log is in ``.detail``).

    Example:
        >>> import keras
        >>> inputs = keras.Input((8, 8, 1))
        >>> x = keras.layers.Flatten()(inputs)
        >>> model = keras.Model(inputs, keras.layers.Dense(10)(x))
        >>> convert(model, "/tmp/digits_f16.tflite", quantize="float16").name
        'digits_f16.tflite'
    """
    job = {"quantize": quantize, "io_dtype": io_dtype, "sparse": sparse}
    job["per_channel"] = per_channel
    return convert_many(model, {path: job}, calibration, num_calibration)[0]


def convert_many(model, jobs: dict, calibration=None, num_calibration: int = 100) -> list[Path]:
    """Several conversions of one model in one go (one TensorFlow subprocess on JAX/torch).

    ``jobs`` maps each output path to a dict of :func:`convert`'s options ``quantize``,
    ``io_dtype``, ``sparse``, ``per_channel``
    (missing keys take :func:`convert`'s defaults). All jobs are validated before any work.

    Example:
        >>> paths = convert_many(model, {"/tmp/f32.tflite": {},
        ...                              "/tmp/i8.tflite": {"quantize": "int8"}},
        ...                      calibration=x)                    # doctest: +SKIP
    """
    from kerasnets.data import check_samples

    check_model(model)
    if calibration is not None:
        calibration = check_samples(calibration, "calibration data")
        check_input_shape(model, calibration)
        calibration = calibration[: int(num_calibration)]
    specs, paths = [], []
    for path, job in jobs.items():
        path = Path(path)
        if path.suffix != ".tflite":
            raise ValueError(f"path must end with '.tflite', got {str(path)!r}")
        unknown = set(job) - {"quantize", "io_dtype", "sparse", "per_channel"}
        if unknown:
            raise ValueError(f"unknown conversion options {sorted(unknown)}")
        quantize = job.get("quantize", "none")
        io_dtype = check_options(quantize, calibration, job.get("io_dtype"), num_calibration)
        path.parent.mkdir(parents=True, exist_ok=True)
        specs.append(
            {
                "path": str(path.resolve()),
                "quantize": quantize,
                "io_dtype": io_dtype,
                "sparse": bool(job.get("sparse", False)),
                "per_channel": check_per_channel(job.get("per_channel", "conv")),
            }
        )
        paths.append(path)
    run_in_tensorflow(
        "kerasnets.tflite.conversion:task_convert",
        models={"model": model},
        arrays={"calibration": calibration},
        options={"jobs": specs, "num_calibration": int(num_calibration)},
    )
    return paths
