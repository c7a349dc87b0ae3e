"""Training-diagnostic callbacks: they detect the real phenomena, on every backend.

Run ``python tests/test_callbacks.py`` (on TensorFlow) to regenerate the cross-backend reference
values in ``tests/data/callbacks_reference.json``.
"""

import json
import math
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from callbacks import (
    ActivationStatsMonitor,
    DeadNeuronMonitor,
    GradientExplosionMonitor,
    GradientFlowMonitor,
    TrainingDiagnosticWarning,
)

REFERENCE = Path(__file__).parent / "data" / "callbacks_reference.json"


@pytest.fixture(scope="module")
def digits():
    from kerasnets import data

    (x, y), _ = data.load("digits", flatten=True)
    return x[:256], y[:256]


def mlp(
    depth=10,
    width=32,
    activation="sigmoid",
    init="glorot_uniform",
    bias="zeros",
    residual=False,
    lr=0.05,
):
    """A ``depth``-layer Dense network on flattened digits (depth - 1 hidden layers)."""
    inputs = keras.Input((64,))
    dense = lambda i: keras.layers.Dense(  # noqa: E731
        width,
        activation=activation,
        kernel_initializer=init,
        bias_initializer=bias,
        name=f"hidden_{i}",
    )
    h = dense(0)(inputs)
    for i in range(1, depth - 1):
        z = dense(i)(h)
        h = keras.layers.Add(name=f"skip_{i}")([h, z]) if residual else z
    outputs = keras.layers.Dense(10, activation="softmax", name="classifier")(h)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy")
    return model


def fit(model, x, y, monitors, epochs=1, batch_size=64):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(
            x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=monitors
        )
    diagnostics = [str(w.message) for w in caught if w.category is TrainingDiagnosticWarning]
    return history, diagnostics


# On JAX the gradients are computed op by op, and every new probe shape compiles each op once:
# the tests keep to one probe size (256) and one layer width (32) where they can.


# -- the phenomena --------------------------------------------------------------------------


def test_sigmoid_mlp_vanishes_relu_he_and_residual_do_not(digits):
    x, y = digits
    monitor = GradientFlowMonitor(x, y)
    _, warned = fit(mlp(), x[:128], y[:128], [monitor])
    first = monitor.history["hidden_0"]["grad_norm"][-1]
    last = monitor.history["classifier"]["grad_norm"][-1]
    assert first / last <= 1e-2
    assert monitor.summary["grad_norm_first_over_last"][-1] == pytest.approx(first / last)
    assert any("vanishing gradient at layer 'hidden_0'" in w for w in warned)
    assert any("residual" in w and "He" in w for w in warned)  # the remedies

    # The same depth with ReLU + He initialization, or with skip connections, keeps the
    # gradient (measured on the freshly initialized networks, where the contrast is clearest).
    for options in ({"activation": "relu", "init": "he_normal"}, {"residual": True}):
        summary = GradientFlowMonitor(x, y).measure(mlp(**options))["summary"]
        ratio = summary["grad_norm_first_over_last"]
        assert ratio > 1e-2 and ratio > 1000 * first / last, options


def test_negative_bias_relu_is_dead_and_warns_leaky_twin_is_not(digits):
    x, y = digits
    dead_bias = keras.initializers.Constant(-1.5)
    relu = mlp(depth=4, activation="relu", init="he_normal", bias=dead_bias)
    monitor = DeadNeuronMonitor(x)
    _, warned = fit(relu, x, y, [monitor])
    assert monitor.summary["dead_unit_fraction"][-1] > 0.4
    assert any("'hidden_0'" in w and "Leaky ReLU" in w and "learning rate" in w for w in warned)
    assert len([w for w in warned if "'hidden_1'" in w]) <= 1  # once per layer

    keras.utils.set_random_seed(1234)
    leaky = mlp(depth=4, activation=keras.layers.LeakyReLU(0.1), init="he_normal", bias=dead_bias)
    twin = DeadNeuronMonitor(x)
    _, warned = fit(leaky, x, y, [twin])
    assert twin.summary["dead_unit_fraction"][-1] < 0.02
    assert not warned


