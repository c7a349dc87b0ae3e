"""Building blocks: shapes, hand-computed parameter counts, what they compute, portability rules."""

import keras
import numpy as np
import pytest

from kerasnets import blocks


def params(layer_names, model):
    return sum(model.get_layer(n).count_params() for n in layer_names)


def model_of(fn, shape, **kwargs):
    inputs = keras.Input(shape)
    return keras.Model(inputs, fn(inputs, **kwargs))


def test_conv_bn_act_order_and_shapes():
    m = model_of(blocks.apply_conv_bn_act, (9, 9, 3), filters=8, kernel_size=3, strides=2, name="c")
    names = [layer.name for layer in m.layers[1:]]
    assert names == ["c_conv_pad", "c_conv", "c_bn", "c_act"]  # BN after conv, before act
    assert m.output_shape == (None, 5, 5, 8)  # ceil(9 / 2)
    assert m.get_layer("c_conv").padding == "valid" and m.get_layer("c_conv").use_bias is False
    assert m.count_params() == 3 * 3 * 3 * 8 + 4 * 8  # kernel + BN (gamma, beta, mean, var)


def test_basic_block_identity_projection_and_plain():
    ident = model_of(blocks.apply_basic_block, (8, 8, 16), filters=16, name="b")
    assert ident.output_shape == (None, 8, 8, 16)
    assert ident.count_params() == 2 * (9 * 16 * 16 + 4 * 16)
    proj = model_of(
        blocks.apply_basic_block, (8, 8, 16), filters=32, strides=2, shortcut="projection", name="p"
    )
    assert proj.output_shape == (None, 4, 4, 32)
    assert params(["p_proj_conv", "p_proj_bn"], proj) == 16 * 32 + 4 * 32
    plain = model_of(blocks.apply_basic_block, (8, 8, 16), filters=16, shortcut="none")
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)
    with pytest.raises(ValueError, match=r"identity shortcut needs .* use shortcut='projection'"):
        model_of(blocks.apply_basic_block, (8, 8, 16), filters=32)
    with pytest.raises(ValueError, match=r"unknown shortcut 'dense'; allowed: identity"):
        model_of(blocks.apply_basic_block, (8, 8, 16), filters=16, shortcut="dense")


def test_residual_block_adds_its_input():
    """With the residual branch's last BN scaled to zero, the block is relu(x)."""
    m = model_of(blocks.apply_basic_block, (4, 4, 8), filters=8, name="b")
    bn = m.get_layer("b_2_bn")
    bn.gamma.assign(np.zeros(8, "float32"))
    bn.beta.assign(np.zeros(8, "float32"))
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(m(x)), np.maximum(x, 0), rtol=1e-6, atol=1e-6
    )


def test_preactivation_block_has_nothing_after_the_add():
    m = model_of(blocks.apply_basic_block, (8, 8, 16), filters=16, preactivation=True, name="v2")
    assert isinstance(m.layers[-1], keras.layers.Add)
    assert m.layers[1].name == "v2_preact_bn"


def test_bottleneck_256_64_64_256():
    m = model_of(blocks.apply_bottleneck_block, (8, 8, 256), filters=64, name="b")
    assert m.output_shape == (None, 8, 8, 256)
    kernels = [m.get_layer(f"b_{i}_conv").kernel.shape for i in (1, 2, 3)]
    assert [tuple(k) for k in kernels] == [(1, 1, 256, 64), (3, 3, 64, 64), (1, 1, 64, 256)]
    weights = 256 * 64 + 9 * 64 * 64 + 64 * 256  # 69,632: vs 2 * 9 * 256 * 256 for two 3x3s
    assert params(["b_1_conv", "b_2_conv", "b_3_conv"], m) == weights
    down = model_of(
        blocks.apply_bottleneck_block, (8, 8, 64), filters=64, strides=2, shortcut="projection"
    )
    assert down.output_shape == (None, 4, 4, 256)


