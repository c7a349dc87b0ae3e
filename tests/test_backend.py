"""kerasnets.backend: gradients on every backend, checked against finite differences, against
reference values (the same weights must give the same gradients on all three backends), and in
the middle of fit (JAX state sync)."""

import os

import keras
import numpy as np
import pytest

from kerasnets.backend import cond, input_gradient, loss_and_gradients

REFERENCE = os.path.join(os.path.dirname(__file__), "data", "gradients_reference.npz")


def small_model():
    """Conv → BN → Dense(tanh) → Dense(softmax) with weights drawn from a fixed numpy seed."""
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(5, activation="tanh", name="hidden")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs, name="small")
    rng = np.random.default_rng(42)
    weights = []
    for w in model.get_weights():
        if w.ndim == 1 and np.all(w == 1):  # BN gamma / moving variance: keep positive
            weights.append(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
        else:
            weights.append(rng.normal(0, 0.5, w.shape).astype("float32"))
    model.set_weights(weights)
    x = rng.normal(size=(5, 6, 6, 2)).astype("float32")
    y = np.array([0, 1, 2, 3, 1])
    return model, x, y


LOSS = "sparse_categorical_crossentropy"


def test_gradients_match_central_differences():
    model, x, y = small_model()
    loss, grads = loss_and_gradients(model, x, y, loss=LOSS)
    assert np.isfinite(loss) and loss > 0
    rng = np.random.default_rng(0)
    eps = 1e-2
    for var in model.trainable_variables:
        grad = grads[var.path]
        assert grad.shape == tuple(var.shape)
        base = keras.ops.convert_to_numpy(var.value).copy()
        for flat in rng.choice(base.size, size=min(4, base.size), replace=False):
            idx = np.unravel_index(flat, base.shape)
            values = []
            for sign in (1, -1):
                w = base.copy()
                w[idx] += sign * eps
                var.assign(w)
                values.append(loss_and_gradients(model, x, y, loss=LOSS)[0])
            var.assign(base)
            numeric = (values[0] - values[1]) / (2 * eps)
            assert grad[idx] == pytest.approx(numeric, rel=2e-2, abs=2e-4), (var.path, idx)


def test_same_weights_give_reference_gradients():
    """The reference file was computed once; every backend must reproduce it."""
    model, x, y = small_model()
    loss, grads = loss_and_gradients(model, x, y, loss=LOSS)
    ref = np.load(REFERENCE)
    assert loss == pytest.approx(float(ref["loss"]), rel=1e-5)
    for path, grad in grads.items():
        np.testing.assert_allclose(grad, ref[path], rtol=1e-4, atol=1e-6, err_msg=path)


def test_uncompiled_gradients_equal_the_reference_and_cache_nothing():
    """``compiled=False`` (one call on a fresh model, as the NAS proxies make) gives the same
    numbers as the compiled path and leaves no cache entry behind."""
    from kerasnets import backend

    model, x, y = small_model()
    loss, grads = loss_and_gradients(model, x, y, loss=LOSS, compiled=False)
    ref = np.load(REFERENCE)
    assert loss == pytest.approx(float(ref["loss"]), rel=1e-5)
    for path, grad in grads.items():
        np.testing.assert_allclose(grad, ref[path], rtol=1e-4, atol=1e-6, err_msg=path)
    assert model not in backend._CACHE


def test_gradients_change_nothing_in_the_model():
    model, x, y = small_model()
    model.compile(optimizer="adam", loss=LOSS)
    before = [v.copy() for v in model.get_weights()]
    loss_and_gradients(model, x, y, training=True)  # BN in training mode: still no update
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_uses_the_compiled_loss_and_sample_weights():
    model, x, y = small_model()
    model.compile(loss=LOSS)
    compiled, _ = loss_and_gradients(model, x, y)
    named, _ = loss_and_gradients(model, x, y, loss=keras.losses.SparseCategoricalCrossentropy())
    assert compiled == pytest.approx(named, rel=1e-6)
    weights = np.array([1.0, 0.0, 0.0, 0.0, 0.0], "float32")
    weighted, _ = loss_and_gradients(model, x, y, loss=LOSS, sample_weight=weights)
    first, _ = loss_and_gradients(model, x[:1], y[:1], loss=LOSS)
    assert weighted == pytest.approx(first / 5, rel=1e-5)


def test_mid_fit_gradients_see_the_current_weights():
    """On JAX the model's variables are stale during fit; the function syncs them first."""
    model, x, y = small_model()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=LOSS)
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                seen["loss"], seen["grads"] = loss_and_gradients(self.model, x, y)
                seen["weights"] = [w.copy() for w in self.model.get_weights()]

    start = [w.copy() for w in model.get_weights()]
    xs, ys = np.repeat(x, 4, axis=0), np.repeat(y, 4, axis=0)
    model.fit(xs, ys, batch_size=5, epochs=1, shuffle=False, verbose=0, callbacks=[Probe()])
    assert not np.allclose(seen["weights"][-2], start[-2]), "weights did not move: stale state"
    # A fresh model holding the weights seen mid-fit gives the same loss and gradients.
    clone, _, _ = small_model()
    clone.set_weights(seen["weights"])
    loss, grads = loss_and_gradients(clone, x, y, loss=LOSS)
    assert seen["loss"] == pytest.approx(loss, rel=1e-5)
    for path, grad in grads.items():
        np.testing.assert_allclose(
            seen["grads"][path.replace(clone.name, model.name, 1)], grad, rtol=1e-4, atol=1e-6
        )


