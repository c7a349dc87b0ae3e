"""MobileNet v1 with its width multiplier α.

From "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications"
(Howard et al., 2017): a strided 3×3 conv, thirteen depthwise-separable blocks
(:func:`kerasnets.blocks.apply_depthwise_separable_block`, ReLU6) and global average pooling.
The width multiplier α thins every layer to ``int(α·channels)``; cost falls roughly with α².
With α = 1 and 1000 classes it has 4,253,864 parameters, as Keras Applications' ``MobileNet``.
"""

from __future__ import annotations

import keras

from kerasnets import blocks
from kerasnets.models import _base

#: (pointwise channels, stride) of the 13 depthwise-separable blocks (the paper's Table 1).
LAYOUT = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)
MIN_SIDE = {"cifar": 16, "imagenet": 32}


@keras.saving.register_keras_serializable(package="kerasnets")
class MobileNet(_base.ZooModel):
    """MobileNet v1 (Howard et al., 2017).

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: classifier outputs.
        stem: ``"imagenet"`` (the first conv strided: total stride 32, sides ≥ 32),
            ``"cifar"`` (the first conv at stride 1: total stride 16, sides ≥ 16), or None:
            ImageNet stem for inputs of 128 pixels or more per side.
        alpha: width multiplier α > 0 (the paper uses 1, 0.75, 0.5, 0.25).
        dropout: dropout rate before the classifier (Keras Applications: 0.001).
        activation: activation name (the paper: ReLU6).
        classifier_activation: ``"softmax"`` (default), ``"sigmoid"``, ``"linear"`` or None.
        name: model name (default ``"mobilenet"``).

    Example:
        >>> model = MobileNet(input_shape=(16, 16, 3), num_classes=3, alpha=0.25)
        >>> model.output_shape
        (None, 3)
    """

    def __init__(
        self,
        input_shape=(224, 224, 3),
        num_classes=1000,
        stem=None,
        alpha=1.0,
        dropout=1e-3,
        activation="relu6",
        classifier_activation="softmax",
        name=None,
        **kwargs,
    ):
        input_shape = _base.check_input_shape(input_shape)
        _base.check_int(num_classes, "num_classes")
        _base.check_number(alpha, "alpha")
        rate = _base.check_dropout(dropout)
        activation = _base.check_activation(activation)
        _base.check_classifier_activation(classifier_activation)
        stem = _base.resolve_stem(stem, input_shape, "MobileNet", MIN_SIDE)
        if int(32 * alpha) < 1:
            raise ValueError(f"alpha {alpha!r} leaves the first layer without channels")

        inputs = keras.Input(input_shape, name="inputs")
        x = blocks.apply_conv_bn_act(
            inputs, int(32 * alpha), 3, 2 if stem == "imagenet" else 1, activation, name="conv1"
        )
        for i, (filters, strides) in enumerate(LAYOUT):
            x = blocks.apply_depthwise_separable_block(
                x, int(filters * alpha), strides, activation, name=f"conv_dw_{i + 1}"
            )
        outputs = _base.apply_classifier(x, num_classes, classifier_activation, rate)
        super().__init__(inputs=inputs, outputs=outputs, name=name or "mobilenet", **kwargs)
        self._remember(
            input_shape=input_shape,
            num_classes=num_classes,
            stem=stem,
            alpha=alpha,
            dropout=dropout,
            activation=activation,
            classifier_activation=classifier_activation,
        )
