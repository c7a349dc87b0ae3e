"""Per-layer measurements on a probe batch: gradient magnitudes and activation statistics.

These are snapshots (one call, one batch) that experiments take at initialization and after
training; per-epoch monitoring during ``fit`` is what the ``callbacks`` package does.
Gradients come from :func:`kerasnets.backend.loss_and_gradients`, the one place with
per-backend gradient code.
"""

from __future__ import annotations

import numpy as np

_SKIP = ("Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise", "SpatialDropout")


def weight_layers(model) -> list:
    """The layers with a ``kernel`` (Dense, Conv, ...), input to output."""
    return [layer for layer in _flat_layers(model) if hasattr(layer, "kernel")]


def _flat_layers(model):
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers") and not hasattr(layer, "kernel"):
            out.extend(_flat_layers(layer))
        else:
            out.append(layer)
    return out


def hidden_outputs(model) -> list[tuple[str, object]]:
    """``(name, symbolic output)`` of each hidden layer's activation, input to output.

    For every weight layer but the last, the output taken is that of the last layer before
    the next weight layer (its activation, after any normalization), skipping dropout.
    The name is the weight layer's name.
    """
    layers = [layer for layer in model.layers if type(layer).__name__ not in _SKIP]
    kernels = [i for i, layer in enumerate(layers) if hasattr(layer, "kernel")]
    picked = []
    for a, b in zip(kernels[:-1], kernels[1:]):
        picked.append((layers[a].name, layers[b - 1].output))
    return picked


def activation_stats(model, x, batch_size: int = 256) -> dict:
    """Mean, std, zero fraction and dead-unit fraction of every hidden layer on ``x``.

    A unit counts as *dead* when its output is ≤ 0 for every probe sample (a ReLU unit that
    never fires gets no gradient); the *zero fraction* is the share of outputs with
    ``|a| ≤ 1e-6`` (the sparsity a ReLU produces). For Leaky ReLU/PReLU an all-negative unit
    still gets the small slope's gradient, so "dead" there means "inactive", not "stuck".

    Returns ``{"layers": [...names], "mean": [...], "std": [...], "zero_fraction": [...],
    "dead_fraction": [...]}``, one value per hidden layer.
    """
    import keras

    picked = hidden_outputs(model)
    probe = keras.Model(model.inputs, [out for _, out in picked])
    # A direct call (not predict): no new tf.function per probe model, so no retracing.
    chunks = []
    for i in range(0, len(x), batch_size):
        out = probe(x[i : i + batch_size], training=False)
        chunks.append(out if isinstance(out, (list, tuple)) else [out])
    outs = [
        np.concatenate([keras.ops.convert_to_numpy(chunk[k]) for chunk in chunks])
        for k in range(len(picked))
    ]
    stats = {"layers": [], "mean": [], "std": [], "zero_fraction": [], "dead_fraction": []}
    for (name, _), a in zip(picked, outs):
        a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
        stats["layers"].append(name)
        stats["mean"].append(float(a.mean()))
        stats["std"].append(float(a.std()))
        stats["zero_fraction"].append(float((np.abs(a) <= 1e-6).mean()))
        stats["dead_fraction"].append(float((a <= 0).all(axis=0).mean()))
    return stats


def gradient_magnitudes(
    model, x, y, loss="sparse_categorical_crossentropy", training: bool = False
) -> dict:
    """Mean absolute gradient of the loss w.r.t. each weight layer's kernel, input to output.

    ``training=True`` runs BatchNorm on batch statistics, as in a training step (nothing of the
    model changes either way).

    Returns ``{"layers": [...names], "mean_abs": [...], "loss": float}``.
    """
    from kerasnets.backend import loss_and_gradients

    value, grads = loss_and_gradients(model, x, y, loss=loss, training=training)
    out = {"layers": [], "mean_abs": [], "loss": value}
    for layer in weight_layers(model):
        kernel = getattr(layer, "kernel", None)
        path = getattr(kernel, "path", None)
        if path in grads:
            out["layers"].append(layer.name)
            out["mean_abs"].append(float(np.abs(grads[path]).mean()))
    return out


def epochs_to_target(curve, target: float):
    """The first epoch (1-based) at which ``curve`` reaches ``target``, or ``None``."""
    for i, v in enumerate(curve):
        if v is not None and v >= target:
            return i + 1
    return None
