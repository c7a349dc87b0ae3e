"""GradientFlowMonitor: per-layer gradient norms on a probe batch, vanishing and exploding."""

from __future__ import annotations

import numpy as np

from callbacks._base import Monitor, _positive


def layer_gradients(monitor, tree_owners, names):
    """``(loss, {layer: {weight_name: gradient}})`` on the monitor's probe, current weights."""
    from kerasnets.backend import loss_and_gradients

    model = monitor._model
    loss, grads = loss_and_gradients(
        model, monitor.x_probe, monitor.y_probe, loss=monitor.loss, training=monitor.training
    )
    wanted = set(names)
    grouped = {name: {} for name in names}
    for variable, gradient in zip(model.trainable_variables, grads.values()):
        owner = tree_owners.get(id(variable))
        if owner is not None and owner[0] in wanted:
            layer, weight = owner
            key = weight
            i = 1
            while key in grouped[layer]:  # two weights with one name in a composite layer
                i += 1
                key = f"{weight}_{i}"
            grouped[layer][key] = gradient.astype(np.float64)
    return loss, grouped


def gradient_stats(weights: dict) -> dict:
    """``grad_norm`` and ``grad_mean_abs`` of a layer, and ``<weight>_grad_norm`` /
    ``<weight>_grad_mean_abs`` per weight (``kernel_grad_norm``, ``bias_grad_norm``, ...)."""
    flat = np.concatenate([g.ravel() for g in weights.values()])
    stats = {
        "grad_norm": float(np.sqrt(np.sum(flat**2))),
        "grad_mean_abs": float(np.mean(np.abs(flat))),
    }
    for weight, g in weights.items():
        stats[f"{weight}_grad_norm"] = float(np.sqrt(np.sum(g**2)))
        stats[f"{weight}_grad_mean_abs"] = float(np.mean(np.abs(g)))
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
    lecture's vanishing-gradient number) and ``grad_norm_global`` (all watched weights).

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
        every_n_batches, probe_size, seed: as for the other monitors.

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
        )

    def _setup(self, tree):
        self.layer_names = tree.resolve(
            self.layer_names_requested, _has_weights, "compute gradients for"
        )
        empty = [n for n in self.layer_names if not tree.layers[n].trainable_weights]
        if empty:
            raise ValueError(f"layers {empty} have no trainable weights, so no gradient")
        self._owners = tree.weight_owners()

    def _compute(self):
        loss, grouped = layer_gradients(self, self._owners, self.layer_names)
        per_layer = {name: gradient_stats(w) for name, w in grouped.items()}
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
