"""The one place with per-backend code for gradients (and one cheap ``cond``).

Training diagnostics (gradient flow, exploding gradients) and analysis need the gradient of a loss
with respect to a model's trainable weights on a batch, outside the training step. Keras 3 has no
public backend-neutral ``gradients()`` function, so this module writes the three versions once:
TensorFlow (``tf.GradientTape``), JAX (``jax.value_and_grad``) and PyTorch (``torch.autograd``).
All three run the model through :meth:`keras.Model.stateless_call`, so nothing about the model
changes: weights, BatchNorm moving statistics, optimizer state and random seeds stay as they were.

It also holds :func:`cond`, ``keras.ops.cond`` minus a per-call overhead that eager PyTorch pays
at every training step, and :func:`eager_int`, which tells layer code whether it runs eagerly
(then a Python ``if`` replaces a traced ``cond``), both for the pruning wrappers (measured by
``benchmarks/compression.py``).

Example:
    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")],
    ...                          name="net")
    >>> x, y = np.ones((2, 4), "float32"), np.array([0, 1])
    >>> loss, grads = loss_and_gradients(
    ...     model, x, y, loss="sparse_categorical_crossentropy")
    >>> sorted(grads)
    ['net/dense/bias', 'net/dense/kernel']
"""

from __future__ import annotations

import weakref

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


