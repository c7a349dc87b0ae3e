"""The lecture's debugging tips as tools: gradient check, overfit test, LR finder, init report.

- :func:`gradient_check`: finite differences against autodiff for every weight tensor of a
  model, on a float64 copy where the backend allows it; relative error per layer, flags the
  layers above a tolerance (a custom layer with a wrong gradient shows up here).
- :func:`overfit_test`: can the model drive the loss to about zero on one tiny batch? If not,
  the report names what that usually means.
- :class:`LRFinder` (a Keras callback) and :func:`lr_find`: Smith's (2017) learning-rate range
  test, an exponential sweep with the loss recorded per step, a plot and a suggested rate;
  the weights are restored afterwards.
- :func:`init_report` and :func:`propagate`: weight statistics against the initializer's
  theory (He, Glorot, LeCun) and the activation mean and variance through depth at init.
- :func:`doctor`: all four on one model, with findings and remedies (``kerasnets doctor``).

The autodiff side of the gradient check is :func:`kerasnets.backend.loss_and_gradients`, the
toolkit's only per-backend gradient code; everything here is ``keras`` + numpy.

Example:
    >>> import keras
    >>> from kerasnets import data, debug, models
    >>> (x, y), _ = data.load("digits", flatten=True)
    >>> model = models.build("mlp", input_shape=(64,), depth=2, width=16)
    >>> check = debug.gradient_check(model, x[:8], y[:8], entries=4)
    >>> check["passed"]
    True
    >>> debug.propagate("sigmoid", "glorot_uniform", depth=4, width=64)["variance"][-1] < 0.1
    True
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np

#: Initializer class name -> (theory, variance scale, fan): Var(W) = scale / fan.
THEORY = {
    "HeNormal": ("He", 2.0, "fan_in"),
    "HeUniform": ("He", 2.0, "fan_in"),
    "GlorotNormal": ("Glorot", 2.0, "fan_avg2"),
    "GlorotUniform": ("Glorot", 2.0, "fan_avg2"),
    "LecunNormal": ("LeCun", 1.0, "fan_in"),
    "LecunUniform": ("LeCun", 1.0, "fan_in"),
}


# --------------------------------------------------------------------------- helpers


def _check_model(model):
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a keras.Model, got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built; build it with an input shape first")
    if len(model.inputs) != 1:
        raise ValueError(f"only single-input models are supported, got {len(model.inputs)}")


def _check_data(model, x, y=None):
    x = np.asarray(x)
    want = tuple(model.inputs[0].shape[1:])
    got = tuple(x.shape[1:])
    if x.ndim != len(want) + 1 or any(w is not None and w != g for w, g in zip(want, got)):
        raise ValueError(
            f"data of shape {tuple(x.shape)} does not fit the model input (batch, "
            f"{', '.join(str(d) for d in want)})"
        )
    if len(x) == 0:
        raise ValueError("no samples given (x is empty)")
    if y is not None and len(y) != len(x):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)} labels")
    return x.astype("float32") if np.issubdtype(x.dtype, np.floating) else x


def _check_positive(value, what, integer=True):
    bad = isinstance(value, bool) or not isinstance(value, (int, float))
    bad = bad or (integer and int(value) != value) or value <= 0
    if bad:
        raise ValueError(f"{what} must be a positive {'integer' if integer else 'number'}, "
                         f"got {value!r}")  # fmt: skip
    return value


def _outputs_probabilities(model) -> bool:
    last = model.layers[-1]
    name = getattr(getattr(last, "activation", None), "__name__", "")
    return name == "softmax" or type(last).__name__ == "Softmax"


def _default_loss(model):
    import keras

    loss = getattr(model, "loss", None)
    if loss is not None:
        return loss
    return keras.losses.SparseCategoricalCrossentropy(from_logits=not _outputs_probabilities(model))


def _float64_supported() -> bool:
    """Whether Keras computes in float64 on this backend.

    Only on TensorFlow: Keras' type promotion maps float64 to float32 on JAX and PyTorch
    (``BIT64_TO_BIT32_DTYPE`` in ``keras/src/backend/common/dtypes.py``), so a float64
    matmul there runs in float32.
    """
    return keras.backend.backend() == "tensorflow"


def copy_model(model, dtype: str | None = None):
    """A copy of ``model`` with the same weights (cast to ``dtype`` if given) and trainable flags.

    Zoo models are rebuilt from their constructor arguments, other functional and sequential
    models with ``keras.models.clone_model``; with ``dtype`` every layer is rebuilt in that
    dtype (e.g. ``"float64"`` for a gradient check).

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> copy_model(m, "float64").weights[0].dtype
        'float64'
    """
    import keras

    previous = keras.config.dtype_policy()
    try:
        if dtype is not None:
            keras.config.set_dtype_policy(dtype)
        if hasattr(model, "_zoo_config"):
            copy = model.__class__.from_config(model.get_config())
        else:

            def clone(layer):
                config = layer.get_config()
                if dtype is not None and "dtype" in config:
                    config["dtype"] = dtype
                return layer.__class__.from_config(config)

            copy = keras.models.clone_model(model, clone_function=clone)
    finally:
        keras.config.set_dtype_policy(previous)
    if len(copy.weights) != len(model.weights):
        raise ValueError(f"could not copy model {model.name!r}: its weights differ in the copy")
    for new, old in zip(copy.weights, model.weights):
        value = keras.ops.convert_to_numpy(old.value)
        new.assign(value.astype(new.dtype) if dtype is not None else value)
    by_name = {layer.name: layer for layer in model.layers}
    for layer in copy.layers:
        if layer.name in by_name:
            layer.trainable = by_name[layer.name].trainable
    return copy


class _MeanLoss(keras.losses.Loss):
    """``mean(fn(y_true, y_pred))`` reduced with a sum, so float64 stays float64.

    Keras' ``Loss`` reduction and ``ops.mean`` on PyTorch round float64 values through
    float32, which would drown the finite differences of a gradient check in rounding.
    """

    def __init__(self, fn, kwargs):
        super().__init__(name="mean_loss")
        self._fn, self._kwargs = fn, kwargs

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self._fn(y_true, y_pred, **self._kwargs)
        if sample_weight is not None:
            values = values * keras.ops.cast(sample_weight, values.dtype)
        values = keras.ops.reshape(values, (-1,))
        return keras.ops.sum(values) / values.shape[0]


def _loss_in(loss, dtype):
    """``loss`` as a loss computed in the model's dtype (see :class:`_MeanLoss`)."""
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    fn, kwargs = getattr(loss, "fn", None), getattr(loss, "_fn_kwargs", None)
    if callable(fn) and isinstance(kwargs, dict):  # Keras' (private) LossFunctionWrapper
        return _MeanLoss(fn, dict(kwargs))
    if isinstance(loss, keras.losses.Loss):
        config = loss.get_config()
        config["dtype"] = dtype
        return loss.__class__.from_config(config)
    return _MeanLoss(loss, {})


