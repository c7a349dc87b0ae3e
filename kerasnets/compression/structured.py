"""Structured pruning that really shrinks a model: whole filters, channels and units removed.

:func:`prune_filters` scores the output channels (filters) of the chosen Conv/Dense layers by
the L1 or L2 norm of their weights, removes the lowest ``sparsity`` fraction, and rebuilds the
model with smaller layers: a Conv2D with 64 filters becomes one with 32, and everything that
reads those channels (BatchNormalization, depthwise convolutions, poolings, the next layer's
input kernel) is cut to match. The result is a plain model of built-in layers with fewer
parameters and MACs, not just zeros.

Residual connections and concatenations stay consistent. Every channel of every tensor is
traced back to the filter that makes it; an ``Add`` (or any elementwise merge) ties channel
``i`` of all its inputs together, so tied filters are kept or removed as one unit (scored by
the sum of their norms, pruned to the same ``sparsity`` within their group); a
``Concatenate`` on the channel axis simply lays its inputs' channels side by side. Channels
that reach a model output, a model input, or a layer this module does not know how to cut
(Flatten, Reshape, LayerNormalization, custom layers, ...) are never removed.

Example:
    >>> import keras
    >>> x = keras.Input((8, 8, 3))
    >>> h = keras.layers.Conv2D(16, 3, padding="same", name="conv")(x)
    >>> h = keras.layers.BatchNormalization(name="bn")(h)
    >>> h = keras.layers.GlobalAveragePooling2D()(h)
    >>> model = keras.Model(x, keras.layers.Dense(10, name="logits")(h))
    >>> small = prune_filters(model, 0.5)
    >>> small.get_layer("conv").filters, small.count_params()
    (8, 346)
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasnets.compression._graph import copy_layer, rebuild, select_layers
from kerasnets.compression.pruning import NORMS
from kerasnets.compression.schedules import check_sparsity

L = keras.layers
_CONVS = (L.Conv1D, L.Conv2D, L.Conv3D)
_SEPARABLE = (L.SeparableConv1D, L.SeparableConv2D)
_DEPTHWISE = (L.DepthwiseConv1D, L.DepthwiseConv2D)
_MERGES = (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum)
_PASS = (
    L.Activation,
    L.ReLU,
    L.LeakyReLU,
    L.ELU,
    L.PReLU,
    L.Dropout,
    L.SpatialDropout1D,
    L.SpatialDropout2D,
    L.SpatialDropout3D,
    L.GaussianNoise,
    L.GaussianDropout,
    L.Identity,
    L.MaxPooling1D,
    L.MaxPooling2D,
    L.MaxPooling3D,
    L.AveragePooling1D,
    L.AveragePooling2D,
    L.AveragePooling3D,
    L.GlobalAveragePooling1D,
    L.GlobalAveragePooling2D,
    L.GlobalAveragePooling3D,
    L.GlobalMaxPooling1D,
    L.GlobalMaxPooling2D,
    L.GlobalMaxPooling3D,
    L.ZeroPadding1D,
    L.ZeroPadding2D,
    L.ZeroPadding3D,
    L.Cropping1D,
    L.Cropping2D,
    L.Cropping3D,
    L.UpSampling1D,
    L.UpSampling2D,
    L.UpSampling3D,
)


def _channels_last(layer):
    return getattr(layer, "data_format", "channels_last") in (None, "channels_last")


def _is_producer(layer):
    """Layers whose output channels are new filters that can be removed."""
    if type(layer) in _CONVS:
        return layer.groups == 1 and _channels_last(layer)
    if type(layer) in _SEPARABLE:
        return layer.depth_multiplier == 1 and _channels_last(layer)
    return type(layer) is L.Dense


def _axis_is_last(axis, rank):
    return axis in (-1, rank - 1)


class _Slots:
    """Union-find over channel slots; a slot is one channel made by one layer."""

    def __init__(self):
        self.parent, self.fixed, self.owner, self.first = [], set(), [], {}

    def new(self, count, owner=None):
        start = len(self.parent)
        self.parent.extend(range(start, start + count))
        self.owner.extend([owner] * count)
        if owner is not None:
            self.first[id(owner)] = start
        return list(range(start, start + count))

    def find(self, s):
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def union(self, a, b):
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[b] = a


def _nodes(model):
    depths = sorted(model._nodes_by_depth, reverse=True)
    return [node for d in depths for node in model._nodes_by_depth[d]]


def _trace(model, producers):
    """Give every tensor's channel axis a list of slots; return (slots, tensor slots)."""
    slots = _Slots()
    of = {}  # id(KerasTensor) -> list of slots
    calls = {}
    for node in _nodes(model):
        calls[id(node.operation)] = calls.get(id(node.operation), 0) + 1
    for t in model.inputs:
        of[id(t)] = slots.new(t.shape[-1])
        slots.fixed.update(of[id(t)])
    for node in _nodes(model):
        layer = node.operation
        if isinstance(layer, L.InputLayer):
            continue
        ins = [of[id(t)] for t in node.input_tensors]
        outs = node.output_tensors
        rank = len(outs[0].shape) if len(outs) == 1 else None
        known = len(outs) == 1 and calls[id(layer)] == 1
        if known and id(layer) in producers:
            result = slots.new(outs[0].shape[-1], owner=layer)
        elif known and isinstance(layer, _PASS) and _channels_last(layer) and len(ins) == 1:
            result = ins[0]
        elif known and type(layer) in _DEPTHWISE and layer.depth_multiplier == 1:
            result = ins[0] if _channels_last(layer) else None
        elif known and type(layer) is L.BatchNormalization and _axis_is_last(layer.axis, rank):
            result = ins[0]
        elif known and isinstance(layer, _MERGES) and len({len(i) for i in ins}) == 1:
            for other in ins[1:]:
                for a, b in zip(ins[0], other):
                    slots.union(a, b)
            result = ins[0]
        elif known and type(layer) is L.Concatenate and _axis_is_last(layer.axis, rank):
            result = [s for i in ins for s in i]
        else:
            result = None
        if result is None:  # unknown: keep every channel it reads; its outputs are fixed
            for i in ins:
                slots.fixed.update(i)
            for t in outs:
                of[id(t)] = slots.new(t.shape[-1] if t.shape else 1)
                slots.fixed.update(of[id(t)])
        else:
            of[id(outs[0])] = result
    for t in model.outputs:
        slots.fixed.update(of[id(t)])
    return slots, of


