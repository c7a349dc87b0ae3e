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
