"""The lecture's quantitative claims, each measured by the toolkit and given a computed verdict.

One table, :data:`CLAIMS`, holds every number the lecture states that kerasnets can measure:
an id, the slide, the claim in the lecture's words, the slide's value, how the measurement
compares with it (``approx`` within a tolerance, ``at_least``, ``at_most``, ``below``, ``above``
or ``between``) and the function that measures it. :func:`measure` runs the functions and
computes each verdict from the measured value and the stated tolerance (:func:`verdict`):
``reproduced`` or ``differs``; nothing in the table says in advance which it will be. A claim
also carries a short reason (``why``) that is shown only when its verdict is ``differs``.

Two kinds of rows:

- ``analytic``: derivative maxima from autodiff, cost formulas and parameter counts of named
  architectures, activation statistics at initialization. Seconds in all; every backend.
- ``training``: a small training or conversion run (compression at a given accuracy loss,
  INT8 size and latency in the LiteRT interpreter). Tens of seconds; TensorFlow is used for
  the conversion whatever the backend.

The lecture's empirical comparisons that need several seeds (ResNet vs plain networks, the
nine activations of project 1) are not rerun here: ``kerasnets run resnet-vs-plain`` and
``kerasnets run activations`` measure them with error bars.

Example:
    >>> from kerasnets import claims
    >>> len(claims.CLAIMS) >= 25
    True
    >>> row = claims.measure(["sigmoid_max_derivative"])[0]
    >>> row["verdict"], round(row["measured"], 4)
    ('reproduced', 0.25)
    >>> claims.verdict(0.25, 1.0, compare="approx", tolerance=0.05)["verdict"]
    'differs'
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

COMPARES = ("approx", "at_least", "at_most", "below", "above", "between")
SCALES = ("rel", "abs", "log10")
KINDS = ("analytic", "training")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One quantitative claim of the lecture and how kerasnets measures it.

    Attributes:
        id: short identifier (``--only ID``).
        slide: where the lecture says it ("slide 9", "project 3").
        claim: the claim in the lecture's words.
        slide_says: the slide's value as the slide writes it ("0.25¹⁰ ≈ 9.5 × 10⁻⁷").
        value: the slide's value as a number, or ``(low, high)`` for ``between``.
        compare: how the measurement is compared with ``value`` (one of :data:`COMPARES`).
        tolerance: allowed deviation, on ``scale`` (relative, absolute or orders of magnitude).
        scale: ``"rel"``, ``"abs"`` or ``"log10"``.
        measure: function returning ``(measured value, detail text)``.
        how: the function or command that measures it.
        kind: ``"analytic"`` or ``"training"``.
        fmt: format of the measured value (a ``str.format`` spec).
        why: the reason a ``differs`` verdict has (shown only with that verdict).
    """

    id: str
    slide: str
    claim: str
    slide_says: str
    value: float | tuple
    compare: str
    tolerance: float
    scale: str
    measure: Callable[[], tuple[float, str]]
    how: str
    kind: str = "analytic"
    fmt: str = "{:.4g}"
    why: str = ""


# --------------------------------------------------------------------------- verdicts