def _scores(layer, norm):
    kernel = layer.pointwise_kernel if type(layer) in _SEPARABLE else layer.kernel
    w = ops.convert_to_numpy(kernel)
    w = w.reshape(-1, w.shape[-1])
    return np.abs(w).sum(0) if norm == "l1" else np.sqrt((w**2).sum(0))


def _keep_classes(slots, producers, sparsity, norm):
    """Decide which union-find classes (channel units) survive."""
    fixed_classes = {slots.find(s) for s in slots.fixed}
    members = {}  # class -> producer slots in it
    for s in range(len(slots.owner)):
        members.setdefault(slots.find(s), []).append(s)
    # A class is removable only if all its slots come from chosen producers and none is fixed.
    removable = {
        c
        for c, ss in members.items()
        if c not in fixed_classes and all(slots.owner[s] is not None for s in ss)
    }
    score = {}
    for layer in producers.values():
        first = slots.first[id(layer)]
        for i, value in enumerate(_scores(layer, norm)):
            c = slots.find(first + i)
            score[c] = score.get(c, 0.0) + float(value)
    # Group classes by the producers that share them (a residual stage is one group).
    group_of = {}
    groups = _Slots()
    layer_group = {}
    for c in removable:
        owners = {id(slots.owner[s]) for s in members[c]}
        for o in owners:
            if o not in layer_group:
                layer_group[o] = groups.new(1)[0]
        first, *rest = (layer_group[o] for o in owners)
        for g in rest:
            groups.union(first, g)
        group_of[c] = first
    by_group = {}
    for c, g in group_of.items():
        by_group.setdefault(groups.find(g), []).append(c)
    keep = set()
    for classes in by_group.values():
        n_keep = max(1, int(round(len(classes) * (1.0 - sparsity))))
        ranked = sorted(classes, key=lambda c: (-score.get(c, 0.0), c))
        keep.update(ranked[:n_keep])
    return lambda s: slots.find(s) not in removable or slots.find(s) in keep


