"""Shared helpers: choosing layers, and rebuilding a model with copied weights."""

from __future__ import annotations

import re

import keras

#: Names of the weights that compression acts on (a layer's "kernel" in the broad sense).
KERNEL_NAMES = ("kernel", "depthwise_kernel", "pointwise_kernel", "embeddings")


def kernel_weights(layer):
    """The trainable kernel-like variables of ``layer`` (see :data:`KERNEL_NAMES`)."""
    return [v for v in layer.weights if v.name in KERNEL_NAMES]


def flat_layers(model):
    """All layers of ``model``, descending into nested models, inputs excluded."""
    from kerasnets.graph import flat_layers as flat

    return flat(model)


def _matcher(spec):
    if spec is None:
        return None
    if isinstance(spec, (list, tuple, set)):
        parts = [_matcher(s) for s in spec]
        return lambda layer: any(p(layer) for p in parts)
    if isinstance(spec, type):
        return lambda layer: isinstance(layer, spec)
    if isinstance(spec, str):
        pattern = re.compile(spec)
        return lambda layer: pattern.fullmatch(layer.name) is not None
    if isinstance(spec, re.Pattern):
        return lambda layer: spec.search(layer.name) is not None
    if callable(spec):
        return lambda layer: bool(spec(layer))
    raise ValueError(
        f"cannot select layers with {spec!r}; use a layer class, a name or regex string, "
        "a compiled regex, a callable(layer) -> bool, or a list of these"
    )


def select_layers(model, layers=None, exclude=None, supported=None, what="pruned"):
    """Return the layers of ``model`` chosen by ``layers`` minus ``exclude``.

    ``layers`` / ``exclude``: ``None``, a layer class, a name (a string is matched as a regular
    expression against the whole layer name), a compiled regex (searched), a callable
    ``layer -> bool``, or a list of these. ``None`` chooses every layer that ``supported``
    accepts; an explicitly chosen layer that ``supported`` rejects is a ``ValueError``.
    """
    supported = supported or (lambda layer: bool(kernel_weights(layer)))
    everything = flat_layers(model)
    include, skip = _matcher(layers), _matcher(exclude)
    if include is None:
        chosen = [layer for layer in everything if supported(layer)]
    else:
        chosen = [layer for layer in everything if include(layer)]
        bad = [f"{layer.name} ({type(layer).__name__})" for layer in chosen if not supported(layer)]
        if bad:
            raise ValueError(
                f"cannot be {what}: {', '.join(bad)}; only layers with a kernel "
                f"({', '.join(KERNEL_NAMES)}) can be {what} (e.g. Dense, Conv2D)"
            )
    if skip is not None:
        chosen = [layer for layer in chosen if not skip(layer)]
    if not chosen:
        raise ValueError(f"no layer of model {model.name!r} was selected to be {what}")
    return chosen


def copy_layer(layer):
    """A new layer with the same config and (if built) the same weights as ``layer``."""
    clone = layer.__class__.from_config(layer.get_config())
    if layer.built and layer.weights:
        clone.build_from_config(layer.get_build_config())
        clone.set_weights(layer.get_weights())
    return clone


def rebuild(model, clone_function=None, call_function=None):
    """Clone a Functional or Sequential ``model`` layer by layer, weights copied.

    ``clone_function(layer)`` returns the layer to use (default: :func:`copy_layer`);
    ``call_function(layer, *args, **kwargs)`` may call something else in its place (Functional
    models only). A functional subclass (e.g. a zoo model class) comes back as a plain
    ``keras.Model`` of the same graph.
    """
    from kerasnets._checks import check_model

    check_model(model)
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        if not isinstance(model, keras.Sequential):
            raise ValueError(
                f"expected a Functional or Sequential keras.Model, got {type(model).__name__}; "
                "subclassed models without a functional graph cannot be rewritten"
            )
    if isinstance(model, keras.Sequential) and call_function is not None:
        from kerasnets.graph import functional_copy

        model = functional_copy(model)
    clone = keras.models.clone_model(
        model,
        clone_function=clone_function or copy_layer,
        call_function=call_function,
        recursive=True,
    )
    return clone