def _check_verdict_args(value, compare, tolerance, scale):
    if compare not in COMPARES:
        raise ValueError(f"unknown compare {compare!r}; allowed: {', '.join(COMPARES)}")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; allowed: {', '.join(SCALES)}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
        raise ValueError(f"tolerance must be a number >= 0, got {tolerance!r}")
    if compare == "between":
        if not (isinstance(value, (tuple, list)) and len(value) == 2 and value[0] <= value[1]):
            raise ValueError(f"compare='between' needs value=(low, high), got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"compare={compare!r} needs a number as value, got {value!r}")
    if scale == "log10" and np.min(value) <= 0:
        raise ValueError(f"scale='log10' needs positive values, got {value!r}")


def _lower(bound, tolerance, scale):
    if scale == "rel":
        return bound - tolerance * abs(bound)
    if scale == "abs":
        return bound - tolerance
    return bound / 10**tolerance


def _upper(bound, tolerance, scale):
    if scale == "rel":
        return bound + tolerance * abs(bound)
    if scale == "abs":
        return bound + tolerance
    return bound * 10**tolerance


def _distance(measured, bound, scale):
    """How far ``measured`` is from ``bound``, in words, on the claim's scale."""
    if scale == "log10" and measured > 0:
        return f"{math.log10(measured / bound):+.2g} orders of magnitude"
    if scale == "rel" and bound != 0:
        return f"{measured / bound:.3g}× the slide's value"
    return f"{measured - bound:+.3g}"


def verdict(value, measured, compare="approx", tolerance=0.1, scale="rel") -> dict:
    """Compare a measured value with the slide's; return ``{"verdict", "difference"}``.

    ``approx``: within ``tolerance`` of ``value`` on ``scale`` (``rel``: a fraction of the
    value; ``abs``: absolute; ``log10``: orders of magnitude). ``at_least`` / ``at_most``: not
    beyond the value by more than the tolerance. ``below`` / ``above``: strictly (no
    tolerance). ``between``: in ``[low, high]`` widened by the tolerance. A measured value
    that is NaN or infinite differs.

    Example:
        >>> verdict(0.70, 0.882, compare="approx", tolerance=0.05, scale="abs")
        {'verdict': 'differs', 'difference': '+0.182'}
        >>> verdict((8, 9), 8.69, compare="between", tolerance=0)["verdict"]
        'reproduced'
    """
    _check_verdict_args(value, compare, tolerance, scale)
    measured = float(measured)
    if not math.isfinite(measured):
        return {"verdict": "differs", "difference": f"measured {measured}"}
    if compare == "approx":
        ok = _lower(value, tolerance, scale) <= measured <= _upper(value, tolerance, scale)
        difference = _distance(measured, value, scale)
    elif compare == "at_least":
        ok = measured >= _lower(value, tolerance, scale)
        difference = _distance(measured, value, scale)
    elif compare == "at_most":
        ok = measured <= _upper(value, tolerance, scale)
        difference = _distance(measured, value, scale)
    elif compare == "below":
        ok, difference = measured < value, f"{measured - value:+.3g}"
    elif compare == "above":
        ok, difference = measured > value, f"{measured - value:+.3g}"
    else:
        low, high = value
        ok = _lower(low, tolerance, scale) <= measured <= _upper(high, tolerance, scale)
        if measured < low:
            difference = _distance(measured, low, scale)
        elif measured > high:
            difference = _distance(measured, high, scale)
        else:
            difference = "inside the range"
    return {"verdict": "reproduced" if ok else "differs", "difference": difference}


# --------------------------------------------------------------------------- measurements
# Each returns (value, detail). Models and data are built inside, so that an id measures only
# what it needs; lru_cache shares what several rows use within one process.

_GRID = np.linspace(-10.0, 10.0, 20001).astype("float32")


def _derivative(name, x=_GRID, **options):
    from kerasnets import activations

    return np.asarray(activations.derivative(name, x, **options), dtype=np.float64)


def _activation(name, x, **options):
    import keras

    from kerasnets import activations

    layer = activations.get(name, **options)
    return np.asarray(keras.ops.convert_to_numpy(layer(x)), dtype=np.float64)


def _max_derivative(name):
    d = _derivative(name)
    i = int(np.argmax(d))
    return float(d[i]), f"max of f′ on [-10, 10] (autodiff, 20,001 points) at x = {_GRID[i]:.3g}"


def _mlp_params(depth, width, inputs=784):
    from kerasnets import models

    model = models.build("mlp", input_shape=(inputs,), num_classes=10, depth=depth, width=width)
    return model.count_params()


def m_shallow_params():
    n = _mlp_params(1, 1000)
    need = math.ceil((1_000_000 - 1000 - 10_010) / 1000)
    return n, f"MLP 784→1000→10; 1M would need ≥ {need} inputs"


def m_deep_params():
    n = _mlp_params(3, 100)
    # 100·n + 100 + 2·(100·100 + 100) + 100·10 + 10 = 30,000 → n
    need = (30_000 - 100 - 20_200 - 1010) / 100
    return n, f"MLP 784→100→100→100→10; 30K fits about {need:.0f} inputs"


def m_depth_param_ratio():
    shallow, deep = _mlp_params(1, 1000), _mlp_params(3, 100)
    return shallow / deep, f"{shallow:,} / {deep:,} parameters on 784 inputs"


def m_sigmoid_max():
    return _max_derivative("sigmoid")


def m_sigmoid_10_layers():
    top, _ = _max_derivative("sigmoid")
    return top**10, f"(max σ′ = {top:.4g})¹⁰ from autodiff"


def m_sigmoid_net_gradient_ratio():
    import keras

    from kerasnets import data, models
    from kerasnets.debug import gradient_magnitudes

    keras.utils.set_random_seed(0)
    (x, y), _ = data.load("digits", flatten=True)
    model = models.build(
        "mlp", input_shape=(64,), num_classes=10, depth=10, width=64, activation="sigmoid"
    )
    g = gradient_magnitudes(model, x[:256], y[:256])["mean_abs"]
    return g[0] / g[-2], (
        "mean |∂L/∂W| of hidden layer 1 / hidden layer 10, 10-layer sigmoid MLP "
        "(Glorot init) at init, 256 digits"
    )


def m_relu_derivative():
    d = _derivative("relu", _GRID[_GRID > 0])
    return float(d.mean()), f"mean f′ over {int((_GRID > 0).sum()):,} points x > 0 (min {d.min()})"


def m_relu_binary():
    values = np.unique(_derivative("relu"))
    return float(len(values)), f"distinct f′ values on [-10, 10]: {sorted(values.tolist())}"


@functools.cache
def _relu_init_stats():
    import keras

    from kerasnets import data, models
    from kerasnets.debug import activation_stats

    keras.utils.set_random_seed(0)
    (x, _), _ = data.load("digits", flatten=True)
    model = models.build("mlp", input_shape=(64,), num_classes=10, depth=3, width=100)
    return activation_stats(model, x[:512])


def m_relu_sparsity():
    stats = _relu_init_stats()
    zeros = stats["zero_fraction"]
    share = float(np.mean(zeros))
    return share, "zero outputs per hidden layer: " + ", ".join(f"{z:.0%}" for z in zeros)


def m_leaky_alpha():
    d = _derivative("leaky_relu", np.array([-3.0, -1.0, -0.1], "float32"))
    return float(d.mean()), "f′ at x = -3, -1, -0.1 (kerasnets default)"


def m_leaky_min():
    d = _derivative("leaky_relu")
    return float(d.min()), "min f′ on [-10, 10]"


def m_selu_lambda():
    d = _derivative("selu", np.array([0.5, 1.0, 3.0], "float32"))
    return float(d.mean()), "f′ for x > 0 (= λ)"


def m_selu_alpha():
    lam = float(_derivative("selu", np.array([1.0], "float32"))[0])
    low = _activation("selu", np.array([-30.0], "float32"))[0]
    return -low / lam, "−selu(−30)/λ (the negative saturation is −λα)"


@functools.cache
def _selu_propagation():
    from kerasnets import debug

    return debug.propagate("selu", "lecun_normal", depth=32, width=256, seed=0)


def m_selu_mean():
    p = _selu_propagation()
    return p["mean"][-1], (
        f"mean after 32 Dense(256)+SELU layers, LeCun init, N(0, 1) inputs "
        f"(layer 1: {p['mean'][0]:.3f})"
    )


def m_selu_variance():
    p = _selu_propagation()
    return p["variance"][-1], f"variance after 32 layers (layer 1: {p['variance'][0]:.3f})"


def m_swish_nonmonotonic():
    d = _derivative("swish")
    i = int(np.argmin(d))
    return float(d[i]), f"min f′ of x·σ(x) at x = {_GRID[i]:.3g}: negative = non-monotonic"


def m_gelu_formula():
    x = np.linspace(-6, 6, 1201).astype("float32")
    phi = 0.5 * (1 + np.vectorize(math.erf)(x.astype(np.float64) / math.sqrt(2)))
    diff = np.abs(_activation("gelu", x) - x * phi)
    return float(diff.max()), "max |gelu(x) − x·Φ(x)| on [-6, 6], Φ from math.erf"


def m_tanh_max():
    return _max_derivative("tanh")


def m_residual_gradient():
    import keras

    from kerasnets.backend import input_gradient

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 4))
    f = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    f = keras.layers.Conv2D(4, 3, padding="same")(f)
    branch = keras.Model(inputs, f)
    block = keras.Model(inputs, keras.layers.Add()([inputs, f]))
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 4)).astype("float32")
    diff = input_gradient(block, x) - input_gradient(branch, x)
    return float(diff.mean()), (
        f"∂Σ(x + F(x))/∂x − ∂ΣF(x)/∂x for a two-conv block (min {diff.min():.4g}, "
        f"max {diff.max():.4g})"
    )


