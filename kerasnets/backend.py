"""The one place with per-backend code for gradients.

Training diagnostics (gradient flow, exploding gradients) and analysis need the gradient of a loss
with respect to a model's trainable weights on a batch, outside the training step. Keras 3 has no
public backend-neutral ``gradients()`` function, so this module writes the three versions once:
TensorFlow (``tf.GradientTape``), JAX (``jax.value_and_grad``) and PyTorch (``torch.autograd``).
All three run the model through :meth:`keras.Model.stateless_call`, so nothing about the model
changes: weights, BatchNorm moving statistics, optimizer state and random seeds stay as they were.

Example:
    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> x, y = np.ones((2, 4), "float32"), np.array([0, 1])
    >>> loss, grads = loss_and_gradients(
    ...     model, x, y, loss="sparse_categorical_crossentropy")
    >>> sorted(grads)
    ['dense/bias', 'dense/kernel']
"""

from __future__ import annotations

import numpy as np


def _resolve_loss(model, loss):
    import keras

    if loss is None:
        loss = getattr(model, "loss", None)
        if loss is None:
            raise ValueError(
                "loss_and_gradients needs a loss: pass loss=... (a name such as "
                "'sparse_categorical_crossentropy', a keras.losses.Loss or a callable) or "
                "compile the model first"
            )
    if isinstance(loss, (dict, list, tuple)):
        raise ValueError(
            f"loss_and_gradients supports a single loss, got {type(loss).__name__}; pass one "
            "loss for a single-output model"
        )
    loss = keras.losses.get(loss) if isinstance(loss, str) else loss
    if isinstance(loss, keras.losses.Loss):
        return loss
    fn = loss

    def mean_loss(y_true, y_pred, sample_weight=None):
        # A plain loss function returns per-sample values: weight them and take the mean.
        values = fn(y_true, y_pred)
        if sample_weight is not None:
            values = values * keras.ops.cast(sample_weight, values.dtype)
        return keras.ops.mean(values)

    return mean_loss


def _sync_trainer_state(model) -> None:
    # On JAX, model variables are stale during fit() until the trainer state is written back.
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()


def loss_and_gradients(model, x, y, loss=None, training: bool = False, sample_weight=None):
    """Return ``(loss, gradients)`` of ``loss(y, model(x))`` w.r.t. the trainable weights.

    Args:
        model: a built Keras 3 model.
        x: a batch of inputs (numpy array or a list/dict of arrays for multi-input models).
        y: the matching targets.
        loss: a loss name, ``keras.losses.Loss`` or callable ``loss(y_true, y_pred)``; defaults
            to the model's compiled loss.
        training: run layers in training mode (dropout active, BatchNorm on batch statistics).
            Even then no moving statistic is updated. The default ``False`` gives deterministic
            gradients that agree across backends.
        sample_weight: optional per-sample weights passed to the loss.

    Returns:
        ``(loss, grads)``: the loss as a Python float and a dict mapping each trainable weight's
        path (``"dense/kernel"``) to its gradient as a numpy float array of the weight's shape,
        in the order of ``model.trainable_weights``.

    Nothing of the model changes. On JAX the trainer state is synced first, so this also works
    from a callback in the middle of ``fit``.
    """
    import keras

    if not model.built:
        raise ValueError(f"model {model.name!r} is not built; call it on a batch or build it first")
    loss_fn = _resolve_loss(model, loss)
    _sync_trainer_state(model)
    backend = keras.backend.backend()
    compute = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}.get(backend)
    if compute is None:
        raise ValueError(
            f"loss_and_gradients supports the tensorflow, jax and torch backends, not {backend!r}"
        )
    paths = [v.path for v in model.trainable_variables]
    if len(set(paths)) != len(paths):
        raise ValueError(f"model {model.name!r} has trainable weights with duplicate paths")
    x = keras.tree.map_structure(keras.ops.convert_to_tensor, x)
    y = keras.ops.convert_to_tensor(y)
    if sample_weight is not None:
        sample_weight = keras.ops.convert_to_tensor(sample_weight)

    def loss_of(trainable_values):
        non_trainable = [v.value for v in model.non_trainable_variables]
        y_pred, _ = model.stateless_call(trainable_values, non_trainable, x, training=training)
        return loss_fn(y, y_pred, sample_weight=sample_weight)

    value, grads = compute(model, loss_of)
    return float(value), {
        p: np.asarray(g, dtype=np.float64 if g.dtype == np.float64 else np.float32)
        for p, g in zip(paths, grads)
    }


def _tensorflow(model, loss_of):
    import tensorflow as tf

    values = [tf.identity(v.value) for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        tape.watch(values)
        value = loss_of(values)
    grads = tape.gradient(value, values, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return value.numpy(), [g.numpy() for g in grads]


def _jax(model, loss_of):
    import jax

    values = [v.value for v in model.trainable_variables]
    value, grads = jax.value_and_grad(loss_of)(values)
    return np.asarray(value), [np.asarray(g) for g in grads]


def _torch(model, loss_of):
    import torch

    values = [v.value.detach().clone().requires_grad_(True) for v in model.trainable_variables]
    value = loss_of(values)
    grads = torch.autograd.grad(value, values, allow_unused=True)
    grads = [torch.zeros_like(v) if g is None else g for v, g in zip(values, grads)]
    return value.detach().cpu().numpy(), [g.detach().cpu().numpy() for g in grads]


def input_gradient(fn, x):
    """Return the gradient of ``sum(fn(x))`` with respect to ``x``, as a numpy array.

    For an elementwise function (an activation) this is its derivative at every point of ``x``,
    computed by the backend's autodiff rather than a hand-written formula, e.g. to plot
    activation derivatives or check the lecture's "σ′ ≤ 0.25".

    Args:
        fn: a function of one tensor written with ``keras.ops`` (or a Keras layer).
        x: a numpy array (float32 unless float64 is asked for and supported).

    Example:
        >>> import numpy as np, keras
        >>> d = input_gradient(keras.activations.sigmoid, np.array([0.0], "float32"))
        >>> float(d[0])
        0.25
    """
    import keras

    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"input_gradient needs a floating-point array, got dtype {x.dtype}")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        t = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = tf.reduce_sum(fn(t))
        return tape.gradient(y, t).numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(jax.grad(lambda t: jnp.sum(fn(t)))(jnp.asarray(x)))
    if backend == "torch":
        import torch

        t = torch.tensor(x, requires_grad=True)
        (g,) = torch.autograd.grad(torch.sum(fn(t)), t)
        return g.detach().cpu().numpy()
    raise ValueError(
        f"input_gradient supports the tensorflow, jax and torch backends, not {backend!r}"
    )
