"""kerasnets.analysis: MAC formulas against hand-computed values, the lecture's formulas,
parameter and activation-memory bookkeeping over nested graphs, latency, bad input."""

import json
import math

import keras
import numpy as np
import pytest
from keras import layers

from kerasnets import analysis

# Weights are initialized with zeros throughout: on JAX every new random-initializer shape costs
# a compilation (seconds on a busy machine), and MACs do not depend on the weights' values.
ZEROS = {"kernel_initializer": "zeros", "use_bias": False}


def macs_of(layer, input_shape):
    """MACs per example of ``layer`` alone in a model on ``input_shape`` (no batch axis)."""
    x = keras.Input(input_shape)
    return analysis.count_macs(keras.Model(x, layer(x)))


def formula_macs(layer, input_shape):
    """MACs from the layer type's formula, without building weights."""
    output_shape = layer.compute_output_shape((None, *input_shape))[1:]
    return analysis.layer_macs(layer, [input_shape], [output_shape])


# --- one hand-computed value per layer type ---------------------------------------------------

CASES = [
    # (layer factory, input shape, hand-computed MACs per example)
    (lambda: layers.Dense(3), (5,), 5 * 3),
    (lambda: layers.Dense(3), (4, 5), 4 * 5 * 3),  # applied at each of 4 positions
    (lambda: layers.Dense(3, activation="relu"), (5,), 5 * 3 + 3),  # + fused activation
    (lambda: layers.Conv1D(5, 3), (10, 3), 8 * 3 * 3 * 5),  # 8 valid positions
    (lambda: layers.Conv1D(5, 3, strides=2, padding="same"), (10, 3), 5 * 3 * 3 * 5),
    (lambda: layers.Conv2D(6, 3), (9, 9, 4), 7 * 7 * 9 * 4 * 6),
    (lambda: layers.Conv2D(6, 3, strides=2), (9, 9, 4), 4 * 4 * 9 * 4 * 6),
    (lambda: layers.Conv2D(6, 3, strides=2, padding="same"), (9, 9, 4), 5 * 5 * 9 * 4 * 6),
    (lambda: layers.Conv2D(6, 3, dilation_rate=2), (9, 9, 4), 5 * 5 * 9 * 4 * 6),  # 9-2·2
    (lambda: layers.Conv2D(6, 3, groups=2), (9, 9, 4), 7 * 7 * 9 * (4 // 2) * 6),
    (lambda: layers.Conv2D(6, (1, 3), padding="same"), (9, 9, 4), 9 * 9 * 3 * 4 * 6),
    (lambda: layers.Conv2D(6, 1, activation="relu"), (9, 9, 4), 81 * 4 * 6 + 81 * 6),
    (lambda: layers.DepthwiseConv2D(3, padding="same"), (8, 8, 4), 64 * 9 * 4),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2), (8, 8, 4), 36 * 9 * 4 * 2),
    (lambda: layers.DepthwiseConv2D(3, strides=2, padding="same"), (8, 8, 4), 16 * 9 * 4),
    (lambda: layers.SeparableConv2D(6, 3, padding="same"), (8, 8, 4), 64 * (9 * 4 + 4 * 6)),
    (
        lambda: layers.SeparableConv2D(6, 3, depth_multiplier=2),
        (8, 8, 4),
        36 * (9 * 4 * 2 + 8 * 6),
    ),
    (lambda: layers.Conv2DTranspose(5, 3, strides=2), (4, 4, 3), 16 * 9 * 3 * 5),  # per input
    (lambda: layers.MaxPooling2D(2), (8, 8, 4), 4 * 4 * 4 * 2 * 2),
    (lambda: layers.AveragePooling2D(3, strides=1), (8, 8, 4), 6 * 6 * 4 * 3 * 3),
    (lambda: layers.MaxPooling1D(2), (8, 4), 4 * 4 * 2),
    (lambda: layers.GlobalAveragePooling2D(), (8, 8, 4), 8 * 8 * 4),
    (lambda: layers.GlobalMaxPooling2D(), (8, 8, 4), 8 * 8 * 4),
    (lambda: layers.BatchNormalization(), (8, 8, 4), 8 * 8 * 4),  # folded a·x + b
    (lambda: layers.LayerNormalization(), (5, 6), 4 * 5 * 6),
    (lambda: layers.ReLU(), (5, 6), 30),
    (lambda: layers.LeakyReLU(), (5, 6), 30),
    (lambda: layers.PReLU(), (5, 6), 30),
    (lambda: layers.ELU(), (5, 6), 30),
    (lambda: layers.Softmax(), (5, 6), 30),
    (lambda: layers.Activation("gelu"), (5, 6), 30),
    (lambda: layers.Activation("linear"), (5, 6), 0),
    (lambda: layers.Flatten(), (5, 6), 0),
    (lambda: layers.Dropout(0.5), (5, 6), 0),
    (lambda: layers.ZeroPadding2D(1), (4, 4, 2), 0),
    (lambda: layers.Rescaling(1 / 255), (4, 4, 2), 32),
]