def m_resnet152_depth():
    import keras

    from kerasnets import models

    model = models.build("resnet152", input_shape=(64, 64, 3), num_classes=10)
    weighted = [
        layer
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
        and "shortcut" not in layer.name
        and "proj" not in layer.name
    ]
    return float(
        len(weighted)
    ), "Conv2D + Dense layers on the main path of models.build('resnet152')"


def m_densenet_vs_resnet():
    from kerasnets import models

    shape = {"input_shape": (64, 64, 3), "stem": "imagenet", "num_classes": 1000}
    dense = models.build("densenet121", **shape).count_params()
    res = models.build("resnet50", **shape).count_params()
    return dense / res, f"DenseNet-121 {dense:,} / ResNet-50 {res:,} parameters (1000 classes)"


def m_densenet_growth():
    import keras

    from kerasnets import blocks

    y = blocks.apply_dense_block(keras.Input((8, 8, 24)), 4, 12, name="probe")
    return (y.shape[-1] - 24) / 4, f"apply_dense_block(k=12, 4 layers): 24 → {y.shape[-1]} channels"


def _macs_of(build, shape=(8, 8, 256)):
    import keras

    from kerasnets import analysis

    inputs = keras.Input(shape)
    return analysis.count_macs(keras.Model(inputs, build(inputs)))


