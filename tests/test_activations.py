"""Activations by name: values, options, derivatives by autodiff, initializers, errors."""

import math

import keras
import numpy as np
import pytest

from kerasnets import activations
from kerasnets.layers import GELU, Swish

X = np.array([-2.5, -1.0, -0.3, 0.4, 1.0, 3.0], "float32")  # no kinks at 0
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


ERF = np.vectorize(math.erf)

EXPECTED = {
    "linear": lambda x: x,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "prelu": lambda x: np.maximum(x, 0),  # learned alpha starts at 0
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "swish": lambda x: x * sigmoid(x),
    "silu": lambda x: x * sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1 + ERF(x / np.sqrt(2))),
}


def test_available_names():
    assert activations.available() == sorted(EXPECTED)
    for name in activations.available():
        assert activations.describe(name)


def test_values_match_the_formula():
    for name, formula in EXPECTED.items():
        layer = activations.get(name)
        assert isinstance(layer, keras.layers.Layer), name
        got = keras.ops.convert_to_numpy(layer(X))
        want = formula(X.astype("float64"))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)


def test_options():
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(activations.get("leaky_relu", alpha=0.2)(X)),
        np.where(X > 0, X, 0.2 * X),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(activations.get("elu", alpha=0.5)(X)),
        np.where(X > 0, X, 0.5 * np.expm1(X)),
        rtol=1e-5,
    )
    beta = 2.0
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(activations.get("swish", beta=beta)(X)),
        X * sigmoid(beta * X),
        rtol=1e-5,
    )
    x = X.astype("float64")
    tanh_gelu = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(activations.get("gelu", approximate=True)(X)),
        tanh_gelu,
        rtol=1e-5,
        atol=1e-6,
    )
    exact = keras.ops.convert_to_numpy(activations.get("gelu")(X))
    assert 0 < np.max(np.abs(exact - tanh_gelu)) < 1e-3  # close, but not the same function


def test_prelu_shared_or_per_channel():
    images = np.ones((2, 4, 4, 3), "float32")
    per_channel = activations.get("prelu", shared_axes=[1, 2])
    per_channel(images)
    assert tuple(per_channel.alpha.shape) == (1, 1, 3)
    per_unit = activations.get("prelu")
    per_unit(images)
    assert tuple(per_unit.alpha.shape) == (4, 4, 3)


def test_learnable_swish_trains_beta():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(4),
            activations.get("swish", learnable=True, beta=1.5, layer_name="swish"),
            keras.layers.Dense(1),
        ]
    )
    assert [w.name for w in model.get_layer("swish").trainable_weights] == ["beta"]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    model.fit(x, x.sum(axis=1, keepdims=True), epochs=1, batch_size=8, verbose=0)
    beta = float(keras.ops.convert_to_numpy(model.get_layer("swish").beta))
    assert beta != 1.5 and np.isfinite(beta)
    fixed = activations.get("swish", beta=1.5)
    fixed(x)
    assert not fixed.trainable_weights


def test_derivative_by_autodiff_matches_finite_differences():
    x, h = X.astype("float64"), 1e-4
    for name, formula in EXPECTED.items():
        numeric = (formula(x + h) - formula(x - h)) / (2 * h)
        got = activations.derivative(name, X)
        assert got.shape == X.shape, name
        np.testing.assert_allclose(got, numeric, rtol=1e-3, atol=1e-4, err_msg=name)


def test_derivative_facts_of_the_lecture():
    x = np.linspace(-6, 6, 241).astype("float32")
    d_sigmoid = activations.derivative("sigmoid", x)
    assert d_sigmoid.max() == pytest.approx(0.25, abs=1e-6)  # the vanishing-gradient bound
    assert activations.derivative("tanh", np.zeros(1, "float32"))[0] == pytest.approx(1.0)
    d_relu = activations.derivative("relu", np.array([-1.0, 2.0], "float32"))
    assert d_relu.tolist() == [0.0, 1.0]
    d_leaky = activations.derivative("leaky_relu", np.array([-1.0], "float32"), alpha=0.1)
    assert d_leaky[0] == pytest.approx(0.1)
    d_swish = activations.derivative("swish", np.array([1.0], "float32"), beta=2.0)
    assert d_swish[0] == pytest.approx(sigmoid(2.0) * (1 + 2.0 * (1 - sigmoid(2.0))), rel=1e-5)
    # any elementwise keras.ops function works too
    d_square = activations.derivative(keras.ops.square, np.array([3.0], "float32"))
    assert d_square[0] == pytest.approx(6.0)


def test_initializer_for():
    assert activations.initializer_for("relu") == "he_normal"
    assert activations.initializer_for("leaky_relu") == "he_normal"
    assert activations.initializer_for("prelu") == "he_normal"
    assert activations.initializer_for("selu") == "lecun_normal"
    for name in ("elu", "gelu", "swish", "silu"):
        assert activations.initializer_for(name) == "he_normal"
    for name in ("sigmoid", "tanh", "linear"):
        assert activations.initializer_for(name) == "glorot_uniform"


BAD_INPUT = [
    (lambda: activations.get("relu7"), r"unknown activation 'relu7'; available: .*gelu"),
    (lambda: activations.get(None), r"unknown activation None"),
    (lambda: activations.get("relu", alpha=0.1), r"'relu' takes no option\(s\) alpha"),
    (lambda: activations.get("elu", alpha=-1.0), r"alpha must be > 0"),
    (lambda: activations.get("leaky_relu", alpha="big"), r"alpha must be a number"),
    (lambda: activations.get("swish", beta=float("nan")), r"beta must be finite"),
    (lambda: activations.initializer_for("softmaxx"), r"unknown activation 'softmaxx'"),
    (lambda: activations.derivative("nope", X), r"unknown activation 'nope'"),
]


def test_bad_input():
    for call, match in BAD_INPUT:
        with pytest.raises(ValueError, match=match):
            call()


def test_custom_layers_round_trip(tmp_path):
    inputs = keras.Input((3,))
    x = Swish(beta=0.7, learnable=True, name="swish")(inputs)
    x = GELU(approximate=True, name="gelu")(x)
    model = keras.Model(inputs, x)
    model.get_layer("swish").beta.assign(1.3)
    path = tmp_path / "act.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("swish"), Swish)
    assert loaded.get_layer("gelu").get_config()["approximate"] is True
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(X[:3][None])),
        keras.ops.convert_to_numpy(model(X[:3][None])),
        rtol=1e-6,
    )