def exploding_model():
    init = keras.initializers.RandomNormal(stddev=0.5, seed=0)
    model = keras.Sequential(
        [keras.Input((64,))]
        + [keras.layers.Dense(32, kernel_initializer=init, name=f"linear_{i}") for i in range(3)]
        + [keras.layers.Dense(10, kernel_initializer=init, name="logits")]
    )
    model.compile(
        keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def test_explosion_is_caught_before_the_loss_is_nan_and_stops_training(digits):
    x, y = digits
    losses = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: losses.append(logs["loss"])
    )
    watch = GradientExplosionMonitor(x, y, every_n_batches=1)
    _, warned = fit(exploding_model(), x[:128], y[:128], [watch, record], batch_size=16)
    steps_to_nan = 1 + next(i for i, loss in enumerate(losses) if not math.isfinite(loss))
    first_sign = watch.events[0]
    assert first_sign["kind"] == "grad_norm" and first_sign["layer"] is not None
    assert first_sign["step"] < steps_to_nan
    assert {"nonfinite_loss"} <= {e["kind"] for e in watch.events}
    assert any("clipnorm" in w and "learning rate" in w for w in warned)

    keras.utils.set_random_seed(1234)
    stopper = GradientExplosionMonitor(x, y, every_n_batches=1, stop_training=True)
    model = exploding_model()
    history, _ = fit(model, x[:128], y[:128], [stopper], epochs=2, batch_size=16)
    assert stopper.stopped_at == first_sign["step"]
    assert len(history.epoch) == 1
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_activation_statistics_equal_hand_computed_values():
    x = np.array([[1.0, -2.0], [3.0, 0.0], [-1.0, 4.0]], "float32")
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(
                2, kernel_initializer="identity", bias_initializer="zeros", name="identity"
            ),
            keras.layers.ReLU(name="relu"),
        ]
    )
    monitor = ActivationStatsMonitor(x, layers=["identity", "relu"], histogram_bins=4)
    stats = monitor.measure(model)["layers"]
    a = x.astype(np.float64)
    assert stats["identity"]["mean"] == pytest.approx(a.mean())
    assert stats["identity"]["std"] == pytest.approx(a.std())
    assert stats["identity"]["min"] == -2.0 and stats["identity"]["max"] == 4.0
    assert stats["identity"]["sparsity"] == pytest.approx(1 / 6)
    assert stats["identity"]["histogram_counts"] == np.histogram(a, 4)[0].tolist()
    r = np.maximum(a, 0)
    assert stats["relu"]["mean"] == pytest.approx(r.mean())
    assert stats["relu"]["std"] == pytest.approx(r.std())
    assert stats["relu"]["sparsity"] == pytest.approx(3 / 6)
    dead = DeadNeuronMonitor(x, layers=["relu"]).measure(model)["layers"]["relu"]
    assert dead == {"dead_unit_fraction": 0.0, "dead_units": 0, "units": 2}


# -- results: history, logs, JSON, plots, frequency --------------------------------------------


def test_history_logs_json_and_plots(digits, tmp_path):
    import matplotlib.figure

    x, y = digits
    model = mlp(depth=4, activation="relu", init="he_normal")
    monitors = [
        DeadNeuronMonitor(x),
        GradientFlowMonitor(x, y),
        ActivationStatsMonitor(x),
        GradientExplosionMonitor(x, y),
    ]
    history, _ = fit(model, x, y, monitors, epochs=2)
    for key in (
        "dead_unit_fraction",
        "grad_norm_first_over_last",
        "grad_norm_global",
        "activation_sparsity",
        "explosion_grad_norm",
        "explosion_events",
    ):
        assert len(history.history[key]) == 2, key
    dead, flow, stats, explosion = monitors
    assert list(dead.history) == ["hidden_0", "hidden_1", "hidden_2"]
    assert list(flow.history) == ["hidden_0", "hidden_1", "hidden_2", "classifier"]
    for key in ("kernel_grad_norm", "bias_grad_norm", "kernel_grad_mean_abs", "grad_norm_to_last"):
        assert len(flow.history["hidden_1"][key]) == 3, key
    # One check of the initial weights, then one per epoch; the latter are in the logs too.
    assert flow.checks == {"epoch": [0, 1, 2], "batch": [None, None, None]}
    assert history.history["dead_unit_fraction"] == dead.summary["dead_unit_fraction"][1:]

    for i, monitor in enumerate(monitors):
        path = monitor.to_json(tmp_path / f"m{i}.json")
        data = json.loads(path.read_text())
        assert data["monitor"] == type(monitor).__name__
        assert data["layers"] == json.loads(json.dumps(monitor.history))
        fig = monitor.plot()
        assert isinstance(fig, matplotlib.figure.Figure)
        axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes if ax.get_visible())
    heat = flow.plot().axes[0]
    assert [t.get_text() for t in heat.get_yticklabels()] == list(flow.history)
    assert heat.get_images()[0].norm.__class__.__name__ == "LogNorm"


