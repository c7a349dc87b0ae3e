"""Building blocks of deep architectures, as functions on Keras tensors.

Each ``apply_*`` function takes a (symbolic) tensor ``x``, adds built-in Keras layers with
explicit names (``{name}_conv1``, ``{name}_bn1``...) and returns the output tensor, in the style
of keras-hub. Models are functional graphs of these blocks, so ``model.summary()``, FLOP
counters, pruning and the TFLite converter see every convolution and every skip connection.

Portability rule: every convolution or pooling with ``strides > 1`` is preceded by an explicit
``ZeroPadding2D`` of ``(k - 1) // 2`` on each side and uses ``padding="valid"``. ``"same"``
padding of strided convolutions pads asymmetrically on TensorFlow/JAX and symmetrically on
PyTorch; explicit padding gives the same outputs for the same weights on every backend.

- :func:`apply_conv_bn_act`: conv → BN → activation (Ioffe & Szegedy 2015).
- :func:`apply_basic_block`: two 3×3 convs + shortcut (He et al. 2016; pre-activation v2:
  He et al. 2016b).
- :func:`apply_bottleneck_block`: 1×1 reduce → 3×3 → 1×1 expand + shortcut (He et al. 2016).
- :func:`apply_dense_block`: layers that each see all earlier feature maps (Huang et al. 2017).
- :func:`apply_transition`: BN → ReLU → 1×1 conv (θ·C) → 2×2 avg-pool (Huang et al. 2017).
- :func:`apply_inception_module`: 4 parallel paths, concatenated (Szegedy et al. 2015).
- :func:`apply_depthwise_separable_block`: depthwise 3×3 → BN → act → 1×1 → BN → act
  (Howard et al. 2017, MobileNet).
- :func:`apply_inverted_residual`: 1×1 expand → depthwise 3×3 → 1×1 linear projection, with an
  identity skip (Sandler et al. 2018, MobileNetV2).
- :func:`apply_squeeze_excite`: channel gates from global context (Hu et al. 2018, SENet).
- :func:`apply_highway`: T·H(x) + (1 − T)·x on vectors (Srivastava et al. 2015).

Example:
    >>> import keras
    >>> inputs = keras.Input((32, 32, 16))
    >>> x = apply_basic_block(inputs, 32, strides=2, shortcut="projection", name="block1")
    >>> tuple(x.shape)
    (None, 16, 16, 32)
"""

from __future__ import annotations

import keras
from keras import layers

from kerasnets import activations
from kerasnets._checks import positive_int

BN_EPSILON = 1.001e-5  # as in Keras Applications (ResNet, DenseNet)
BN_MOMENTUM = 0.9  # as PyTorch's 0.1: moving statistics settle within a short run

SHORTCUTS = ("identity", "projection", "none")


def _n(name, suffix):
    """Sub-layer name: ``{name}_{suffix}``, or None (Keras picks a unique one) if name is None."""
    return None if name is None else f"{name}_{suffix}"


def _check_positive_int(value, what):
    return positive_int(value, what)


def _check_strides(strides):
    if strides not in (1, 2):
        raise ValueError(f"strides must be 1 or 2, got {strides!r}")
    return strides


def _act(activation, name):
    """An activation layer from a name (see :mod:`kerasnets.activations`), or None."""
    if activation is None:
        return None
    return activations.get(activation, layer_name=name)


def _pad_for(kernel_size, strides, x, name):
    """Explicit symmetric padding before a strided conv/pool (see the module docstring)."""
    if strides == 1:
        return x, "same"
    pad = (kernel_size - 1) // 2
    if pad:
        x = layers.ZeroPadding2D(pad, name=name)(x)
    return x, "valid"


def _batch_norm(x, name):
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)(x)


def apply_conv(x, filters, kernel_size, strides=1, use_bias=False, name=None):
    """A ``Conv2D`` with portable padding: ``same`` at stride 1, explicit zero padding otherwise.

    Example:
        >>> import keras
        >>> y = apply_conv(keras.Input((9, 9, 3)), 8, 3, strides=2)
        >>> tuple(y.shape)
        (None, 5, 5, 8)
    """
    x, padding = _pad_for(kernel_size, strides, x, _n(name, "pad"))
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer="he_normal",
        name=name,
    )(x)