def _bottleneck_macs():
    import keras

    def bottleneck(x):
        x = keras.layers.Conv2D(64, 1, use_bias=False)(x)
        x = keras.layers.Conv2D(64, 3, padding="same", use_bias=False)(x)
        return keras.layers.Conv2D(256, 1, use_bias=False)(x)

    return _macs_of(bottleneck)


def m_bottleneck_vs_conv():
    import keras

    b = _bottleneck_macs()
    c = _macs_of(lambda x: keras.layers.Conv2D(256, 3, padding="same", use_bias=False)(x))
    return 1 - b / c, f"256→64→64→256 ({b:,} MACs) vs one 3×3 256→256 conv ({c:,} MACs), 8×8"


def m_bottleneck_vs_basic():
    import keras

    def basic(x):
        x = keras.layers.Conv2D(256, 3, padding="same", use_bias=False)(x)
        return keras.layers.Conv2D(256, 3, padding="same", use_bias=False)(x)

    b, c = _bottleneck_macs(), _macs_of(basic)
    return 1 - b / c, f"256→64→64→256 ({b:,} MACs) vs two 3×3 256→256 convs ({c:,} MACs)"


def m_depthwise_ops():
    import keras

    def separable(x):
        x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        return keras.layers.Conv2D(256, 1, use_bias=False)(x)

    std = _macs_of(lambda x: keras.layers.Conv2D(256, 3, padding="same", use_bias=False)(x))
    sep = _macs_of(separable)
    return std / sep, f"3×3 conv 256→256: {std:,} MACs; depthwise + 1×1: {sep:,} MACs (8×8)"


def m_conv_params():
    import keras

    layer = keras.layers.Conv2D(64, 3, use_bias=False)
    layer.build((None, 8, 8, 32))
    return layer.count_params() / (3 * 3 * 32 * 64), (
        f"Conv2D(3×3, 32→64) has {layer.count_params():,} = D²·M·N = {3 * 3 * 32 * 64:,}"
    )


def m_separable_params():
    import keras

    depthwise = keras.layers.DepthwiseConv2D(3, use_bias=False)
    depthwise.build((None, 8, 8, 32))
    pointwise = keras.layers.Conv2D(64, 1, use_bias=False)
    pointwise.build((None, 8, 8, 32))
    n = depthwise.count_params() + pointwise.count_params()
    formula = 3 * 3 * 32 + 32 * 64
    return n / formula, f"depthwise 3×3 + 1×1 (32→64): {n:,} = D²·M + M·N = {formula:,}"


def m_inception_paths():
    import keras

    from kerasnets import blocks

    inputs = keras.Input((8, 8, 16))
    y = blocks.apply_inception_module(inputs, 8, 8, 8, 4, 4, 4, name="probe")
    model = keras.Model(inputs, y)
    concat = [la for la in model.layers if isinstance(la, keras.layers.Concatenate)][-1]
    n = len(concat.input) if isinstance(concat.input, list) else 1
    return float(n), "inputs of the module's Concatenate in blocks.apply_inception_module"


def m_efficient_params():
    from kerasnets import models

    n = models.build("efficient_cnn").count_params()
    return float(n), "models.build('efficient_cnn') on 32×32×3, 10 classes"


# ---- training rows


@functools.cache
def _trained_digits_mlp():
    import keras

    from kerasnets import data, models

    keras.utils.set_random_seed(0)
    (x, y), (xt, yt) = data.load("digits", flatten=True)
    model = models.build("mlp", input_shape=(64,), num_classes=10, depth=2, width=256)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    return model, (x, y), (xt, yt)