def test_monitors_of_one_fit_share_a_checks_forward_pass_and_gradient(digits, monkeypatch):
    import kerasnets.backend
    from callbacks import _probe

    x, y = digits
    counts = {"forward": 0, "gradient": 0}
    forward, gradient = _probe.LayerOutputs.__call__, kerasnets.backend.loss_and_gradients

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(_probe.LayerOutputs, "__call__", counted("forward", forward))
    monkeypatch.setattr(kerasnets.backend, "loss_and_gradients", counted("gradient", gradient))
    model = mlp(depth=4, activation="relu", init="he_normal")
    monitors = [
        DeadNeuronMonitor(x),
        ActivationStatsMonitor(x),
        GradientFlowMonitor(x, y),
        GradientExplosionMonitor(x, y),
    ]
    fit(model, x, y, monitors, epochs=2)
    # Three checks (initial weights, two epochs): one forward pass and one gradient each.
    assert counts == {"forward": 3, "gradient": 3}
    # Shared results are the ones each monitor computes on its own.
    for monitor in monitors:
        alone = monitor.measure()
        last = {
            layer: {k: v[-1] for k, v in keys.items()} for layer, keys in monitor.history.items()
        }
        assert last.keys() == alone["layers"].keys()
        for layer, values in alone["layers"].items():
            for key, value in values.items():
                assert last[layer][key] == pytest.approx(value, rel=1e-5), (layer, key)
    # Another probe, or the same monitors in the next fit, compute afresh.
    other = DeadNeuronMonitor(x[::-1].copy())
    counts.update(forward=0, gradient=0)
    fit(model, x, y, monitors[:1] + [other], epochs=1)
    assert counts["forward"] == 4


def test_histogram_is_numpys_on_the_finite_values():
    from callbacks.activation_stats import sorted_histogram

    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(0, 500))
        a = (rng.standard_normal(n) * 10 ** rng.uniform(-6, 6)).astype("float32")
        kind = trial % 4
        if kind == 1:
            a = np.maximum(a, 0)  # many exact zeros, an edge at 0
        elif kind == 2 and n:
            a[:] = a[0]  # constant: numpy widens the range by 0.5 each side
        elif kind == 3 and n > 3:
            a[:3] = [np.nan, np.inf, -np.inf]
        bins = int(rng.integers(1, 40))
        counts, edges = sorted_histogram(np.sort(a), bins)
        finite = a[np.isfinite(a)].astype(np.float64)
        expected_counts, expected_edges = np.histogram(finite, bins)
        assert counts.tolist() == expected_counts.tolist(), trial
        assert edges.tolist() == expected_edges.tolist(), trial


def test_every_n_batches_and_nested_models(digits):
    x, y = digits
    inner_in = keras.Input((32,))
    inner = keras.Model(
        inner_in, keras.layers.Dense(32, activation="relu", name="d")(inner_in), name="block"
    )
    inputs = keras.Input((64,))
    h = keras.layers.Dense(32, activation="relu", name="stem")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax", name="head")(inner(h))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    dead = DeadNeuronMonitor(x, every_n_batches=2)
    flow = GradientFlowMonitor(x, y, layers=["stem", "block/d", "head"], every_n_batches=3)
    fit(model, x, y, [dead, flow], epochs=2)  # 4 batches per epoch, 8 in all
    assert list(dead.history) == ["stem", "block/d"]
    assert dead.checks == {"epoch": [0, 1, 1, 2, 2], "batch": [None, 1, 3, 1, 3]}
    assert flow.checks == {"epoch": [0, 1, 2], "batch": [None, 2, 1]}
    assert list(flow.history) == ["stem", "block/d", "head"]
    # The nested layer's outputs are the real ones: check against a direct computation.
    probe = keras.Model(inputs, inner(h))
    expected = np.asarray(probe.predict_on_batch(dead.x_probe))
    units = (np.abs(expected) > 0).any(axis=0)
    assert dead.measure()["layers"]["block/d"]["dead_units"] == int((~units).sum())


