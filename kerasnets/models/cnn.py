"""A baseline CNN and an efficient CNN for 32×32×3 images (hands-on project 3).

``BaselineCNN`` is a VGG-style network (Simonyan & Zisserman, 2015): three stages of two 3×3
conv–BN–ReLU layers and a 2×2 max-pool, then a dense hidden layer on the flattened map. With the
default width of 32 it has about 0.82 M parameters (816,490) on CIFAR-10, most of them in the
dense layer.

``EfficientCNN`` applies the lecture's efficiency recipe to the same stages: depthwise-separable
convolutions (Howard et al., 2017) instead of standard ones, MobileNetV2 inverted-residual
blocks (1×1 expansion → depthwise 3×3 → 1×1 linear bottleneck, Sandler et al., 2018), strided
convolutions instead of pooling, and global average pooling instead of a dense hidden layer.
With the default width of 32 it has about 0.41 M parameters (412,362, under the project's
500 K) and about 40 % of the baseline's multiply-accumulates (16.1 M vs 39.4 M per 32×32 image,
by :func:`kerasnets.analysis.count_macs`).
"""

from __future__ import annotations

import keras
from keras import layers

from kerasnets import blocks
from kerasnets.models import _base

MIN_SIDE = {"cifar": 8, "imagenet": 32}
CONVS = ("standard", "separable")
HEADS = ("gap", "flatten")


def _stem(inputs, stem, width, activation):
    if stem == "imagenet":
        return _base.apply_imagenet_stem(inputs, width, activation)
    return blocks.apply_conv_bn_act(inputs, width, 3, 1, activation, name="conv1")


@keras.saving.register_keras_serializable(package="kerasnets")
class BaselineCNN(_base.ZooModel):
    """VGG-style baseline: 3 × (conv–BN–act, conv–BN–act, max-pool), flatten, dense, classifier.

    Args:
        input_shape: ``(height, width, channels)``, default CIFAR's ``(32, 32, 3)``.
        num_classes: classifier outputs.
        stem: ``"cifar"`` (the first conv at full resolution, sides ≥ 8) or ``"imagenet"``
            (a 7×7/2 conv and a 3×3/2 max-pool first, sides ≥ 32); None picks from the size.
        width: channels of the first stage; the stages have width·(1, 2, 4).
        dense_units: units of the hidden dense layer.
        conv: ``"standard"`` 3×3 convolutions (default), or ``"separable"``: every 3×3
            convolution after the stem becomes a depthwise-separable block (depthwise 3×3 →
            pointwise 1×1), the first step of project 3's ablation; the pooling and the dense
            head stay.
        dropout: dropout rate before the dense layers.
        activation: activation name.
        classifier_activation: ``"softmax"`` (default), ``"sigmoid"``, ``"linear"`` or None.
        name: model name (default ``"baseline_cnn"``).

    Example:
        >>> BaselineCNN().count_params()
        816490
    """

    def __init__(
        self,
        input_shape=(32, 32, 3),
        num_classes=10,
        stem=None,
        width=32,
        dense_units=256,
        conv="standard",
        dropout=0.0,
        activation="relu",
        classifier_activation="softmax",
        name=None,
        **kwargs,
    ):
        input_shape = _base.check_input_shape(input_shape)
        _base.check_int(num_classes, "num_classes")
        _base.check_int(width, "width")
        _base.check_int(dense_units, "dense_units")
        if conv not in CONVS:
            raise ValueError(f"unknown conv {conv!r}; choose from {', '.join(CONVS)}")
        rate = _base.check_dropout(dropout)
        activation = _base.check_activation(activation)
        _base.check_classifier_activation(classifier_activation)
        stem = _base.resolve_stem(stem, input_shape, "BaselineCNN", MIN_SIDE)

        inputs = keras.Input(input_shape, name="inputs")
        x = _stem(inputs, stem, width, activation)
        for stage in range(3):
            filters = width * 2**stage
            for i in range(2):
                if stage == 0 and i == 0 and stem == "cifar":
                    continue  # the stem is this stage's first conv
                if conv == "separable":
                    x = blocks.apply_depthwise_separable_block(
                        x, filters, 1, activation, name=f"stage{stage + 1}_sep{i + 1}"
                    )
                else:
                    x = blocks.apply_conv_bn_act(
                        x, filters, 3, 1, activation, name=f"stage{stage + 1}_conv{i + 1}"
                    )
            x = layers.MaxPooling2D(2, name=f"stage{stage + 1}_pool")(x)
        x = layers.Flatten(name="flatten")(x)
        if rate:
            x = layers.Dropout(rate, name="dropout")(x)
        x = layers.Dense(dense_units, kernel_initializer="he_normal", name="fc")(x)
        x = layers.BatchNormalization(name="fc_bn")(x)
        x = blocks._act(activation, "fc_act")(x)
        outputs = _base.apply_classifier(x, num_classes, classifier_activation, rate)
        super().__init__(inputs=inputs, outputs=outputs, name=name or "baseline_cnn", **kwargs)
        self._remember(
            input_shape=input_shape,
            num_classes=num_classes,
            stem=stem,
            width=width,
            dense_units=dense_units,
            conv=conv,
            dropout=dropout,
            activation=activation,
            classifier_activation=classifier_activation,
        )


