"""ResNet-18/34/50/101/152 and PlainNet, the same networks without their skip connections.

From "Deep Residual Learning for Image Recognition" (He, Zhang, Ren & Sun, CVPR 2016). A stem,
four stages of residual blocks with widths ``width·(1, 2, 4, 8)`` (the first block of stages
2–4 halves the resolution), global average pooling and a dense classifier:

| depth | block | blocks per stage | reference parameter count (1000 classes) |
|---|---|---|---|
| 18 | basic (2 × 3×3) | 2, 2, 2, 2 | 11,689,512 (torchvision) |
| 34 | basic | 3, 4, 6, 3 | 21,797,672 (torchvision) |
| 50 | bottleneck (1×1, 3×3, 1×1) | 3, 4, 6, 3 | 25,636,712 (Keras Applications) |
| 101 | bottleneck | 3, 4, 23, 3 | 44,707,176 (Keras Applications) |
| 152 | bottleneck | 3, 8, 36, 3 | 60,419,944 (Keras Applications) |

``use_bias=None`` follows the reference of each depth: no conv biases for 18/34 (torchvision, BN
follows every conv), conv biases for 50/101/152 (Keras Applications, the architecture the
zoo-overhead benchmark compares against). Bottleneck blocks stride in their first 1×1 conv
(the paper and Keras Applications).

PlainNet (hands-on project 2) is the same graph with ``shortcut="none"``: same depth, widths and
parameter count, no additions, so a training comparison isolates the effect of the skips.
"""

from __future__ import annotations

import keras

from kerasnets import blocks
from kerasnets.models import _base

#: depth -> (block type, blocks per stage)
DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
MODEL_SHORTCUTS = ("identity", "projection", "none")
MIN_SIDE = {"cifar": 8, "imagenet": 32}


