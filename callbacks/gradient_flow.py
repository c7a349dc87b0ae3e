"""GradientFlowMonitor: per-layer gradient norms on a probe batch, vanishing and exploding."""

from __future__ import annotations

import math

import numpy as np

from callbacks._base import Monitor, _positive


def weight_groups(tree, names) -> dict[str, list[tuple[str, int]]]:
    """``{layer: [(weight key, index in model.trainable_variables), ...]}`` for ``names``.

    The weight key is the weight's name (``kernel``, ``bias``), with a suffix when a composite
    layer holds two weights of one name.
    """
    owners = tree.weight_owners()
    groups = {name: [] for name in names}
    for index, variable in enumerate(tree.model.trainable_variables):
        owner = owners.get(id(variable))
        if owner is None or owner[0] not in groups:
            continue
        layer, weight = owner
        taken = {key for key, _ in groups[layer]}
        key, i = weight, 1
        while key in taken:
            i += 1
            key = f"{weight}_{i}"
        groups[layer].append((key, index))
    return groups


def gradient_sums(monitor):
    """``(loss, [(L2 norm, sum of |g|, size) per trainable variable])`` of the monitor's loss
    on its probe at the current weights, from :func:`kerasnets.backend.loss_and_gradients`.

    Computed once per check for the monitors of a ``fit`` that use the same probe, loss and mode
    (gradient flow and explosion).
    """
    from kerasnets.backend import loss_and_gradients

    def compute():
        loss, grads = loss_and_gradients(
            monitor._model,
            monitor.x_probe,
            monitor.y_probe,
            loss=monitor.loss,
            training=monitor.training,
        )
        sums = []
        for g in grads.values():
            g = np.abs(g.astype(np.float64, copy=False))  # (not g @ g: BLAS threads cost more)
            sums.append((math.sqrt(np.square(g).sum()), float(g.sum()), g.size))
        return loss, sums

    loss = monitor.loss
    loss_key = loss if loss is None or isinstance(loss, str) else id(loss)
    key = ("gradients", monitor._probe_key, loss_key, monitor.training)
    return monitor._shared(key, compute)


def layer_norm(weights, sums) -> float:
    """The L2 norm of a layer's whole gradient from its weights' norms."""
    return math.sqrt(sum(sums[i][0] ** 2 for _, i in weights))


def gradient_stats(weights, sums) -> dict:
    """``grad_norm`` and ``grad_mean_abs`` of a layer, and ``<weight>_grad_norm`` /
    ``<weight>_grad_mean_abs`` per weight (``kernel_grad_norm``, ``bias_grad_norm``, ...), from
    the layer's ``[(weight key, variable index)]`` and :func:`gradient_sums`' sums."""
    stats = {
        "grad_norm": layer_norm(weights, sums),
        "grad_mean_abs": sum(sums[i][1] for _, i in weights) / sum(sums[i][2] for _, i in weights),
    }
    for key, i in weights:
        norm, absolute, size = sums[i]
        stats[f"{key}_grad_norm"] = norm
        stats[f"{key}_grad_mean_abs"] = absolute / size
    return stats


def _has_weights(layer):
    return bool(layer.trainable_weights)


