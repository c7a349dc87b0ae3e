"""GoogLeNet (Inception v1).

From "Going Deeper with Convolutions" (Szegedy et al., CVPR 2015): a stem, nine inception
modules (3a–3b, 4a–4e, 5a–5b) with max-pooling between the groups, global average pooling,
dropout and a dense classifier. Every convolution is conv → BN → ReLU, as in torchvision's
``googlenet`` (the batch-normalized variant; the paper used local response normalization).
The auxiliary classifiers used only during the paper's training are left out.

Parameter count (1000 classes): torchvision's ``googlenet`` (aux_logits=False) has 6,624,904
parameters; it uses a 3×3 convolution in the "5×5" path of every module (a bug it keeps for
its pretrained weights). ``large_kernel=3`` reproduces it exactly; the default
``large_kernel=5`` is the paper's module, 7,005,832 parameters.
"""

from __future__ import annotations

import keras
from keras import layers

from kerasnets import blocks
from kerasnets.models import _base

#: (name, 1×1, 3×3 reduce, 3×3, 5×5 reduce, 5×5, pool proj) of the paper's Table 1;
#: "pool" marks a 3×3/2 max-pool.
INCEPTION_LAYOUT = (
    ("3a", 64, 96, 128, 16, 32, 32),
    ("3b", 128, 128, 192, 32, 96, 64),
    "pool",
    ("4a", 192, 96, 208, 16, 48, 64),
    ("4b", 160, 112, 224, 24, 64, 64),
    ("4c", 128, 128, 256, 24, 64, 64),
    ("4d", 112, 144, 288, 32, 64, 64),
    ("4e", 256, 160, 320, 32, 128, 128),
    "pool",
    ("5a", 256, 160, 320, 32, 128, 128),
    ("5b", 384, 192, 384, 48, 128, 128),
)
MIN_SIDE = {"cifar": 4, "imagenet": 32}


def _max_pool(x, name):
    x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name=name)(x)


@keras.saving.register_keras_serializable(package="kerasnets")
class GoogLeNet(_base.ZooModel):
    """GoogLeNet / Inception v1 (Szegedy et al., 2015), batch-normalized.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: classifier outputs.
        stem: ``"imagenet"`` (7×7/2 conv, pool, 1×1 conv, 3×3 conv, pool: total stride 32,
            sides ≥ 32), ``"cifar"`` (one 3×3 conv with 192 channels: total stride 4,
            sides ≥ 4), or None: ImageNet stem for inputs of 128 pixels or more per side.
        width_multiplier: scales every convolution's channels (``max(1, int(c·m))``).
        large_kernel: kernel of the "5×5" paths: 5 (paper) or 3 (torchvision).
        dropout: dropout rate before the classifier (torchvision 0.2, the paper 0.4).
        activation: activation name.
        classifier_activation: ``"softmax"`` (default), ``"sigmoid"``, ``"linear"`` or None.
        name: model name (default ``"googlenet"``).

    Example:
        >>> model = GoogLeNet(input_shape=(8, 8, 3), num_classes=3, width_multiplier=0.125)
        >>> model.output_shape
        (None, 3)
    """

    def __init__(
        self,
        input_shape=(224, 224, 3),
        num_classes=1000,
        stem=None,
        width_multiplier=1.0,
        large_kernel=5,
        dropout=0.2,
        activation="relu",
        classifier_activation="softmax",
        name=None,
        **kwargs,
    ):
        input_shape = _base.check_input_shape(input_shape)
        _base.check_int(num_classes, "num_classes")
        _base.check_number(width_multiplier, "width_multiplier")
        if large_kernel not in (3, 5):
            raise ValueError(
                f"large_kernel must be 5 (paper) or 3 (torchvision), got {large_kernel!r}"
            )
        rate = _base.check_dropout(dropout)
        activation = _base.check_activation(activation)
        _base.check_classifier_activation(classifier_activation)
        stem = _base.resolve_stem(stem, input_shape, "GoogLeNet", MIN_SIDE)

        def c(channels):
            return max(1, int(channels * width_multiplier))

        inputs = keras.Input(input_shape, name="inputs")
        if stem == "imagenet":
            x = blocks.apply_conv_bn_act(inputs, c(64), 7, 2, activation, name="conv1")
            x = _max_pool(x, "pool1")
            x = blocks.apply_conv_bn_act(x, c(64), 1, 1, activation, name="conv2")
            x = blocks.apply_conv_bn_act(x, c(192), 3, 1, activation, name="conv3")
            x = _max_pool(x, "pool2")
        else:
            x = blocks.apply_conv_bn_act(inputs, c(192), 3, 1, activation, name="conv1")
        pools = 0
        for entry in INCEPTION_LAYOUT:
            if entry == "pool":
                pools += 1
                x = _max_pool(x, f"pool{pools + 2}")
                continue
            module, *filters = entry
            x = blocks.apply_inception_module(
                x,
                *[c(f) for f in filters],
                large_kernel=large_kernel,
                activation=activation,
                name=f"inception{module}",
            )
        outputs = _base.apply_classifier(x, num_classes, classifier_activation, rate)
        super().__init__(inputs=inputs, outputs=outputs, name=name or "googlenet", **kwargs)
        self._remember(
            input_shape=input_shape,
            num_classes=num_classes,
            stem=stem,
            width_multiplier=width_multiplier,
            large_kernel=large_kernel,
            dropout=dropout,
            activation=activation,
            classifier_activation=classifier_activation,
        )
