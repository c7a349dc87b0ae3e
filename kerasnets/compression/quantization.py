"""Post-training weight quantization with Keras 3, measured before and after.

:func:`quantize` copies the model, applies Keras 3's own ``model.quantize("int8")`` (per-channel
int8 kernels with float scales for Dense, EinsumDense and Embedding; other layers stay float)
or stores every weight in ``float16``, and reports accuracy on ``(x, y)`` and the bytes of the
weights before and after. (Integer quantization for TFLite is :mod:`kerasnets.tflite`'s.)

Example:
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(64, activation="relu"),
    ...                           keras.layers.Dense(10)])
    >>> x, y = np.random.rand(32, 16).astype("float32"), np.arange(32) % 10
    >>> result = quantize(model, "int8", x, y)
    >>> result.after["weight_bytes"] < result.before["weight_bytes"]
    True
"""

from __future__ import annotations

import dataclasses
import warnings

import keras
import numpy as np

from kerasnets.compression._graph import copy_layer, rebuild

MODES = ("int8", "float16")


def weight_bytes(model):
    """Bytes of all weights of ``model`` at their stored dtypes (int8 kernels: 1 byte each)."""
    return int(sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in model.weights))


def accuracy(model, x, y, batch_size=256):
    """Top-1 accuracy of ``model`` on integer labels ``y``."""
    pred = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)
    return float(np.mean(np.argmax(pred, axis=-1) == np.asarray(y).reshape(-1)))


@dataclasses.dataclass
class QuantizationResult:
    """The quantized model and ``before`` / ``after`` dicts: ``weight_bytes``, ``accuracy``."""

    model: keras.Model
    mode: str
    before: dict
    after: dict

    def to_dict(self):
        return {"mode": self.mode, "before": self.before, "after": self.after}


def _float16_copy(model):
    def clone(layer):
        config = layer.get_config()
        config["dtype"] = "float16"
        new = layer.__class__.from_config(config)
        if layer.weights:
            new.build_from_config(layer.get_build_config())
            new.set_weights([w.astype("float16") for w in layer.get_weights()])
        return new

    return rebuild(model, clone)


def quantize(model, mode="int8", x=None, y=None):
    """Return a :class:`QuantizationResult` for ``model`` quantized to ``mode`` (not in place).

    Args:
        model: a Functional or Sequential model (left unchanged).
        mode: ``"int8"`` (Keras 3 ``model.quantize``) or ``"float16"`` (all weights and
            compute in float16).
        x, y: optional evaluation data (integer labels); accuracy is ``None`` without it.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if (x is None) != (y is None):
        raise ValueError("give both x and y for accuracy, or neither")
    before = {"weight_bytes": weight_bytes(model), "accuracy": None}
    if x is not None:
        before["accuracy"] = accuracy(model, x, y)
    if mode == "int8":
        quantized = rebuild(model, copy_layer)
        with warnings.catch_warnings():  # "Layer X does not have a `quantize` method"
            warnings.filterwarnings("ignore", message=".*does not have a `quantize` method")
            quantized.quantize("int8")
    else:
        quantized = _float16_copy(model)
    after = {"weight_bytes": weight_bytes(quantized), "accuracy": None}
    if x is not None:
        after["accuracy"] = accuracy(quantized, x, y)
    return QuantizationResult(quantized, mode, before, after)