def _layer_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else path


# --------------------------------------------------------------------------- gradient check


def gradient_check(
    model,
    x,
    y,
    loss=None,
    entries: int = 10,
    epsilon: float | None = None,
    tolerance: float | None = None,
    seed: int = 0,
) -> dict:
    """Compare autodiff gradients with central finite differences, weight by weight.

    The model is copied in float64 where Keras computes in float64 (TensorFlow; on JAX and
    PyTorch Keras' type promotion caps float64 at float32, so the check runs in float32 there
    with a larger step and tolerance). For each trainable weight tensor, ``entries`` randomly
    chosen elements (all of them for smaller tensors) are perturbed by ±ε and the loss
    difference ``(L(w+ε) − L(w−ε)) / 2ε`` compared with the gradient from
    :func:`kerasnets.backend.loss_and_gradients`. Layers run in inference mode (dropout off,
    BatchNorm on moving statistics). The relative error of a layer is
    ``‖g_num − g_auto‖ / (‖g_num‖ + ‖g_auto‖)`` over its sampled entries (0 when both are 0).
    An entry whose central differences at ε and ε/2 disagree (a ReLU kink inside ±ε) is
    skipped and counted in ``kinks_skipped``.
    Hand-written here because Keras has no gradient checker.

    Args:
        model: a built single-input Keras model (not changed).
        x, y: a small batch and its targets.
        loss: the loss (default: the compiled one, else sparse categorical cross-entropy,
            from logits unless the model ends in a softmax).
        entries: elements sampled per weight tensor (positive).
        epsilon: finite-difference step (default 1e-6 in float64, 1e-2 in float32).
        tolerance: a layer whose relative error exceeds it is flagged (default 1e-5 in
            float64, 5e-2 in float32: a coarse check, kinks below its resolution remain).
        seed: seed of the sampled elements.

    Returns:
        ``{"dtype", "epsilon", "tolerance", "loss", "layers": [{"layer", "weights",
        "entries", "relative_error", "max_abs_error", "flagged"}], "flagged": [names],
        "passed"}``.

    Example:
        >>> import numpy as np, keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> r = gradient_check(model, np.ones((4, 3)), np.array([0, 1, 0, 1]))
        >>> r["dtype"], r["passed"]   # doctest: +SKIP
        ('float64', True)
    """
    import keras

    from kerasnets.backend import _resolve_loss, loss_and_gradients

    _check_model(model)
    x = _check_data(model, x, y)
    _check_positive(entries, "entries")
    if epsilon is not None:
        _check_positive(epsilon, "epsilon", integer=False)
    if tolerance is not None:
        _check_positive(tolerance, "tolerance", integer=False)
    dtype = "float64" if _float64_supported() else "float32"
    eps = epsilon or (1e-6 if dtype == "float64" else 1e-2)
    tol = tolerance or (1e-5 if dtype == "float64" else 5e-2)
    loss = _loss_in(loss if loss is not None else _default_loss(model), dtype)
    copy = copy_model(model, dtype)
    xc = x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x
    value, grads = loss_and_gradients(copy, xc, y, loss=loss)
    loss_fn = _resolve_loss(copy, loss)
    y_t = keras.ops.convert_to_tensor(y)
    x_t = keras.ops.convert_to_tensor(xc)

    def loss_at():
        return float(keras.ops.convert_to_numpy(loss_fn(y_t, copy(x_t, training=False))))

    rng = np.random.default_rng(seed)
    per_layer: dict[str, dict] = {}
    base = loss_at()
    noise = 4 * abs(base) * np.finfo(dtype).eps / eps  # rounding of the narrow difference
    kinks = 0
    for variable in copy.trainable_variables:
        path = variable.path
        original = keras.ops.convert_to_numpy(variable.value).copy()
        flat = original.reshape(-1)
        chosen = (
            np.arange(flat.size)
            if flat.size <= entries
            else rng.choice(flat.size, entries, replace=False)
        )
        numeric, kept = [], []
        for i in chosen:
            losses = []
            for step in (eps, -eps, eps / 2, -eps / 2):
                bumped = flat.copy()
                bumped[i] += step
                variable.assign(bumped.reshape(original.shape))
                losses.append(loss_at())
            wide = (losses[0] - losses[1]) / (2 * eps)
            narrow = (losses[2] - losses[3]) / eps
            # On a smooth loss the central differences at ε and ε/2 agree to O(ε²), and so do
            # the second differences; a kink (a ReLU unit switching inside ±ε, or exactly at
            # w) breaks one or the other, and the entry is skipped.
            curve_wide = (losses[0] - 2 * base + losses[1]) / eps**2
            curve_narrow = (losses[2] - 2 * base + losses[3]) / (eps / 2) ** 2
            bent = (
                abs(curve_narrow - curve_wide)
                > 0.25 * (abs(curve_wide) + abs(curve_narrow)) + 8 * noise / eps
            )
            if bent or abs(wide - narrow) > 0.01 * (abs(wide) + abs(narrow)) + 2 * noise:
                kinks += 1
                continue
            numeric.append(wide)
            kept.append(i)
        variable.assign(original)
        auto = np.asarray(grads[path], dtype=np.float64).reshape(-1)[np.asarray(kept, int)]
        entry = per_layer.setdefault(
            _layer_of(path), {"weights": [], "numeric": [], "autodiff": [], "where": []}
        )
        entry["weights"].append(path)
        entry["where"].extend((path, int(i)) for i in kept)
        entry["numeric"].append(np.asarray(numeric, dtype=np.float64))
        entry["autodiff"].append(auto)
    layers = []
    for name, entry in per_layer.items():
        num, auto = np.concatenate(entry["numeric"]), np.concatenate(entry["autodiff"])
        scale = np.linalg.norm(num) + np.linalg.norm(auto)
        err = float(np.linalg.norm(num - auto) / scale) if scale > 0 else 0.0
        layers.append(
            {
                "layer": name,
                "weights": entry["weights"],
                "entries": int(num.size),
                "relative_error": err,
                "max_abs_error": float(np.max(np.abs(num - auto))) if num.size else 0.0,
                "worst": [
                    {
                        "weight": entry["where"][k][0],
                        "index": entry["where"][k][1],
                        "numeric": float(num[k]),
                        "autodiff": float(auto[k]),
                    }
                    for k in np.argsort(-np.abs(num - auto))[:3]
                ],  # fmt: skip
                "flagged": err > tol,
            }
        )
    flagged = [r["layer"] for r in layers if r["flagged"]]
    return {
        "dtype": dtype,
        "epsilon": eps,
        "tolerance": tol,
        "loss": value,
        "layers": layers,
        "flagged": flagged,
        "passed": not flagged,
        "kinks_skipped": kinks,
    }