def apply_conv_bn_act(
    x, filters, kernel_size, strides=1, activation="relu", use_bias=False, name=None
):
    """Convolution → batch normalization → activation.

    Batch normalization (Ioffe & Szegedy, 2015) sits between the convolution and the
    nonlinearity, normalizing each channel over the batch; the conv needs no bias then (BN's β
    plays that role), so ``use_bias`` defaults to False.

    Args:
        x: input tensor ``(batch, height, width, channels)``.
        filters: output channels.
        kernel_size: square kernel side.
        strides: 1 or 2 (2 halves height and width, ``ceil(n / 2)``).
        activation: an activation name (:func:`kerasnets.activations.available`) or None.
        use_bias: give the convolution a bias.
        name: prefix of the layer names (``{name}_conv``, ``{name}_bn``, ``{name}_act``).

    Example:
        >>> import keras
        >>> y = apply_conv_bn_act(keras.Input((8, 8, 3)), 16, 3, name="stem")
        >>> tuple(y.shape)
        (None, 8, 8, 16)
    """
    _check_positive_int(filters, "filters")
    _check_strides(strides)
    x = apply_conv(x, filters, kernel_size, strides, use_bias=use_bias, name=_n(name, "conv"))
    x = _batch_norm(x, _n(name, "bn"))
    act = _act(activation, _n(name, "act"))
    return x if act is None else act(x)


def _shortcut(x, out_channels, strides, shortcut, use_bias, name):
    """The skip path of a residual block: identity, or 1×1 conv + BN (projection)."""
    if shortcut == "identity":
        if strides != 1 or x.shape[-1] != out_channels:
            raise ValueError(
                f"an identity shortcut needs the block to keep the shape (strides=1, "
                f"{x.shape[-1]} channels in = out), got strides={strides}, "
                f"{x.shape[-1]} -> {out_channels} channels; use shortcut='projection'"
            )
        return x
    s = layers.Conv2D(
        out_channels,
        1,
        strides=strides,
        use_bias=use_bias,
        kernel_initializer="he_normal",
        name=_n(name, "proj_conv"),
    )(x)
    return _batch_norm(s, _n(name, "proj_bn"))


def _check_shortcut(shortcut):
    if shortcut not in SHORTCUTS:
        raise ValueError(f"unknown shortcut {shortcut!r}; allowed: {', '.join(SHORTCUTS)}")


def apply_basic_block(
    x,
    filters,
    strides=1,
    shortcut="identity",
    preactivation=False,
    activation="relu",
    use_bias=False,
    name=None,
):
    """Residual basic block: ``y = act(F(x) + shortcut(x))`` with F = two 3×3 convolutions.

    From "Deep Residual Learning for Image Recognition" (He et al., 2016): the layers learn a
    residual F(x) = H(x) − x, and the identity path carries the signal and its gradient past
    them unchanged (∂y/∂x = 1 + ∂F/∂x), which is what makes 100+ layers trainable.

    - post-activation (ResNet v1): ``conv3×3(s) → BN → act → conv3×3 → BN``, add, act.
    - pre-activation (ResNet v2, He et al., "Identity Mappings in Deep Residual Networks",
      2016): ``BN → act → conv3×3(s) → BN → act → conv3×3``, add; nothing after the add.

    Args:
        x: input tensor (NHWC).
        filters: output channels of both convolutions.
        strides: 1, or 2 to halve the resolution in the first convolution.
        shortcut: ``"identity"`` (needs strides=1 and the same channels), ``"projection"``
            (1×1 conv + BN, stride ``strides``), or ``"none"`` (a plain block, no skip: the
            PlainNet baseline).
        preactivation: use the v2 ordering.
        activation: activation name.
        use_bias: conv biases (False: BN follows every conv).
        name: layer-name prefix.

    Example:
        >>> import keras
        >>> y = apply_basic_block(keras.Input((8, 8, 16)), 16, name="b")
        >>> tuple(y.shape)
        (None, 8, 8, 16)
    """
    _check_positive_int(filters, "filters")
    _check_strides(strides)
    _check_shortcut(shortcut)
    activations.check(activation)
    if preactivation:
        pre = _batch_norm(x, _n(name, "preact_bn"))
        pre = _act(activation, _n(name, "preact_act"))(pre)
        skip = (
            None
            if shortcut == "none"
            else _shortcut(
                x if shortcut == "identity" else pre, filters, strides, shortcut, use_bias, name
            )
        )
        y = apply_conv(pre, filters, 3, strides, use_bias, name=_n(name, "conv1"))
        y = _batch_norm(y, _n(name, "bn1"))
        y = _act(activation, _n(name, "act1"))(y)
        y = apply_conv(y, filters, 3, 1, use_bias, name=_n(name, "conv2"))
        return y if skip is None else layers.Add(name=_n(name, "add"))([skip, y])
    skip = None if shortcut == "none" else _shortcut(x, filters, strides, shortcut, use_bias, name)
    y = apply_conv_bn_act(x, filters, 3, strides, activation, use_bias, name=_n(name, "1"))
    y = apply_conv(y, filters, 3, 1, use_bias, name=_n(name, "2_conv"))
    y = _batch_norm(y, _n(name, "2_bn"))
    if skip is not None:
        y = layers.Add(name=_n(name, "add"))([skip, y])
    return _act(activation, _n(name, "out"))(y)