@functools.cache
def _compressed():
    from kerasnets import compression

    model, (x, y), (xt, yt) = _trained_digits_mlp()
    result = compression.compress(
        model, prune=0.8, cluster=16, x=x, y=y, x_test=xt, y_test=yt, epochs=2
    )
    return result


def m_compression_ratio():
    r = _compressed()
    ratio = r.before.gzip_bytes / r.after.gzip_bytes
    return ratio, (
        f"gzip bytes {r.before.gzip_bytes:,} → {r.after.gzip_bytes:,}: MLP 64→256→256→10 on "
        "digits, 80% pruned + 16 clusters, 2 fine-tuning epochs"
    )


def m_compression_loss():
    r = _compressed()
    loss = r.accuracy_before - r.accuracy_after
    return loss, f"test accuracy {r.accuracy_before:.4f} → {r.accuracy_after:.4f} (same run)"


@functools.cache
def _tflite_pair():
    import tempfile

    from kerasnets import tflite

    model, (x, _), (xt, yt) = _trained_digits_mlp()
    folder = Path(tempfile.mkdtemp(prefix="kerasnets-claims-"))
    paths = tflite.convert_many(
        model,
        {folder / "float32.tflite": {}, folder / "int8.tflite": {"quantize": "int8"}},
        calibration=x[:200],
    )
    return [tflite.evaluate(p, xt, yt, threads=(1,), warmup=20, runs=200) for p in paths]


def m_int8_size():
    f32, i8 = _tflite_pair()
    return f32["bytes"] / i8["bytes"], (
        f".tflite bytes {f32['bytes']:,} (float32) / {i8['bytes']:,} (int8), digits MLP"
    )


def m_int8_speed():
    f32, i8 = _tflite_pair()
    a, b = f32["latency_ms"]["1"], i8["latency_ms"]["1"]
    return (
        a / b,
        f"LiteRT batch-1 median latency {a:.4f} ms (float32) / {b:.4f} ms (int8), 1 thread",
    )


