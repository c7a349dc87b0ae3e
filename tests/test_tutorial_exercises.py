"""Reference solutions of the exercises that end tutorials 01-05 and 07, checked on every backend.

Each solution is what a student would write with the toolkit; the assertions are the answers
the tutorials' prose asks for. (Tutorial 08's are in ``tests/test_debug.py``.)
"""

import math

import keras
import numpy as np
import pytest

from kerasnets import activations, analysis, compression, data, debug, models, nas
from kerasnets.backend import input_gradient


@pytest.fixture(scope="module")
def digits_flat():
    (x, y), _ = data.load("digits", flatten=True)
    return x[:256], y[:256]


# --- tutorial 01: depth and the vanishing gradient -------------------------------------------


def test_01_exercise_1_depth_at_which_the_best_case_sigmoid_product_falls_below_1e_6():
    x = np.linspace(-6, 6, 1201).astype("float32")
    best = float(activations.derivative("sigmoid", x).max())
    depth = next(n for n in range(1, 100) if best**n < 1e-6)
    assert best == pytest.approx(0.25, abs=1e-6)
    assert depth == 10  # 0.25 ** 10 = 9.5e-7


def test_01_exercise_2_relu_keeps_its_variance_with_he_and_sigmoid_does_not_reach_it():
    relu = debug.propagate("relu", "he_normal", depth=20)
    sigmoid = debug.propagate("sigmoid", "glorot_uniform", depth=20)
    # He (Var = 2 / fan_in) keeps ReLU's variance of order 1 (0.43-1.06 on the three backends)
    assert 0.2 < relu["variance"][-1] < 5.0
    # sigmoid + Glorot: squeezed towards its mean 0.5 (variance 0.014), 10× and more below ReLU
    assert sigmoid["variance"][-1] < 0.03 and relu["variance"][-1] > 10 * sigmoid["variance"][-1]
    assert abs(sigmoid["mean"][-1] - 0.5) < 0.1


# --- tutorial 02: activation functions --------------------------------------------------------


def test_02_exercise_1_where_swish_dips():
    x = np.linspace(-6, 0, 6001).astype("float32")
    d = activations.derivative("swish", x)
    x_min = float(x[np.argmin(d)])
    assert -2.5 < x_min < -2.3 and -0.101 < float(d.min()) < -0.099  # non-monotonic


def test_02_exercise_2_half_of_relu_units_are_zero_at_init(digits_flat):
    x, _ = digits_flat
    keras.utils.set_random_seed(0)
    model = models.build("mlp", input_shape=(64,), depth=3, width=100, activation="relu")
    shares = debug.activation_stats(model, x[:256])["zero_fraction"]
    # the share of exact zeros per ReLU layer at init: about half (the lecture's "~50 %")
    assert len(shares) == 3 and all(0.3 < s < 0.7 for s in shares)


# --- tutorial 03: skip connections ------------------------------------------------------------


def test_03_exercise_1_resnet_has_exactly_the_projection_convolutions_more_than_plainnet():
    plain = models.build("plainnet18", input_shape=(32, 32, 3), num_classes=10)
    resnet = models.build("resnet18", input_shape=(32, 32, 3), num_classes=10)
    extra = sum(
        layer.count_params()
        for layer in resnet.layers
        if "proj" in layer.name  # the 1×1 projection convolutions and their BatchNorms
    )
    assert extra > 0
    assert resnet.count_params() - plain.count_params() == extra


def test_03_exercise_2_the_identity_path_adds_exactly_one_to_the_gradient(rng):
    inputs = keras.Input((6, 6, 4))
    f = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    f = keras.layers.Conv2D(4, 3, padding="same")(f)
    branch = keras.Model(inputs, f)
    block = keras.Model(inputs, keras.layers.Add()([inputs, f]))
    x = rng.normal(size=(2, 6, 6, 4)).astype("float32")
    diff = input_gradient(block, x) - input_gradient(branch, x)
    np.testing.assert_allclose(diff, 1.0, atol=1e-5)