def test_layer_macs_hand_computed():
    # One test for all cases: the shared per-test fixtures cost more than the checks.
    for i, (factory, input_shape, expected) in enumerate(CASES):
        layer = factory()
        got = formula_macs(layer, input_shape)
        assert got == expected, f"case {i}: {type(layer).__name__} on {input_shape}: {got}"


def test_merge_layer_macs():
    assert formula_macs(layers.Lambda(lambda t: t), (3,)) is None  # no formula
    a, b, c = keras.Input((8,)), keras.Input((8,)), keras.Input((8,))
    outputs = [
        layers.Add(name="add2")([a, b]),
        layers.Add(name="add3")([a, b, c]),
        layers.Multiply(name="mul")([a, b]),
        layers.Subtract(name="sub")([a, b]),
        layers.Average(name="avg")([a, b]),
        layers.Maximum(name="max")([a, b]),
        layers.Concatenate(name="cat")([a, b, c]),
        keras.ops.add(a, b),  # a keras.ops call in the graph, not a layer
    ]
    p = analysis.profile(keras.Model([a, b, c], outputs))
    macs = {row["name"]: row["macs"] for row in p.layers}
    assert macs["add2"] == 8  # (n − 1) per element
    assert macs["add3"] == 16
    assert macs["mul"] == macs["sub"] == macs["max"] == 8
    assert macs["avg"] == 16  # n − 1 adds + 1 scaling
    assert macs["cat"] == 0
    assert not p.uncounted
    assert p.macs == 8 + 16 + 8 + 8 + 16 + 8 + 0 + 8


# --- the lecture's formulas -------------------------------------------------------------------


def test_standard_conv_is_d2_m_n_per_output_position():
    for d, m, n in [(1, 8, 16), (3, 16, 32), (5, 4, 8), (3, 256, 256)]:
        conv = layers.Conv2D(n, d, padding="same", **ZEROS)
        assert macs_of(conv, (4, 4, m)) == 4 * 4 * d * d * m * n


def test_depthwise_separable_is_d2_m_plus_m_n_per_output_position():
    positions = 4 * 4
    for d, m, n in [(3, 16, 32), (5, 8, 8), (3, 256, 256)]:
        separable = layers.SeparableConv2D(
            n, d, padding="same", depthwise_initializer="zeros", pointwise_initializer="zeros"
        )
        assert macs_of(separable, (4, 4, m)) == positions * (d * d * m + m * n)
        # The same block built from its two steps: depthwise D×D, then pointwise 1×1.
        x = keras.Input((4, 4, m))
        depthwise = layers.DepthwiseConv2D(
            d, padding="same", use_bias=False, depthwise_initializer="zeros"
        )
        y = depthwise(x)
        y = layers.Conv2D(n, 1, **ZEROS)(y)
        assert analysis.count_macs(keras.Model(x, y)) == positions * (d * d * m + m * n)


def test_depthwise_separable_3x3_is_8_to_9_times_cheaper():
    """Ratio standard / separable = 1 / (1/N + 1/D²): 8.0 at N = 72, → 9 as N grows. (Below
    ~72 output channels the saving is less than 8×: 7.9× at N = 64.)"""
    for channels in (72, 128, 256, 512):
        standard = formula_macs(layers.Conv2D(channels, 3, padding="same"), (8, 8, 64))
        separable = formula_macs(layers.SeparableConv2D(channels, 3, padding="same"), (8, 8, 64))
        ratio = standard / separable
        assert ratio == pytest.approx(1 / (1 / channels + 1 / 9))
        assert 8 <= ratio < 9, (channels, ratio)