class GradientFlowMonitor(Monitor):
    """Track how the gradient reaches each layer: per-layer gradient norms on a probe batch.

    At each check the gradient of the loss on ``(x_probe, y_probe)`` with respect to every
    trainable weight is computed with :func:`kerasnets.backend.loss_and_gradients` (TF tape,
    ``jax.grad`` or torch autograd, on the current weights, in training mode by default, as the
    optimizer sees it) — nothing of the training run changes: no weight, moving statistic,
    optimizer state or seed. Per layer it records the L2 norm and mean ``|g|`` of
    the layer's gradient, and of each weight separately (``kernel_grad_norm``,
    ``bias_grad_norm``, ...), and ``grad_norm_to_last``: the layer's norm over the last watched
    layer's.

    A layer whose ``grad_norm_to_last`` falls below ``vanishing_ratio`` gets a vanishing-
    gradient warning, one above ``exploding_ratio`` an exploding-gradient warning (once per
    layer, with the remedies). ``summary`` (and the Keras logs) get
    ``grad_norm_first_over_last`` (first watched layer's norm over the last one's: the
    lecture's vanishing-gradient number), ``grad_norm_global`` (all watched weights) and
    ``probe_loss`` (the loss on the probe; only this monitor reports it).

    Args:
        x_probe, y_probe: probe inputs and targets (a batch, e.g. 256 training samples).
        loss: the loss (name, ``keras.losses.Loss`` or callable); default: the compiled one.
        layers: layer names to watch; default: every layer with trainable weights, in graph
            order (so "first" and "last" are the input and output ends).
        vanishing_ratio: threshold of ``grad_norm_to_last`` for vanishing (0.01).
        exploding_ratio: threshold of ``grad_norm_to_last`` for exploding (100).
        training: compute the gradient in training mode (default: BatchNorm on batch
            statistics, dropout on). ``False`` gives inference-mode gradients; in a BatchNorm
            network whose moving statistics are still at their initial values those are far
            from the ones training uses.
        every_n_batches, probe_size, seed, log_dir: as for the other monitors.

    Example:
        >>> import keras, numpy as np
        >>> from callbacks import GradientFlowMonitor
        >>> model = keras.Sequential([keras.Input((4,))] + [keras.layers.Dense(
        ...     8, activation="sigmoid") for _ in range(6)] + [keras.layers.Dense(2)])
        >>> model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> x, y = np.random.rand(64, 4).astype("float32"), np.arange(64) % 2
        >>> monitor = GradientFlowMonitor(x, y)
        >>> _ = model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])  # doctest: +SKIP
        >>> monitor.summary["grad_norm_first_over_last"][-1] < 0.01  # doctest: +SKIP
        True
    """

    tensorboard_section = "gradient_flow"

    def __init__(
        self,
        x_probe,
        y_probe,
        *,
        loss=None,
        layers=None,
        vanishing_ratio=0.01,
        exploding_ratio=100.0,
        training=True,
        every_n_batches=None,
        probe_size=256,
        seed=0,
        log_dir=None,
    ):
        self.loss = loss
        self.vanishing_ratio = _positive(vanishing_ratio, "vanishing_ratio")
        self.exploding_ratio = _positive(exploding_ratio, "exploding_ratio")
        if self.vanishing_ratio >= self.exploding_ratio:
            raise ValueError(
                f"vanishing_ratio ({vanishing_ratio}) must be below exploding_ratio "
                f"({exploding_ratio})"
            )
        self.training = bool(training)
        super().__init__(
            x_probe,
            y_probe,
            layers=layers,
            every_n_batches=every_n_batches,
            probe_size=probe_size,
            seed=seed,
            needs_targets=True,
            log_dir=log_dir,
        )

    def _setup(self, tree):
        self.layer_names = tree.resolve(
            self.layer_names_requested, _has_weights, "compute gradients for"
        )
        empty = [n for n in self.layer_names if not tree.layers[n].trainable_weights]
        if empty:
            raise ValueError(f"layers {empty} have no trainable weights, so no gradient")
        self._groups = weight_groups(tree, self.layer_names)

    def _compute(self):
        loss, sums = gradient_sums(self)
        per_layer = {name: gradient_stats(w, sums) for name, w in self._groups.items()}
        last = per_layer[self.layer_names[-1]]["grad_norm"]
        first = per_layer[self.layer_names[0]]["grad_norm"]
        for stats in per_layer.values():
            stats["grad_norm_to_last"] = _ratio(stats["grad_norm"], last)
        total = float(np.sqrt(sum(s["grad_norm"] ** 2 for s in per_layer.values())))
        summary = {
            "grad_norm_first_over_last": _ratio(first, last),
            "grad_norm_global": total,
            "probe_loss": loss,
        }
        return per_layer, summary

    def _inspect(self, per_layer, summary, where):
        last = self.layer_names[-1]
        for name, stats in per_layer.items():
            ratio = stats["grad_norm_to_last"]
            if ratio < self.vanishing_ratio:
                self._warn(
                    ("vanishing", name),
                    f"GradientFlowMonitor: vanishing gradient at layer {name!r} at {where}: "
                    f"its gradient norm {stats['grad_norm']:.3g} is {ratio:.2g}x that of the "
                    f"last layer {last!r} (threshold {self.vanishing_ratio:g}x). Remedies: "
                    "ReLU-family activations with He initialization instead of sigmoid/tanh, "
                    "residual (skip) connections, batch normalization.",
                )
            elif ratio > self.exploding_ratio:
                self._warn(
                    ("exploding", name),
                    f"GradientFlowMonitor: exploding gradient at layer {name!r} at {where}: "
                    f"its gradient norm {stats['grad_norm']:.3g} is {ratio:.3g}x that of the "
                    f"last layer {last!r} (threshold {self.exploding_ratio:g}x). Remedies: "
                    "gradient clipping (optimizer clipnorm=1.0), a lower learning rate, "
                    "careful initialization, batch normalization.",
                )

    def plot(self, title=None):
        """Gradient-norm heatmap (layers x checks, log colour scale) and the per-layer norm
        profile at the first and last check, as a Figure."""
        from callbacks._plots import gradient_flow_figure

        return gradient_flow_figure(self, title)


def _ratio(a, b):
    if b == 0:
        return float("inf") if a > 0 else float("nan")
    return float(a / b)
