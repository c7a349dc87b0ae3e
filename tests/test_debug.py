"""kerasnets.debug (gradient check, overfit test, LR finder, init report), kerasnets doctor and
mixed precision in the zoo, on the backend of this process."""

import json

import keras
import numpy as np
import pytest
from keras import ops

from kerasnets import data, debug, io, models
from kerasnets.cli import main


@pytest.fixture(scope="module")
def digits():
    (x, y), _ = data.load("digits", flatten=True)
    return x[:256], y[:256]


def small_mlp(**options):
    return models.build("mlp", input_shape=(64,), depth=2, width=16, **options)


@keras.saving.register_keras_serializable(package="tests")
class WrongGradient(keras.layers.Layer):
    """Computes x·w² but backpropagates as if it were x·w (a hand-made gradient bug)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        right, wrong = x * self.w * self.w, x * self.w
        return wrong + ops.stop_gradient(right - wrong)


def test_gradient_check_passes_a_correct_model_and_leaves_it_unchanged(digits, backend):
    x, y = digits
    model = small_mlp()
    before = [w.copy() for w in model.get_weights()]
    result = debug.gradient_check(model, x[:8], y[:8], entries=4)
    assert result["dtype"] == ("float64" if backend == "tensorflow" else "float32")
    assert result["passed"] and result["flagged"] == []
    assert [r["layer"] for r in result["layers"]] == [
        "hidden1_dense",
        "hidden2_dense",
        "predictions",
    ]
    assert all(r["relative_error"] < result["tolerance"] for r in result["layers"])
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_gradient_check_flags_a_layer_with_a_wrong_gradient(digits):
    x, y = digits
    inputs = keras.Input((64,))
    h = keras.layers.Dense(8, name="d1")(inputs)
    h = WrongGradient(name="bad")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="out")(h))
    result = debug.gradient_check(model, x[:8], y[:8], entries=4)
    assert result["flagged"] == ["bad"] and not result["passed"]
    bad = next(r for r in result["layers"] if r["layer"] == "bad")
    assert bad["relative_error"] > 0.1  # d(x·w²)/dw = 2xw vs the x it reports at w = 1


def test_gradient_check_rejects_bad_input(digits):
    x, y = digits
    with pytest.raises(ValueError, match=r"data of shape \(8, 10\) does not fit"):
        debug.gradient_check(small_mlp(), np.ones((8, 10)), y[:8])
    with pytest.raises(ValueError, match="entries must be a positive integer, got 0"):
        debug.gradient_check(small_mlp(), x[:8], y[:8], entries=0)
    with pytest.raises(TypeError, match="expected a keras.Model"):
        debug.gradient_check("model.keras", x[:8], y[:8])


def test_overfit_test_passes_and_a_frozen_model_fails_with_causes(digits):
    x, y = digits
    ok = debug.overfit_test(small_mlp(), x, y, steps=150)
    assert ok["passed"] and ok["final_loss"] <= 0.05 < ok["initial_loss"]
    assert ok["steps"] < 150 and ok["causes"] == []
    frozen = small_mlp()
    for layer in frozen.layers[:-1]:
        layer.trainable = False
    bad = debug.overfit_test(frozen, x, y, steps=30)
    assert not bad["passed"] and bad["steps"] == 30
    assert bad["frozen_layers"] == ["hidden1_dense", "hidden2_dense"]
    assert bad["causes"][0].startswith("frozen layers: hidden1_dense, hidden2_dense")


def test_lr_finder_sweeps_restores_and_suggests(digits, tmp_path):
    x, y = digits
    model = small_mlp()
    model.compile(keras.optimizers.SGD(1e-6), "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    finder = debug.LRFinder(start_lr=1e-4, end_lr=100.0, num_steps=40)
    xs, ys = np.tile(x[:16], (40, 1)), np.tile(y[:16], 40)  # the same batch 40 times
    model.fit(xs, ys, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[finder])
    # The rate really changed inside the compiled step: at the compiled 1e-6 the loss of one
    # repeated batch would stay put; the sweep moves it.
    assert 5 <= len(finder.losses) <= 40
    assert np.ptp(finder.losses) > 0.5
    assert np.allclose(np.diff(np.log(finder.lrs)), np.log(100.0 / 1e-4) / 39)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert float(ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-6)
    result = finder.result()
    assert 1e-5 <= result.suggestion <= result.min_loss_lr <= 100.0
    assert result.rule == debug.LR_RULE
    assert result.suggestion == pytest.approx(result.min_loss_lr / 10)
    fig = result.plot()
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "learning rate" in ax.get_xlabel() and ax.get_title()
    io.save_figure(fig, tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 0


def test_lr_suggestion_rule_on_synthetic_sweeps():
    lrs = np.logspace(-5, 1, 61)
    # the loss falls, is lowest at 1e-1, then explodes
    losses = 2.0 - np.tanh(3 * (np.log10(lrs) + 2)) + np.where(lrs > 0.1, 50 * (lrs - 0.1), 0)
    result = debug.LRFinderResult.from_sweep(lrs, losses, smoothing=0.0)
    assert result.rule == debug.LR_RULE
    assert result.min_loss_lr == pytest.approx(0.1, rel=0.3)
    assert result.suggestion == pytest.approx(result.min_loss_lr / 10)
    rising = debug.LRFinderResult.from_sweep(lrs, 1.0 + lrs, smoothing=0.0)
    assert rising.suggestion == pytest.approx(1e-6)


def test_lr_find_function_and_validation(digits):
    x, y = digits
    model = small_mlp()
    result = debug.lr_find(model, x, y, start_lr=1e-5, end_lr=10.0, num_steps=30, batch_size=16)
    assert 1e-5 <= result.suggestion <= 10.0 and len(result.lrs) == len(result.losses) >= 3
    with pytest.raises(ValueError, match="end_lr .* must be larger than start_lr"):
        debug.LRFinder(start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="num_steps must be at least 5"):
        debug.LRFinder(num_steps=3)


def test_init_report_compares_with_the_initializers_theory(digits):
    x, _ = digits
    model = models.build("mlp", input_shape=(64,), depth=2, width=256)
    report = debug.init_report(model, x)
    rows = {r["layer"]: r for r in report["layers"]}
    assert rows["hidden1_dense"]["theory"] == "He"
    assert rows["hidden1_dense"]["theory_std"] == pytest.approx(np.sqrt(2 / 64))
    assert rows["hidden2_dense"]["ratio"] == pytest.approx(1.0, abs=0.05)
    assert rows["predictions"]["theory"] == "Glorot"
    assert report["flagged"] == [] and len(report["activations"]["variance"]) == 2
    kernel = model.get_layer("hidden2_dense").kernel
    kernel.assign(ops.convert_to_numpy(kernel.value) * 3)
    assert debug.init_report(model)["flagged"] == ["hidden2_dense"]


def test_propagate_shows_vanishing_he_and_the_selu_fixed_point():
    sigmoid = debug.propagate("sigmoid", "glorot_uniform", depth=10, width=128)
    relu_glorot = debug.propagate("relu", "glorot_uniform", depth=10, width=128)
    relu_he = debug.propagate("relu", "he_normal", depth=10, width=128)
    selu = debug.propagate("selu", "lecun_normal", depth=10, width=128)
    assert sigmoid["variance"][-1] < 0.05
    assert relu_glorot["variance"][-1] < 0.01 < 0.3 < relu_he["variance"][-1] < 3
    assert abs(selu["mean"][-1]) < 0.1 and abs(selu["variance"][-1] - 1) < 0.2
    with pytest.raises(ValueError, match="unknown activation"):
        debug.propagate("sigmoidal")


def test_doctor_findings_and_cli(tmp_path, capsys):
    model = small_mlp()
    path = io.save_model(model, tmp_path / "mlp.keras")
    assert main(["doctor", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [f["check"] for f in report["findings"]] == [
        "gradient check",
        "overfit test",
        "learning rate",
        "initialization",
    ]
    assert all(f["ok"] for f in report["findings"]), report["findings"]
    assert report["model"] == model.name and report["gradient_check"]["passed"]
    assert report["overfit"]["passed"] and report["lr_finder"]["suggestion"] > 0


def test_doctor_cli_bad_input_is_one_line(tmp_path, capsys):
    fake = tmp_path / "fake.keras"
    fake.write_text("not a model")
    assert main(["doctor", str(fake)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a zip archive" in err[0]
    wrong = io.save_model(
        models.build("mlp", input_shape=(10,), depth=1, width=4), tmp_path / "w.keras"
    )
    assert main(["doctor", str(wrong)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "do not fit the model input (10,)" in err[0]
    assert main(["doctor", str(wrong), "--data", "imagenet"]) == 2
    assert "unknown data set 'imagenet'" in capsys.readouterr().err


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_zoo_models_end_in_float32_under_mixed_precision(policy, backend):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        mlp = small_mlp()
        cnn = models.DenseNet(blocks=(1,), growth_rate=2, input_shape=(4, 4, 3), num_classes=3)
    finally:
        keras.config.set_dtype_policy(previous)
    rng = np.random.default_rng(0)
    for model, x in [
        (mlp, rng.random((4, 64), dtype="float32")),
        (cnn, rng.random((4, 4, 4, 3), dtype="float32")),
    ]:
        assert model.get_layer("hidden1_dense" if model is mlp else "conv1_conv").compute_dtype in (
            "float16",
            "bfloat16",
        )
        assert model.get_layer("predictions").compute_dtype == "float32"
        model.compile("adam", "sparse_categorical_crossentropy")
        loss = model.train_on_batch(x, np.array([0, 1, 2, 1]))
        assert np.isfinite(loss)
        assert ops.convert_to_numpy(model(x)).dtype == np.float32


# Reference solutions of tutorial 08's exercises.


def first_layer_below(activation, initializer, threshold=0.01, depth=30):
    """Exercise 1: the first layer whose activation variance is below ``threshold``."""
    run = debug.propagate(activation, initializer, depth=depth, width=256)
    return next((n for n, v in zip(run["layers"], run["variance"]) if v < threshold), None)


def test_exercise_1_relu_with_glorot_vanishes_he_does_not():
    layer = first_layer_below("relu", "glorot_uniform")
    assert layer is not None and 3 <= layer <= 15
    assert first_layer_below("relu", "he_normal") is None


class FixedSquareScale(keras.layers.Layer):
    """Exercise 2: y = x·w², with the gradient autodiff gives it (no stop_gradient)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs):
        return inputs * self.w * self.w


def test_exercise_2_the_fixed_layer_passes_the_gradient_check(digits):
    x, y = digits
    inputs = keras.Input((64,))
    h = keras.layers.Dense(16, activation="relu", name="dense")(inputs)
    h = FixedSquareScale(name="square_scale")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="out")(h))
    result = debug.gradient_check(model, x[:8], y[:8], entries=4)
    assert result["passed"], result["layers"]


def test_exercise_3_lr_finder_on_a_selu_mlp(digits):
    x, y = digits
    model = models.build("mlp", input_shape=(64,), depth=4, width=32, activation="selu")
    model.compile("adam", "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    finder = debug.LRFinder(start_lr=1e-4, end_lr=1.0, num_steps=32)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[finder])
    result = finder.result()
    assert len(result.losses) >= 3 and 1e-5 <= result.suggestion <= 1.0
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
