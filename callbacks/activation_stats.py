"""ActivationStatsMonitor: mean, spread, sparsity and histograms of layer outputs."""

from __future__ import annotations

import numpy as np

from callbacks._base import Monitor, _fraction, _positive_int_or_none, sync_state
from callbacks._probe import LayerOutputs, is_activation_layer


class ActivationStatsMonitor(Monitor):
    """Track per-layer activation statistics on a fixed probe set during training.

    For each watched layer and each check: ``mean``, ``std`` (population, over all probe
    samples, positions and units), ``min``, ``max``, ``sparsity`` (share of outputs with
    ``|a| <= atol``, i.e. of zeros by default) and, unless ``histogram_bins`` is 0, a histogram
    (``histogram_counts`` with its ``histogram_edges``). Saturating activations show up as mass
    at the ends of the range, dying ones as sparsity creeping towards 1.

    Args:
        x_probe: probe inputs (an array, or a list/dict of arrays).
        layers: layer names to watch; default: the hidden activation layers (as in
            :class:`~callbacks.DeadNeuronMonitor`). Any layer may be named, e.g. a ``Dense``
            with a linear activation.
        histogram_bins: number of histogram bins (0: no histograms).
        atol: outputs with ``|a| <= atol`` count as zero for ``sparsity``.
        every_n_batches, probe_size, seed, batch_size: as for the other monitors.

    ``summary["activation_sparsity"]`` (share of zeros over all watched outputs) also goes into
    the Keras logs.

    Example:
        >>> import keras, numpy as np
        >>> from callbacks import ActivationStatsMonitor
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(
        ...     2, kernel_initializer="ones", name="sum")])
        >>> monitor = ActivationStatsMonitor(np.eye(3, dtype="float32"), layers=["sum"])
        >>> stats = monitor.measure(model)["layers"]["sum"]
        >>> stats["mean"], stats["std"], stats["sparsity"]
        (1.0, 0.0, 0.0)
    """

    def __init__(
        self,
        x_probe,
        *,
        layers=None,
        histogram_bins=30,
        atol=0.0,
        every_n_batches=None,
        probe_size=256,
        seed=0,
        batch_size=256,
    ):
        if histogram_bins != 0:
            _positive_int_or_none(histogram_bins, "histogram_bins")
        self.histogram_bins = histogram_bins or 0
        self.atol = _fraction(atol, "atol", 0.0, float("inf"))
        if batch_size is None:
            raise ValueError("batch_size must be a positive int, got None")
        self.batch_size = _positive_int_or_none(batch_size, "batch_size")
        super().__init__(
            x_probe,
            layers=layers,
            every_n_batches=every_n_batches,
            probe_size=probe_size,
            seed=seed,
        )

    def _setup(self, tree):
        self.layer_names = tree.resolve(
            self.layer_names_requested, is_activation_layer, "collect activation statistics of"
        )
        self._outputs = LayerOutputs.reuse(tree, self.layer_names, self.batch_size)

    def _compute(self):
        sync_state(self._model)
        per_layer, zeros, total = {}, 0, 0
        for name, a in self._outputs(self.x_probe).items():
            a = a.astype(np.float64).ravel()
            n_zero = int((np.abs(a) <= self.atol).sum())
            finite = a[np.isfinite(a)]
            stats = {
                "mean": float(a.mean()),
                "std": float(a.std()),
                "min": float(a.min()),
                "max": float(a.max()),
                "sparsity": n_zero / a.size,
            }
            if self.histogram_bins:
                counts, edges = np.histogram(finite, bins=self.histogram_bins)
                stats["histogram_counts"] = counts.tolist()
                stats["histogram_edges"] = edges.tolist()
            per_layer[name] = stats
            zeros += n_zero
            total += a.size
        return per_layer, {"activation_sparsity": zeros / max(total, 1)}

    def plot(self, check=-1, title=None):
        """Histograms of the activations per layer at one check (default: the last), as a
        Figure; each panel is titled with the layer name, mean, std and sparsity."""
        from callbacks._plots import activation_histograms_figure

        return activation_histograms_figure(self, check, title)
