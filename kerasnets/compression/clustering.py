"""Weight sharing: k-means clustering of kernels, tied fine-tuning, and a strip step.

:func:`cluster_weights` replaces each chosen kernel by ``k`` centroids and an index per weight
(:class:`ClusterWeights`). While fine-tuning, the forward pass uses ``centroids[indices]``, so
the weights stay tied to their cluster: the gradient of a centroid is the sum of the gradients
of its weights, and the assignments (``indices``, non-trainable) do not change.
:func:`strip_clustering` writes ``centroids[indices]`` back into plain built-in layers, leaving
at most ``k`` unique values per kernel (which is what makes the file compress well).

Example:
    >>> import keras
    >>> from kerasnets import compression
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="fc"),
    ...                           keras.layers.Dense(4, name="out")])
    >>> clustered = compression.cluster_weights(model, 4, init="linear")
    >>> plain = compression.strip_clustering(clustered)
    >>> compression.unique_values(plain)["fc"] <= 4
    True
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasnets.compression._graph import (
    copy_layer,
    flat_layers,
    kernel_weights,
    rebuild,
    select_layers,
)

INITS = ("kmeans++", "linear")


def check_clusters(number_of_clusters):
    """Return ``number_of_clusters`` as an int if it is an integer >= 2, else ``ValueError``."""
    if isinstance(number_of_clusters, bool) or int(number_of_clusters) != number_of_clusters:
        raise ValueError(f"number_of_clusters must be an integer >= 2, got {number_of_clusters!r}")
    if number_of_clusters < 2:
        raise ValueError(f"number_of_clusters must be >= 2, got {number_of_clusters!r}")
    return int(number_of_clusters)


def kmeans_1d(values, k, init="kmeans++", iterations=30, seed=0):
    """Cluster scalar ``values`` into ``k`` groups; return ``(centroids, indices)``.

    scikit-learn's :class:`~sklearn.cluster.KMeans` (Lloyd, one run) does the work;
    centroids come back sorted and ``indices`` refer to them. ``init="linear"`` spaces the
    initial centroids evenly between min and max (tfmot's ``LINEAR``, good at keeping
    large-magnitude weights); ``"kmeans++"`` is scikit-learn's k-means++.

    Example:
        >>> c, i = kmeans_1d(np.array([0.0, 0.1, 5.0, 5.2]), 2, init="linear")
        >>> np.round(c, 2).tolist(), i.tolist()
        ([0.05, 5.1], [0, 0, 1, 1])
    """
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    values = np.asarray(values, dtype=np.float64).ravel()
    fit_k = min(int(k), values.size)  # fewer values than clusters: the rest stay unused
    start = "k-means++"
    if init == "linear":
        start = np.linspace(values.min(), values.max(), fit_k)[:, None]
    with warnings.catch_warnings():  # fewer distinct values than clusters is fine here
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = KMeans(fit_k, init=start, n_init=1, max_iter=iterations, random_state=seed)
        fitted.fit(values[:, None])
    centroids = fitted.cluster_centers_.ravel()
    order = np.argsort(centroids)
    rank = np.empty_like(order)
    rank[order] = np.arange(fit_k)
    centroids = np.concatenate([centroids[order], np.repeat(centroids[order][-1:], k - fit_k)])
    return centroids, rank[fitted.labels_]


@keras.saving.register_keras_serializable(package="kerasnets")
class ClusterWeights(keras.layers.Wrapper):
    """Wrap a layer so that each kernel is ``centroids[indices]`` (weight sharing).

    Args:
        layer: a built layer with a kernel (Dense, Conv2D, ...), holding the weights to cluster.
        number_of_clusters: ``k >= 2`` centroids per kernel.
        init: ``"kmeans++"`` or ``"linear"`` initial centroids.
        preserve_sparsity: if the kernel has exact zeros (e.g. it was pruned), keep them zero:
            the nonzero weights share ``k - 1`` centroids and a fixed 0/1 ``*_nonzero`` mask
            multiplies the tied kernel (so a pruned-then-clustered kernel has at most ``k``
            values, 0 included).

    The layer's own kernel is kept but frozen (not used in the forward pass); trainable
    ``*_centroids`` and non-trainable ``*_indices`` carry the clustered kernel.
    """

    def __init__(
        self, layer, number_of_clusters, init="kmeans++", preserve_sparsity=True, seed=0, **kwargs
    ):
        self.number_of_clusters = check_clusters(number_of_clusters)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        super().__init__(layer, **kwargs)
        self.init = init
        self.preserve_sparsity = bool(preserve_sparsity)
        self.seed = seed

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.kernels = kernel_weights(self.layer)
        if not self.kernels:
            raise ValueError(
                f"layer {self.layer.name!r} ({type(self.layer).__name__}) has no kernel to cluster"
            )
        self.centroids, self.indices, self.nonzero = [], [], []
        for kernel in self.kernels:
            kernel.trainable = False
            values = ops.convert_to_numpy(kernel.value)
            nonzero = values != 0
            k = self.number_of_clusters
            centroids, indices = np.zeros(k), np.zeros(values.shape, dtype=np.int32)
            if self.preserve_sparsity and not nonzero.all():
                if nonzero.any():
                    c, i = kmeans_1d(values[nonzero], k - 1, self.init, seed=self.seed)
                    centroids[: k - 1], indices[nonzero] = c, i
            else:
                centroids, indices = kmeans_1d(values, k, self.init, seed=self.seed)
                nonzero = np.ones_like(nonzero)
            self.nonzero.append(
                self.add_weight(
                    name=f"{kernel.name}_nonzero",
                    shape=kernel.shape,
                    dtype=kernel.dtype,
                    initializer=keras.initializers.Constant(nonzero.astype(values.dtype)),
                    trainable=False,
                )
            )
            self.centroids.append(
                self.add_weight(
                    name=f"{kernel.name}_centroids",
                    shape=(self.number_of_clusters,),
                    dtype=kernel.dtype,
                    initializer=keras.initializers.Constant(centroids),
                    trainable=True,
                )
            )
            self.indices.append(
                self.add_weight(
                    name=f"{kernel.name}_indices",
                    shape=kernel.shape,
                    dtype="int32",
                    initializer=keras.initializers.Constant(indices.reshape(kernel.shape)),
                    trainable=False,
                )
            )
        self.built = True

    def call(self, inputs):
        tied = {
            id(k): ops.multiply(ops.take(c.value, i.value), m.value)
            for k, c, i, m in zip(self.kernels, self.centroids, self.indices, self.nonzero)
        }
        mapping = [(v, tied.get(id(v), v.value)) for v in self.layer.variables]
        with keras.StatelessScope(state_mapping=mapping):
            return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def clustered_kernels(self):
        """``{kernel name: centroids[indices] * nonzero}`` as numpy arrays."""
        n = ops.convert_to_numpy
        return {
            k.name: np.take(n(c.value), n(i.value)) * n(m.value)
            for k, c, i, m in zip(self.kernels, self.centroids, self.indices, self.nonzero)
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            number_of_clusters=self.number_of_clusters,
            init=self.init,
            preserve_sparsity=self.preserve_sparsity,
            seed=self.seed,
        )
        return config


def cluster_weights(
    model, number_of_clusters, init="kmeans++", layers=None, exclude=None, preserve_sparsity=True
):
    """Return a copy of ``model`` whose chosen kernels are clustered into ``k`` shared values.

    ``layers`` / ``exclude`` choose layers as in :func:`.prune_low_magnitude` (default: every
    layer with a kernel). Fine-tune the result with ``compile``/``fit`` (the weights stay tied),
    then call :func:`strip_clustering`.
    """
    k = check_clusters(number_of_clusters)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    chosen = {id(layer) for layer in select_layers(model, layers, exclude, what="clustered")}

    def clone(layer):
        new = copy_layer(layer)
        if id(layer) not in chosen:
            return new
        wrapper = ClusterWeights(
            new, k, init=init, preserve_sparsity=preserve_sparsity, name=f"cluster_{layer.name}"
        )
        wrapper.build(layer.get_build_config().get("input_shape"))
        return wrapper

    return rebuild(model, clone)


def strip_clustering(model):
    """Return a plain copy of ``model`` whose clustered kernels hold ``centroids[indices]``."""

    def clone(layer):
        if not isinstance(layer, ClusterWeights):
            return copy_layer(layer)
        inner = copy_layer(layer.layer)
        values = layer.clustered_kernels()
        for var in kernel_weights(inner):
            var.trainable = True
            var.assign(values[var.name])
        return inner

    return rebuild(model, clone)


def unique_values(model):
    """``{layer name: number of distinct values in its kernels}`` (clustered: the tied kernel)."""
    result = {}
    for layer in flat_layers(model):
        if isinstance(layer, ClusterWeights):
            arrays, name = list(layer.clustered_kernels().values()), layer.layer.name
        else:
            arrays, name = (
                [ops.convert_to_numpy(k.value) for k in kernel_weights(layer)],
                layer.name,
            )
        if arrays:
            result[name] = int(max(np.unique(a).size for a in arrays))
    return result


def cluster_and_finetune(
    model,
    number_of_clusters,
    x,
    y,
    epochs=1,
    batch_size=32,
    init="kmeans++",
    layers=None,
    exclude=None,
    learning_rate=1e-4,
    loss="sparse_categorical_crossentropy",
    verbose=0,
):
    """Cluster ``model``, fine-tune the centroids on ``(x, y)``, and return a stripped model.

    One call for pipelines such as ``kerasnets export --cluster 16``. The result holds only
    built-in layers (uncompiled), with at most ``number_of_clusters`` unique values per chosen
    kernel; zeros from earlier pruning stay zero (``preserve_sparsity``).
    """
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
    clustered = cluster_weights(model, number_of_clusters, init, layers, exclude)
    if epochs:
        clustered.compile(
            optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"]
        )
        clustered.fit(x, y, epochs=int(epochs), batch_size=batch_size, verbose=verbose)
    return strip_clustering(clustered)