def apply_bottleneck_block(
    x,
    filters,
    strides=1,
    expansion=4,
    shortcut="identity",
    preactivation=False,
    activation="relu",
    use_bias=False,
    name=None,
):
    """Residual bottleneck block: 1×1 reduce → 3×3 → 1×1 expand, plus a shortcut.

    From He et al. (2016) for ResNet-50/101/152: the 1×1 convolutions shrink the channels
    (e.g. 256 → 64) so that the expensive 3×3 convolution runs on few channels, then restore
    them (64 → 256). The stride sits in the first 1×1 convolution, as in the paper and Keras
    Applications.

    Args:
        x: input tensor (NHWC).
        filters: channels of the two inner convolutions; the output has
            ``filters * expansion`` channels.
        strides: 1 or 2.
        expansion: output channels per inner channel (4 in ResNet).
        shortcut: ``"identity"``, ``"projection"`` or ``"none"`` (see
            :func:`apply_basic_block`).
        preactivation: BN → act before each convolution (ResNet v2) instead of after.
        activation: activation name.
        use_bias: conv biases (Keras Applications' ResNet50 has them; torchvision's does not).
        name: layer-name prefix.

    Example:
        >>> import keras
        >>> y = apply_bottleneck_block(keras.Input((8, 8, 256)), 64, name="b")
        >>> tuple(y.shape)
        (None, 8, 8, 256)
    """
    _check_positive_int(filters, "filters")
    _check_positive_int(expansion, "expansion")
    _check_strides(strides)
    _check_shortcut(shortcut)
    activations.check(activation)
    out = filters * expansion
    if preactivation:
        pre = _batch_norm(x, _n(name, "preact_bn"))
        pre = _act(activation, _n(name, "preact_act"))(pre)
        skip = (
            None
            if shortcut == "none"
            else _shortcut(
                x if shortcut == "identity" else pre, out, strides, shortcut, use_bias, name
            )
        )
        y = layers.Conv2D(filters, 1, strides=strides, use_bias=use_bias, name=_n(name, "1_conv"))(
            pre
        )
        y = _batch_norm(y, _n(name, "1_bn"))
        y = _act(activation, _n(name, "1_act"))(y)
        y = apply_conv_bn_act(y, filters, 3, 1, activation, use_bias, name=_n(name, "2"))
        y = layers.Conv2D(out, 1, use_bias=use_bias, name=_n(name, "3_conv"))(y)
        return y if skip is None else layers.Add(name=_n(name, "add"))([skip, y])
    skip = None if shortcut == "none" else _shortcut(x, out, strides, shortcut, use_bias, name)
    y = layers.Conv2D(
        filters,
        1,
        strides=strides,
        use_bias=use_bias,
        kernel_initializer="he_normal",
        name=_n(name, "1_conv"),
    )(x)
    y = _batch_norm(y, _n(name, "1_bn"))
    y = _act(activation, _n(name, "1_act"))(y)
    y = apply_conv_bn_act(y, filters, 3, 1, activation, use_bias, name=_n(name, "2"))
    y = layers.Conv2D(
        out, 1, use_bias=use_bias, kernel_initializer="he_normal", name=_n(name, "3_conv")
    )(y)
    y = _batch_norm(y, _n(name, "3_bn"))
    if skip is not None:
        y = layers.Add(name=_n(name, "add"))([skip, y])
    return _act(activation, _n(name, "out"))(y)


def _check_remat(remat):
    if not isinstance(remat, bool):
        raise ValueError(f"remat must be True or False, got {remat!r}")
    return remat


