"""``DenseNet(remat=True)``: the same network, trained with rematerialized dense layers.

On a tiny DenseNet (two blocks of two layers, k = 4, 16×16 inputs) with the same weights as the
``remat=False`` model: the same outputs, loss and gradients, and after compiled training steps
the same weights and BatchNorm moving statistics (each updated once per step, although
TensorFlow and torch run each dense layer's forward pass a second time in the backward pass).
Also: the option's validation, config, ``.keras`` round trip, and unchanged parameter / MAC
counts. The memory saving itself is measured by ``benchmarks/remat_memory.py``.
"""

import json

import keras
import numpy as np
import pytest

from kerasnets import analysis, blocks, graph
from kerasnets.backend import loss_and_gradients
from kerasnets.models import DenseNet

TINY = dict(blocks=(2, 2), growth_rate=4, input_shape=(16, 16, 3), num_classes=3, stem="cifar")
DENSE_LAYERS = ["conv2_block1", "conv2_block2", "conv3_block1", "conv3_block2"]
LOSS = "sparse_categorical_crossentropy"


def tiny(remat):
    keras.utils.set_random_seed(0)
    return DenseNet(remat=remat, **TINY)


def copy_weights(source, target):
    """Give ``target`` the weights of ``source``, layer by (unqualified) layer name."""
    by_name = {layer.name: layer for layer in graph.flat_layers(source)}
    for layer in graph.flat_layers(target):
        layer.set_weights(by_name[layer.name].get_weights())


def weights_by_name(model):
    return {
        f"{layer.name}/{i}": np.asarray(keras.ops.convert_to_numpy(w))
        for layer in graph.flat_layers(model)
        for i, w in enumerate(layer.weights)
    }


@pytest.fixture
def pair():
    plain, lean = tiny(False), tiny(True)
    copy_weights(plain, lean)
    return plain, lean


@pytest.fixture
def batch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 16, 16, 3)).astype("float32")
    return x, np.array([0, 1, 2, 1])


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_default_graph_is_unchanged_and_remat_nests_the_same_layers():
    plain, lean = tiny(False), tiny(True)
    assert not any(isinstance(layer, keras.Model) for layer in plain.layers)
    assert [layer.name for layer in DenseNet(**TINY).layers] == [
        layer.name for layer in plain.layers
    ]
    nested = [layer.name for layer in lean.layers if isinstance(layer, keras.Model)]
    assert nested == DENSE_LAYERS
    assert [name.split("/")[-1] for name, _, _ in graph.walk(lean)] == [
        name for name, _, _ in graph.walk(plain)
    ]
    assert lean.get_layer("conv2_block1").get_layer("conv2_block1_2_conv").kernel.shape == (
        3,
        3,
        16,
        4,
    )
    # The same initial weights from the same seed: the layers are created in the same order.
    want, got = weights_by_name(plain), weights_by_name(lean)
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_parameter_and_mac_counts_are_unchanged():
    plain, lean = tiny(False), tiny(True)
    assert analysis.count_params(lean) == analysis.count_params(plain)
    p, q = analysis.profile(plain, batch_size=2), analysis.profile(lean, batch_size=2)
    assert (q.params, q.trainable_params, q.macs, q.activation_bytes) == (
        p.params,
        p.trainable_params,
        p.macs,
        p.activation_bytes,
    )
    rows = [(r["name"].split("/")[-1], r["type"], r["macs"], r["params"]) for r in q.layers]
    assert rows == [(r["name"], r["type"], r["macs"], r["params"]) for r in p.layers]
    assert "conv2_block1/conv2_block1_1_conv" in {r["name"] for r in q.layers}


@pytest.mark.parametrize("bad", ["yes", 1, 0, None, 1.0])
def test_remat_must_be_a_bool(bad):
    with pytest.raises(ValueError, match=rf"remat must be True or False, got {bad!r}"):
        DenseNet(remat=bad, **TINY)
    with pytest.raises(ValueError, match=rf"remat must be True or False, got {bad!r}"):
        blocks.apply_dense_block(keras.Input((8, 8, 8)), 2, 4, remat=bad)


def test_config_round_trip():
    lean = tiny(True)
    config = lean.get_config()
    assert config["remat"] is True and tiny(False).get_config()["remat"] is False
    rebuilt = DenseNet.from_config(config)
    assert rebuilt.get_config() == config
    assert [layer.name for layer in rebuilt.layers if isinstance(layer, keras.Model)] == (
        DENSE_LAYERS
    )


def test_outputs_loss_and_gradients_equal_those_without_remat(pair, batch):
    plain, lean = pair
    x, y = batch
    for training in (False, True):
        np.testing.assert_allclose(
            numpy(lean(x, training=training)),
            numpy(plain(x, training=training)),
            rtol=1e-5,
            atol=1e-6,
            err_msg=f"training={training}",
        )
    loss, grads = loss_and_gradients(plain, x, y, loss=LOSS, training=True)
    lean_loss, lean_grads = loss_and_gradients(lean, x, y, loss=LOSS, training=True)
    assert lean_loss == pytest.approx(loss, rel=1e-6)
    assert lean_grads.keys() == grads.keys() and len(grads) == len(plain.trainable_weights)
    for name, grad in grads.items():
        np.testing.assert_allclose(lean_grads[name], grad, rtol=1e-4, atol=1e-6, err_msg=name)
        assert np.any(grad != 0), name