# --- tutorial 04: efficient blocks ------------------------------------------------------------


def _macs(layer, shape):
    inputs = keras.Input(shape)
    return analysis.count_macs(keras.Model(inputs, layer(inputs)))


def test_04_exercise_1_depthwise_separable_saves_9n_over_9_plus_n():
    m, n = 64, 128
    standard = _macs(keras.layers.Conv2D(n, 3, padding="same", use_bias=False), (8, 8, m))
    separable = _macs(keras.layers.SeparableConv2D(n, 3, padding="same", use_bias=False), (8, 8, m))
    assert standard == 8 * 8 * 9 * m * n
    assert standard / separable == pytest.approx(9 * n / (9 + n))  # 8.41×


def test_04_exercise_2_a_bottleneck_saves_88_percent_of_one_3x3_convolution():
    inputs = keras.Input((8, 8, 256))
    h = keras.layers.Conv2D(64, 1, use_bias=False)(inputs)
    h = keras.layers.Conv2D(64, 3, padding="same", use_bias=False)(h)
    h = keras.layers.Conv2D(256, 1, use_bias=False)(h)
    bottleneck = analysis.count_macs(keras.Model(inputs, h))
    plain = _macs(keras.layers.Conv2D(256, 3, padding="same", use_bias=False), (8, 8, 256))
    saving = 1 - bottleneck / plain
    assert saving == pytest.approx(1 - (256 * 64 + 9 * 64 * 64 + 64 * 256) / (9 * 256 * 256))
    assert round(saving, 3) == 0.882


# --- tutorial 05: compression -----------------------------------------------------------------


def test_05_exercise_1_pruning_to_80_percent_leaves_exactly_80_percent_zeros(digits_flat):
    x, y = digits_flat
    model = models.build("mlp", input_shape=(64,), depth=2, width=32)
    pruned = compression.prune_low_magnitude(
        model, compression.ConstantSparsity(0.8, 0, frequency=1), exclude="predictions"
    )
    pruned.compile("adam", "sparse_categorical_crossentropy")
    pruned.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)
    sparsity = compression.kernel_sparsity(compression.strip_pruning(pruned))
    hidden = {k: v for k, v in sparsity.items() if k != "predictions"}
    assert hidden and all(v == pytest.approx(0.8, abs=0.01) for v in hidden.values())


def test_05_exercise_2_sixteen_clusters_need_a_four_bit_index():
    model = models.build("mlp", input_shape=(64,), depth=1, width=32)
    clustered = compression.strip_clustering(compression.cluster_weights(model, 16))
    counts = compression.unique_values(clustered)
    assert counts and all(c <= 16 for c in counts.values())
    bits = math.ceil(math.log2(max(counts.values())))
    assert bits <= 4  # vs 32 bits per float32 weight: 8× fewer bits for the indices


# --- tutorial 07: neural architecture search --------------------------------------------------


def test_07_exercise_1_a_narrowed_space_round_trips_through_json():
    space = nas.SearchSpace(layer_types=("separable",), channels=(32, 64))
    again = nas.SearchSpace.from_json(space.to_json())
    assert again == space and again.layer_types == ("separable",)
    with pytest.raises(ValueError, match="layer_types"):
        nas.SearchSpace(layer_types=())


def test_07_exercise_2_a_hand_written_architecture_under_half_the_baselines_macs():
    from kerasnets.nas.space import Architecture, Layer

    arch = Architecture(
        (Layer("conv3x3", 16), Layer("separable", 32, True), Layer("separable", 64))
    )
    model = nas.build(arch, (8, 8, 1), num_classes=10)
    baseline = models.build("baseline_cnn", input_shape=(8, 8, 1), num_classes=10)
    assert analysis.count_macs(model) < analysis.count_macs(baseline) / 2