def _slice_plan(model, of, kept):
    """New config and weights for every layer whose channels change."""
    plan = {}
    for node in _nodes(model):
        layer = node.operation
        if isinstance(layer, L.InputLayer) or not layer.weights:
            continue
        ins = of[id(node.input_tensors[0])]
        outs = of[id(node.output_tensors[0])] if id(node.output_tensors[0]) in of else None
        ki = np.array([i for i, s in enumerate(ins) if kept(s)])
        ko = np.array([i for i, s in enumerate(outs) if kept(s)]) if outs is not None else None
        if len(ki) == len(ins) and (ko is None or len(ko) == len(outs)):
            continue
        config, weights = layer.get_config(), layer.get_weights()
        if _is_producer(layer) and type(layer) in _SEPARABLE:
            dw, pw, *bias = weights
            weights = [dw[..., ki, :], pw[..., ki, :][..., ko]] + [b[ko] for b in bias]
            config["filters"] = len(ko)
        elif _is_producer(layer):
            kernel, *bias = weights
            weights = [kernel[..., ki, :][..., ko]] + [b[ko] for b in bias]
            config["units" if type(layer) is L.Dense else "filters"] = len(ko)
        elif type(layer) in _DEPTHWISE:
            kernel, *bias = weights
            weights = [kernel[..., ki, :]] + [b[ki] for b in bias]
        elif type(layer) is L.BatchNormalization:
            weights = [w[ki] for w in weights]
        elif type(layer) is L.PReLU:
            weights = [w[..., ki] for w in weights]
        else:  # pragma: no cover - unknown layers never lose channels
            raise AssertionError(f"unexpected channel change in {layer.name}")
        plan[layer.name] = (config, weights)
    return plan


def prune_filters(model, sparsity, norm="l1", layers=None, exclude=None):
    """Remove the weakest ``sparsity`` fraction of filters/units; return a smaller model.

    Args:
        model: a Functional or Sequential model (not modified; channels-last).
        sparsity: fraction in [0, 1) of the output channels to remove in each chosen layer (or
            residual group of layers); at least one channel is always kept.
        norm: ``"l1"`` or ``"l2"``: how a filter is scored (sum of |w| or root of sum of w²).
        layers, exclude: which Conv1D/2D/3D, SeparableConv and Dense layers may lose outputs
            (as in :func:`.prune_low_magnitude`); default all of them. Layers feeding a model
            output or an unsupported layer keep their outputs regardless.

    The result is uncompiled; fine-tune it like any model. Its parameter count is exactly that
    of the same architecture built with the kept channel counts.
    """
    sparsity = check_sparsity(sparsity)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    if isinstance(model, keras.Sequential):
        from kerasnets.graph import functional_copy

        model = functional_copy(model)
    if not hasattr(model, "_nodes_by_depth"):
        raise ValueError(f"prune_filters needs a Functional or Sequential model, got {model!r}")
    chosen = select_layers(model, layers, exclude, supported=_is_producer, what="filter-pruned")
    producers = {id(layer): layer for layer in chosen}
    slots, of = _trace(model, producers)
    kept = _keep_classes(slots, producers, sparsity, norm)
    plan = _slice_plan(model, of, kept)

    def clone(layer):
        if layer.name in plan:
            return layer.__class__.from_config(plan[layer.name][0])
        return copy_layer(layer)

    new_model = rebuild(model, clone)
    for name, (_, weights) in plan.items():
        new_model.get_layer(name).set_weights(weights)
    return new_model
