"""Every family builds, trains, predicts and saves; the ``.keras`` file loads here with identical
outputs and under the other two backends within 1e-4.

One small model per family (test_models.TINY), plus the custom activation layers. Models are
saved after one training step, so BatchNorm statistics are not at their initial values; one
subprocess per other backend loads them all and predicts. Strided convolutions on even inputs
are where "same" padding differs between torch and TF/JAX, so this would catch a block that
does not pad explicitly.
"""

import json

import keras
import numpy as np
from test_models import TINY

from kerasnets import models
from kerasnets.layers import GELU, Swish

# The families of test_models.TINY, plus the ImageNet stem (strided 7x7 conv and max-pool).
EXTRA = {"resnet18_imagenet_stem": ("resnet18", dict(input_shape=(32, 32, 3), stem="imagenet"))}


LOAD_AND_PREDICT = """
import json
import numpy as np
import keras
import kerasnets.models  # registers the zoo's classes
import kerasnets.layers

if keras.backend.backend() == "jax":
    # Rebuilding a model on JAX compiles one random-number kernel per new weight shape (seconds
    # each on a busy CPU). load_model overwrites every initial value with the saved weights, so
    # draw the initial values with numpy instead; what is tested is what the file restores.
    from keras.src.backend.jax import random as jax_random

    def _fill(shape, *args, dtype=None, **kwargs):
        return np.full(shape, np.nan, dtype=dtype or "float32")

    for _fn in ("uniform", "normal", "truncated_normal"):
        setattr(jax_random, _fn, _fill)

directory = {directory!r}
out = {{}}
for key in {keys!r}:
    model = keras.saving.load_model(f"{{directory}}/{{key}}.keras")
    x = np.load(f"{{directory}}/{{key}}_x.npy")
    out[key] = keras.ops.convert_to_numpy(model(x, training=False)).tolist()
print(json.dumps(out))
"""


def custom_layer_model():
    inputs = keras.Input((5,))
    x = keras.layers.Dense(4, name="dense")(inputs)
    x = Swish(beta=0.7, learnable=True, name="swish")(x)
    x = GELU(approximate=True, name="gelu")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x))


def test_every_family_trains_predicts_round_trips_and_loads_on_other_backends(
    tmp_path, other_backends, in_backend
):
    """Build, train one step, predict, save, load here (identical outputs) and on the other two
    backends (within 1e-4), for every family. One pass, so each model is built once: on JAX
    every new shape costs a compilation."""
    rng = np.random.default_rng(0)
    built = {"custom_layers": custom_layer_model()}
    for key in sorted(TINY):
        built[key] = models.build(TINY[key][0], **TINY[key][1])
    for key, (name, overrides) in EXTRA.items():
        built[key] = models.build(name, **{**TINY[name][1], **overrides})
    expected = {}
    for key, model in built.items():
        x = rng.uniform(0, 1, (3, *model.input_shape[1:])).astype("float32")
        y = rng.integers(0, model.output_shape[-1], len(x))
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=True)
        before = [w.copy() for w in model.get_weights()]
        loss = model.train_on_batch(x, y)  # also moves BatchNorm statistics off their init
        assert np.isfinite(loss), key
        assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights())), key
        # Predict by calling the model in inference mode: on JAX this reuses the eager kernels
        # of the training step instead of compiling a predict function per model
        # (model.predict is Keras's batching around the same call).
        pred = keras.ops.convert_to_numpy(model(x, training=False))
        assert pred.shape == (len(x), model.output_shape[-1]) and np.all(np.isfinite(pred)), key
        if key != "custom_layers":
            np.testing.assert_allclose(pred.sum(axis=-1), 1.0, rtol=1e-5, err_msg=key)
        path = tmp_path / f"{key}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert type(loaded) is type(model), key
        if key != "custom_layers":  # zoo models: the config is the constructor arguments
            assert loaded.get_config() == model.get_config(), key
        got = keras.ops.convert_to_numpy(loaded(x, training=False))
        np.testing.assert_array_equal(got, pred, err_msg=f"{key}: save/load on this backend")
        np.save(tmp_path / f"{key}_x.npy", x)
        expected[key] = pred
    code = LOAD_AND_PREDICT.format(directory=str(tmp_path), keys=list(built))
    for backend in other_backends:
        got = json.loads(in_backend(backend, code).strip().splitlines()[-1])
        for key, want in expected.items():
            np.testing.assert_allclose(
                np.asarray(got[key]), want, atol=1e-4, rtol=1e-4, err_msg=f"{key} on {backend}"
            )


def test_portable_copy_is_called_like_the_model_without_warnings():
    """``to_functional`` keeps the input structure: one array in, no Keras structure warning."""
    import warnings

    from kerasnets import models

    model = models.build("mlp", input_shape=(64,), depth=2, width=8)
    plain = models.to_functional(model)
    x = np.zeros((3, 64), "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        out = plain(x)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out), keras.ops.convert_to_numpy(model(x)), rtol=1e-6
    )