def test_bottleneck_versus_two_3x3_convs():
    """Bottleneck 256→64 (1×1) → 64 (3×3) → 256 (1×1) versus two 3×3 convs at 256 channels.

    Per output position the counter gives 256·64 + 9·64·64 + 64·256 = 69,632 MACs versus
    2·9·256·256 = 1,179,648: 94% fewer (88% fewer than even a single 3×3 256→256 conv).
    The lecture's "~70% fewer FLOPs" is therefore conservative for this configuration; we assert
    the exact counts and that the saving is at least the lecture's 70%.
    """
    hw, c, mid = 8, 256, 64
    x = keras.Input((hw, hw, c))
    y = layers.Conv2D(mid, 1, **ZEROS)(x)
    y = layers.Conv2D(mid, 3, padding="same", **ZEROS)(y)
    y = layers.Conv2D(c, 1, **ZEROS)(y)
    bottleneck = analysis.count_macs(keras.Model(x, y))
    z = layers.Conv2D(c, 3, padding="same", **ZEROS)(x)
    z = layers.Conv2D(c, 3, padding="same", **ZEROS)(z)
    plain = analysis.count_macs(keras.Model(x, z))
    assert bottleneck == hw * hw * 69_632
    assert plain == hw * hw * 1_179_648
    assert 1 - bottleneck / plain == pytest.approx(0.941, abs=1e-3)
    assert 1 - bottleneck / (plain / 2) == pytest.approx(0.882, abs=1e-3)
    assert 1 - bottleneck / plain >= 0.70


# --- walking graphs: params, nesting, sharing, memory -----------------------------------------


def nested_model():
    inner_in = keras.Input((8, 8, 4))
    h = layers.Conv2D(4, 3, padding="same", kernel_initializer="zeros", name="inner_conv")(inner_in)
    h = layers.BatchNormalization(name="inner_bn")(h)
    inner = keras.Model(inner_in, layers.ReLU(name="inner_relu")(h), name="inner")
    head = keras.Sequential(
        [keras.Input((4,)), layers.Dense(3, kernel_initializer="zeros", name="head_dense")],
        name="head",
    )
    shared = layers.Conv2D(4, 1, kernel_initializer="zeros", name="shared")
    x = keras.Input((8, 8, 4), name="image")
    y = shared(inner(x))
    y = shared(y)  # a shared layer: two calls, one set of weights
    y = layers.Add(name="skip")([x, y])
    y = layers.GlobalAveragePooling2D(name="gap")(y)
    return keras.Model(x, head(y), name="outer")


def test_profile_walks_nested_models_and_counts_shared_weights_once():
    model = nested_model()
    p = analysis.profile(model, batch_size=2)
    names = [row["name"] for row in p.layers]
    assert names == [
        "image",
        "inner/inner_conv",
        "inner/inner_bn",
        "inner/inner_relu",
        "shared",
        "shared",
        "skip",
        "gap",
        "head/head_dense",
    ]
    assert p.params == model.count_params() == sum(row["params"] for row in p.layers)
    assert p.non_trainable_params == 8  # moving mean and variance of the BN
    assert p.trainable_params == p.params - 8
    assert [row["params"] for row in p.layers if row["name"] == "shared"] == [20, 0]
    # MACs per example: conv 64·9·4·4, BN 256, ReLU 256, shared 2·(64·4·4), add 256, gap 256,
    # dense 4·3.
    expected = 64 * 9 * 16 + 256 + 256 + 2 * 64 * 16 + 256 + 256 + 12
    assert p.macs == expected
    assert not p.uncounted
    # Activation memory is for the whole batch: float32 output elements × 4 bytes.
    by_name = {row["name"]: row for row in p.layers}
    assert by_name["inner/inner_conv"]["activation_bytes"] == 2 * 8 * 8 * 4 * 4
    assert by_name["inner/inner_conv"]["output_shape"] == (2, 8, 8, 4)
    assert by_name["head/head_dense"]["activation_bytes"] == 2 * 3 * 4
    assert p.activation_bytes == sum(row["activation_bytes"] for row in p.layers)
    assert analysis.profile(model, batch_size=4).activation_bytes == 2 * p.activation_bytes
    assert analysis.profile(model, batch_size=4).macs == p.macs  # MACs are per example


