"""DenseNet-121/169/201 and DenseNet-BC for small images.

From "Densely Connected Convolutional Networks" (Huang, Liu, van der Maaten & Weinberger, CVPR
2017). Dense blocks, in which every layer receives the concatenated feature maps of all earlier
layers and adds ``growth_rate`` (k) new ones, alternate with transition layers (BN → ReLU →
1×1 conv with compression θ → 2×2 average pool). "BC" = bottleneck 1×1 convs (4k channels)
before each 3×3 conv + compression θ = 0.5.

| name | layers per block | k | reference parameter count |
|---|---|---|---|
| densenet121 | 6, 12, 24, 16 | 32 | 8,062,504 (Keras Applications) |
| densenet169 | 6, 12, 32, 32 | 32 | 14,307,880 (Keras Applications) |
| densenet201 | 6, 12, 48, 32 | 32 | 20,242,984 (Keras Applications) |
| densenet_bc | 16, 16, 16 (L = 100) | 12 | about 0.8 M on CIFAR-10 (the paper's DenseNet-BC) |
"""

from __future__ import annotations

import keras
from keras import layers

from kerasnets import blocks as patterns
from kerasnets.models import _base

#: ImageNet depth -> layers per dense block
DEPTHS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}


@keras.saving.register_keras_serializable(package="kerasnets")
class DenseNet(_base.ZooModel):
    """A densely connected network (Huang et al., 2017).

    Args:
        depth: 121, 169 or 201 (the ImageNet layouts); give ``blocks`` instead for any other.
            Neither given: 121.
        input_shape: ``(height, width, channels)``.
        num_classes: classifier outputs.
        stem: ``"imagenet"`` (7×7/2 conv → BN → ReLU → 3×3/2 max-pool; sides at least the
            total stride 4·2^(n_blocks−1), 32 for four blocks), ``"cifar"`` (one 3×3 conv with
            ``2·growth_rate`` channels, as in the paper's CIFAR networks; sides at least
            2^(n_blocks−1)), or None: ImageNet stem for inputs of 128 pixels or more per side.
        growth_rate: k, channels added by each layer (positive).
        blocks: layers per dense block, e.g. ``(16, 16, 16)`` for DenseNet-BC-100.
        compression: θ of the transition layers, in (0, 1].
        bottleneck: the 1×1 bottleneck convolutions (DenseNet-B).
        initial_filters: channels of the stem (default: 64 for the ImageNet stem,
            ``2·growth_rate`` for the CIFAR stem).
        activation: activation name.
        classifier_activation: ``"softmax"`` (default), ``"sigmoid"``, ``"linear"`` or None.
        remat: memory-efficient training (True or False, default False): every dense layer
            becomes a nested functional model (``conv2_block1``, ...; the same layers, weights,
            parameter and MAC counts) whose training forward pass is rematerialized with
            :func:`keras.remat`, so a training step stores only each dense layer's input and
            recomputes its BN → ReLU → conv intermediates in the backward pass (Pleiss et al.
            2017, "Memory-efficient implementation of DenseNets"). Outputs, loss, gradients and
            BatchNorm moving statistics equal those of ``remat=False``. Measured by
            ``benchmarks/remat_memory.py``: the saving is real on TensorFlow and PyTorch; on
            JAX the CPU compiler (XLA:CPU) merges the recomputation back into the forward pass,
            so remat saves nothing there unless JAX starts with
            ``XLA_FLAGS=--xla_disable_hlo_passes=cse_barrier_expander`` (XLA on GPU/TPU keeps
            it anyway). Weights move between the two layouts by layer name, not from one
            ``.keras`` file into the other.
        name: model name.

    Example:
        >>> model = DenseNet(blocks=(2, 2), growth_rate=4, input_shape=(8, 8, 3), num_classes=3)
        >>> model.output_shape
        (None, 3)
        >>> lean = DenseNet(blocks=(2, 2), growth_rate=4, input_shape=(8, 8, 3), num_classes=3,
        ...                 remat=True)
        >>> lean.count_params() == model.count_params(), lean.get_config()["remat"]
        (True, True)
        >>> tuple(lean.get_layer("conv2_block1").get_layer("conv2_block1_1_conv").kernel.shape)
        (1, 1, 8, 16)
    """

    def __init__(
        self,
        depth=None,
        input_shape=(224, 224, 3),
        num_classes=1000,
        stem=None,
        growth_rate=32,
        blocks=None,
        compression=0.5,
        bottleneck=True,
        initial_filters=None,
        activation="relu",
        classifier_activation="softmax",
        remat=False,
        name=None,
        **kwargs,
    ):
        if depth is not None and blocks is not None:
            raise ValueError(
                f"give DenseNet either depth ({depth!r}) or blocks ({blocks!r}), not both"
            )
        if blocks is None:
            depth = 121 if depth is None else depth
            if depth not in DEPTHS:
                raise ValueError(
                    f"unsupported DenseNet depth {depth!r}; allowed: "
                    f"{', '.join(map(str, DEPTHS))} (or give blocks=...)"
                )
            layout = DEPTHS[depth]
        else:
            try:
                layout = tuple(blocks)
            except TypeError:
                layout = ()
            if not layout:
                raise ValueError(
                    f"blocks must be a non-empty list of layers per dense block, got {blocks!r}"
                )
            for n in layout:
                _base.check_int(n, "layers per dense block")
        input_shape = _base.check_input_shape(input_shape)
        _base.check_int(num_classes, "num_classes")
        _base.check_int(growth_rate, "growth_rate")
        _base.check_number(compression, "compression", 0.0, 1.0)
        if initial_filters is not None:
            _base.check_int(initial_filters, "initial_filters")
        activation = _base.check_activation(activation)
        _base.check_classifier_activation(classifier_activation)
        if not isinstance(remat, bool):
            raise ValueError(f"remat must be True or False, got {remat!r}")
        transitions = 2 ** (len(layout) - 1)
        stem = _base.resolve_stem(
            stem, input_shape, "DenseNet", {"cifar": transitions, "imagenet": 4 * transitions}
        )

        inputs = keras.Input(input_shape, name="inputs")
        if stem == "imagenet":
            x = _base.apply_imagenet_stem(inputs, initial_filters or 64, activation)
        else:
            x = layers.Conv2D(
                initial_filters or 2 * growth_rate,
                3,
                padding="same",
                use_bias=False,
                kernel_initializer="he_normal",
                name="conv1_conv",
            )(inputs)
        for i, n in enumerate(layout):
            x = patterns.apply_dense_block(
                x, n, growth_rate, bottleneck, activation, name=f"conv{i + 2}", remat=remat
            )
            if i < len(layout) - 1:
                x = patterns.apply_transition(x, compression, activation, name=f"pool{i + 2}")
        x = patterns._batch_norm(x, "bn")
        x = patterns._act(activation, "relu")(x)
        outputs = _base.apply_classifier(x, num_classes, classifier_activation)
        default = f"densenet{depth}" if blocks is None else "densenet"
        super().__init__(inputs=inputs, outputs=outputs, name=name or default, **kwargs)
        self._remember(
            depth=depth,
            input_shape=input_shape,
            num_classes=num_classes,
            stem=stem,
            growth_rate=growth_rate,
            blocks=blocks,
            compression=compression,
            bottleneck=bottleneck,
            initial_filters=initial_filters,
            activation=activation,
            classifier_activation=classifier_activation,
            remat=remat,
        )
