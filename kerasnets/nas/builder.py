"""Build a sampled :class:`~kerasnets.nas.space.Architecture` as a Keras functional model.

Each layer of the architecture becomes one block function of :mod:`kerasnets.blocks` (built-in
Keras layers with explicit names ``l{i}_...``), followed by global average pooling and a softmax
classifier. So a searched network trains on every backend, has its MACs counted by
:mod:`kerasnets.analysis`, saves to ``.keras`` and converts to ``.tflite`` like a zoo model.

Example:
    >>> from kerasnets.nas.space import Architecture, Layer
    >>> arch = Architecture((Layer("conv3x3", 32), Layer("separable", 64, True)))
    >>> model = build(arch, input_shape=(8, 8, 1), num_classes=10)
    >>> tuple(model.output.shape), model.name
    ((None, 10), 'nas_net')
"""

from __future__ import annotations

import keras
from keras import layers

from kerasnets import blocks
from kerasnets.nas.space import Architecture


def _apply_layer(x, layer, index):
    name = f"l{index}"
    stride = 2 if layer.downsample else 1
    c = layer.channels
    if layer.type in ("conv3x3", "conv5x5"):
        k = 3 if layer.type == "conv3x3" else 5
        return blocks.apply_conv_bn_act(x, c, k, stride, name=name)
    if layer.type == "separable":
        return blocks.apply_depthwise_separable_block(x, c, stride, name=name)
    same = stride == 1 and x.shape[-1] == c
    shortcut = "identity" if same else "projection"
    if layer.type == "residual":
        return blocks.apply_basic_block(x, c, stride, shortcut=shortcut, name=name)
    if layer.type == "bottleneck":
        return blocks.apply_bottleneck_block(x, c // 4, stride, 4, shortcut=shortcut, name=name)
    # inception: output channels c = c/4 (1×1) + c/2 (3×3) + c/8 (5×5) + c/8 (pool path);
    # the module keeps the resolution, so a 2×2 max-pool in front downsamples.
    if stride == 2:
        x = layers.MaxPooling2D(2, name=f"{name}_downpool")(x)
    q, e = c // 4, c // 8
    return blocks.apply_inception_module(x, q, q, c // 2, max(e // 2, 1), e, e, name=name)


def build(
    arch: Architecture,
    input_shape=(8, 8, 1),
    num_classes: int = 10,
    name: str = "nas_net",
) -> keras.Model:
    """The functional Keras model of ``arch``: its layers, global average pooling, softmax.

    Args:
        arch: an :class:`~kerasnets.nas.space.Architecture` (or its ``to_dict()`` form).
        input_shape: ``(height, width, channels)`` of the images.
        num_classes: classifier outputs.
        name: model name.

    Raises:
        ValueError: the input is too small for the architecture's downsampling (each stride-2
            layer halves the side; a side must stay ≥ 1), or a bad shape.
    """
    if isinstance(arch, dict):
        arch = Architecture.from_dict(arch)
    if not isinstance(arch, Architecture):
        raise TypeError(f"expected an Architecture or its dict, got {type(arch).__name__}")
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    if min(shape[:2]) < 2**arch.downsamples:
        raise ValueError(
            f"input {shape[0]}×{shape[1]} is too small for {arch.downsamples} downsampling "
            f"layers (needs sides ≥ {2**arch.downsamples})"
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    inputs = keras.Input(shape, name="inputs")
    x = inputs
    for i, layer in enumerate(arch.layers):
        x = _apply_layer(x, layer, i)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def mobilenet_style(width: int = 32) -> Architecture:
    """A MobileNet-v1-style architecture in the search space's terms (a hand-designed baseline).

    MobileNet v1 (Howard et al., 2017) is a 3×3 convolution followed by depthwise-separable
    layers that double the channels as they halve the resolution. This is its first six layers
    at width ``width``: conv3x3-w, separable-2w, separable-4w/2, separable-4w, separable-8w/2,
    separable-8w. The zoo's ``mobilenet`` needs inputs of at least 16×16; this one runs on the
    8×8 digits.

    Example:
        >>> mobilenet_style().describe()
        'conv3x3-32 → separable-64 → separable-128/2 → separable-128 → separable-256/2 → \
separable-256'
    """
    from kerasnets.nas.space import Layer

    w = width
    return Architecture(
        (
            Layer("conv3x3", w),
            Layer("separable", 2 * w),
            Layer("separable", 4 * w, True),
            Layer("separable", 4 * w),
            Layer("separable", 8 * w, True),
            Layer("separable", 8 * w),
        )
    )


def estimate_macs(arch: Architecture, input_shape=(8, 8, 1), num_classes: int = 10) -> int:
    """Multiply-accumulates of the convolutions and the classifier of ``arch``, without Keras.

    A lower bound of :func:`kerasnets.analysis.count_macs` of :func:`build`'s model (which also
    counts batch normalization, activations and additions, a few per cent more): a k×k
    convolution from M to N channels costs k²·M·N per output position, a depthwise-separable
    layer 9·M + M·N. Samplers use it to skip candidates over a MAC limit in microseconds,
    before anything is built or written to the study.

    Example:
        >>> from kerasnets.nas.space import Layer
        >>> estimate_macs(Architecture((Layer("conv3x3", 8),)), (8, 8, 1), 10)  # 64·9·8 + 8·10
        4688
    """
    h, w, cin = (int(s) for s in input_shape)
    total = 0
    for layer in arch.layers:
        c = layer.channels
        if layer.downsample:
            h, w = -(-h // 2), -(-w // 2)
        hw = h * w
        if layer.type in ("conv3x3", "conv5x5"):
            k = 3 if layer.type == "conv3x3" else 5
            total += hw * k * k * cin * c
        elif layer.type == "separable":
            total += hw * (9 * cin + cin * c)
        elif layer.type == "residual":
            total += hw * 9 * cin * c + hw * 9 * c * c
            total += hw * cin * c if (layer.downsample or cin != c) else 0
        elif layer.type == "bottleneck":
            b = c // 4
            total += hw * (cin * b + 9 * b * b + b * c)
            total += hw * cin * c if (layer.downsample or cin != c) else 0
        else:  # inception: 1×1 | 1×1→3×3 | 1×1→5×5 | pool→1×1
            q, e = c // 4, c // 8
            e2 = max(e // 2, 1)
            total += hw * (cin * q + cin * q + 9 * q * (c // 2) + cin * e2 + 25 * e2 * e + cin * e)
        cin = c
    return total + cin * num_classes
