"""One way to walk a model's layers, nested models included.

Several parts of the toolkit need "every layer of this model": compression (which kernels to
prune, cluster or report), the training monitors (which outputs to watch, by qualified name),
the experiments (which kernels to measure) and :func:`kerasnets.models.to_functional`.
:func:`walk` is that walk, written once.

Example:
    >>> import keras
    >>> inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")], name="block")
    >>> inputs = keras.Input((4,))
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="head")(inner(inputs)))
    >>> [name for name, layer, owner in walk(model)]
    ['block/d', 'head']
"""

from __future__ import annotations


def _has_graph(layer) -> bool:
    import keras

    return isinstance(layer, keras.Model) and (
        isinstance(layer, keras.Sequential) or hasattr(layer, "_run_through_graph")
    )


def walk(model, prefix: str = ""):
    """Yield ``(qualified_name, layer, owner)`` for every layer of ``model`` in graph order.

    Input layers are skipped; a nested functional or Sequential model is descended into and its
    layers are named ``"outer/inner"``; ``owner`` is the model whose graph holds the layer.
    A nested model without a graph (a subclassed model) is yielded as one layer.
    """
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        name = prefix + layer.name
        if _has_graph(layer):
            yield from walk(layer, name + "/")
        else:
            yield name, layer, model


def flat_layers(model) -> list:
    """Every layer of ``model`` (see :func:`walk`), nested models flattened, inputs excluded."""
    return [layer for _, layer, _ in walk(model)]


def functional_copy(model, name=None):
    """``keras.Model`` over ``model``'s own graph (same layers and weights), one input given as a
    tensor, not a one-element list, so calling the copy on one array warns nothing."""
    import keras

    def single(tensors):
        return tensors[0] if len(tensors) == 1 else tensors

    return keras.Model(single(model.inputs), single(model.outputs), name=name or model.name)