def test_dense_block_and_transition():
    m = model_of(blocks.apply_dense_block, (8, 8, 24), num_layers=4, growth_rate=12, name="d")
    assert m.output_shape == (None, 8, 8, 24 + 4 * 12)
    # DenseNet-B: 1x1 conv to 4k channels, then 3x3 conv to k, on 24 + 12 i input channels
    conv = sum((24 + 12 * i) * 48 + 9 * 48 * 12 for i in range(4))
    assert params([f"d_block{i}_{j}_conv" for i in (1, 2, 3, 4) for j in (1, 2)], m) == conv
    plain = model_of(
        blocks.apply_dense_block, (8, 8, 24), num_layers=2, growth_rate=6, bottleneck=False
    )
    assert plain.output_shape == (None, 8, 8, 36)
    t = model_of(blocks.apply_transition, (8, 8, 72), compression=0.5, name="t")
    assert t.output_shape == (None, 4, 4, 36)
    with pytest.raises(ValueError, match=r"growth_rate must be a positive integer, got 0"):
        model_of(blocks.apply_dense_block, (8, 8, 24), num_layers=2, growth_rate=0)
    with pytest.raises(ValueError, match=r"compression must be in \(0, 1\], got 0"):
        model_of(blocks.apply_transition, (8, 8, 24), compression=0)


def test_inception_module_paths():
    m = model_of(blocks.apply_inception_module, (28, 28, 192), filters_1x1=64,
                 filters_3x3_reduce=96, filters_3x3=128, filters_5x5_reduce=16, filters_5x5=32,
                 filters_pool=32, name="i3a")  # fmt: skip
    assert m.output_shape == (None, 28, 28, 256)  # 64 + 128 + 32 + 32, GoogLeNet's 3a
    assert tuple(m.get_layer("i3a_5x5_conv").kernel.shape) == (5, 5, 16, 32)
    convs = 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32 + 192 * 32
    assert sum(layer.count_params() for layer in m.layers if "conv" in layer.name) == convs
    with pytest.raises(ValueError, match=r"filters_pool must be a positive integer, got 0"):
        model_of(blocks.apply_inception_module, (8, 8, 4), filters_1x1=1, filters_3x3_reduce=1,
                 filters_3x3=1, filters_5x5_reduce=1, filters_5x5=1, filters_pool=0)  # fmt: skip


def test_depthwise_separable_costs_the_lectures_formula():
    m_in, n_out = 32, 64
    m = model_of(blocks.apply_depthwise_separable_block, (16, 16, m_in), filters=n_out, name="ds")
    assert m.output_shape == (None, 16, 16, n_out)
    assert [layer.name for layer in m.layers[1:]] == [
        "ds_dw_conv", "ds_dw_bn", "ds_dw_act", "ds_pw_conv", "ds_pw_bn", "ds_pw_act"
    ]  # fmt: skip
    weights = params(["ds_dw_conv", "ds_pw_conv"], m)
    assert weights == 9 * m_in + m_in * n_out  # D²·M + M·N, vs D²·M·N = 18,432 for a 3x3 conv
    down = model_of(blocks.apply_depthwise_separable_block, (16, 16, 8), filters=8, strides=2)
    assert down.output_shape == (None, 8, 8, 8)


def test_inverted_residual_and_squeeze_excite():
    m = model_of(blocks.apply_inverted_residual, (8, 8, 16), filters=16, expansion=6, name="ir")
    assert m.output_shape == (None, 8, 8, 16)
    assert tuple(m.get_layer("ir_expand_conv").kernel.shape) == (1, 1, 16, 96)
    assert isinstance(m.layers[-1], keras.layers.Add)  # identity skip when the shape is kept
    assert "ir_project_act" not in [layer.name for layer in m.layers]  # linear bottleneck
    down = model_of(blocks.apply_inverted_residual, (8, 8, 16), filters=24, strides=2, name="d")
    assert down.output_shape == (None, 4, 4, 24)
    assert not isinstance(down.layers[-1], keras.layers.Add)
    se = model_of(blocks.apply_squeeze_excite, (4, 4, 8), ratio=0.5, name="se")
    assert se.count_params() == (8 * 4 + 4) + (4 * 8 + 8)
    # gates lie in (0, 1): the output is the input scaled channel-wise
    x = np.abs(np.random.default_rng(0).normal(size=(1, 4, 4, 8))).astype("float32") + 0.1
    ratio = keras.ops.convert_to_numpy(se(x)) / x
    assert np.all((ratio > 0) & (ratio < 1))
    np.testing.assert_allclose(ratio, ratio[:, :1, :1, :].repeat(4, 1).repeat(4, 2), rtol=1e-5)


