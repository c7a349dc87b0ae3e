"""Multilayer perceptrons: the lecture's depth, activation, initialization and skip patterns.

``MLP`` stacks ``depth`` hidden layers of ``Dense → [normalization] → activation → [dropout]``
(optionally with residual or highway connections) and a dense classifier. Presets in the
registry:

- ``mlp_shallow_wide`` (1 hidden layer of 1000 units) vs ``mlp_deep_narrow`` (3 layers of 100):
  the lecture's parameter-efficiency comparison — the deep narrow network has far fewer weights.
- ``mlp_deep`` (10 hidden layers): the activation-comparison network of hands-on project 1, deep
  enough for sigmoid and tanh to show vanishing gradients.
"""

from __future__ import annotations

import keras
from keras import layers

from kerasnets import activations, blocks
from kerasnets.models import _base

NORMALIZATIONS = ("batch", "layer", None)
CONNECTIONS = ("residual", "highway", None)


@keras.saving.register_keras_serializable(package="kerasnets")
class MLP(_base.ZooModel):
    """A fully connected network (multilayer perceptron) for flat or flattened inputs.

    Each hidden layer computes ``h = act(norm(W·x + b))`` then dropout. With
    ``connection="residual"`` hidden layers 2..depth compute ``x + h`` (He et al., 2016); with
    ``"highway"`` a dense projection to the width is followed by ``depth`` highway layers
    ``T·H(x) + (1 − T)·x`` (Srivastava et al., 2015). Both need a single width.

    Args:
        input_shape: shape of one example, e.g. ``(784,)`` or ``(28, 28, 1)`` (flattened).
        num_classes: classifier outputs.
        depth: number of hidden layers (≥ 1).
        width: units per hidden layer, an int or a list with one entry per layer.
        activation: an activation name, or a list with one name per hidden layer (layer-wise
            activation patterns); see :func:`kerasnets.activations.available`.
        initializer: kernel initializer name (``"glorot_uniform"``, ``"he_normal"``,
            ``"lecun_normal"``...) for every hidden layer; None picks
            :func:`kerasnets.activations.initializer_for` each layer's activation.
        normalization: None, ``"batch"`` (Ioffe & Szegedy, 2015) or ``"layer"`` (Ba et al.,
            2016), between the dense layer and its activation.
        dropout: dropout rate after each hidden layer. SELU layers get ``AlphaDropout``, which
            keeps their self-normalizing mean and variance (Klambauer et al., 2017).
        connection: None, ``"residual"`` or ``"highway"``.
        classifier_activation: ``"softmax"`` (default), ``"sigmoid"``, ``"linear"`` or None.
        name: model name (default ``"mlp"``).

    Example:
        >>> model = MLP((64,), 10, depth=3, width=32, activation=["relu", "tanh", "gelu"])
        >>> model.count_params()
        4522
    """

    def __init__(
        self,
        input_shape=(28, 28, 1),
        num_classes=10,
        depth=3,
        width=100,
        activation="relu",
        initializer=None,
        normalization=None,
        dropout=0.0,
        connection=None,
        classifier_activation="softmax",
        name=None,
        **kwargs,
    ):
        try:
            shape = tuple(input_shape)
        except TypeError:
            shape = ()
        input_shape = _base.check_input_shape(input_shape, rank=max(1, len(shape)))
        _base.check_int(num_classes, "num_classes")
        _base.check_int(depth, "depth")
        widths = self._per_layer(width, depth, "width")
        for w in widths:
            _base.check_int(w, "width")
        acts = [_base.check_activation(a) for a in self._per_layer(activation, depth, "activation")]
        if initializer is not None:
            try:
                keras.initializers.get(initializer)
            except ValueError:
                raise ValueError(
                    f"unknown initializer {initializer!r}; use a Keras initializer name such as "
                    "'glorot_uniform', 'he_normal' or 'lecun_normal'"
                ) from None
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"unknown normalization {normalization!r}; allowed: 'batch', 'layer', None"
            )
        rate = _base.check_dropout(dropout)
        if connection not in CONNECTIONS:
            raise ValueError(
                f"unknown connection {connection!r}; allowed: 'residual', 'highway', None"
            )
        if connection and len(set(widths)) > 1:
            raise ValueError(
                f"connection={connection!r} needs a single width for all layers, got {width}"
            )
        if connection == "highway" and normalization:
            raise ValueError(
                f"normalization={normalization!r} is not supported with connection='highway' "
                "(highway layers gate their own output); use normalization=None"
            )
        _base.check_classifier_activation(classifier_activation)

        inputs = keras.Input(input_shape, name="inputs")
        x = layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
        for i, (units, act) in enumerate(zip(widths, acts)):
            prefix = f"hidden{i + 1}"
            init = initializer or activations.initializer_for(act)
            if connection == "highway":
                if i == 0:  # bring the input to the highway width first
                    x = layers.Dense(units, kernel_initializer=init, name="input_proj")(x)
                x = blocks.apply_highway(x, act, kernel_initializer=init, name=prefix)
            else:
                h = layers.Dense(units, kernel_initializer=init, name=f"{prefix}_dense")(x)
                if normalization == "batch":
                    h = layers.BatchNormalization(name=f"{prefix}_bn")(h)
                elif normalization == "layer":
                    h = layers.LayerNormalization(name=f"{prefix}_ln")(h)
                h = activations.get(act, layer_name=f"{prefix}_act")(h)
                x = layers.Add(name=f"{prefix}_add")([x, h]) if connection and i > 0 else h
            if rate:
                drop = layers.AlphaDropout if act == "selu" else layers.Dropout
                x = drop(rate, name=f"{prefix}_dropout")(x)
        outputs = _base.apply_classifier(x, num_classes, classifier_activation)
        super().__init__(inputs=inputs, outputs=outputs, name=name or "mlp", **kwargs)
        self._remember(
            input_shape=input_shape,
            num_classes=num_classes,
            depth=depth,
            width=width,
            activation=activation,
            initializer=initializer,
            normalization=normalization,
            dropout=dropout,
            connection=connection,
            classifier_activation=classifier_activation,
        )

    @staticmethod
    def _per_layer(value, depth, what):
        if isinstance(value, (list, tuple)):
            if len(value) != depth:
                raise ValueError(
                    f"{what} list has {len(value)} entries but depth is {depth}; give one per "
                    "hidden layer or a single value"
                )
            return list(value)
        return [value] * depth