@keras.saving.register_keras_serializable(package="kerasnets", name="RematGraph")
class _RematGraph(keras.Model):
    """A functional graph whose training-mode forward pass is one rematerialized unit.

    In a training-mode call, the whole graph runs inside :func:`keras.remat`
    (``jax.checkpoint`` / ``tf.recompute_grad`` / ``torch.utils.checkpoint``): the backward
    pass keeps only the graph's inputs and recomputes everything in between. The forward runs
    *statelessly* on the variables' current values (:class:`keras.StatelessScope`) and returns
    the new non-trainable values (BatchNorm moving statistics), which are assigned once, after
    the rematerialized call. So the recomputation in the backward pass (TensorFlow, torch) never
    updates the moving statistics a second time, and no JAX tracer leaks out of
    ``jax.checkpoint``. Inference calls (``training`` false) run the graph as it is.

    The variable values enter the rematerialized function as explicit arguments (gradients flow
    to them on every backend); the non-trainable ones as copies, because torch's checkpoint
    refuses saved inputs that are modified in place (the moving-statistics assignment).
    ``keras.RematScope`` itself cannot be used on a nested model: ``jax.checkpoint`` would trace
    the ``training=True`` keyword into an array and fail on ``if training``.
    """

    def call(self, inputs, training=None, mask=None):
        graph_call = super().call
        if not training:
            return graph_call(inputs, training=training, mask=mask)
        variables = self.trainable_variables
        states = self.non_trainable_variables
        values = [keras.ops.convert_to_tensor(v.value) for v in variables]
        state_values = [keras.ops.copy(v.value) for v in states]
        flat_inputs = keras.tree.flatten(inputs)
        n_values, n_states = len(values), len(state_values)

        def forward(*args):
            mapping = list(zip(variables, args[:n_values]))
            mapping += list(zip(states, args[n_values : n_values + n_states]))
            x = keras.tree.pack_sequence_as(inputs, list(args[n_values + n_states :]))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                outputs = graph_call(x, training=training, mask=mask)
            new_states = [keras.ops.stop_gradient(scope.get_current_value(v)) for v in states]
            # The outputs come first: tf.recompute_grad ties the recomputation to the gradient
            # of the first output, so that it runs in the backward pass, not next to the forward.
            return outputs, new_states

        outputs, new_states = keras.remat(forward)(*values, *state_values, *flat_inputs)
        for v, value in zip(states, new_states):
            v.assign(value)
        return outputs


def apply_dense_layer(x, growth_rate, bottleneck=True, activation="relu", name=None, remat=False):
    """One layer of a dense block: ``concat([x, H(x)])`` with ``growth_rate`` new channels.

    H is ``BN → act → 3×3 conv(k)``, or with the DenseNet-B bottleneck
    ``BN → act → 1×1 conv(4k) → BN → act → 3×3 conv(k)`` (Huang et al., 2017).

    With ``remat=True`` the same layers (same names) form a nested functional model named
    ``name`` whose training forward pass is rematerialized as one unit (see
    :func:`apply_dense_block`).

    Example:
        >>> import keras
        >>> y = apply_dense_layer(keras.Input((8, 8, 16)), 12)
        >>> tuple(y.shape)
        (None, 8, 8, 28)
    """
    _check_positive_int(growth_rate, "growth_rate")
    if _check_remat(remat):
        inputs = keras.Input(tuple(x.shape[1:]), dtype=x.dtype, name=_n(name, "input"))
        outputs = apply_dense_layer(inputs, growth_rate, bottleneck, activation, name)
        return _RematGraph(inputs, outputs, name=name)(x)
    y = _batch_norm(x, _n(name, "0_bn"))
    y = _act(activation, _n(name, "0_act"))(y)
    if bottleneck:
        y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=_n(name, "1_conv"))(y)
        y = _batch_norm(y, _n(name, "1_bn"))
        y = _act(activation, _n(name, "1_act"))(y)
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=_n(name, "2_conv"))(y)
    return layers.Concatenate(name=_n(name, "concat"))([x, y])