def test_compiled_gradient_reads_the_current_weights_and_lets_the_model_go():
    import gc
    import weakref

    model, x, y = small_model()
    first, _ = loss_and_gradients(model, x, y, loss=LOSS)
    model.layers[-1].bias.assign(np.full(model.layers[-1].bias.shape, 0.5, "float32"))
    second, grads = loss_and_gradients(model, x, y, loss=LOSS)  # same compiled function
    clone, _, _ = small_model()
    clone.set_weights(model.get_weights())
    assert second != first
    assert second == pytest.approx(loss_and_gradients(clone, x, y, loss=LOSS)[0], rel=1e-6)
    ref = weakref.ref(model)
    del model, grads
    gc.collect()
    assert ref() is None, "the gradient cache keeps the model alive"


def test_bad_input_is_rejected_before_work():
    model, x, y = small_model()
    with pytest.raises(ValueError, match="needs a loss"):
        loss_and_gradients(model, x, y)
    with pytest.raises(ValueError, match="single loss"):
        loss_and_gradients(model, x, y, loss=[LOSS, LOSS])
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        loss_and_gradients(unbuilt, x, y, loss=LOSS)


def test_input_gradient_is_the_activation_derivative():
    x = np.linspace(-4, 4, 41).astype("float32")
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(input_gradient(keras.activations.sigmoid, x), s * (1 - s), atol=1e-6)
    np.testing.assert_allclose(
        input_gradient(keras.activations.relu, x[x != 0]), (x[x != 0] > 0).astype("float32")
    )
    with pytest.raises(ValueError, match="floating-point"):
        input_gradient(keras.activations.relu, np.arange(3))


def test_cond_picks_the_branch_eagerly_and_in_a_compiled_step(monkeypatch):
    for pred, expected in ((True, 1.0), (False, 2.0)):
        out = cond(keras.ops.convert_to_tensor(pred), lambda: keras.ops.ones(()), lambda: 2.0)
        assert float(keras.ops.convert_to_numpy(out)) == expected

    class Counter(keras.layers.Layer):  # a cond on layer state, inside fit's train step
        def build(self, input_shape):
            self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False)

        def call(self, x, training=False):
            if training:
                odd = keras.ops.equal(keras.ops.mod(self.calls, 2.0), 1.0)
                self.calls.assign(self.calls + cond(odd, lambda: 10.0, lambda: 1.0))
            return x

    model = keras.Sequential([keras.Input((2,)), Counter(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), batch_size=1, epochs=1, verbose=0)
    expected = 0.0
    for _ in range(4):  # the same rule in Python: 0 -> 1 -> 11 -> 21 -> 31
        expected += 10.0 if expected % 2 == 1 else 1.0
    assert float(keras.ops.convert_to_numpy(model.layers[0].calls)) == expected == 31.0
    if keras.backend.backend() == "torch":  # eager PyTorch does not go through keras.ops.cond

        def fail(*args):
            raise AssertionError("keras.ops.cond was called")

        monkeypatch.setattr(keras.ops, "cond", fail)
        assert cond(keras.ops.convert_to_tensor(False), lambda: 1, lambda: 2) == 2
