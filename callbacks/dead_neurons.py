"""DeadNeuronMonitor: the share of units that never activate on a fixed probe set."""

from __future__ import annotations

import numpy as np

from callbacks._base import OutputMonitor, _fraction


class DeadNeuronMonitor(OutputMonitor):
    """Track the share of dead units per layer during training, and warn past a threshold.

    A unit is *dead* when its output is zero (``|a| <= atol``) for every probe sample; a conv
    channel counts as one unit, dead if zero at every position of every sample (the unit axis
    is the last one, channels-last). A dead ReLU unit gets no gradient and no longer learns: the
    lecture's "dead ReLU problem", with more than 40% of units inactive as its symptom.

    By default every layer whose output is a hidden activation is watched: activation layers
    (``ReLU``, ``Activation``, ...) and layers with a nonlinear ``activation`` other than
    softmax. When a layer's dead share exceeds ``threshold`` a
    :class:`~callbacks.TrainingDiagnosticWarning` names the layer and the remedies, once per
    layer.

    Args:
        x_probe: probe inputs (an array, or a list/dict of arrays for a multi-input model),
            e.g. a slice of the training data.
        layers: layer names to watch (``"block/dense"`` inside a nested model, or a unique bare
            name); default: the activation layers described above.
        threshold: dead share of a layer that triggers the warning (0.4).
        atol: outputs with ``|a| <= atol`` count as zero; 0 for ReLU, a small tolerance for
            smooth activations (GELU, Swish, ELU).
        every_n_batches: check every N training batches instead of at the end of every epoch.
        probe_size: use a seeded sample of this many probe samples (None: all of them).
        seed: seed of that sample.
        batch_size: batch size of the forward pass over the probe.
        log_dir: a TensorBoard log directory: write the per-layer numbers there while training
            (run ``log_dir/diagnostics``, section ``dead_neurons``, one chart per layer and
            statistic, on the steps of ``keras.callbacks.TensorBoard``; no TensorFlow needed).

    ``history[layer]`` holds per check ``dead_unit_fraction``, ``dead_units`` and ``units``;
    ``summary["dead_unit_fraction"]`` (all watched units together) also goes into the logs.

    Example:
        >>> import keras, numpy as np
        >>> from callbacks import DeadNeuronMonitor
        >>> model = keras.Sequential([keras.Input((4,)),
        ...     keras.layers.Dense(8, activation="relu", bias_initializer="ones"),
        ...     keras.layers.Dense(2, activation="softmax")])
        >>> model.compile("sgd", "sparse_categorical_crossentropy")
        >>> x, y = np.random.rand(32, 4).astype("float32"), np.zeros(32, "int32")
        >>> monitor = DeadNeuronMonitor(x)
        >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
        >>> monitor.summary["dead_unit_fraction"]  # initial weights, epoch 1, epoch 2
        [0.0, 0.0, 0.0]
    """

    tensorboard_section = "dead_neurons"
    tensorboard_skip = ("units",)  # a constant

    _purpose = "watch for dead units"

    def __init__(
        self,
        x_probe,
        *,
        layers=None,
        threshold=0.4,
        atol=0.0,
        every_n_batches=None,
        probe_size=256,
        seed=0,
        batch_size=256,
        log_dir=None,
    ):
        self.threshold = _fraction(threshold, "threshold")
        super().__init__(
            x_probe,
            layers=layers,
            atol=atol,
            every_n_batches=every_n_batches,
            probe_size=probe_size,
            seed=seed,
            batch_size=batch_size,
            log_dir=log_dir,
        )

    def _compute(self):
        outputs = self._outputs_now()
        per_layer, dead_total, units_total = {}, 0, 0
        for name, a in outputs.items():
            units = a.shape[-1]
            a = a.reshape(-1, units)
            # Dead: |a| <= atol on every sample (NaN is not zero); any() is the fast exact test.
            alive = a.any(axis=0) if self.atol == 0 else ~(np.abs(a) <= self.atol).all(axis=0)
            dead = int(units - alive.sum())
            per_layer[name] = {
                "dead_unit_fraction": dead / units,
                "dead_units": dead,
                "units": int(units),
            }
            dead_total += dead
            units_total += units
        return per_layer, {"dead_unit_fraction": dead_total / max(units_total, 1)}

    def _inspect(self, per_layer, summary, where):
        for name, values in per_layer.items():
            share = values["dead_unit_fraction"]
            if share > self.threshold:
                self._warn(
                    name,
                    f"DeadNeuronMonitor: {share:.0%} of the units of layer {name!r} are dead "
                    f"({values['dead_units']} of {values['units']} output 0 on every probe "
                    f"sample) at {where}, over the {self.threshold:.0%} threshold. Remedies: "
                    "Leaky ReLU or PReLU instead of ReLU, a lower learning rate, better "
                    "initialization (He normal, biases at 0).",
                )

    def plot(self, title=None):
        """Dead-unit share per layer over the checks (one line per layer), as a Figure."""
        from callbacks._plots import dead_share_figure

        return dead_share_figure(self, title)