def test_sequential_without_input_and_conv_channels(digits):
    x, y = digits
    model = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(10)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    monitor = DeadNeuronMonitor(x)
    fit(model, x, y, [monitor])
    assert list(monitor.history) == [model.layers[0].name]

    # A conv channel is one unit: dead only if zero at every position of every sample.
    images = x[:4].reshape(-1, 8, 8, 1)
    conv = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(3, 3, name="conv")])
    conv.layers[0].set_weights([np.zeros((3, 3, 1, 3), "float32"), np.array([0, -1, 1], "f4")])
    dead = DeadNeuronMonitor(images, layers=["conv"]).measure(conv)["layers"]["conv"]
    assert dead == {"dead_unit_fraction": 1 / 3, "dead_units": 1, "units": 3}


@pytest.mark.slow
def test_zoo_resnet18():
    from kerasnets import data, models

    (x, y), _ = data.load("shapes", size=32, subset=16)
    model = models.build("resnet18", input_shape=(32, 32, 3), num_classes=3)
    model.compile("sgd", "sparse_categorical_crossentropy")
    dead, flow = DeadNeuronMonitor(x), GradientFlowMonitor(x, y)
    fit(model, x, y, [dead, flow], batch_size=8)
    assert "conv1_act" in dead.history and len(dead.history) > 8
    convs = [n for n in flow.history if n.endswith("_conv")]
    assert len(convs) >= 17 and all(flow.history[n]["kernel_grad_norm"][-1] > 0 for n in convs)
    assert math.isfinite(flow.summary["grad_norm_first_over_last"][-1])


# -- bad input -------------------------------------------------------------------------------


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(10, activation="relu")

    def call(self, x):
        return self.dense(x)


def test_bad_input_fails_at_train_begin(digits):
    x, y = digits
    started = []
    marker = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: started.append(1))

    model = Subclassed()
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="cannot be reached"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[DeadNeuronMonitor(x), marker])

    model = mlp(depth=3)
    with pytest.raises(ValueError, match=r"'nope' does not exist.*'hidden_0'"):
        model.fit(x, y, verbose=0, callbacks=[DeadNeuronMonitor(x, layers=["nope"]), marker])
    with pytest.raises(ValueError, match="probe"):
        model.fit(x, y, verbose=0, callbacks=[GradientFlowMonitor(x[:, :10], y), marker])
    assert not started

    with pytest.raises(ValueError, match="empty probe"):
        DeadNeuronMonitor(x[:0])
    with pytest.raises(ValueError, match="y_probe"):
        GradientFlowMonitor(x, None)
    with pytest.raises(ValueError, match="256 samples but y_probe has 3"):
        GradientExplosionMonitor(x, y[:3])
    with pytest.raises(ValueError, match="every_n_batches"):
        ActivationStatsMonitor(x, every_n_batches=0)
    with pytest.raises(ValueError, match="threshold"):
        DeadNeuronMonitor(x, threshold=40)


# -- the same numbers on every backend ---------------------------------------------------------


def reference_values():
    """All monitors' numbers for fixed numpy weights and probe, on the current backend."""
    from kerasnets import data

    (x, y), _ = data.load("digits")
    x, y = x[:48], y[:48]
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(16, activation="tanh", name="dense"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    rng = np.random.default_rng(0)
    model.set_weights(
        [rng.normal(0, 0.5, w.shape).astype("float32") - 0.2 for w in model.get_weights()]
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    values = {
        "dead": DeadNeuronMonitor(x, atol=1e-3).measure(model),
        "stats": ActivationStatsMonitor(x).measure(model),  # the same layers: one probe
        "flow": GradientFlowMonitor(x, y, training=False).measure(model),
        "explosion": GradientExplosionMonitor(x, y).measure(model),
    }
    for layer in values["stats"]["layers"].values():
        layer.pop("histogram_edges")
        layer["histogram_total"] = sum(layer.pop("histogram_counts"))
    return values


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}/{key}"))
        return out
    return {prefix: tree}


def test_same_numbers_on_every_backend():
    expected = _flatten(json.loads(REFERENCE.read_text()))
    actual = _flatten(reference_values())
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, rel=1e-4, abs=1e-7), key
    assert 0 < expected["/dead/summary/dead_unit_fraction"] < 1  # the probe is informative


if __name__ == "__main__":
    from kerasnets.io import write_json

    keras.utils.set_random_seed(1234)
    write_json(REFERENCE, reference_values())
    print(f"wrote {REFERENCE} on {keras.backend.backend()}")
