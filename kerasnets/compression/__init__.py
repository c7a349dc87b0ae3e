"""Model compression for Keras 3 on TensorFlow, JAX and PyTorch.

The lecture's five techniques, for any Functional or Sequential Keras 3 model (the zoo's
included), all written with ``keras.ops`` so they run unchanged on every backend:

=====================  ===============================================================
pruning                :func:`prune_low_magnitude` + :class:`ConstantSparsity` /
                       :class:`PolynomialDecay` (tfmot's schedules), unstructured, M:N
                       or filters, per-layer or global threshold; :func:`strip_pruning`;
                       one call: :func:`prune_and_finetune`
structured pruning     :func:`prune_filters`: removes filters/units for real, residual
                       adds and concatenations kept consistent
weight sharing         :func:`cluster_weights` (k-means, linear or k-means++ init),
                       :func:`strip_clustering`; one call: :func:`cluster_and_finetune`
low-rank               :func:`low_rank` (SVD of Dense / Conv2D at a rank or energy)
distillation           :class:`Distiller` (plain ``fit``/``evaluate``)
quantization           :func:`quantize` (Keras 3 int8, or float16) with before/after
report                 :func:`report`: sparsity, unique values, params, MACs, bytes, gzip
all of it              :func:`compress` (what ``kerasnets compress`` runs)
=====================  ===============================================================

Example:
    >>> import keras
    >>> from kerasnets import compression
    >>> model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32),
    ...                           keras.layers.Dense(10)])
    >>> pruned = compression.prune_low_magnitude(
    ...     model, compression.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100))
    >>> # pruned.compile(...); pruned.fit(...)   # masks follow the schedule on every backend
    >>> plain = compression.strip_pruning(pruned)
    >>> print(compression.report(plain))  # doctest: +SKIP
"""

from kerasnets.compression.clustering import (
    ClusterWeights,
    cluster_and_finetune,
    cluster_weights,
    kmeans_1d,
    strip_clustering,
    unique_values,
)
from kerasnets.compression.distillation import Distiller
from kerasnets.compression.lowrank import LowRankResult, low_rank
from kerasnets.compression.pipeline import CompressResult, compress
from kerasnets.compression.pruning import (
    PruneLowMagnitude,
    kernel_sparsity,
    prune_and_finetune,
    prune_low_magnitude,
    strip_pruning,
)
from kerasnets.compression.quantization import QuantizationResult, quantize, weight_bytes
from kerasnets.compression.report import CompressionReport, report
from kerasnets.compression.schedules import ConstantSparsity, PolynomialDecay, PruningSchedule
from kerasnets.compression.structured import prune_filters

__all__ = [
    "ClusterWeights",
    "CompressResult",
    "CompressionReport",
    "ConstantSparsity",
    "Distiller",
    "LowRankResult",
    "PolynomialDecay",
    "PruneLowMagnitude",
    "PruningSchedule",
    "QuantizationResult",
    "cluster_and_finetune",
    "cluster_weights",
    "compress",
    "kernel_sparsity",
    "kmeans_1d",
    "low_rank",
    "prune_and_finetune",
    "prune_filters",
    "prune_low_magnitude",
    "quantize",
    "report",
    "strip_clustering",
    "strip_pruning",
    "unique_values",
    "weight_bytes",
]
