"""One call that chains the compression techniques, with a before/after report.

:func:`compress` is what ``kerasnets compress`` runs: structured filter pruning, low-rank
factorization, magnitude pruning, weight clustering and Keras 3 quantization, each optional, in
that order, fine-tuning on a data set after each step that changes weights, and measuring
accuracy and :func:`.report` before and after.

Example:
    >>> import keras
    >>> from kerasnets import compression
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(32, activation="relu"),
    ...                           keras.layers.Dense(10)])
    >>> result = compression.compress(model, prune=0.8, cluster=8, epochs=1)  # doctest: +SKIP
    >>> result.after.sparsity  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses

import keras

from kerasnets._checks import check_model
from kerasnets.compression import clustering, lowrank, pruning, quantization, structured
from kerasnets.compression.report import CompressionReport, report
from kerasnets.compression.schedules import check_sparsity


@dataclasses.dataclass
class CompressResult:
    """The compressed (plain, uncompiled) model, reports and accuracies before and after."""

    model: keras.Model
    before: CompressionReport
    after: CompressionReport
    accuracy_before: float | None
    accuracy_after: float | None
    steps: list

    def to_dict(self):
        return {
            "steps": self.steps,
            "accuracy_before": self.accuracy_before,
            "accuracy_after": self.accuracy_after,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }


def _outputs_logits(model):
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", "") != "softmax" and type(last).__name__ != "Softmax"


def _load_data(name, model):
    from kerasnets import data

    shaped = data.for_model(name, model, what="data")
    return shaped.x, shaped.y, shaped.x_test, shaped.y_test


def compress(
    model,
    prune=None,
    structure="unstructured",
    filters=None,
    cluster=None,
    rank=None,
    energy=None,
    quantize=None,
    data="digits",
    x=None,
    y=None,
    x_test=None,
    y_test=None,
    epochs=2,
    batch_size=32,
    layers=None,
    exclude=None,
):
    """Compress ``model`` step by step; return a :class:`CompressResult`.

    Args:
        prune: magnitude-pruning sparsity in [0, 1) (``structure``: ``"unstructured"``,
            ``"M:N"`` or ``"filters"``), reached during fine-tuning and then stripped.
        filters: fraction of filters/units to remove for real (:func:`.prune_filters`).
        cluster: number of weight clusters (>= 2) per kernel.
        rank / energy: low-rank factorization of Dense/Conv2D (:func:`.low_rank`).
        quantize: ``"int8"`` or ``"float16"`` (Keras 3 post-training, last step).
        data: data set name for fine-tuning and accuracy when ``x``/``y`` are not given.
        epochs: fine-tuning epochs after each step that changes weights (0: none).
        layers, exclude: which layers each technique touches (see :func:`.prune_low_magnitude`).

    Everything is validated before any work starts.
    """
    check_model(model)
    if prune is not None:
        check_sparsity(prune, "prune")
        pruning.parse_structure(structure)
    if filters is not None:
        check_sparsity(filters, "filters")
    if cluster is not None:
        clustering.check_clusters(cluster)
    if rank is not None and energy is not None:
        raise ValueError("give rank or energy, not both")
    if rank is not None and (int(rank) != rank or rank < 1):
        raise ValueError(f"rank must be an integer >= 1, got {rank!r}")
    if energy is not None and not 0 < float(energy) <= 1:
        raise ValueError(f"energy must be in (0, 1], got {energy!r}")
    if quantize is not None and quantize not in quantization.MODES:
        raise ValueError(f"quantize must be one of {quantization.MODES}, got {quantize!r}")
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
    if all(v is None for v in (prune, filters, cluster, rank, energy, quantize)):
        raise ValueError(
            "nothing to do: give at least one of prune, filters, cluster, rank, energy, quantize"
        )
    if x is None:
        x, y, x_test, y_test = _load_data(data, model)
    if x_test is None:
        x_test, y_test = x, y
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=_outputs_logits(model))

    def finetune(m, lr=1e-3):
        if epochs:
            m.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
            m.fit(x, y, epochs=int(epochs), batch_size=batch_size, verbose=0)
        return m

    before = report(model)
    accuracy_before = quantization.accuracy(model, x_test, y_test)
    steps, current = [], model
    if filters is not None:
        current = finetune(
            structured.prune_filters(current, filters, layers=layers, exclude=exclude)
        )
        steps.append({"step": "filters", "sparsity": filters})
    if rank is not None or energy is not None:
        result = lowrank.low_rank(current, rank=rank, energy=energy, layers=layers, exclude=exclude)
        current = finetune(result.model)
        steps.append({"step": "low_rank", "layers": result.layers})
    if prune is not None:
        current = pruning.prune_and_finetune(
            current,
            prune,
            x,
            y,
            epochs=max(int(epochs), 1),
            batch_size=batch_size,
            structure=structure,
            layers=layers,
            exclude=exclude,
            loss=loss,
        )
        steps.append({"step": "prune", "sparsity": prune, "structure": structure})
    if cluster is not None:
        current = clustering.cluster_and_finetune(
            current,
            cluster,
            x,
            y,
            epochs=int(epochs),
            batch_size=batch_size,
            layers=layers,
            exclude=exclude,
            loss=loss,
        )
        steps.append({"step": "cluster", "clusters": cluster})
    if quantize is not None:
        current = quantization.quantize(current, quantize).model
        steps.append({"step": "quantize", "mode": quantize})
    accuracy_after = quantization.accuracy(current, x_test, y_test)
    return CompressResult(
        current, before, report(current), float(accuracy_before), float(accuracy_after), steps
    )


__all__ = ["CompressResult", "compress"]