# --------------------------------------------------------------------------- the table

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "shallow_params", "slide 7", "Shallow (1 layer, 1000 units): 1M+ parameters",
        "1M+", 1_000_000, "at_least", 0.0, "rel", m_shallow_params,
        "models.build('mlp', depth=1, width=1000).count_params()", fmt="{:,.0f}",
        why="depends on the input size, which the slide does not state",
    ),
    Claim(
        "deep_params", "slide 7", "Deep (3 layers, 100 units each): 30K parameters",
        "30K", 30_000, "approx", 0.2, "rel", m_deep_params,
        "models.build('mlp', depth=3, width=100).count_params()", fmt="{:,.0f}",
        why="the first layer's weights depend on the input size, which the slide does not state",
    ),
    Claim(
        "depth_param_ratio", "slide 7", "Parameter count: 1M+ (shallow) vs 30K (deep)",
        "≈ 33×", 1_000_000 / 30_000, "approx", 0.2, "rel", m_depth_param_ratio,
        "count_params of the two MLPs", fmt="{:.2f}×",
        why="both counts depend on the input size, which the slide does not state",
    ),
    Claim(
        "sigmoid_max_derivative", "slide 9", "Sigmoid derivative maximum: 0.25",
        "0.25", 0.25, "approx", 1e-6, "abs", m_sigmoid_max,
        "activations.derivative('sigmoid', x)",
    ),
    Claim(
        "sigmoid_10_layers", "slide 9", "Effect across 10 layers: 0.25¹⁰ ≈ 9.5 × 10⁻⁷",
        "9.5 × 10⁻⁷", 9.5e-7, "approx", 0.02, "rel", m_sigmoid_10_layers,
        "activations.derivative('sigmoid', x).max() ** 10", fmt="{:.3g}",
    ),
    Claim(
        "sigmoid_net_gradient_ratio", "slide 9",
        "∂L/∂w₁ ∝ ∏ σ′(zᵢ): early layers get 0.25¹⁰ ≈ 9.5 × 10⁻⁷ of the gradient",
        "≈ 10⁻⁶", 9.5e-7, "approx", 1.0, "log10", m_sigmoid_net_gradient_ratio,
        "debug.gradient_magnitudes (GradientFlowMonitor)", fmt="{:.3g}",
        why="0.25¹⁰ is a bound: in a real network the weights also scale the gradient, "
        "and σ′ is below its maximum almost everywhere",
    ),
    Claim(
        "relu_derivative_positive", "slide 13", "Derivative = 1 for x > 0",
        "1", 1.0, "approx", 0.0, "abs", m_relu_derivative, "activations.derivative('relu', x)",
    ),
    Claim(
        "relu_binary_gradient", "slide 19", "ReLU: binary gradient (0 or 1)",
        "2 values", 2, "approx", 0, "abs", m_relu_binary,
        "np.unique(activations.derivative('relu', x))", fmt="{:.0f}",
    ),
    Claim(
        "relu_sparsity_init", "slide 13", "Sparse activation (~50% neurons output zero)",
        "~50%", 0.5, "approx", 0.1, "abs", m_relu_sparsity,
        "debug.activation_stats (ActivationStatsMonitor, 3×100 ReLU MLP, He init, digits)",
        fmt="{:.1%}",
    ),
    Claim(
        "leaky_relu_alpha", "slide 14", "Leaky ReLU: f(x) = max(αx, x) with α = 0.01",
        "0.01", 0.01, "approx", 1e-6, "abs", m_leaky_alpha,
        "activations.derivative('leaky_relu', x < 0)",
    ),
    Claim(
        "leaky_always_gradient", "slide 19", "Leaky ReLU: always allows gradient",
        "f′ > 0", 0.0, "above", 0.0, "abs", m_leaky_min, "activations.derivative('leaky_relu')",
    ),
    Claim(
        "selu_lambda", "slide 15", "SELU: λ ≈ 1.05", "1.05", 1.05, "approx", 0.01, "rel",
        m_selu_lambda, "activations.derivative('selu', x > 0)",
    ),
    Claim(
        "selu_alpha", "slide 15", "SELU: α ≈ 1.67", "1.67", 1.67, "approx", 0.01, "rel",
        m_selu_alpha, "activations.get('selu')(-30)",
    ),
    Claim(
        "selu_mean", "slide 15", "SELU maintains mean (0) automatically", "0", 0.0, "approx",
        0.1, "abs", m_selu_mean, "debug.propagate('selu', 'lecun_normal', depth=32)",
        fmt="{:.3f}",
    ),
    Claim(
        "selu_variance", "slide 15", "SELU maintains variance (1) automatically", "1", 1.0,
        "approx", 0.2, "abs", m_selu_variance,
        "debug.propagate('selu', 'lecun_normal', depth=32)", fmt="{:.3f}",
    ),
    Claim(
        "swish_nonmonotonic", "slide 16", "Swish: smooth and non-monotonic", "f′ < 0 somewhere",
        0.0, "below", 0.0, "abs", m_swish_nonmonotonic, "activations.derivative('swish')",
    ),
    Claim(
        "gelu_formula", "slide 16", "GELU: f(x) = x × Φ(x), Φ the Gaussian CDF",
        "x·Φ(x)", 0.0, "approx", 1e-5, "abs", m_gelu_formula, "activations.get('gelu')",
        fmt="{:.2g}",
    ),
    Claim(
        "tanh_max_derivative", "slide 19", "Sigmoid/Tanh: max derivative 0.25 (tanh)",
        "0.25", 0.25, "approx", 0.01, "abs", m_tanh_max, "activations.derivative('tanh', x)",
        why="the slide is wrong for tanh: tanh′(0) = 1 (0.25 is the sigmoid's maximum)",
    ),
    Claim(
        "residual_gradient_one", "slide 22", "Math benefit: gradient always has component of 1",
        "1", 1.0, "approx", 1e-5, "abs", m_residual_gradient,
        "backend.input_gradient of a block with and without its shortcut",
    ),
    Claim(
        "resnet152_depth", "slide 22", "Extreme depth: enabled 152+ layer networks",
        "152 layers", 152, "approx", 0, "abs", m_resnet152_depth,
        "models.build('resnet152')", fmt="{:.0f}",
    ),
    Claim(
        "densenet_fewer_params", "slide 23", "DenseNet: fewer parameters than ResNet",
        "< 1×", 1.0, "below", 0.0, "abs", m_densenet_vs_resnet,
        "count_params of models.build('densenet121') / models.build('resnet50')",
        fmt="{:.2f}×",
    ),
    Claim(
        "densenet_growth", "slide 23", "Growth rate: each layer adds k feature maps (k = 12)",
        "12", 12, "approx", 0, "abs", m_densenet_growth, "blocks.apply_dense_block",
        fmt="{:.0f}",
    ),
    Claim(
        "bottleneck_vs_conv3x3", "slide 24", "Bottleneck: ~70% fewer FLOPs", "~70%", 0.70,
        "approx", 0.05, "abs", m_bottleneck_vs_conv, "analysis.count_macs", fmt="{:.1%}",
        why="depends on the baseline compared; against one 3×3 conv the saving is larger",
    ),
    Claim(
        "bottleneck_vs_basic", "slide 24",
        "Bottleneck: ~70% fewer FLOPs (vs a block of two 3×3 convs)", "~70%", 0.70, "approx",
        0.05, "abs", m_bottleneck_vs_basic, "analysis.count_macs", fmt="{:.1%}",
        why="depends on the baseline compared; against two 3×3 convs the saving is larger",
    ),
    Claim(
        "depthwise_ops", "slide 27", "Depthwise separable: 8-9× fewer operations", "8–9×",
        (8.0, 9.0), "between", 0.0, "abs", m_depthwise_ops, "analysis.count_macs",
        fmt="{:.2f}×",
    ),
    Claim(
        "conv_params_formula", "slide 27", "Standard convolution params: D² × M × N",
        "D²·M·N", 1.0, "approx", 0.0, "abs", m_conv_params, "Conv2D.count_params()",
        fmt="{:.3f}× the formula",
    ),
    Claim(
        "separable_params_formula", "slide 27", "Depthwise separable params: D² × M + M × N",
        "D²·M + M·N", 1.0, "approx", 0.0, "abs", m_separable_params,
        "DepthwiseConv2D + Conv2D(1×1) count_params()", fmt="{:.3f}× the formula",
    ),
    Claim(
        "inception_paths", "slide 26", "Inception: four parallel paths, concatenated", "4",
        4, "approx", 0, "abs", m_inception_paths, "blocks.apply_inception_module",
        fmt="{:.0f}",
    ),
    Claim(
        "efficient_cnn_params", "project 3", "Parameter count (aim for <500K parameters)",
        "< 500K", 500_000, "below", 0.0, "abs", m_efficient_params,
        "models.build('efficient_cnn').count_params()", fmt="{:,.0f}",
    ),
    Claim(
        "compression_ratio", "slide 29", "Typical results: 5-10× compression ratio", "5–10×",
        (5.0, 10.0), "between", 0.0, "abs", m_compression_ratio,
        "compression.compress(prune=0.8, cluster=16)", kind="training", fmt="{:.2f}×",
        why="the ratio depends on the model, the sparsity, the clusters and the format",
    ),
    Claim(
        "compression_accuracy_loss", "slide 29", "Typical results: <1% accuracy loss", "< 1%",
        0.01, "below", 0.0, "abs", m_compression_loss,
        "compression.compress(prune=0.8, cluster=16)", kind="training", fmt="{:.2%}",
        why="measured for one MLP on digits at 80% sparsity and 16 clusters; the loss depends "
        "on the model, the data and the compression",
    ),
    Claim(
        "int8_size", "slide 29", "Quantization FP32 → INT8: ~4× memory improvement", "~4×",
        4.0, "approx", 0.1, "rel", m_int8_size, "tflite.convert_many + tflite.evaluate",
        kind="training", fmt="{:.2f}×",
        why="a .tflite file also holds the graph, int32 biases and quantization scales",
    ),
    Claim(
        "int8_speed", "slide 29", "Quantization FP32 → INT8: ~4× speed improvement", "~4×",
        4.0, "approx", 0.25, "rel", m_int8_speed, "tflite.evaluate (LiteRT, 1 thread)",
        kind="training", fmt="{:.2f}×",
        why="measured at batch 1 for a small MLP on this CPU; 4× is the ratio of the "
        "arithmetic widths (32 vs 8 bits), not a measured speed-up",
    ),
)  # fmt: skip