# --------------------------------------------------------------------------- overfit test

OVERFIT_CAUSES = (
    "a bug in the data pipeline (labels that do not belong to their inputs)",
    "a frozen layer (trainable=False) or a layer without a gradient path",
    "a model too small for even a handful of samples",
    "a wrong loss for the outputs (logits vs probabilities, sparse vs one-hot labels)",
    "a learning rate far too low or too high",
)


def overfit_test(
    model,
    x,
    y,
    samples: int = 16,
    steps: int = 200,
    target_loss: float = 0.05,
    learning_rate: float = 1e-2,
    loss=None,
) -> dict:
    """Train a copy of ``model`` on ``samples`` examples until its loss is about zero.

    A working model and data pipeline memorize a handful of examples within a few hundred
    steps of Adam. Training stops at the first step whose loss is at most ``target_loss``.
    The model passed in is not changed (a copy with the same weights and trainable flags
    is trained).

    Returns:
        ``{"passed", "steps", "initial_loss", "final_loss", "losses", "samples",
        "frozen_layers", "causes"}``; ``causes`` (empty when it passed) lists what a failure
        usually means, the frozen layers first when there are any.

    Example:
        >>> from kerasnets import data, models
        >>> (x, y), _ = data.load("digits", flatten=True)
        >>> r = overfit_test(models.build("mlp", input_shape=(64,)), x, y, steps=100)
        >>> r["passed"]  # doctest: +SKIP
        True
    """
    import keras

    _check_model(model)
    x = _check_data(model, x, y)
    _check_positive(samples, "samples")
    _check_positive(steps, "steps")
    _check_positive(target_loss, "target_loss", integer=False)
    _check_positive(learning_rate, "learning_rate", integer=False)
    x, y = x[:samples], np.asarray(y)[:samples]
    copy = copy_model(model)
    copy.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=loss if loss is not None else _default_loss(model),
    )
    losses = []
    for _ in range(steps):
        out = copy.train_on_batch(x, y)
        losses.append(float(out[0] if isinstance(out, (list, tuple)) else out))
        if not math.isfinite(losses[-1]) or losses[-1] <= target_loss:
            break
    passed = math.isfinite(losses[-1]) and losses[-1] <= target_loss
    frozen = [layer.name for layer in model.layers if layer.weights and not layer.trainable] + (
        [] if model.trainable else [model.name]
    )
    causes = []
    if not passed:
        if frozen:
            causes.append(f"frozen layers: {', '.join(frozen)} (set trainable=True)")
        causes.extend(OVERFIT_CAUSES)
    return {
        "passed": passed,
        "steps": len(losses),
        "initial_loss": losses[0],
        "final_loss": losses[-1],
        "target_loss": target_loss,
        "losses": losses,
        "samples": int(len(x)),
        "frozen_layers": frozen,
        "causes": causes,
    }