def loss_and_gradients(
    model, x, y, loss=None, training: bool = False, sample_weight=None, compiled: bool = True
):
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
        compiled: trace the gradient computation once per model and input signature (a
            ``tf.function`` on TensorFlow, ``jax.jit`` on JAX) and reuse it: the right choice
            for repeated calls, as from a callback. ``False`` keeps nothing in the cache and,
            on TensorFlow, runs eagerly: cheaper for a single call on a fresh model (a
            zero-cost NAS proxy), where tracing costs more than the gradient (130 ms eager
            against 460 ms traced for a small CNN). JAX still compiles (its op-by-op autodiff
            costs more than one compile) and PyTorch always runs eagerly.

    Returns:
        ``(loss, grads)``: the loss as a Python float and a dict mapping each trainable weight's
        path (``"dense/kernel"``) to its gradient as a numpy float array of the weight's shape,
        in the order of ``model.trainable_weights``.

    Nothing of the model changes. On JAX the trainer state is synced first, so this also works
    from a callback in the middle of ``fit``.
    """
    import keras

    from kerasnets._checks import check_model

    check_model(model)
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built; call it on a batch or build it first")
    n_x = {len(t) for t in keras.tree.flatten(x) if getattr(t, "ndim", 1)}
    n_y = len(y) if getattr(y, "ndim", 1) else None
    if len(n_x) > 1 or (n_y is not None and n_x and n_y not in n_x):
        raise ValueError(
            f"x and y must hold the same number of samples, got x: {sorted(n_x)} and y: {n_y}"
        )
    if sample_weight is not None and n_x and len(sample_weight) not in n_x:
        raise ValueError(
            f"sample_weight has {len(sample_weight)} entries for {sorted(n_x)[0]} samples"
        )
    loss_fn = _resolve_loss(model, loss)
    _sync_trainer_state(model)
    backend = keras.backend.backend()
    compile_fn = {
        "tensorflow": _compile_tensorflow,
        "jax": _compile_jax,
        "torch": _compile_torch,
    }.get(backend)
    if compile_fn is None:
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
    if compiled:
        key = (loss if isinstance(loss, str) else id(loss), training, sample_weight is None)
        fn = _cached(
            model,
            key,
            loss,
            lambda: compile_fn(model, _loss_function(model, loss_fn, training)),
        )
    elif backend == "tensorflow":
        fn = _compile_tensorflow(model, _loss_function(model, loss_fn, training), eager=True)
    else:  # not cached; JAX still compiles (op-by-op autodiff costs more), PyTorch is eager
        fn = compile_fn(model, _loss_function(model, loss_fn, training))
    value, grads = fn(x, y, sample_weight)
    return float(value), {
        p: np.asarray(g, dtype=np.float64 if g.dtype == np.float64 else np.float32)
        for p, g in zip(paths, grads)
    }


# Compiled gradient functions per model: the JAX and TensorFlow versions are traced once per
# (loss, training, weighting) and input signature, which makes a check in a callback cheap.
_CACHE = weakref.WeakKeyDictionary()
_CACHE_SIZE = 8


def _cached(model, key, loss, make):
    try:
        entries = _CACHE.setdefault(model, {})
    except TypeError:  # an object that cannot be weakly referenced: no caching
        return make()
    if key not in entries:
        if len(entries) >= _CACHE_SIZE:
            entries.pop(next(iter(entries)))
        # Keep ``loss`` alive with the entry so its id() cannot be reused by another object.
        entries[key] = (make(), loss)
    return entries[key][0]


def _loss_function(model, loss_fn, training):
    model = weakref.proxy(model)  # the cache entry must not keep its own key alive

    def loss_of(trainable, non_trainable, x, y, sample_weight):
        y_pred, _ = model.stateless_call(trainable, non_trainable, x, training=training)
        return loss_fn(y, y_pred, sample_weight=sample_weight)

    return loss_of


# Each ``_compile_*(model, loss_of)`` returns ``run(x, y, sample_weight) -> (loss, gradients)``
# reading the model's current weights at every call. They hold the model through a weak proxy,
# so that the cache (weakly keyed by the model) lets the model go.


def _compile_tensorflow(model, loss_of, eager=False):
    model = weakref.proxy(model)
    import tensorflow as tf

    def value_and_grads(x, y, sample_weight):
        # The variables are read inside the function (their current values at each call),
        # which keeps the call signature to the data.
        trainable = [tf.convert_to_tensor(v.value) for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            value = loss_of(trainable, non_trainable, x, y, sample_weight)
        grads = tape.gradient(value, trainable, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return value, grads

    if eager:

        def run_eagerly(x, y, sample_weight):
            value, grads = value_and_grads(x, y, sample_weight)
            return value.numpy(), [g.numpy() for g in grads]

        return run_eagerly

    compiled = {}

    def run(x, y, sample_weight):
        # One trace per model and input signature (shapes stay static: losses may read the
        # batch size). Each model gets its own traces by design (the graph reads that model's
        # variables); TensorFlow counts traces of every model's function together and would
        # warn "retracing" after five models, so that warning is off for this function only.
        def spec(t):
            return tf.TensorSpec(t.shape, t.dtype)

        args = (x, y) if sample_weight is None else (x, y, sample_weight)
        signature = tuple(tf.nest.map_structure(spec, a) for a in args)
        key = str(signature)
        if key not in compiled:
            if len(compiled) >= _CACHE_SIZE:
                compiled.pop(next(iter(compiled)))
            if sample_weight is None:
                fn = tf.function(
                    lambda x, y: value_and_grads(x, y, None), input_signature=signature
                )
            else:
                fn = tf.function(value_and_grads, input_signature=signature)
            fn._omit_frequent_tracing_warning = True
            compiled[key] = fn
        value, grads = compiled[key](*args)
        return value.numpy(), [g.numpy() for g in grads]

    return run


def _compile_jax(model, loss_of):
    model = weakref.proxy(model)
    import jax

    # Always compiled: op-by-op autodiff in JAX costs more than one compile (2.4 s against 1.8 s
    # for a small CNN's first gradient).
    compiled = jax.jit(jax.value_and_grad(loss_of))

    def run(x, y, sample_weight):
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        value, grads = compiled(trainable, non_trainable, x, y, sample_weight)
        return np.asarray(value), [np.asarray(g) for g in grads]

    return run


def _compile_torch(model, loss_of):
    model = weakref.proxy(model)
    import torch

    def run(x, y, sample_weight):
        trainable = [
            v.value.detach().clone().requires_grad_(True) for v in model.trainable_variables
        ]
        non_trainable = [v.value for v in model.non_trainable_variables]
        value = loss_of(trainable, non_trainable, x, y, sample_weight)
        grads = torch.autograd.grad(value, trainable, allow_unused=True)
        grads = [torch.zeros_like(v) if g is None else g for v, g in zip(trainable, grads)]
        return value.detach().cpu().numpy(), [g.detach().cpu().numpy() for g in grads]

    return run


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


def cond(pred, true_fn, false_fn):
    """``keras.ops.cond(pred, true_fn, false_fn)``, without its per-call cost in eager PyTorch.

    For layer code that runs at every training step (the pruning wrappers' "is this a pruning
    step?"). ``keras.ops.cond`` builds a new ``Operation`` at each call, about 80 µs in eager
    PyTorch, and then runs a plain Python ``if`` on the predicate. Here, a concrete PyTorch
    predicate goes straight to that ``if`` (about 1 µs). Everything else goes to
    ``keras.ops.cond``: symbolic tensors, and TensorFlow and JAX, whose compiled train steps trace
    the cond once into their graph, where it costs nothing per step.

    Example:
        >>> import keras
        >>> float(cond(keras.ops.convert_to_tensor(True), lambda: 1.0, lambda: 2.0))
        1.0
    """
    import keras

    if (
        keras.backend.backend() == "torch"
        and not keras.backend.is_keras_tensor(pred)
        and getattr(getattr(pred, "device", None), "type", None) != "meta"  # shape inference
    ):
        return true_fn() if bool(pred) else false_fn()
    return keras.ops.cond(pred, true_fn, false_fn)


def eager_int(x):
    """``int(x)`` for a concrete scalar tensor; ``None`` while ``x`` is being traced or is symbolic.

    For layer code that runs at every training step and can take a cheaper, Python-only path when
    it runs eagerly (PyTorch's ``fit``, TensorFlow with ``run_eagerly=True``, a direct call):
    there a Python ``if`` on the returned number replaces a ``cond`` and writes nothing when
    nothing changes. Inside a compiled step (``tf.function``, ``jax.jit``), for Keras'
    symbolic tensors and on PyTorch's meta device (shape inference) it returns ``None``, and the
    caller builds the traced version instead. Per-backend by nature, so it lives here.

    Example:
        >>> import keras
        >>> eager_int(keras.ops.convert_to_tensor(7))
        7
        >>> eager_int(keras.KerasTensor(())) is None
        True
    """
    import keras

    if keras.backend.is_keras_tensor(x):
        return None
    name = keras.backend.backend()
    if name == "torch":
        if getattr(getattr(x, "device", None), "type", None) == "meta":
            return None
    elif name == "jax":
        import jax

        if isinstance(x, jax.core.Tracer):
            return None
    elif name == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            return None
    else:  # another backend: always the traced version
        return None
    return int(x)