_BY_ID = {c.id: c for c in CLAIMS}


def ids() -> list[str]:
    """The claim ids, in table order."""
    return [c.id for c in CLAIMS]


def get(claim_id: str) -> Claim:
    """The :class:`Claim` named ``claim_id``."""
    check_ids([claim_id])
    return _BY_ID[claim_id]


def check_ids(claim_ids) -> list[str]:
    """Return ``claim_ids`` as a list; raise ValueError naming any unknown id."""
    if isinstance(claim_ids, str):
        claim_ids = [claim_ids]
    claim_ids = list(claim_ids)
    unknown = [i for i in claim_ids if i not in _BY_ID]
    if unknown:
        raise ValueError(
            f"unknown claim id {', '.join(map(repr, unknown))}; available: {', '.join(ids())}"
        )
    return claim_ids


def _format(claim, value):
    try:
        return claim.fmt.format(value)
    except (ValueError, TypeError):
        return f"{value:.4g}"


def evaluate(claim: Claim) -> dict:
    """Measure one claim and compute its verdict; return the result row."""
    start = time.perf_counter()
    value, detail = claim.measure()
    value = float(value)
    result = verdict(claim.value, value, claim.compare, claim.tolerance, claim.scale)
    differs = result["verdict"] == "differs"
    return {
        "id": claim.id,
        "slide": claim.slide,
        "claim": claim.claim,
        "slide_says": claim.slide_says,
        "slide_value": list(claim.value) if isinstance(claim.value, tuple) else claim.value,
        "compare": claim.compare,
        "tolerance": claim.tolerance,
        "scale": claim.scale,
        "measured": value,
        "measured_text": _format(claim, value),
        "detail": detail,
        "how": claim.how,
        "kind": claim.kind,
        "verdict": result["verdict"],
        "difference": result["difference"],
        "why": claim.why if differs else "",
        "seconds": round(time.perf_counter() - start, 3),
    }