def test_count_params_splits_trainable():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(3, kernel_initializer="zeros"),
            layers.BatchNormalization(),
            layers.Dense(2, kernel_initializer="zeros"),
        ]
    )
    model.layers[-1].trainable = False
    counts = analysis.count_params(model)
    assert counts == {
        "params": 15 + 12 + 8,
        "trainable_params": 15 + 6,
        "non_trainable_params": 6 + 8,
    }
    assert counts["params"] == model.count_params()

    class WithOwnWeights(keras.Model):  # functional subclass with a variable of its own
        def __init__(self):
            x = keras.Input((4,))
            super().__init__(x, layers.Dense(2, kernel_initializer="zeros")(x))
            self.extra = self.add_weight(shape=(3,), initializer="zeros", trainable=False)

    p = analysis.profile(WithOwnWeights())
    assert p.params == 10 + 3 and p.non_trainable_params == 3
    assert p.layers[-1]["type"] == "Weights" and p.layers[-1]["params"] == 3


@pytest.mark.slow
def test_keras_applications_match_published_multiply_adds():
    """The weighted layers of Keras Applications' MobileNets give the papers' counts:
    569M mult-adds for MobileNet 1.0-224 (Howard et al. 2017, Table 8) and 300M for
    MobileNetV2 1.0-224 (Sandler et al. 2018, Table 4). The papers leave out elementwise work
    (BN, ReLU, adds), which our total adds on top (1.8% and 4.3% here)."""
    weighted = ("Conv2D", "DepthwiseConv2D", "Dense")
    for build, published in [
        (keras.applications.MobileNet, 569e6),
        (keras.applications.MobileNetV2, 300e6),
    ]:
        model = build(weights=None)
        p = analysis.profile(model)
        assert not p.uncounted
        assert p.params == model.count_params()
        by_type = p.macs_by_type()
        assert sum(by_type.get(t, 0) for t in weighted) == pytest.approx(published, rel=5e-3)
        assert p.macs > sum(by_type.get(t, 0) for t in weighted)
        keras.backend.clear_session()


def test_unknown_layers_are_flagged_never_silent():
    x = keras.Input((6,))
    y = layers.Lambda(lambda t: t * 2.0, name="double")(x)
    y = layers.Dense(2, kernel_initializer="zeros")(y)
    p = analysis.profile(keras.Model(x, y))
    assert p.uncounted == ["double"]
    row = next(r for r in p.layers if r["name"] == "double")
    assert row["macs"] == 0 and not row["counted"] and "no MAC formula" in row["note"]
    assert "Uncounted" in p.to_text() and "double" in p.to_text()
    with pytest.warns(UserWarning, match="double"):
        assert analysis.count_macs(keras.Model(x, y)) == 12

    class Doubler(keras.Model):  # a subclassed model nested in a graph: one opaque call
        def call(self, t):
            return t * 2.0

    z = Doubler(name="doubler")(x)
    p = analysis.profile(keras.Model(x, z))
    assert p.uncounted == ["doubler"] and p.layers[-1]["output_shape"] == (1, 6)


def test_register_macs_for_a_custom_layer():
    class Cube(layers.Layer):
        def call(self, x):
            return x * x * x

    @analysis.register_macs(Cube)
    def _cube_macs(layer, input_shapes, output_shapes):
        return 2 * math.prod(output_shapes[0])

    assert macs_of(Cube(), (3, 5)) == 30


def test_to_dict_is_json_and_table_lists_every_layer():
    p = analysis.profile(nested_model())
    data = json.loads(json.dumps(p.to_dict()))
    assert {"params", "trainable_params", "macs", "layers", "activation_bytes"} <= set(data)
    assert data["flops"] == 2 * data["macs"]
    assert len(data["layers"]) == len(p.layers)
    text = p.to_text()
    for row in p.layers:
        assert row["name"] in text
    assert f"{p.params:,}" in text
    table = p.to_rich()
    assert table.row_count == len(p.layers)


