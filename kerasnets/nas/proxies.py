"""Zero-cost proxies: score an untrained network from one batch, to pre-screen candidates.

- :func:`naswot` — "Neural Architecture Search without Training" (Mellor et al., ICML 2021):
  each input of a batch gives a binary code (which ReLU-like units are active); the score is
  ``log |det K|`` of the kernel ``K[i, j] = #units where inputs i and j agree``. Networks that
  separate inputs into distinct activation patterns at initialization tend to train better.
- :func:`grad_norm` — the L2 norm of the loss gradient at initialization (Abdelfattah et al.,
  "Zero-Cost Proxies for Lightweight NAS", ICLR 2021), via :func:`kerasnets.backend.
  loss_and_gradients` (the toolkit's one per-backend gradient function).

Written here because no maintained Keras 3 package provides them; both are a few lines of
``keras.ops``/numpy on top of a forward (and, for grad_norm, one backward) pass.

Example:
    >>> import numpy as np
    >>> from kerasnets.nas import build, mobilenet_style
    >>> model = build(mobilenet_style(8), input_shape=(8, 8, 1))
    >>> x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    >>> bool(np.isfinite(naswot(model, x)))
    True
"""

from __future__ import annotations

import numpy as np

PROXIES = ("naswot", "grad_norm")


def _relu_outputs(model):
    import keras

    outs = []
    for layer in model.layers:
        act = getattr(layer, "activation", None)
        name = getattr(act, "__name__", "") or ""
        if isinstance(layer, (keras.layers.ReLU, keras.layers.Activation)) or name == "relu":
            if layer is model.layers[-1]:
                continue
            outs.append(layer.output)
    return outs


def naswot(model, x) -> float:
    """NASWOT score ``log |det K|`` of ``model`` on the batch ``x`` (higher: more promising).

    Uses every ReLU/activation layer's output (except the classifier) as the binary code.
    """
    import keras

    outs = _relu_outputs(model)
    if not outs:
        raise ValueError(f"model {model.name!r} has no activation layers for NASWOT")
    probe = keras.Model(model.inputs[0] if len(model.inputs) == 1 else model.inputs, outs)
    # One eager call: predict() would trace a function for this one batch (4x the cost on
    # TensorFlow for a small CNN, see benchmarks/nas.py).
    acts = probe(keras.ops.convert_to_tensor(np.asarray(x)), training=False)
    acts = acts if isinstance(acts, (list, tuple)) else [acts]
    codes = np.concatenate(
        [(keras.ops.convert_to_numpy(a).reshape(len(x), -1) > 0) for a in acts], axis=1
    )
    c = codes.astype(np.float64)
    kernel = c @ c.T + (1 - c) @ (1 - c).T
    sign, logdet = np.linalg.slogdet(kernel)
    return float(logdet) if sign != 0 else float("-inf")


def grad_norm(model, x, y) -> float:
    """L2 norm of the cross-entropy gradient w.r.t. all weights at initialization."""
    from kerasnets.backend import loss_and_gradients

    # Eager, nothing traced: a proxy scores each fresh model once.
    _, grads = loss_and_gradients(
        model, x, y, loss="sparse_categorical_crossentropy", compiled=False
    )
    return float(np.sqrt(sum(float(np.sum(np.square(np.asarray(g)))) for g in grads.values())))


def score(model, name: str, x, y=None) -> float:
    """The proxy ``name`` (one of :data:`PROXIES`) of ``model`` on ``x`` (and labels ``y``)."""
    if name not in PROXIES:
        raise ValueError(f"unknown proxy {name!r}; allowed: {', '.join(PROXIES)}")
    return naswot(model, x) if name == "naswot" else grad_norm(model, x, y)


def kendall_tau(a, b) -> float:
    """Kendall's rank correlation τ-b of two score lists (scipy.stats.kendalltau)."""
    from scipy.stats import kendalltau

    return float(kendalltau(np.asarray(a), np.asarray(b)).statistic)