def measure(only=None, training: bool = True) -> list[dict]:
    """Measure the claims (all, or the ids in ``only``) and return one result row per claim.

    Args:
        only: claim ids to measure (default: every claim, in table order).
        training: include the ``training`` rows when ``only`` is not given.

    Each row has the claim, the slide's value, the measured value (``measured``, and
    ``measured_text`` formatted), ``detail``, ``how``, ``verdict`` (computed by
    :func:`verdict`), ``difference`` and, for ``differs``, ``why``.
    """
    if only:
        chosen = [_BY_ID[i] for i in check_ids(only)]
    else:
        chosen = [c for c in CLAIMS if training or c.kind == "analytic"]
    return [evaluate(c) for c in chosen]


def table(rows, detail: bool = True) -> str:
    """A Markdown table of result rows: claim | slide says | measured | how | verdict.

    ``detail=False`` leaves the measurement's detail out of the measured column.
    """
    lines = [
        "| id | slide | claim | slide says | measured | how | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict_text = r["verdict"]
        if r["verdict"] == "differs":
            verdict_text += f" ({r['difference']}" + (f"; {r['why']})" if r["why"] else ")")
        cells = [
            r["id"],
            r["slide"],
            r["claim"],
            r["slide_says"],
            f"{r['measured_text']} ({r['detail']})" if detail else r["measured_text"],
            f"`{r['how']}`",
            verdict_text,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def report_markdown(rows, backend: str | None = None) -> str:
    """``report.md``: counts of each verdict, the table, and what was not rerun."""
    n_ok = sum(r["verdict"] == "reproduced" for r in rows)
    n_diff = len(rows) - n_ok
    seconds = sum(r["seconds"] for r in rows)
    head = [
        "# The lecture's claims, measured by kerasnets",
        "",
        f"{len(rows)} claim{'s' if len(rows) != 1 else ''} measured"
        f"{f' on {backend}' if backend else ''} in {seconds:.1f} s: "
        f"{n_ok} reproduced, {n_diff} differ. A verdict is computed from the measured value, "
        "the slide's value and the stated tolerance (`kerasnets.claims.CLAIMS`).",
        "",
        table(rows),
        "",
        "Not rerun here: the multi-seed comparisons (`kerasnets run activations`, "
        "`kerasnets run resnet-vs-plain`, `kerasnets run efficient`) measure the lecture's "
        "empirical comparisons with error bars.",
        "",
    ]
    return "\n".join(head)


def write_report(rows, out, force: bool = False, backend: str | None = None) -> Path:
    """Write ``report.md`` and ``claims.json`` into the directory ``out`` (atomically)."""
    from kerasnets import io

    with io.run_directory(out, force=force) as tmp:
        io.write_text(tmp / "report.md", report_markdown(rows, backend))
        io.write_json(tmp / "claims.json", {"backend": backend, "claims": rows})
    return Path(out)


__all__ = [
    "CLAIMS",
    "COMPARES",
    "Claim",
    "check_ids",
    "evaluate",
    "get",
    "ids",
    "measure",
    "report_markdown",
    "table",
    "verdict",
    "write_report",
]