# --------------------------------------------------------------------------- LR finder

LR_RULE = (
    "a tenth of the learning rate at the lowest smoothed loss (Smith 2017's range test; "
    "fastai's lr_min): safely below the rate where the loss turns up"
)


class LRFinder(keras.callbacks.Callback):
    """Smith's (2017) learning-rate range test as a Keras callback.

    During one ``fit`` the learning rate grows exponentially from ``start_lr`` to ``end_lr``
    over ``num_steps`` batches; the loss of every batch is recorded; training stops early
    once the smoothed loss exceeds ``divergence`` times its minimum. At the end the model's
    weights, the learning rate and the optimizer's state are put back as they were before
    ``fit`` (an optimizer built during the sweep gets fresh, zero state). Keras reports a
    running mean of the loss per epoch; the per-batch loss is recovered from it exactly
    (equal batch sizes). After ``fit``, :meth:`result` gives the sweep and the suggestion.

    Example:
        >>> finder = LRFinder(start_lr=1e-5, end_lr=1.0, num_steps=50)
        >>> # model.fit(x, y, batch_size=32, callbacks=[finder]); finder.result().suggestion
    """

    def __init__(self, start_lr=1e-6, end_lr=1.0, num_steps=100, smoothing=0.9, divergence=4.0):
        super().__init__()
        _check_positive(start_lr, "start_lr", integer=False)
        _check_positive(end_lr, "end_lr", integer=False)
        if end_lr <= start_lr:
            raise ValueError(f"end_lr ({end_lr!r}) must be larger than start_lr ({start_lr!r})")
        _check_positive(num_steps, "num_steps")
        if num_steps < 5:
            raise ValueError(f"num_steps must be at least 5, got {num_steps!r}")
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
        _check_positive(divergence, "divergence", integer=False)
        self.start_lr, self.end_lr, self.num_steps = start_lr, end_lr, int(num_steps)
        self.smoothing, self.divergence = smoothing, divergence
        self.lrs, self.losses = [], []

    def _lr(self, step):
        return self.start_lr * (self.end_lr / self.start_lr) ** (step / (self.num_steps - 1))

    def _sync(self):
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()

    def on_train_begin(self, logs=None):
        import keras

        self.lrs, self.losses, self._means = [], [], []
        self._step, self._best = 0, math.inf
        self._weights = self.model.get_weights()
        opt = self.model.optimizer
        self._lr0 = float(keras.ops.convert_to_numpy(opt.learning_rate))
        self._opt_state = [keras.ops.convert_to_numpy(v.value) for v in opt.variables]

    def on_train_batch_begin(self, batch, logs=None):
        if self._step >= self.num_steps:
            self.model.stop_training = True
            return
        self._sync()  # on JAX the next step then re-reads the variables, the new rate included
        self.model.optimizer.learning_rate.assign(self._lr(self._step))

    def on_train_batch_end(self, batch, logs=None):
        if self._step >= self.num_steps or logs is None or "loss" not in logs:
            return
        mean = float(logs["loss"])
        k = batch + 1
        previous = self._means[-1] if batch > 0 and self._means else 0.0
        loss = k * mean - (k - 1) * previous if batch > 0 else mean
        self._means.append(mean)
        self.lrs.append(self._lr(self._step))
        self.losses.append(loss)
        self._step += 1
        smooth = _smooth(self.losses, self.smoothing)[-1]
        if not math.isfinite(loss) or smooth > self.divergence * self._best:
            self.model.stop_training = True
        self._best = min(self._best, smooth)
        if self._step >= self.num_steps:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        import keras

        self._sync()
        self.model.set_weights(self._weights)
        opt = self.model.optimizer
        if len(self._opt_state) == len(opt.variables):
            for v, value in zip(opt.variables, self._opt_state):
                v.assign(value)
        else:  # built during the sweep: back to a fresh optimizer's state
            for v in opt.variables:
                v.assign(keras.ops.zeros(v.shape, v.dtype))
        opt.learning_rate.assign(self._lr0)

    def result(self) -> LRFinderResult:
        """The sweep and the suggested learning rate (:class:`LRFinderResult`)."""
        if len(self.losses) < 3:
            raise ValueError(
                f"the sweep recorded {len(self.losses)} steps; it needs at least 3 (give fit "
                "enough batches for num_steps)"
            )
        return LRFinderResult.from_sweep(self.lrs, self.losses, self.smoothing)