@keras.saving.register_keras_serializable(package="kerasnets")
class ResNet(_base.ZooModel):
    """A residual network (He et al., 2016), functional graph of :mod:`kerasnets.blocks`.

    Args:
        depth: 18, 34 (basic blocks), 50, 101 or 152 (bottleneck blocks).
        input_shape: ``(height, width, channels)``.
        num_classes: classifier outputs.
        stem: ``"imagenet"`` (7×7/2 conv + 3×3/2 max-pool, total stride 32, sides ≥ 32),
            ``"cifar"`` (one 3×3/1 conv, total stride 8, sides ≥ 8), or None: ImageNet stem for
            inputs of 128 pixels or more per side, CIFAR stem below.
        width: channels of the first stage (64 in the paper); stages have width·(1, 2, 4, 8)
            (times 4 at the output of bottleneck blocks). Small widths make quick experiments.
        shortcut: ``"identity"`` (the paper's option B: identity where the shape is kept, 1×1
            projection where it changes), ``"projection"`` (option C: a projection on every
            block) or ``"none"`` (no skips: PlainNet).
        preactivation: pre-activation blocks (ResNet v2, He et al. 2016b), with a final
            BN → activation before pooling.
        activation: activation name (see :mod:`kerasnets.activations`).
        use_bias: conv biases; None follows the reference implementation (see module docs).
        classifier_activation: ``"softmax"`` (default), ``"sigmoid"``, ``"linear"`` or None
            (logits).
        name: model name (default ``resnet{depth}``).

    Example:
        >>> model = ResNet(18, input_shape=(32, 32, 3), num_classes=10, width=16)
        >>> model.output_shape
        (None, 10)
    """

    def __init__(
        self,
        depth=18,
        input_shape=(224, 224, 3),
        num_classes=1000,
        stem=None,
        width=64,
        shortcut="identity",
        preactivation=False,
        activation="relu",
        use_bias=None,
        classifier_activation="softmax",
        name=None,
        **kwargs,
    ):
        family = type(self).__name__
        if depth not in DEPTHS:
            raise ValueError(
                f"unsupported {family} depth {depth!r}; allowed: {', '.join(map(str, DEPTHS))}"
            )
        input_shape = _base.check_input_shape(input_shape)
        _base.check_int(num_classes, "num_classes")
        _base.check_int(width, "width")
        if shortcut not in MODEL_SHORTCUTS:
            raise ValueError(
                f"unknown shortcut {shortcut!r}; allowed: {', '.join(MODEL_SHORTCUTS)}"
            )
        activation = _base.check_activation(activation)
        _base.check_classifier_activation(classifier_activation)
        stem = _base.resolve_stem(stem, input_shape, f"{family}-{depth}", MIN_SIDE)
        kind, stage_blocks = DEPTHS[depth]
        bias = kind == "bottleneck" if use_bias is None else bool(use_bias)

        inputs = keras.Input(input_shape, name="inputs")
        if stem == "imagenet":
            x = _base.apply_imagenet_stem(
                inputs, width, activation, bias, normalize=not preactivation
            )
        elif preactivation:
            x = blocks.apply_conv(inputs, width, 3, use_bias=bias, name="conv1_conv")
        else:
            x = blocks.apply_conv_bn_act(inputs, width, 3, 1, activation, bias, name="conv1")
        channels = x.shape[-1]
        for stage, n_blocks in enumerate(stage_blocks):
            filters = width * 2**stage
            for i in range(n_blocks):
                strides = 2 if stage > 0 and i == 0 else 1
                out = filters * 4 if kind == "bottleneck" else filters
                if shortcut == "identity" and (strides != 1 or channels != out):
                    block_shortcut = "projection"
                else:
                    block_shortcut = shortcut
                apply = (
                    blocks.apply_bottleneck_block
                    if kind == "bottleneck"
                    else blocks.apply_basic_block
                )
                x = apply(
                    x,
                    filters,
                    strides=strides,
                    shortcut=block_shortcut,
                    preactivation=preactivation,
                    activation=activation,
                    use_bias=bias,
                    name=f"conv{stage + 2}_block{i + 1}",
                )
                channels = out
        if preactivation:
            x = blocks._batch_norm(x, "post_bn")
            x = blocks._act(activation, "post_act")(x)
        outputs = _base.apply_classifier(x, num_classes, classifier_activation)
        super().__init__(
            inputs=inputs, outputs=outputs, name=name or self._default_name(depth), **kwargs
        )
        self._remember(
            depth=depth,
            input_shape=input_shape,
            num_classes=num_classes,
            stem=stem,
            width=width,
            shortcut=shortcut,
            preactivation=preactivation,
            activation=activation,
            use_bias=use_bias,
            classifier_activation=classifier_activation,
        )

    @staticmethod
    def _default_name(depth):
        return f"resnet{depth}"


@keras.saving.register_keras_serializable(package="kerasnets")
class PlainNet(ResNet):
    """A ResNet with its skip connections removed: same depth, widths and parameters.

    The baseline of hands-on project 2 ("compare with a plain network of the same depth"):
    He et al. (2016) show the plain 34-layer network trains *worse* than the plain 18-layer one
    (the degradation problem), while the residual versions improve with depth.

    Takes the arguments of :class:`ResNet` except ``shortcut``.

    Example:
        >>> model = PlainNet(18, input_shape=(16, 16, 3), num_classes=10, width=8)
        >>> any("add" in layer.name for layer in model.layers)
        False
    """

    def __init__(
        self,
        depth=18,
        input_shape=(224, 224, 3),
        num_classes=1000,
        stem=None,
        width=64,
        preactivation=False,
        activation="relu",
        use_bias=None,
        classifier_activation="softmax",
        name=None,
        **kwargs,
    ):
        if kwargs.pop("shortcut", "none") != "none":
            raise ValueError("PlainNet has no shortcuts; use ResNet(shortcut=...) instead")
        super().__init__(
            depth,
            input_shape=input_shape,
            num_classes=num_classes,
            stem=stem,
            width=width,
            shortcut="none",
            preactivation=preactivation,
            activation=activation,
            use_bias=use_bias,
            classifier_activation=classifier_activation,
            name=name,
            **kwargs,
        )
        del self._zoo_config["shortcut"]

    @staticmethod
    def _default_name(depth):
        return f"plainnet{depth}"