@keras.saving.register_keras_serializable(package="kerasnets")
class EfficientCNN(_base.ZooModel):
    """Efficient CNN: conv stem, 3 × (depthwise-separable block, inverted residual), GAP, dense.

    Stage s (widths width·(2, 4, 8)) opens with a strided depthwise-separable block that widens
    the channels and halves the resolution, and continues with an inverted
    residual block (1×1 expansion by ``expansion``, depthwise 3×3, 1×1 linear bottleneck,
    identity skip).

    Args:
        input_shape: ``(height, width, channels)``, default ``(32, 32, 3)``.
        num_classes: classifier outputs.
        stem: ``"cifar"`` (sides ≥ 8) or ``"imagenet"`` (7×7/2 conv + 3×3/2 pool, sides ≥ 32);
            None picks from the size.
        width: channels of the stem; the stages have width·(2, 4, 8).
        expansion: expansion factor of the inverted residual blocks.
        strides: the stride of each stage's depthwise-separable block (1 or 2 each); the
            default ``(2, 2, 2)`` halves the resolution in every stage, ``(1, 2, 2)`` keeps the
            stem's resolution in the first stage (for small inputs such as 16×16 digits).
        squeeze_excite: add squeeze-excitation gates to the inverted residual blocks.
        head: ``"gap"`` (default): global average pooling → classifier; ``"flatten"``: a 1×1
            convolution reduces the last map to ``head_channels`` channels, which are
            flattened into the classifier. The 1×1 reduction keeps *where* a feature is (which
            global pooling discards, and which matters for centred images such as digits) for
            a few thousand parameters instead of a dense layer on the full map.
        head_channels: channels of the ``"flatten"`` head's 1×1 reduction.
        dropout: dropout rate before the classifier.
        activation: activation name.
        classifier_activation: ``"softmax"`` (default), ``"sigmoid"``, ``"linear"`` or None.
        name: model name (default ``"efficient_cnn"``).

    Example:
        >>> EfficientCNN().count_params() < 500_000
        True
    """

    def __init__(
        self,
        input_shape=(32, 32, 3),
        num_classes=10,
        stem=None,
        width=32,
        expansion=2,
        strides=(2, 2, 2),
        squeeze_excite=False,
        head="gap",
        head_channels=16,
        dropout=0.0,
        activation="relu",
        classifier_activation="softmax",
        name=None,
        **kwargs,
    ):
        input_shape = _base.check_input_shape(input_shape)
        _base.check_int(num_classes, "num_classes")
        _base.check_int(width, "width")
        _base.check_int(expansion, "expansion")
        _base.check_int(head_channels, "head_channels")
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; choose from {', '.join(HEADS)}")
        strides = tuple(strides) if isinstance(strides, (list, tuple)) else strides
        if not (
            isinstance(strides, tuple)
            and len(strides) == 3
            and all(s in (1, 2) and not isinstance(s, bool) for s in strides)
        ):
            raise ValueError(f"strides must be three of 1 or 2, e.g. (2, 2, 2), got {strides!r}")
        rate = _base.check_dropout(dropout)
        activation = _base.check_activation(activation)
        _base.check_classifier_activation(classifier_activation)
        stem = _base.resolve_stem(stem, input_shape, "EfficientCNN", MIN_SIDE)

        inputs = keras.Input(input_shape, name="inputs")
        x = _stem(inputs, stem, width, activation)
        for stage, multiple in enumerate((2, 4, 8)):
            filters = width * multiple
            x = blocks.apply_depthwise_separable_block(
                x, filters, strides[stage], activation, name=f"stage{stage + 1}_ds"
            )
            x = blocks.apply_inverted_residual(
                x,
                filters,
                expansion=expansion,
                activation=activation,
                squeeze_excite=bool(squeeze_excite),
                name=f"stage{stage + 1}_ir",
            )
        if head == "flatten":
            x = blocks.apply_conv_bn_act(x, head_channels, 1, 1, activation, name="head_reduce")
            x = layers.Flatten(name="head_flatten")(x)
        outputs = _base.apply_classifier(x, num_classes, classifier_activation, rate)
        super().__init__(inputs=inputs, outputs=outputs, name=name or "efficient_cnn", **kwargs)
        self._remember(
            input_shape=input_shape,
            num_classes=num_classes,
            stem=stem,
            width=width,
            expansion=expansion,
            strides=list(strides),
            squeeze_excite=squeeze_excite,
            head=head,
            head_channels=head_channels,
            dropout=dropout,
            activation=activation,
            classifier_activation=classifier_activation,
        )