def test_train_steps_give_the_same_weights_and_batchnorm_statistics(pair, batch):
    """Compiled train steps (jit on JAX, tf.function on TensorFlow, eager torch): the moving
    statistics move once per step with remat too, although TF and torch recompute the BN."""
    plain, lean = pair
    x, y = batch
    initial = weights_by_name(plain)
    for model in pair:
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOSS)
    for step in range(2):
        loss = plain.train_on_batch(x, y)
        assert lean.train_on_batch(x, y) == pytest.approx(loss, rel=1e-5), f"step {step}"
    want, got = weights_by_name(plain), weights_by_name(lean)
    bn = [
        layer.name
        for layer in graph.flat_layers(lean)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(bn) == 2 * len(DENSE_LAYERS) + 2  # + the transition's and the final BN
    moving = [f"{name}/{i}" for name in bn for i in (2, 3)]  # moving mean and variance
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-6, err_msg=key)
    for key in moving:
        assert not np.allclose(want[key], initial[key]), f"{key} did not move"


def test_one_batchnorm_update_per_step_by_hand(batch):
    """After one train step from fresh statistics, moving_mean = 0.1 · batch mean (momentum 0.9)."""
    x, y = batch
    lean = tiny(True)
    stem = keras.Model(lean.input, lean.get_layer("conv1_conv").output)
    batch_mean = numpy(keras.ops.mean(stem(x), axis=(0, 1, 2)))
    lean.compile(optimizer=keras.optimizers.SGD(0.0), loss=LOSS)  # weights stay
    lean.train_on_batch(x, y)
    bn = lean.get_layer("conv2_block1").get_layer("conv2_block1_0_bn")
    np.testing.assert_allclose(numpy(bn.moving_mean), 0.1 * batch_mean, rtol=1e-4, atol=1e-6)


def test_remat_applies_to_training_calls_only(monkeypatch, batch):
    calls = []
    original = keras.remat

    def counting_remat(f):
        calls.append(f)
        return original(f)

    monkeypatch.setattr(keras, "remat", counting_remat)
    lean = tiny(True)
    x, _ = batch
    lean(x, training=False)
    assert calls == []
    lean(x, training=True)
    assert len(calls) == len(DENSE_LAYERS)


def test_the_backward_pass_recomputes_the_dense_layer(pair, batch, backend):
    """What remat means on TF and torch: the 3×3 conv of a dense layer runs twice per gradient
    (forward, then again in the backward pass); on JAX jax.checkpoint traces it once."""
    x, y = batch
    runs = {}
    for model in pair:
        conv = {lay.name: lay for lay in graph.flat_layers(model)}["conv2_block1_2_conv"]
        count = []
        call = conv.call

        def counted(*args, _call=call, _count=count, **kwargs):
            _count.append(1)
            return _call(*args, **kwargs)

        conv.call = counted
        loss_and_gradients(model, x, y, loss=LOSS, training=True)
        runs[model.get_config()["remat"]] = len(count)
    assert runs[False] == 1
    assert runs[True] == (1 if backend == "jax" else 2)


def test_dense_block_remat_in_a_plain_functional_model_serializes():
    inputs = keras.Input((8, 8, 8))
    outputs = blocks.apply_dense_block(inputs, 2, 4, name="d", remat=True)
    model = keras.Model(inputs, outputs)
    assert [layer.name for layer in model.layers[1:]] == ["d_block1", "d_block2"]
    restored = keras.Model.from_config(model.get_config())
    restored.set_weights(model.get_weights())
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 8)).astype("float32")
    np.testing.assert_allclose(numpy(restored(x, training=True)), numpy(model(x, training=True)))
    assert type(restored.get_layer("d_block1")) is type(model.get_layer("d_block1"))


def test_keras_file_round_trip(tmp_path, batch):
    x, y = batch
    lean = tiny(True)
    lean.compile(optimizer="sgd", loss=LOSS, run_eagerly=True)  # no compilation needed here
    lean.train_on_batch(x, y)  # BN statistics off their initial values
    path = tmp_path / "lean.keras"
    lean.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is DenseNet and loaded.get_config() == lean.get_config()
    np.testing.assert_array_equal(numpy(loaded(x, training=False)), numpy(lean(x, training=False)))
    for key, value in weights_by_name(lean).items():
        np.testing.assert_array_equal(weights_by_name(loaded)[key], value, err_msg=key)


@pytest.mark.slow
def test_keras_file_loads_on_the_other_backends(tmp_path, batch, other_backends, in_backend):
    x, y = batch
    lean = tiny(True)
    lean.compile(optimizer="sgd", loss=LOSS, run_eagerly=True)
    lean.train_on_batch(x, y)
    lean.save(tmp_path / "lean.keras")
    np.save(tmp_path / "x.npy", x)
    want = numpy(lean(x, training=False))
    code = f"""
import json, numpy as np, keras
import kerasnets.models
model = keras.saving.load_model({str(tmp_path / "lean.keras")!r})
assert model.get_config()["remat"] is True
x = np.load({str(tmp_path / "x.npy")!r})
print(json.dumps(keras.ops.convert_to_numpy(model(x, training=False)).tolist()))
"""
    for backend in other_backends:
        got = np.asarray(json.loads(in_backend(backend, code).strip().splitlines()[-1]))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=backend)