def test_highway_computes_gated_mix():
    m = model_of(blocks.apply_highway, (5,), activation="tanh", name="hw")
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    wh, bh = (keras.ops.convert_to_numpy(w) for w in m.get_layer("hw_h").weights)
    wt, bt = (keras.ops.convert_to_numpy(w) for w in m.get_layer("hw_gate").weights)
    assert np.all(bt == -2.0)  # starts close to carrying the input through
    h = np.tanh(x @ wh + bh)
    t = 1 / (1 + np.exp(-(x @ wt + bt)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(m(x)), t * h + (1 - t) * x, rtol=1e-5, atol=1e-6
    )


def test_no_strided_layer_uses_same_padding():
    """Strided convs/pools pad explicitly, so torch, TF and JAX agree (DESIGN §5)."""
    inputs = keras.Input((9, 9, 8))
    x = blocks.apply_conv_bn_act(inputs, 8, 3, strides=2)
    x = blocks.apply_basic_block(x, 8, strides=2, shortcut="projection")
    x = blocks.apply_depthwise_separable_block(x, 8, strides=2)
    x = blocks.apply_inverted_residual(x, 8, strides=2)
    model = keras.Model(inputs, x)
    strided = [layer for layer in model.layers if getattr(layer, "strides", (1, 1)) != (1, 1)]
    assert len(strided) >= 4
    assert all(layer.padding == "valid" for layer in strided)


def test_all_blocks_train_a_step_in_one_model():
    inputs = keras.Input((8, 8, 3))
    x = blocks.apply_conv_bn_act(inputs, 8, 3, activation="gelu")
    x = blocks.apply_basic_block(x, 8, activation="leaky_relu")
    x = blocks.apply_basic_block(x, 8, preactivation=True, strides=2, shortcut="projection")
    x = blocks.apply_bottleneck_block(x, 4, shortcut="projection")
    x = blocks.apply_dense_block(x, 2, 4)
    x = blocks.apply_transition(x, 0.5)
    x = blocks.apply_inception_module(x, 2, 2, 4, 2, 4, 2)
    x = blocks.apply_depthwise_separable_block(x, 8, strides=2, activation="relu6")
    x = blocks.apply_inverted_residual(x, 8, squeeze_excite=True)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = blocks.apply_highway(x, activation="selu")
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")  # compiled step
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(4, 8, 8, 3)).astype("float32")
    y = np.array([0, 1, 0, 1])
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert model.predict(x, verbose=0).shape == (4, 2)


BAD_ARGUMENTS = [
    (lambda x: blocks.apply_conv_bn_act(x, 0, 3), r"filters must be a positive integer"),
    (lambda x: blocks.apply_conv_bn_act(x, 4, 3, strides=3), r"strides must be 1 or 2, got 3"),
    (lambda x: blocks.apply_basic_block(x, 4, activation="nope"), r"unknown activation 'nope'"),
    (lambda x: blocks.apply_squeeze_excite(x, ratio=2), r"ratio must be in \(0, 1\]"),
    (lambda x: blocks.apply_inverted_residual(x, 4, expansion=0), r"expansion must be a"),
]


def test_bad_block_arguments():
    for call, match in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=match):
            call(keras.Input((8, 8, 4)))