def apply_dense_block(
    x, num_layers, growth_rate, bottleneck=True, activation="relu", name=None, remat=False
):
    """Dense block: every layer receives the feature maps of all layers before it.

    From "Densely Connected Convolutional Networks" (Huang et al., 2017). Layer ℓ computes
    ``x_ℓ = H_ℓ([x_0, x_1, ..., x_{ℓ-1}])`` and adds ``growth_rate`` (k) channels, so a block of
    L layers turns C channels into C + L·k. Feature reuse keeps k small (12–32).

    ``remat=True`` trades compute for memory, in the spirit of "Memory-Efficient Implementation
    of DenseNets" (Pleiss et al., 2017): each dense layer (BN → act → 1×1 conv → BN → act →
    3×3 conv → concat) becomes a nested functional model ``{name}_block{i}`` holding the same
    layers, whose training forward pass runs under :func:`keras.remat`. A training step then
    keeps only each layer's input (the concatenated features) for the backward pass and
    recomputes the BN/activation/conv intermediates, about one more forward pass of the
    block. BatchNorm moving statistics are updated exactly once per step, as without remat.
    Weights, parameter and MAC counts are those of ``remat=False``; layers are reached as
    ``model.get_layer("{name}_block{i}").get_layer(...)``.

    Args:
        x: input tensor (NHWC).
        num_layers: layers in the block (positive).
        growth_rate: k, channels added per layer (positive).
        bottleneck: the DenseNet-B 1×1 conv (4k channels) before each 3×3 conv.
        activation: activation name.
        name: layer-name prefix (layers are ``{name}_block{i}_...``).
        remat: rematerialize each dense layer in training (True or False).

    Example:
        >>> import keras
        >>> y = apply_dense_block(keras.Input((8, 8, 24)), 4, 12, name="dense1")
        >>> tuple(y.shape)
        (None, 8, 8, 72)
    """
    _check_positive_int(num_layers, "num_layers")
    _check_positive_int(growth_rate, "growth_rate")
    activations.check(activation)
    _check_remat(remat)
    for i in range(num_layers):
        x = apply_dense_layer(
            x, growth_rate, bottleneck, activation, _n(name, f"block{i + 1}"), remat=remat
        )
    return x


def apply_transition(x, compression=0.5, activation="relu", name=None):
    """DenseNet transition layer: ``BN → act → 1×1 conv(⌊θ·C⌋) → 2×2 average pool (stride 2)``.

    Sits between dense blocks, halving the resolution; the compression factor θ (DenseNet-C,
    Huang et al., 2017) shrinks the channels from C to ``int(θ·C)``.

    Args:
        x: input tensor (NHWC).
        compression: θ in (0, 1].
        activation: activation name.
        name: layer-name prefix.

    Example:
        >>> import keras
        >>> y = apply_transition(keras.Input((8, 8, 64)), 0.5)
        >>> tuple(y.shape)
        (None, 4, 4, 32)
    """
    if isinstance(compression, bool) or not isinstance(compression, (int, float)):
        raise ValueError(f"compression must be a number in (0, 1], got {compression!r}")
    if not 0 < compression <= 1:
        raise ValueError(f"compression must be in (0, 1], got {compression!r}")
    filters = int(x.shape[-1] * compression)
    if filters < 1:
        raise ValueError(
            f"compression {compression} leaves no channels of {x.shape[-1]}; use a larger value"
        )
    y = _batch_norm(x, _n(name, "bn"))
    y = _act(activation, _n(name, "act"))(y)
    y = layers.Conv2D(filters, 1, use_bias=False, name=_n(name, "conv"))(y)
    return layers.AveragePooling2D(2, strides=2, name=_n(name, "pool"))(y)