def _smooth(losses, beta):
    out, avg = [], 0.0
    for i, value in enumerate(losses):
        avg = beta * avg + (1 - beta) * value
        out.append(avg / (1 - beta ** (i + 1)))  # bias-corrected exponential average
    return out


@dataclasses.dataclass
class LRFinderResult:
    """An LR sweep: rates, losses, the smoothed losses, the suggested rate and the rule.

    The suggestion is a tenth of the rate at the lowest smoothed loss. The steepest-fall rule
    (the other common reading of Smith's plot) was tried here and picked the noise of the
    first steps on short sweeps, so it is not used.
    """

    lrs: list
    losses: list
    smoothed: list
    suggestion: float
    min_loss_lr: float
    rule: str = LR_RULE

    @classmethod
    def from_sweep(cls, lrs, losses, smoothing=0.9):
        smoothed = _smooth(losses, smoothing)
        finite = [i for i, v in enumerate(smoothed) if math.isfinite(v)]
        best = min(finite, key=lambda i: smoothed[i])
        return cls(
            list(map(float, lrs)),
            list(map(float, losses)),
            list(map(float, smoothed)),
            float(lrs[best]) / 10,
            float(lrs[best]),
        )

    def to_dict(self):
        return dataclasses.asdict(self)

    def plot(self, title="Learning-rate range test"):
        """Loss against learning rate (log axis) with the suggestion marked; a Figure."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.losses, color="0.7", lw=1, label="loss per step")
        ax.plot(self.lrs, self.smoothed, color="C0", lw=2, label="smoothed loss")
        ax.axvline(self.suggestion, color="C3", ls="--", label=f"suggested {self.suggestion:.2g}")
        ax.set_xscale("log")
        finite = [v for v in self.smoothed if math.isfinite(v)]
        if finite:
            ax.set_ylim(0, min(max(finite), 4 * min(finite)) * 1.1)
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training loss")
        ax.set_title(title)
        ax.legend(loc="upper left")
        fig.tight_layout()
        return fig


def lr_find(
    model,
    x,
    y,
    start_lr=1e-6,
    end_lr=1.0,
    num_steps=100,
    batch_size=32,
    optimizer="adam",
    loss=None,
    seed=0,
) -> LRFinderResult:
    """Run the LR range test on ``model`` (see :class:`LRFinder`); its weights are restored.

    A compiled model keeps its optimizer and loss; an uncompiled one is compiled with
    ``optimizer`` and ``loss`` (default: sparse categorical cross-entropy, from logits unless
    the model ends in a softmax). The data are repeated as needed to give ``num_steps``
    batches.

    Example:
        >>> from kerasnets import data, models
        >>> (x, y), _ = data.load("digits", flatten=True)
        >>> r = lr_find(models.build("mlp", input_shape=(64,)), x, y, num_steps=60)
        >>> 1e-6 <= r.suggestion <= 1.0  # doctest: +SKIP
        True
    """
    _check_model(model)
    x = _check_data(model, x, y)
    _check_positive(batch_size, "batch_size")
    finder = LRFinder(start_lr, end_lr, num_steps)
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        model.compile(optimizer=optimizer, loss=loss if loss is not None else _default_loss(model))
    needed = int(num_steps) * int(batch_size)
    order = np.random.default_rng(seed).permutation(np.resize(np.arange(len(x)), needed))
    model.fit(
        x[order],
        np.asarray(y)[order],
        batch_size=batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[finder],
    )
    return finder.result()


# --------------------------------------------------------------------------- init report


def _fans(shape):
    shape = tuple(shape)
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def init_report(model, x=None, tolerance: float = 0.2) -> dict:
    """Weight statistics per layer against the initializer's theory, and activations at init.

    For every layer with a ``kernel`` initialized by He (Var = 2/fan_in), Glorot
    (Var = 2/(fan_in + fan_out)) or LeCun (Var = 1/fan_in), normal or uniform, the measured
    mean and standard deviation of the kernel are compared with the theory's; ``ratio`` is
    measured std / theory std and a layer is flagged when it is off by more than
    ``tolerance`` (a trained model's weights have moved from their init, which this shows).
    With ``x``, the mean and variance of every hidden activation on ``x`` are added.

    Returns:
        ``{"layers": [{"layer", "initializer", "theory", "fan_in", "fan_out", "mean", "std",
        "theory_std", "ratio", "flagged"}], "activations": {...} | None, "flagged"}``.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((256,)),
        ...                           keras.layers.Dense(256, kernel_initializer="he_normal")])
        >>> row = init_report(model)["layers"][0]
        >>> row["theory"], round(row["theory_std"], 4), abs(row["ratio"] - 1) < 0.05
        ('He', 0.0884, True)
    """
    import keras

    _check_model(model)
    rows = []
    for layer in weight_layers(model):
        kernel = keras.ops.convert_to_numpy(layer.kernel.value).astype(np.float64)
        init = type(getattr(layer, "kernel_initializer", None)).__name__
        fan_in, fan_out = _fans(kernel.shape)
        if type(layer).__name__ == "DepthwiseConv2D":
            fan_in, fan_out = int(np.prod(kernel.shape[:2])), int(np.prod(kernel.shape[:2]))
        theory = THEORY.get(init)
        row = {
            "layer": layer.name,
            "initializer": init,
            "theory": theory[0] if theory else None,
            "fan_in": int(fan_in),
            "fan_out": int(fan_out),
            "mean": float(kernel.mean()),
            "std": float(kernel.std()),
            "theory_std": None,
            "ratio": None,
            "flagged": False,
        }
        if theory:
            fan = fan_in if theory[2] == "fan_in" else (fan_in + fan_out)
            row["theory_std"] = math.sqrt(theory[1] / fan)
            row["ratio"] = row["std"] / row["theory_std"]
            row["flagged"] = abs(row["ratio"] - 1) > tolerance
        rows.append(row)
    activations = None
    if x is not None:
        x = _check_data(model, x)
        stats = activation_stats(model, x)
        activations = {
            "layers": stats["layers"],
            "mean": stats["mean"],
            "variance": [s * s for s in stats["std"]],
            "dead_fraction": stats["dead_fraction"],
        }
    return {
        "layers": rows,
        "activations": activations,
        "flagged": [r["layer"] for r in rows if r["flagged"]],
    }


def propagate(
    activation="relu", initializer="he_normal", depth=20, width=256, samples=1024, seed=0
) -> dict:
    """Mean and variance of the activations through ``depth`` Dense layers at initialization.

    Inputs are standard normal (mean 0, variance 1), biases zero. The lecture's three cases:
    sigmoid with Glorot shrinks the variance layer after layer (vanishing), ReLU needs He
    (Var = 2/fan_in) to keep it steady, and SELU with LeCun converges to the fixed point
    mean 0, variance 1.

    Returns ``{"activation", "initializer", "layers": [1..depth], "mean", "variance"}``.

    Example:
        >>> r = propagate("relu", "he_normal", depth=10, width=128)
        >>> 0.5 < r["variance"][-1] < 2.0
        True
    """
    import keras

    from kerasnets import activations

    activations.check(activation)
    _check_positive(depth, "depth")
    _check_positive(width, "width")
    _check_positive(samples, "samples")
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((width,))
    h, outs = inputs, []
    for i in range(depth):
        h = keras.layers.Dense(width, kernel_initializer=initializer, name=f"dense{i + 1}")(h)
        h = activations.get(activation, layer_name=f"act{i + 1}")(h)
        outs.append(h)
    probe = keras.Model(inputs, outs)
    x = np.random.default_rng(seed).standard_normal((samples, width)).astype("float32")
    values = [np.asarray(keras.ops.convert_to_numpy(o), np.float64) for o in probe(x)]
    return {
        "activation": activation,
        "initializer": initializer,
        "layers": list(range(1, depth + 1)),
        "mean": [float(v.mean()) for v in values],
        "variance": [float(v.var()) for v in values],
    }


# --------------------------------------------------------------------------- doctor


def doctor(model, x, y, lr_steps: int = 60, overfit_steps: int = 200, entries: int = 5) -> dict:
    """Run the four checks on ``model`` with data ``x, y``; return results and findings.

    Each finding is ``{"check", "ok", "finding", "remedy"}``: the gradient check (autodiff vs
    finite differences), the overfit test, the LR finder (on a copy; the model is not
    changed) and the initialization report.

    Example:
        >>> from kerasnets import data, models
        >>> (x, y), _ = data.load("digits", flatten=True)
        >>> report = doctor(models.build("mlp", input_shape=(64,)), x, y)  # doctest: +SKIP
        >>> [f["check"] for f in report["findings"]]  # doctest: +SKIP
        ['gradient check', 'overfit test', 'learning rate', 'initialization']
    """
    _check_model(model)
    x = _check_data(model, x, y)
    grad = gradient_check(model, x[:8], np.asarray(y)[:8], entries=entries)
    over = overfit_test(model, x, y, steps=overfit_steps)
    lr = lr_find(copy_model(model), x, y, num_steps=lr_steps)
    init = init_report(model, x[:256])
    findings = []
    if grad["passed"]:
        worst = max((r["relative_error"] for r in grad["layers"]), default=0.0)
        findings.append(
            {
                "check": "gradient check",
                "ok": True,
                "finding": f"autodiff matches finite differences in every layer ({grad['dtype']}, "
                f"largest relative error {worst:.1e} ≤ {grad['tolerance']:.0e})",
                "remedy": "",
            }
        )
    else:
        findings.append(
            {
                "check": "gradient check",
                "ok": False,
                "finding": f"gradients disagree with finite differences in: "
                f"{', '.join(grad['flagged'])}",
                "remedy": "check the custom layers' call() for stop_gradient, non-differentiable "
                "ops or a hand-written gradient",
            }
        )
    if over["passed"]:
        finding = (
            f"loss {over['initial_loss']:.3g} → {over['final_loss']:.3g} on "
            f"{over['samples']} samples in {over['steps']} steps"
        )
        findings.append({"check": "overfit test", "ok": True, "finding": finding, "remedy": ""})
    else:
        findings.append(
            {
                "check": "overfit test",
                "ok": False,
                "finding": f"loss only reached {over['final_loss']:.3g} (target "
                f"{over['target_loss']}) on {over['samples']} samples in {over['steps']} steps",
                "remedy": "look for " + "; ".join(over["causes"]),
            }
        )
    findings.append(
        {
            "check": "learning rate",
            "ok": True,
            "finding": f"suggested learning rate {lr.suggestion:.2g} (lowest loss at "
            f"{lr.min_loss_lr:.2g}; rule: {lr.rule})",
            "remedy": "",
        }
    )
    dead = (init["activations"] or {}).get("dead_fraction") or []
    worst_dead = max(dead, default=0.0)
    problems = []
    if init["flagged"]:
        problems.append(
            f"weights off their initializer's theory in {', '.join(init['flagged'][:5])}"
            + (" …" if len(init["flagged"]) > 5 else "")
        )
    if worst_dead > 0.4:
        problems.append(f"up to {worst_dead:.0%} dead units in a layer")
    findings.append(
        {
            "check": "initialization",
            "ok": not problems,
            "finding": "; ".join(problems)
            or f"{len(init['layers'])} weight layers at their initializer's scale",
            "remedy": (
                "for a freshly built model use He init with ReLU, LeCun with SELU, Glorot with "
                "sigmoid/tanh; for dead units: Leaky ReLU/PReLU, a lower learning rate"
                if problems
                else ""
            ),
        }
    )
    return {
        "model": model.name,
        "gradient_check": grad,
        "overfit": over,
        "lr_finder": lr.to_dict(),
        "init": init,
        "findings": findings,
    }


__all__ = [
    "LRFinder",
    "LRFinderResult",
    "LR_RULE",
    "copy_model",
    "doctor",
    "gradient_check",
    "init_report",
    "lr_find",
    "overfit_test",
    "propagate",
    "activation_stats",
    "gradient_magnitudes",
    "weight_layers",
]


# --- per-layer snapshots, measured by the training monitors of ``callbacks`` -------------------
# (one diagnostics implementation: the same statistics the monitors log during fit)


def weight_layers(model) -> list:
    """The layers with a ``kernel`` (Dense, Conv, ...), input to output, nested models included."""
    from kerasnets.graph import flat_layers

    return [layer for layer in flat_layers(model) if hasattr(layer, "kernel")]


def activation_stats(model, x) -> dict:
    """Mean, std, zero share and dead-unit share of the watched hidden layers on ``x``, now.

    Measured by :class:`callbacks.ActivationStatsMonitor` and :class:`callbacks.DeadNeuronMonitor`
    (``measure``: nothing is recorded, the model does not change). Returns ``{"layers": [...],
    "mean": [...], "std": [...], "zero_fraction": [...], "dead_fraction": [...]}``; a layer the
    dead-unit monitor does not watch (no ReLU family) has dead fraction 0.
    """
    from callbacks import ActivationStatsMonitor, DeadNeuronMonitor

    stats = ActivationStatsMonitor(x, histogram_bins=0, atol=1e-6, probe_size=None)
    per_layer = stats.measure(model)["layers"]
    dead = DeadNeuronMonitor(x, atol=0.0, probe_size=None).measure(model)["layers"]
    names = list(per_layer)
    return {
        "layers": names,
        "mean": [per_layer[n]["mean"] for n in names],
        "std": [per_layer[n]["std"] for n in names],
        "zero_fraction": [per_layer[n]["sparsity"] for n in names],
        "dead_fraction": [dead.get(n, {}).get("dead_unit_fraction", 0.0) for n in names],
    }


def gradient_magnitudes(model, x, y, loss="sparse_categorical_crossentropy") -> dict:
    """Mean |∂L/∂kernel| per weight layer on ``(x, y)``, input to output (inference mode).

    Measured by :class:`callbacks.GradientFlowMonitor`; returns ``{"layers": [...],
    "mean_abs": [...]}``.
    """
    from callbacks import GradientFlowMonitor

    names = [layer.name for layer in weight_layers(model)]
    flow = GradientFlowMonitor(x, y, loss=loss, layers=names, training=False, probe_size=None)
    per_layer = flow.measure(model)["layers"]
    return {"layers": names, "mean_abs": [per_layer[n]["kernel_grad_mean_abs"] for n in names]}
