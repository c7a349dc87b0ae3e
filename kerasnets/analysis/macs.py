"""Analytic multiply-accumulate (MAC) counts, one formula per layer type.

One MAC is one multiplication followed by one addition (``acc += w * x``); FLOPs are about
``2 × MACs``. Every count is **per example** (batch size 1) and for **inference**. The rules:

* Weighted layers (Dense, convolutions) count the multiply-adds of their weights. Bias
  additions are *not* counted: the bias is the initial value of the accumulator.
* Elementwise work counts **one MAC per output element per elementwise step**: an activation
  (whatever its cost on real hardware: ReLU, sigmoid and GELU all count 1), a BatchNormalization
  at inference (folded into ``y = a·x + b``), each two-input step of an Add. This is a
  convention that keeps these small terms visible next to the convolutions; it does not pretend
  to count transcendental functions exactly.
* Pure data movement (Flatten, Reshape, Concatenate, padding, cropping, dropout at inference,
  nearest-neighbour upsampling, embedding lookups) costs 0.
* A layer type with no formula here is reported as *uncounted* (MACs 0, flagged), never
  silently. Add a formula with :func:`register_macs`.

A formula receives the layer, its input shapes and its output shapes, all **without** the
batch axis (tuples of ints), and returns an int.

Example:
    >>> import keras
    >>> conv = keras.layers.Conv2D(64, 3, padding="same")
    >>> conv.build((None, 32, 32, 16))
    >>> layer_macs(conv, [(32, 32, 16)], [(32, 32, 64)])  # 32·32 positions × 3²·16·64
    9437184
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras

MacFormula = Callable[[object, list, list], int]

_FORMULAS: dict[object, MacFormula] = {}


def register_macs(*layer_types):
    """Decorator: use the decorated function as the MAC formula of ``layer_types``.

    ``layer_types`` are classes, or ``"module.ClassName"`` strings for classes that should not
    be imported here. Subclasses inherit the formula of their nearest registered base class.

    Example:
        >>> import keras
        >>> class Square(keras.layers.Layer):
        ...     def call(self, x):
        ...         return x * x
        >>> @register_macs(Square)
        ... def _square_macs(layer, input_shapes, output_shapes):
        ...     return elements(output_shapes)
    """

    def decorate(fn):
        for layer_type in layer_types:
            _FORMULAS[layer_type] = fn
        return fn

    return decorate


def formula_for(layer) -> MacFormula | None:
    """The registered MAC formula for ``layer`` (nearest base class), or None if unknown."""
    for cls in type(layer).__mro__:
        fn = _FORMULAS.get(cls) or _FORMULAS.get(f"{cls.__module__}.{cls.__qualname__}")
        if fn is not None:
            return fn
    return None


def layer_macs(layer, input_shapes, output_shapes) -> int | None:
    """MACs of one call of ``layer`` per example, or None if its type has no formula.

    ``input_shapes``/``output_shapes``: lists of shapes without the batch axis.
    """
    fn = formula_for(layer)
    if fn is None:
        return None
    return int(fn(layer, [tuple(s) for s in input_shapes], [tuple(s) for s in output_shapes]))


def elements(shapes) -> int:
    """Number of elements in all ``shapes`` together."""
    return sum(math.prod(s) for s in shapes)


def _channels_last(layer) -> bool:
    return getattr(layer, "data_format", "channels_last") != "channels_first"


def _split(shape, layer):
    """(spatial dims, channels) of a conv/pool feature map shape without the batch axis."""
    if _channels_last(layer):
        return tuple(shape[:-1]), shape[-1]
    return tuple(shape[1:]), shape[0]


def _activation_macs(layer, output_shapes) -> int:
    """1 per output element for a fused ``activation=`` argument, 0 for linear/None."""
    activation = getattr(layer, "activation", None)
    if activation is None or activation is keras.activations.linear:
        return 0
    return elements(output_shapes)


# --- weighted layers --------------------------------------------------------------------------


@register_macs(keras.layers.Dense)
def dense_macs(layer, input_shapes, output_shapes):
    """Dense: ``positions · C_in · units`` (+ 1 per output element for a fused activation).

    ``positions`` is the product of the axes before the last one (1 for a flat input): Dense
    applies the same ``C_in × units`` matrix at each of them. Bias adds are not counted.
    """
    (in_shape,) = input_shapes
    positions = math.prod(in_shape[:-1])
    return positions * in_shape[-1] * layer.units + _activation_macs(layer, output_shapes)


@register_macs(keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
def conv_macs(layer, input_shapes, output_shapes):
    """Convolution: ``out_positions · prod(kernel_size) · (C_in / groups) · C_out``.

    For a k×k Conv2D from M to N channels this is the lecture's ``D²·M·N`` per output position
    (D = k). Strides, padding and dilation only change the number of output positions (taps
    that fall on "same" zero-padding are counted, as every framework computes them). ``groups``
    divides the input channels each filter sees. A fused activation adds 1 per output element;
    bias adds are not counted.
    """
    (in_shape,) = input_shapes
    (out_shape,) = output_shapes
    _, c_in = _split(in_shape, layer)
    out_spatial, c_out = _split(out_shape, layer)
    groups = getattr(layer, "groups", 1) or 1
    per_position = math.prod(layer.kernel_size) * (c_in // groups) * c_out
    return math.prod(out_spatial) * per_position + _activation_macs(layer, output_shapes)


@register_macs(
    keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose
)
def conv_transpose_macs(layer, input_shapes, output_shapes):
    """Transposed convolution: ``in_positions · prod(kernel_size) · C_in · C_out``.

    Each input position scatters a ``kernel × C_out`` patch weighted by its ``C_in`` values, so
    the cost is counted on the *input* positions (then it does not depend on strides). A fused
    activation adds 1 per output element.
    """
    (in_shape,) = input_shapes
    in_spatial, c_in = _split(in_shape, layer)
    c_out = layer.filters
    per_position = math.prod(layer.kernel_size) * c_in * c_out
    return math.prod(in_spatial) * per_position + _activation_macs(layer, output_shapes)


@register_macs(keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
def depthwise_conv_macs(layer, input_shapes, output_shapes):
    """Depthwise convolution: ``out_positions · prod(kernel_size) · C_in · depth_multiplier``.

    Each channel is filtered on its own: for a D×D kernel and M channels that is the lecture's
    ``D²·M`` per output position. A fused activation adds 1 per output element.
    """
    (in_shape,) = input_shapes
    (out_shape,) = output_shapes
    _, c_in = _split(in_shape, layer)
    out_spatial, _ = _split(out_shape, layer)
    per_position = math.prod(layer.kernel_size) * c_in * layer.depth_multiplier
    return math.prod(out_spatial) * per_position + _activation_macs(layer, output_shapes)


@register_macs(keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
def separable_conv_macs(layer, input_shapes, output_shapes):
    """Depthwise-separable convolution: ``out_positions · (D²·M·dm + M·dm·N)``.

    A depthwise D×D step on the M input channels (``depth_multiplier`` dm, usually 1) followed
    by a pointwise 1×1 step from ``M·dm`` to N channels, both at every output position: with
    dm = 1 the lecture's ``D²·M + M·N``. Compared with a standard conv (``D²·M·N``) the ratio is
    ``1/N + 1/D²`` — 8 to 9 times fewer MACs for 3×3 kernels. A fused activation adds 1 per
    output element (there is none between the two steps).
    """
    (in_shape,) = input_shapes
    (out_shape,) = output_shapes
    _, c_in = _split(in_shape, layer)
    out_spatial, c_out = _split(out_shape, layer)
    mid = c_in * layer.depth_multiplier
    per_position = math.prod(layer.kernel_size) * mid + mid * c_out
    return math.prod(out_spatial) * per_position + _activation_macs(layer, output_shapes)


# --- pooling ----------------------------------------------------------------------------------


@register_macs(
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.AveragePooling3D,
)
def pooling_macs(layer, input_shapes, output_shapes):
    """Max/average pooling: ``output elements · prod(pool_size)``.

    One comparison (max) or addition (average) per window element per output element; the
    division of average pooling is not counted separately.
    """
    return elements(output_shapes) * math.prod(layer.pool_size)


@register_macs(
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D,
)
def global_pooling_macs(layer, input_shapes, output_shapes):
    """Global max/average pooling: ``input elements`` (each is compared or added once)."""
    return elements(input_shapes)


# --- normalization ----------------------------------------------------------------------------


@register_macs(keras.layers.BatchNormalization)
def batch_norm_macs(layer, input_shapes, output_shapes):
    """BatchNormalization at inference: ``1 · output elements``.

    With fixed moving statistics BN is ``y = a·x + b`` with ``a = γ/√(σ²+ε)`` and
    ``b = β − a·μ`` precomputed per channel: one multiply-add per element (and it folds into the
    preceding convolution when a model is exported).
    """
    return elements(output_shapes)


@register_macs(keras.layers.LayerNormalization, keras.layers.GroupNormalization)
def layer_norm_macs(layer, input_shapes, output_shapes):
    """LayerNormalization / GroupNormalization: ``4 · output elements``.

    The statistics are computed per example even at inference: accumulate the mean (1), the
    squared deviations (1), then subtract the mean (1) and scale-and-shift (1) per element.
    """
    return 4 * elements(output_shapes)


@register_macs(keras.layers.Rescaling, keras.layers.Normalization)
def rescaling_macs(layer, input_shapes, output_shapes):
    """Rescaling / Normalization: ``1 · output elements`` (one ``x·scale + offset`` each)."""
    return elements(output_shapes)


# --- merging ----------------------------------------------------------------------------------


@register_macs(
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Maximum,
    keras.layers.Minimum,
)
def merge_macs(layer, input_shapes, output_shapes):
    """Add/Subtract/Multiply/Maximum/Minimum of n inputs: ``(n − 1) · output elements``.

    A residual connection (Add of two tensors) is 1 per element.
    """
    return (len(input_shapes) - 1) * elements(output_shapes)


@register_macs(keras.layers.Average)
def average_macs(layer, input_shapes, output_shapes):
    """Average of n inputs: ``n · output elements`` (n − 1 additions and one scaling)."""
    return len(input_shapes) * elements(output_shapes)


# --- activations ------------------------------------------------------------------------------


@register_macs(
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.Softmax,
    "kerasnets.layers.Swish",
    "kerasnets.layers.GELU",
)
def activation_layer_macs(layer, input_shapes, output_shapes):
    """Activation layers: ``1 · output elements`` whatever the function (a convention)."""
    return elements(output_shapes)


@register_macs(keras.layers.Activation)
def activation_macs(layer, input_shapes, output_shapes):
    """``Activation(fn)``: ``1 · output elements``; 0 for ``"linear"``."""
    return _activation_macs(layer, output_shapes)


# --- data movement ----------------------------------------------------------------------------


def _free(layer, input_shapes, output_shapes):
    """Data movement or identity at inference: 0 MACs."""
    return 0


register_macs(
    keras.layers.InputLayer,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.Permute,
    keras.layers.RepeatVector,
    keras.layers.Concatenate,
    keras.layers.Identity,
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.ZeroPadding1D,
    keras.layers.ZeroPadding2D,
    keras.layers.ZeroPadding3D,
    keras.layers.Cropping1D,
    keras.layers.Cropping2D,
    keras.layers.Cropping3D,
    keras.layers.Embedding,
)(_free)


@register_macs(keras.layers.UpSampling1D, keras.layers.UpSampling3D)
def upsampling_macs(layer, input_shapes, output_shapes):
    """UpSampling1D/3D: nearest-neighbour repetition, 0 MACs."""
    return 0


@register_macs(keras.layers.UpSampling2D)
def upsampling2d_macs(layer, input_shapes, output_shapes):
    """UpSampling2D: 0 for ``"nearest"``; otherwise (bilinear, ...) 4 per output element
    (a weighted sum of the 4 nearest inputs)."""
    if layer.interpolation == "nearest":
        return 0
    return 4 * elements(output_shapes)


# --- keras.ops applied directly to symbolic tensors in a functional graph ---------------------

_ELEMENTWISE_OPS = [f"keras.src.ops.numpy.{n}" for n in ("Add", "Subtract", "Multiply", "Divide")]
_ELEMENTWISE_OPS += ["keras.src.ops.numpy.Maximum", "keras.src.ops.numpy.Minimum"]
_ELEMENTWISE_OPS += ["keras.src.ops.numpy.Tanh", "keras.src.ops.numpy.Exp"]
_ELEMENTWISE_OPS += [
    f"keras.src.ops.nn.{n}"
    for n in ("Relu", "Relu6", "Sigmoid", "HardSigmoid", "Silu", "HardSilu", "Gelu", "Elu")
]
_ELEMENTWISE_OPS += [
    f"keras.src.ops.nn.{n}" for n in ("Selu", "LeakyRelu", "Softplus", "Softsign", "Softmax")
]


@register_macs(*_ELEMENTWISE_OPS)
def elementwise_op_macs(op, input_shapes, output_shapes):
    """``keras.ops`` elementwise functions (``ops.add``, ``ops.relu``, ...): 1 per output
    element (binary operations broadcast to the output shape)."""
    return elements(output_shapes)


register_macs(
    "keras.src.ops.numpy.Concatenate",
    "keras.src.ops.numpy.Reshape",
    "keras.src.ops.numpy.Transpose",
)(_free)
