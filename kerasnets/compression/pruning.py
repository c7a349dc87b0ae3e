"""Magnitude pruning for Keras 3 models on TensorFlow, JAX and PyTorch.

Keras 3 has no pruning and tfmot only accepts Keras 2 models, so this is a native
implementation with tfmot's semantics. :func:`prune_low_magnitude` wraps the chosen layers in
:class:`PruneLowMagnitude`. The wrapper keeps one non-trainable **mask** per kernel and a
step counter; its forward pass sees the kernel times the mask, and during training it
recomputes the mask on the schedule's pruning steps (:mod:`.schedules`). Because mask and step
are layer state updated inside ``call``, the pruned weights are exactly zero in every forward
pass on every backend, including inside JAX's compiled train step (a callback could not do
that: see DESIGN.md §5).

What a training step costs (``benchmarks/compression.py`` measures it against the plain model
and against tfmot): where the variables are real (PyTorch's eager ``fit``, TensorFlow's
compiled step) the wrapper writes ``kernel * mask`` into the kernel variable, as tfmot does,
and runs the layer on it: one multiply per kernel. In JAX's stateless step, and under mixed
precision, it maps the kernel to a masked value instead. When the step runs eagerly the
schedule is evaluated in Python integers and the masks are written only on pruning steps;
in a compiled step it is one ``cond`` per layer.

The wrapper serializes to ``.keras``; :func:`strip_pruning` returns a plain model of built-in
layers whose kernels hold the zeros.

Structures: ``"unstructured"`` (the smallest magnitudes in the whole kernel), ``"M:N"`` such as
``"2:4"`` (M kept out of every N consecutive weights along the input-channel axis) and
``"filters"`` (whole output channels by L1 or L2 norm; :func:`.structured.prune_filters`
then removes them for real).

Example:
    >>> import keras
    >>> from kerasnets import compression
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="fc"),
    ...                           keras.layers.Dense(4, name="out")])
    >>> pruned = compression.prune_low_magnitude(model, compression.ConstantSparsity(0.75, 0))
    >>> pruned.compile("adam", "mse")
    >>> _ = pruned.fit(keras.random.normal((32, 8)), keras.random.normal((32, 4)), verbose=0)
    >>> plain = compression.strip_pruning(pruned)
    >>> compression.kernel_sparsity(plain)["fc"]
    0.75
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

# Keras has no public "is a StatelessScope active?"; the wrappers need it to know whether their
# variables are real (and may be written in place) or mapped to values (JAX's train step,
# stateless_call).
from keras.src.backend.common.stateless_scope import in_stateless_scope

from kerasnets import backend
from kerasnets.compression._graph import (
    copy_layer,
    flat_layers,
    kernel_weights,
    rebuild,
    select_layers,
)
from kerasnets.compression.schedules import (
    ConstantSparsity,
    PolynomialDecay,
    PruningSchedule,
    check_sparsity,
)

STRUCTURES = ("unstructured", "M:N (e.g. 2:4)", "filters")
NORMS = ("l1", "l2")


def parse_structure(structure):
    """Return ``("unstructured", None)``, ``("m_by_n", (m, n))`` or ``("filters", None)``."""
    if structure in ("unstructured", "filters"):
        return structure, None
    if isinstance(structure, (tuple, list)) and len(structure) == 2:
        m, n = structure
    elif isinstance(structure, str) and structure.count(":") == 1:
        try:
            m, n = (int(part) for part in structure.split(":"))
        except ValueError:
            m = n = None
    else:
        m = n = None
    if m is None:
        raise ValueError(f"unknown pruning structure {structure!r}; use one of {STRUCTURES}")
    if not (isinstance(m, int) and isinstance(n, int) and 1 <= m < n):
        raise ValueError(f"M:N sparsity needs integers 1 <= M < N, got {structure!r}")
    return "m_by_n", (m, n)


def _kth_largest_bits(bits, k, width):
    """The ``k``-th largest of the non-negative integers ``bits`` (< 2**width), bit by bit.

    Binary search on the answer from the highest bit down: keep a bit if at least ``k``
    entries are at or above the candidate. ``width`` passes of one comparison and one count
    each, unrolled; no sort. The answer is always one of the entries.
    """
    dtype = keras.backend.standardize_dtype(bits.dtype)
    threshold = ops.zeros((), dtype)
    for bit in range(width - 1, -1, -1):
        candidate = ops.bitwise_or(threshold, ops.convert_to_tensor(1 << bit, dtype))
        enough = ops.sum(ops.cast(bits >= candidate, "int32")) >= k
        threshold = ops.where(enough, candidate, threshold)
    return threshold


def magnitude_mask(weights, sparsity):
    """0/1 mask zeroing the ``round(size * sparsity)`` smallest ``|weights|`` (at least one kept).

    The kept count is tfmot's, ``max(round(size * (1 - sparsity)), 1)``, and exact: ties are
    broken by position, so the mask has exactly that many ones. The threshold (the keep-th
    largest magnitude, tfmot's ``top_k``) is found without sorting: the bit patterns of
    non-negative floats order as the floats do, so a binary search over the bits finds it in
    31 counting passes (63 for float64). On a 1024×128 kernel, one CPU thread, that took
    3.2 / 3.6 ms compiled on JAX / TensorFlow against 29 / 13 ms for one sort; JAX's compiled
    sort was most of the cost of a pruning step. Run eagerly, where the count is a number, one
    ``top_k`` of that many finds it (PyTorch 1.5 ms; 7.0 by the bit search, 12 by a sort). The
    weights above the threshold are kept, and of those equal to it, the first ones by position
    fill the count.
    """
    magnitudes = ops.reshape(ops.abs(weights), (-1,))
    size = magnitudes.shape[0]
    keep = ops.cast(
        ops.maximum(ops.round(size * (1.0 - ops.cast(sparsity, "float32"))), 1.0), "int32"
    )
    if keras.backend.standardize_dtype(weights.dtype) == "float64":
        bits, width = ops.view(magnitudes, "int64"), 63
    else:  # float32, and float16 / bfloat16 widened exactly
        bits, width = ops.view(ops.cast(magnitudes, "float32"), "int32"), 31
    known = backend.eager_int(keep)
    if known is not None:
        # Run eagerly (PyTorch's fit, a direct call), the count is a number and top_k takes the
        # threshold in one pass: 1.5 ms on PyTorch for the 1024x128 kernel.
        threshold = ops.min(ops.top_k(bits, known, sorted=False)[0])
    else:
        threshold = _kth_largest_bits(bits, keep, width)
    above = bits > threshold
    ties = bits == threshold
    room = keep - ops.sum(ops.cast(above, "int32"))
    mask = above | (ties & (ops.cumsum(ops.cast(ties, "int32")) <= room))
    return ops.reshape(ops.cast(mask, weights.dtype), weights.shape)


def m_by_n_mask(weights, m, n):
    """0/1 mask keeping the ``m`` largest of every ``n`` consecutive weights on axis -2.

    Axis -2 is the input-channel axis of Dense and convolution kernels (the axis a sparse
    matrix unit reduces over); its size must be divisible by ``n``.
    """
    w = ops.moveaxis(ops.abs(weights), -2, -1)
    moved_shape = w.shape
    groups = ops.reshape(w, (-1, n))
    ranks = ops.argsort(ops.argsort(-groups, axis=-1), axis=-1)
    mask = ops.cast(ops.less(ranks, m), weights.dtype)
    return ops.moveaxis(ops.reshape(mask, moved_shape), -1, -2)


def filter_scores(weights, norm="l1"):
    """Norm of each output channel (last axis) of a kernel: L1 or L2 over the other axes."""
    axes = tuple(range(len(weights.shape) - 1))
    if norm == "l1":
        return ops.sum(ops.abs(weights), axis=axes)
    return ops.sqrt(ops.sum(ops.square(weights), axis=axes))


def filter_mask(weights, sparsity, norm="l1"):
    """0/1 mask zeroing whole output channels: the lowest-norm ``round(C * sparsity)`` of them."""
    scores = filter_scores(weights, norm)
    channels = scores.shape[0]
    keep = ops.maximum(ops.round(channels * (1.0 - ops.cast(sparsity, "float32"))), 1.0)
    ranks = ops.argsort(ops.argsort(-scores))
    mask = ops.cast(ops.less(ops.cast(ranks, "float32"), keep), weights.dtype)
    return ops.broadcast_to(mask, weights.shape)


def _deserialize_schedule(schedule):
    if isinstance(schedule, dict):
        return keras.saving.deserialize_keras_object(schedule)
    return schedule


@keras.saving.register_keras_serializable(package="kerasnets")
class PruneLowMagnitude(keras.layers.Wrapper):
    """Wrap a layer so that its kernels are magnitude-pruned on a schedule while it trains.

    Args:
        layer: a built-in layer with a kernel (Dense, Conv1D/2D/3D, DepthwiseConv2D,
            SeparableConv2D, Conv2DTranspose, EinsumDense, Embedding, ...).
        pruning_schedule: a :class:`~.schedules.PruningSchedule` (tfmot semantics).
        structure: ``"unstructured"``, ``"M:N"`` (e.g. ``"2:4"``) or ``"filters"``.
        norm: ``"l1"`` or ``"l2"``, the filter score for ``structure="filters"``.

    State (non-trainable, saved with the model): one ``*_mask`` per kernel and
    ``pruning_step`` (-1 before the first training call). Each ``call(..., training=True)``
    advances the step; on pruning steps the masks are recomputed from ``|kernel * mask|`` so
    that a weight once pruned never comes back. The forward pass always uses
    ``kernel * mask``. The gradient reaches every kernel entry (straight through the mask), as
    with tfmot: with a per-weight optimizer (SGD, Adam, ...) the kept weights train exactly as
    with a masked gradient, and the pruned ones, updated but masked, never reach an output.

    Example:
        >>> import keras
        >>> layer = PruneLowMagnitude(keras.layers.Dense(4), ConstantSparsity(0.5, 0, frequency=1))
        >>> y = layer(keras.ops.ones((2, 8)), training=True)
        >>> float(keras.ops.mean(layer.masks[0]))
        0.5
    """

    def __init__(self, layer, pruning_schedule, structure="unstructured", norm="l1", **kwargs):
        pruning_schedule = _deserialize_schedule(pruning_schedule)
        if not isinstance(pruning_schedule, PruningSchedule):
            raise ValueError(
                f"pruning_schedule must be a ConstantSparsity or PolynomialDecay, got "
                f"{pruning_schedule!r}"
            )
        self.kind, self.m_by_n = parse_structure(structure)
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        kwargs.setdefault("dtype", layer.dtype_policy)  # compute as the wrapped layer would
        super().__init__(layer, **kwargs)
        self.pruning_schedule = pruning_schedule
        self.structure = (
            structure if isinstance(structure, str) else f"{structure[0]}:{structure[1]}"
        )
        self.norm = norm

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.kernels = kernel_weights(self.layer)
        if not self.kernels:
            raise ValueError(
                f"layer {self.layer.name!r} ({type(self.layer).__name__}) has no kernel to prune"
            )
        if self.kind == "m_by_n":
            n = self.m_by_n[1]
            for kernel in self.kernels:
                if len(kernel.shape) < 2 or kernel.shape[-2] % n:
                    raise ValueError(
                        f"{self.structure} sparsity needs the input-channel axis of "
                        f"{self.layer.name}/{kernel.name} (shape {tuple(kernel.shape)}) to be "
                        f"divisible by {n}"
                    )
        self.masks = [
            self.add_weight(
                name=f"{kernel.name}_mask",
                shape=kernel.shape,
                dtype=kernel.dtype,
                initializer="ones",
                trainable=False,
                # Not cast under mixed precision: on PyTorch, assigning a variable that is
                # autocast writes into the cast copy and the new mask would be lost.
                autocast=False,
            )
            for kernel in self.kernels
        ]
        self.pruning_step = self.add_weight(
            name="pruning_step",
            shape=(),
            dtype="int32",
            initializer=keras.initializers.Constant(-1),
            trainable=False,
        )
        self.built = True

    def compute_mask_for(self, weights, sparsity):
        """The new mask of ``weights`` (already masked) at target ``sparsity``."""
        if self.kind == "m_by_n":
            return m_by_n_mask(weights, *self.m_by_n)
        if self.kind == "filters":
            return filter_mask(weights, sparsity, self.norm)
        return magnitude_mask(weights, sparsity)

    def _new_masks(self, step, masks):
        """The masks at pruning step ``step``, from the current ``masks`` (no gradient)."""
        sparsity = self.pruning_schedule.target(step)
        return [
            ops.cast(
                self.compute_mask_for(
                    ops.stop_gradient(ops.multiply(ops.cast(kernel.value, mask.dtype), mask)),
                    sparsity,
                ),
                mask.dtype,
            )
            for kernel, mask in zip(self.kernels, masks)
        ]

    def _advance(self, masks):
        """Count one training call; on the schedule's pruning steps, recompute the masks."""
        previous = backend.eager_int(self.pruning_step.value)
        if previous is not None:
            # Eager (PyTorch's fit, a direct call): the schedule in Python integers, and the
            # masks are written only when they change; no cond, no tensor op on other steps.
            step = previous + 1
            self.pruning_step.assign(step)
            if not self.pruning_schedule.should_prune(step):
                return masks
            masks = self._new_masks(step, masks)
        else:
            # Traced once into a compiled step (TensorFlow, JAX): one cond per layer.
            step = self.pruning_step.value + 1
            self.pruning_step.assign(step)
            due = self.pruning_schedule.should_prune(step)
            if not in_stateless_scope():
                # Real variables (TensorFlow's graph): the masks are written inside the branch
                # that computes them, not copied back at every step.
                def prune():
                    new = self._new_masks(step, masks)
                    for mask_var, value in zip(self.masks, new):
                        mask_var.assign(value)
                    return new

                return backend.cond(due, prune, lambda: list(masks))
            # JAX's stateless step: the cond returns the masks, which become the new state.
            masks = backend.cond(due, lambda: self._new_masks(step, masks), lambda: list(masks))
        for mask_var, new in zip(self.masks, masks):
            mask_var.assign(new)
        return masks

    def call(self, inputs, training=False):
        kwargs = {"training": training} if self.layer._call_has_training_arg else {}
        masks = [mask.value for mask in self.masks]
        if training:
            masks = self._advance(masks)
            if not in_stateless_scope() and self.compute_dtype == self.variable_dtype:
                # A training step on the real variables (PyTorch's fit, TensorFlow's compiled
                # step): zero the pruned entries of the kernel variables themselves, as tfmot
                # does, and run the layer on its own variables. One multiply and one write per
                # kernel; the gradient with respect to the kernel, taken through the layer's
                # read of the variable, reaches every entry (straight through the mask). The
                # masked-value path below costs three elementwise passes per kernel and, in
                # eager PyTorch, a StatelessScope per call. Not in JAX's stateless train step,
                # nor under mixed precision, where an autocast kernel read here is a cast copy
                # and the write would be lost.
                for kernel, mask in zip(self.kernels, masks):
                    kernel.assign(ops.stop_gradient(kernel.value) * mask)
                return self.layer.call(inputs, **kwargs)
        masked_ids = {id(k): i for i, k in enumerate(self.kernels)}
        mapping = []
        for var in self.layer.variables:
            value = var.value
            if id(var) in masked_ids:
                mask = masks[masked_ids[id(var)]]
                if keras.backend.standardize_dtype(mask.dtype) != var.dtype:  # autocast kernel
                    mask = ops.cast(mask, var.dtype)
                # Forward: exactly kernel * mask. Backward: the whole gradient reaches the
                # kernel, pruned entries included, as in tfmot (whose optimizer sees the
                # gradient of the zeroed variable). The pruned entries stay invisible to the
                # forward pass and masks only shrink, so they never come back; and the
                # optimizer state of those entries is not exactly zero: torch.sqrt on CPU is
                # 20x slower on zeros than on other values (0.34 vs 0.017 ms per 131K floats
                # here), which made Adam's step 0.5 ms slower for the pruned digits CNN.
                value = value + ops.stop_gradient(value * mask - value)
            mapping.append((var, value))
        # The wrapped layer's call() directly, as keras.layers.TimeDistributed does: this
        # layer's own __call__ has already converted and autocast the inputs, and a second
        # __call__ would double the per-step overhead on eager backends (PyTorch).
        with keras.StatelessScope(state_mapping=mapping):
            return self.layer.call(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def masked_kernels(self):
        """``{kernel name: kernel * mask}`` as numpy arrays."""
        return {
            k.name: ops.convert_to_numpy(k.value) * ops.convert_to_numpy(m.value)
            for k, m in zip(self.kernels, self.masks)
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            pruning_schedule=keras.saving.serialize_keras_object(self.pruning_schedule),
            structure=self.structure,
            norm=self.norm,
        )
        return config


def _global_layer_sparsities(layers, sparsity):
    """Per-layer sparsities that one threshold over all chosen kernels gives right now."""
    magnitudes = {
        layer.name: np.concatenate(
            [np.abs(ops.convert_to_numpy(k.value)).ravel() for k in kernel_weights(layer)]
        )
        for layer in layers
    }
    everything = np.concatenate(list(magnitudes.values()))
    n_pruned = int(round(everything.size * sparsity))
    if n_pruned == 0:
        return {name: 0.0 for name in magnitudes}
    threshold = np.partition(everything, n_pruned - 1)[n_pruned - 1]
    return {name: float(np.mean(m <= threshold)) for name, m in magnitudes.items()}


def prune_low_magnitude(
    model,
    pruning_schedule,
    layers=None,
    exclude=None,
    structure="unstructured",
    norm="l1",
    threshold="layer",
):
    """Return a copy of ``model`` whose chosen layers are wrapped in :class:`PruneLowMagnitude`.

    Args:
        model: a Functional or Sequential Keras 3 model (zoo models included); not modified.
        pruning_schedule: a :class:`ConstantSparsity` / :class:`PolynomialDecay`, or a float
            sparsity in [0, 1) meaning ``ConstantSparsity(sparsity, begin_step=0)``.
        layers, exclude: which layers to prune: a layer class, a name or regex (full match), a
            compiled regex, a callable ``layer -> bool``, or a list of these. Default: every
            layer with a kernel. E.g. ``exclude=["conv1", "logits"]`` keeps the stem and the
            classifier dense.
        structure: ``"unstructured"``, ``"M:N"`` (e.g. ``"2:4"``) or ``"filters"``.
        norm: ``"l1"`` or ``"l2"`` for ``structure="filters"``.
        threshold: ``"layer"`` (every layer reaches the schedule's sparsity) or ``"global"``
            (one magnitude threshold over all chosen kernels, computed from the weights at the
            time of this call; each layer then follows the schedule scaled to its share).

    All arguments are checked before any layer is copied or any weight touched.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="fc"),
        ...                       keras.layers.Dense(2, name="logits")])
        >>> p = prune_low_magnitude(m, 0.5, layers=keras.layers.Dense, exclude="logits")
        >>> [type(layer).__name__ for layer in p.layers]
        ['PruneLowMagnitude', 'Dense']
    """
    from kerasnets._checks import check_model

    check_model(model)
    if not isinstance(pruning_schedule, PruningSchedule):
        pruning_schedule = ConstantSparsity(check_sparsity(pruning_schedule), begin_step=0)
    parse_structure(structure)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if threshold not in ("layer", "global"):
        raise ValueError(f"threshold must be 'layer' or 'global', got {threshold!r}")
    if threshold == "global" and structure != "unstructured":
        raise ValueError(f"threshold='global' needs structure='unstructured', got {structure!r}")
    chosen = select_layers(model, layers, exclude)
    if any(isinstance(layer, PruneLowMagnitude) for layer in chosen):
        raise ValueError("the model is already wrapped for pruning; strip_pruning() it first")
    schedules = {layer.name: pruning_schedule for layer in chosen}
    if threshold == "global":
        final = pruning_schedule.final_sparsity
        shares = _global_layer_sparsities(chosen, final)
        schedules = {
            name: pruning_schedule.scaled(share / final if final else 0.0)
            for name, share in shares.items()
        }
    ids = {id(layer) for layer in chosen}

    def clone(layer):
        new = copy_layer(layer)
        if id(layer) not in ids:
            return new
        wrapper = PruneLowMagnitude(
            new, schedules[layer.name], structure=structure, norm=norm, name=f"prune_{layer.name}"
        )
        wrapper.build(layer.get_build_config().get("input_shape"))
        return wrapper

    return rebuild(model, clone)


def strip_pruning(model):
    """Return a plain copy of ``model``: every wrapper replaced by its layer with masked kernels.

    The result holds only built-in layers (it loads with ``safe_mode`` and exports anywhere);
    the pruned weights are stored as exact zeros. If a wrapped layer's kernels are less sparse
    than its schedule's final sparsity (a schedule longer than the training that ran: it prunes
    nothing until its first pruning step), one ``UserWarning`` names the layers, the sparsity
    reached, the target and the step the schedule stopped at.
    """
    import warnings

    from kerasnets._checks import check_model

    check_model(model)
    short = []
    for layer in flat_layers(model):
        if isinstance(layer, PruneLowMagnitude) and layer.built:
            kernels = list(layer.masked_kernels().values())
            zeros = sum(int((k == 0).sum()) for k in kernels)
            reached = zeros / max(sum(k.size for k in kernels), 1)
            target = layer.pruning_schedule.final_sparsity
            if reached + 0.01 < target:
                step = int(ops.convert_to_numpy(layer.pruning_step.value))
                short.append(f"{layer.layer.name} {reached:.0%} of {target:.0%} (step {step})")
    if short:
        warnings.warn(
            "strip_pruning: the schedule had not reached its final sparsity: "
            + ", ".join(short)
            + "; train for more steps or end the schedule earlier (end_step)",
            UserWarning,
            stacklevel=2,
        )

    def clone(layer):
        if not isinstance(layer, PruneLowMagnitude):
            return copy_layer(layer)
        inner = copy_layer(layer.layer)
        masked = layer.masked_kernels()
        for var in kernel_weights(inner):
            var.assign(masked[var.name])
        return inner

    return rebuild(model, clone)


def kernel_sparsity(model):
    """``{layer name: fraction of zeros in its kernels}`` (wrapped layers: the masked kernels)."""
    from kerasnets.compression._graph import flat_layers

    result = {}
    for layer in flat_layers(model):
        if isinstance(layer, PruneLowMagnitude):
            arrays = list(layer.masked_kernels().values())
            name = layer.layer.name
        else:
            arrays = [ops.convert_to_numpy(k.value) for k in kernel_weights(layer)]
            name = layer.name
        if arrays:
            total = sum(a.size for a in arrays)
            result[name] = float(sum(np.sum(a == 0) for a in arrays) / total)
    return result


def prune_and_finetune(
    model,
    sparsity,
    x,
    y,
    epochs=2,
    batch_size=32,
    structure="unstructured",
    layers=None,
    exclude=None,
    optimizer="adam",
    learning_rate=1e-3,
    loss="sparse_categorical_crossentropy",
    validation_data=None,
    verbose=0,
):
    """Prune ``model`` to ``sparsity`` while fine-tuning on ``(x, y)``; return a stripped model.

    One call for pipelines such as ``kerasnets export --prune 0.8``: a ``PolynomialDecay`` from
    0 to ``sparsity`` over the first two thirds of the steps (masks updated ~10 times), then
    training at the final sparsity, then :func:`strip_pruning`. The result is a plain model of
    built-in layers (uncompiled); the chosen kernels hold ``sparsity`` zeros exactly.

    Example:
        >>> from kerasnets import data
        >>> (x, y), _ = data.load("digits", flatten=True, subset=256)
        >>> import keras
        >>> model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, name="fc"),
        ...                           keras.layers.Dense(10, name="out")])
        >>> small = prune_and_finetune(model, 0.8, x, y, epochs=1,
        ...                            loss=keras.losses.SparseCategoricalCrossentropy(True))
        >>> round(kernel_sparsity(small)["fc"], 2)
        0.8
    """
    sparsity = check_sparsity(sparsity)
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    steps = int(epochs) * math.ceil(len(x) / batch_size)
    end = max(1, (2 * steps) // 3)
    schedule = PolynomialDecay(0.0, sparsity, 0, end, frequency=max(1, end // 10))
    if steps < 3:
        schedule = ConstantSparsity(sparsity, 0, frequency=1)
    pruned = prune_low_magnitude(model, schedule, layers, exclude, structure=structure)
    if isinstance(optimizer, str):
        optimizer = keras.optimizers.get({"class_name": optimizer, "config": {}})
        optimizer.learning_rate = learning_rate
    pruned.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    pruned.fit(
        x,
        y,
        epochs=int(epochs),
        batch_size=batch_size,
        validation_data=validation_data,
        verbose=verbose,
    )
    return strip_pruning(pruned)
