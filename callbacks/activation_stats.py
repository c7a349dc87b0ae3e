"""ActivationStatsMonitor: mean, spread, sparsity and histograms of layer outputs."""

from __future__ import annotations

import numpy as np

from callbacks._base import OutputMonitor, _positive_int_or_none


def sorted_histogram(s, bins: int):
    """``np.histogram(finite values, bins)`` of a sorted array ``s`` (NaN and ±Inf left out):
    counts and float64 edges, equal-width between the smallest and largest finite value."""
    finite = s[np.searchsorted(s, -np.inf, "right") : np.searchsorted(s, np.inf, "left")]
    finite = finite.astype(np.float64)
    if finite.size:
        low, high = finite[0], finite[-1]
    else:
        low, high = np.float64(0.0), np.float64(1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    # Bin i holds edges[i] <= v < edges[i + 1]; the last bin also holds v == edges[-1].
    bounds = np.searchsorted(finite, edges, "left")
    bounds[-1] = np.searchsorted(finite, edges[-1], "right")
    return np.diff(bounds), edges


class ActivationStatsMonitor(OutputMonitor):
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
        every_n_batches, probe_size, seed, batch_size, log_dir: as for the other monitors.

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

    tensorboard_section = "activation_stats"

    _purpose = "collect activation statistics of"

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
        log_dir=None,
    ):
        if histogram_bins != 0:
            _positive_int_or_none(histogram_bins, "histogram_bins")
        self.histogram_bins = histogram_bins or 0
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
        per_layer, zeros, total = {}, 0, 0
        for name, a in self._outputs_now().items():
            stats, n_zero = self._layer_stats(a.reshape(-1))
            per_layer[name] = stats
            zeros += n_zero
            total += a.size
        return per_layer, {"activation_sparsity": zeros / max(total, 1)}

    def _layer_stats(self, a):
        """Statistics of one layer's flat outputs ``a`` and its number of zeros.

        One sort does most of the work: the zero count, the finite range and the histogram are
        then binary searches. The histogram equals ``np.histogram`` of the finite values (same
        float64 edges, same half-open bins, last bin closed) at a fraction of its cost.
        """
        s = np.sort(a)  # NaN sorts last
        n_zero = int(
            np.searchsorted(s, self.atol, "right") - np.searchsorted(s, -self.atol, "left")
        )
        stats = {
            "mean": float(a.mean(dtype=np.float64)),
            "std": float(a.std(dtype=np.float64)),
            "min": float(s[-1] if np.isnan(s[-1]) else s[0]),  # NaN in, NaN out, as a.min()
            "max": float(s[-1]),
            "sparsity": n_zero / a.size,
        }
        if self.histogram_bins:
            counts, edges = sorted_histogram(s, self.histogram_bins)
            stats["histogram_counts"] = counts.tolist()
            stats["histogram_edges"] = edges.tolist()
        return stats, n_zero

    def plot(self, check=-1, title=None):
        """Histograms of the activations per layer at one check (default: the last), as a
        Figure; each panel is titled with the layer name, mean, std and sparsity."""
        from callbacks._plots import activation_histograms_figure

        return activation_histograms_figure(self, check, title)