def apply_inception_module(
    x,
    filters_1x1,
    filters_3x3_reduce,
    filters_3x3,
    filters_5x5_reduce,
    filters_5x5,
    filters_pool,
    large_kernel=5,
    activation="relu",
    name=None,
):
    """Inception module: four parallel paths over the same input, concatenated on channels.

    From "Going Deeper with Convolutions" (Szegedy et al., 2015, GoogLeNet):
    ``1×1`` | ``1×1 → 3×3`` | ``1×1 → 5×5`` | ``3×3 max-pool → 1×1``. The 1×1 "reduce"
    convolutions cut the channels before the costly 3×3 and 5×5 convolutions. Every conv is
    conv → BN → act (the batch-normalized variant of torchvision).

    Args:
        x: input tensor (NHWC).
        filters_1x1, filters_3x3_reduce, filters_3x3, filters_5x5_reduce, filters_5x5,
            filters_pool: channels of each convolution, in the paper's table order. The
            output has ``filters_1x1 + filters_3x3 + filters_5x5 + filters_pool`` channels.
        large_kernel: kernel of the "5×5" path: 5 as in the paper; torchvision's GoogLeNet uses
            3 there (a bug it keeps for its pretrained weights).
        activation: activation name.
        name: layer-name prefix.

    Example:
        >>> import keras
        >>> y = apply_inception_module(keras.Input((28, 28, 192)), 64, 96, 128, 16, 32, 32)
        >>> tuple(y.shape)
        (None, 28, 28, 256)
    """
    for value, what in [
        (filters_1x1, "filters_1x1"),
        (filters_3x3_reduce, "filters_3x3_reduce"),
        (filters_3x3, "filters_3x3"),
        (filters_5x5_reduce, "filters_5x5_reduce"),
        (filters_5x5, "filters_5x5"),
        (filters_pool, "filters_pool"),
    ]:
        _check_positive_int(value, what)
    if large_kernel not in (3, 5):
        raise ValueError(f"large_kernel must be 5 (paper) or 3 (torchvision), got {large_kernel!r}")
    activations.check(activation)
    b1 = apply_conv_bn_act(x, filters_1x1, 1, activation=activation, name=_n(name, "1x1"))
    b2 = apply_conv_bn_act(
        x, filters_3x3_reduce, 1, activation=activation, name=_n(name, "3x3_reduce")
    )
    b2 = apply_conv_bn_act(b2, filters_3x3, 3, activation=activation, name=_n(name, "3x3"))
    b3 = apply_conv_bn_act(
        x, filters_5x5_reduce, 1, activation=activation, name=_n(name, "5x5_reduce")
    )
    b3 = apply_conv_bn_act(
        b3, filters_5x5, large_kernel, activation=activation, name=_n(name, "5x5")
    )
    b4 = layers.MaxPooling2D(3, strides=1, padding="same", name=_n(name, "pool"))(x)
    b4 = apply_conv_bn_act(b4, filters_pool, 1, activation=activation, name=_n(name, "pool_proj"))
    return layers.Concatenate(name=_n(name, "concat"))([b1, b2, b3, b4])


def apply_depthwise_separable_block(x, filters, strides=1, activation="relu", name=None):
    """Depthwise-separable convolution: depthwise 3×3 → BN → act → pointwise 1×1 → BN → act.

    From "MobileNets" (Howard et al., 2017). A standard D×D convolution from M to N channels
    costs D²·M·N multiply-adds per output position; splitting it into a per-channel (depthwise)
    D×D filter and a 1×1 (pointwise) channel mix costs D²·M + M·N, about 1/N + 1/D² as much.

    Args:
        x: input tensor (NHWC).
        filters: output channels N of the pointwise convolution.
        strides: 1 or 2 (in the depthwise convolution).
        activation: activation name (MobileNet uses ``"relu6"``).
        name: layer-name prefix.

    Example:
        >>> import keras
        >>> y = apply_depthwise_separable_block(keras.Input((16, 16, 32)), 64, strides=2)
        >>> tuple(y.shape)
        (None, 8, 8, 64)
    """
    _check_positive_int(filters, "filters")
    _check_strides(strides)
    activations.check(activation)
    y, padding = _pad_for(3, strides, x, _n(name, "dw_pad"))
    y = layers.DepthwiseConv2D(
        3, strides=strides, padding=padding, use_bias=False, name=_n(name, "dw_conv")
    )(y)
    y = _batch_norm(y, _n(name, "dw_bn"))
    y = _act(activation, _n(name, "dw_act"))(y)
    return apply_conv_bn_act(y, filters, 1, activation=activation, name=_n(name, "pw"))


