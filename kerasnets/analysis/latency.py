"""CPU inference latency: the median of repeated ``predict_on_batch`` calls after warm-up.

``predict_on_batch`` is each backend's compiled inference path (``tf.function`` on TensorFlow,
``jax.jit`` on JAX, eager on PyTorch) and returns NumPy arrays, so every timed call includes
waiting for the result (JAX dispatches asynchronously) and copying it to the host. The first
``warmup`` calls (compilation, caches) are not timed.

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> result = latency(m, batch_sizes=(1, 8), warmup=1, repeats=3)
    >>> sorted(result), sorted(result[8])
    ([1, 8], ['backend', 'max_ms', 'median_ms', 'min_ms', 'per_example_ms', 'repeats', 'warmup'])
"""

from __future__ import annotations

import time

import keras
import numpy as np


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _inputs(model, batch_size, rng):
    arrays = []
    for x in model.inputs:
        shape = (batch_size, *x.shape[1:])
        if any(d is None for d in shape):
            raise ValueError(
                f"input {x.name!r} of model {model.name!r} has shape {tuple(x.shape)}; "
                "latency needs every axis but the batch axis to be known"
            )
        dtype = np.dtype(x.dtype) if x.dtype != "bfloat16" else np.float32
        if np.issubdtype(dtype, np.integer):
            arrays.append(rng.integers(0, 2, size=shape).astype(dtype))
        else:
            arrays.append(rng.standard_normal(shape).astype(dtype))
    return arrays[0] if len(arrays) == 1 else arrays


def latency(model, batch_sizes=(1, 32), warmup: int = 3, repeats: int = 20, seed: int = 0):
    """Time ``model.predict_on_batch`` on random inputs for each batch size.

    Args:
        model: a built ``keras.Model`` with a fixed input shape (any backend).
        batch_sizes: batch sizes to time, each a positive integer.
        warmup: untimed calls first (compilation happens here), >= 0.
        repeats: timed calls, >= 1; the median is reported.
        seed: seed of the random inputs.

    Returns:
        ``{batch_size: {"median_ms", "min_ms", "max_ms", "per_example_ms", "warmup",
        "repeats", "backend"}}``; ``per_example_ms`` is the median divided by the batch size.
        The inputs are standard-normal float32 arrays (integers 0/1 for integer inputs).
    """
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(f"model must be a built keras.Model, got {model!r}")
    if isinstance(batch_sizes, (int, np.integer)):
        batch_sizes = (batch_sizes,)
    batch_sizes = [_check_int("batch size", b, 1) for b in batch_sizes]
    if not batch_sizes:
        raise ValueError("batch_sizes must name at least one batch size, got an empty list")
    warmup = _check_int("warmup", warmup, 0)
    repeats = _check_int("repeats", repeats, 1)
    rng = np.random.default_rng(seed)
    results = {}
    for batch_size in batch_sizes:
        x = _inputs(model, batch_size, rng)
        for _ in range(warmup):
            model.predict_on_batch(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.predict_on_batch(x)
            times.append((time.perf_counter() - start) * 1e3)
        median = float(np.median(times))
        results[batch_size] = {
            "median_ms": median,
            "min_ms": float(np.min(times)),
            "max_ms": float(np.max(times)),
            "per_example_ms": median / batch_size,
            "warmup": warmup,
            "repeats": repeats,
            "backend": keras.backend.backend(),
        }
    return results