def test_human_units():
    assert analysis.human(999) == "999"
    assert analysis.human(1234567) == "1.23M"
    assert analysis.human(999_999) == "1M"
    assert analysis.human_bytes(3 * 2**20) == "3.0 MiB"


# --- latency ----------------------------------------------------------------------------------


def test_latency_reports_median_per_batch_size():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            layers.Dense(4, kernel_initializer="zeros"),
            layers.Dense(2, kernel_initializer="zeros"),
        ]
    )
    result = analysis.latency(model, batch_sizes=(1, 4), warmup=1, repeats=3)
    assert sorted(result) == [1, 4]
    for batch_size, stats in result.items():
        assert stats["min_ms"] <= stats["median_ms"] <= stats["max_ms"]
        assert stats["median_ms"] > 0
        assert stats["per_example_ms"] == pytest.approx(stats["median_ms"] / batch_size)
        assert stats["repeats"] == 3 and stats["warmup"] == 1
        assert stats["backend"] == keras.backend.backend()


# --- bad input --------------------------------------------------------------------------------


def test_bad_input_raises_value_error_naming_the_value():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2, kernel_initializer="zeros")])
    with pytest.raises(ValueError, match="batch_size.*0"):
        analysis.profile(model, batch_size=0)
    with pytest.raises(ValueError, match="keras.Model"):
        analysis.profile("resnet18")
    with pytest.raises(ValueError, match="not built"):
        analysis.profile(keras.Sequential([layers.Dense(2, kernel_initializer="zeros")]))
    x = keras.Input((None, None, 3))
    fully_conv = keras.Model(x, layers.Conv2D(2, 3, kernel_initializer="zeros")(x))
    with pytest.raises(ValueError, match="None, None, 3"):
        analysis.profile(fully_conv)
    for bad in [(8, 8), (8, 8, 4), (0, 8, 3), "8x8"]:
        with pytest.raises(ValueError, match="input_shape"):
            analysis.profile(fully_conv, input_shape=bad)
    # Filled in, the unknown axes are profiled at the given size:
    assert analysis.count_macs(fully_conv, input_shape=(8, 8, 3)) == 6 * 6 * 9 * 3 * 2
    # ... and so are those of a nested model called on a tensor of known shape.
    outer_in = keras.Input((8, 8, 3))
    assert analysis.count_macs(keras.Model(outer_in, fully_conv(outer_in))) == 6 * 6 * 9 * 3 * 2
    for kwargs, match in [
        ({"batch_sizes": (0,)}, "batch size"),
        ({"batch_sizes": ()}, "at least one"),
        ({"warmup": -1}, "warmup"),
        ({"repeats": 0}, "repeats"),
    ]:
        with pytest.raises(ValueError, match=match):
            analysis.latency(model, **kwargs)


def test_subclassed_model_is_refused_with_a_clear_message():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2, kernel_initializer="zeros")

        def call(self, x):
            return self.dense(x)

    model = Tiny()
    model(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match="not a Sequential or functional"):
        analysis.profile(model)
    assert analysis.count_params(model)["params"] == 8


def test_compare_models_side_by_side():
    def net(conv, **kwargs):
        x = keras.Input((8, 8, 16))
        return keras.Model(x, conv(32, 3, padding="same", use_bias=False, **kwargs)(x))

    rows = analysis.compare(
        {
            "standard": net(layers.Conv2D, kernel_initializer="zeros"),
            "separable": net(
                layers.SeparableConv2D,
                depthwise_initializer="zeros",
                pointwise_initializer="zeros",
            ),
        },
        batch_sizes=(1, 2),
        warmup=1,
        repeats=1,
    )
    standard, separable = rows
    assert standard["macs"] == 64 * 9 * 16 * 32 and standard["macs_vs_first"] == 1.0
    assert separable["macs_vs_first"] == pytest.approx((9 * 16 + 16 * 32) / (9 * 16 * 32))
    assert separable["params_vs_first"] == pytest.approx((9 * 16 + 16 * 32) / (9 * 16 * 32))
    assert sorted(separable["latency_ms"]) == [1, 2] and separable["latency_vs_first"] > 0
    table = analysis.comparison_table(rows)
    assert "standard" in table and "separable" in table and "Latency b=2" in table
    with pytest.raises(ValueError, match="non-empty"):
        analysis.compare({})