def apply_inverted_residual(
    x, filters, strides=1, expansion=6, activation="relu6", squeeze_excite=False, name=None
):
    """MobileNetV2 inverted residual: 1×1 expand → depthwise 3×3 → 1×1 linear projection.

    From "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (Sandler et al., 2018). The
    opposite of a ResNet bottleneck: a narrow input is expanded ``expansion`` times, filtered
    depthwise, and projected back to a narrow output *without* an activation (a nonlinearity on
    few channels destroys information). An identity shortcut joins input and output when the
    shape is unchanged (strides=1, same channels).

    Args:
        x: input tensor (NHWC).
        filters: output channels.
        strides: 1 or 2.
        expansion: expansion factor t (1 skips the expanding 1×1 convolution).
        activation: activation of the expanded layers.
        squeeze_excite: add a squeeze-excitation gate after the depthwise convolution
            (as in MobileNetV3).
        name: layer-name prefix.

    Example:
        >>> import keras
        >>> y = apply_inverted_residual(keras.Input((16, 16, 24)), 24, expansion=6)
        >>> tuple(y.shape)
        (None, 16, 16, 24)
    """
    _check_positive_int(filters, "filters")
    _check_positive_int(expansion, "expansion")
    _check_strides(strides)
    activations.check(activation)
    in_channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = apply_conv_bn_act(
            y, in_channels * expansion, 1, activation=activation, name=_n(name, "expand")
        )
    y, padding = _pad_for(3, strides, y, _n(name, "dw_pad"))
    y = layers.DepthwiseConv2D(
        3, strides=strides, padding=padding, use_bias=False, name=_n(name, "dw_conv")
    )(y)
    y = _batch_norm(y, _n(name, "dw_bn"))
    y = _act(activation, _n(name, "dw_act"))(y)
    if squeeze_excite:
        y = apply_squeeze_excite(y, name=_n(name, "se"))
    y = apply_conv_bn_act(y, filters, 1, activation=None, name=_n(name, "project"))
    if strides == 1 and in_channels == filters:
        y = layers.Add(name=_n(name, "add"))([x, y])
    return y


def apply_squeeze_excite(x, ratio=0.25, activation="relu", name=None):
    """Squeeze-and-excitation: rescale each channel by a gate computed from global context.

    From "Squeeze-and-Excitation Networks" (Hu et al., 2018): squeeze (global average pool to
    one value per channel) → excite (dense ``C·ratio`` → act → dense ``C`` → sigmoid) → multiply
    the feature map channel-wise by the gates. Implemented with 1×1 convolutions on the pooled
    map, as in MobileNetV3 and EfficientNet.

    Args:
        x: input tensor (NHWC).
        ratio: width of the squeeze layer relative to the channels, in (0, 1].
        activation: activation of the squeeze layer.
        name: layer-name prefix.

    Example:
        >>> import keras
        >>> y = apply_squeeze_excite(keras.Input((8, 8, 32)))
        >>> tuple(y.shape)
        (None, 8, 8, 32)
    """
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise ValueError(f"squeeze-excite ratio must be in (0, 1], got {ratio!r}")
    channels = x.shape[-1]
    squeezed = max(1, int(channels * ratio))
    s = layers.GlobalAveragePooling2D(keepdims=True, name=_n(name, "squeeze"))(x)
    s = layers.Conv2D(squeezed, 1, name=_n(name, "reduce"))(s)
    s = _act(activation, _n(name, "reduce_act"))(s)
    s = layers.Conv2D(channels, 1, activation="sigmoid", name=_n(name, "expand"))(s)
    return layers.Multiply(name=_n(name, "excite"))([x, s])


def apply_highway(x, activation="relu", gate_bias=-2.0, kernel_initializer=None, name=None):
    """Highway layer on vectors: ``y = T(x)·H(x) + (1 − T(x))·x``.

    From "Highway Networks" (Srivastava, Greff & Schmidhuber, 2015). H is a dense layer with
    an activation, T = sigmoid(W_T·x + b_T) a learned transform gate; where T ≈ 0 the input is
    carried through unchanged. A negative ``gate_bias`` starts the network close to identity,
    so deep highway stacks train like shallow ones. Built as ``x + T·(H − x)`` from standard
    layers. The output has the input's width.

    Args:
        x: input tensor ``(batch, units)``.
        activation: activation name of H.
        gate_bias: initial bias of the transform gate (the paper uses −1 to −3).
        kernel_initializer: initializer of H (default: :func:`activations.initializer_for`).
        name: layer-name prefix.

    Example:
        >>> import keras
        >>> y = apply_highway(keras.Input((32,)), name="hw1")
        >>> tuple(y.shape)
        (None, 32)
    """
    activation = activations.check(activation)
    units = x.shape[-1]
    init = kernel_initializer or activations.initializer_for(activation)
    h = layers.Dense(units, kernel_initializer=init, name=_n(name, "h"))(x)
    h = _act(activation, _n(name, "h_act"))(h)
    t = layers.Dense(
        units,
        activation="sigmoid",
        bias_initializer=keras.initializers.Constant(gate_bias),
        name=_n(name, "gate"),
    )(x)
    delta = layers.Subtract(name=_n(name, "sub"))([h, x])
    delta = layers.Multiply(name=_n(name, "gated"))([t, delta])
    return layers.Add(name=_n(name, "add"))([x, delta])
