"""A ``.keras`` file saved under this backend loads under the other two with the same outputs.

One small model per family (the configurations of test_models.py, on odd input sizes where the
family allows, so that any padding difference of strided layers would show), plus the custom
activation layers. Models are saved after one training step, so BatchNorm statistics are not
at their initial values; one subprocess per other backend loads them all and predicts.
"""

import json

import keras
import numpy as np
from test_models import TINY

from kerasnets import models
from kerasnets.layers import GELU, Swish

FAMILIES = {
    "mlp_layerwise": dict(),
    "mlp_highway": dict(),
    "resnet18": dict(input_shape=(9, 9, 3)),
    "resnet18_imagenet_stem": dict(input_shape=(33, 33, 3), stem="imagenet"),
    "resnet50": dict(input_shape=(9, 9, 3)),
    "plainnet18": dict(),
    "densenet_bc": dict(input_shape=(9, 9, 3)),
    "googlenet": dict(input_shape=(9, 9, 3)),
    "mobilenet": dict(input_shape=(17, 17, 3)),
    "baseline_cnn": dict(),
    "efficient_cnn": dict(input_shape=(9, 9, 3)),
}

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
    out[key] = model.predict(x, verbose=0).tolist()
print(json.dumps(out))
"""


def custom_layer_model():
    inputs = keras.Input((5,))
    x = keras.layers.Dense(4, name="dense")(inputs)
    x = Swish(beta=0.7, learnable=True, name="swish")(x)
    x = GELU(approximate=True, name="gelu")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x))


def test_saved_models_load_on_the_other_backends(tmp_path, other_backends, in_backend):
    expected = {}
    rng = np.random.default_rng(0)
    built = {"custom_layers": custom_layer_model()}
    for key, overrides in FAMILIES.items():
        name, options = TINY[key.replace("_imagenet_stem", "")]
        options = {**options, **overrides, "classifier_activation": None}
        built[key] = models.build(name, **options)
    for key, model in built.items():
        x = rng.uniform(-1, 1, (3, *model.input_shape[1:])).astype("float32")
        model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
        model.train_on_batch(x, rng.normal(size=(3, 3)).astype("float32"))
        expected[key] = model.predict(x, verbose=0)
        assert np.all(np.isfinite(expected[key])), key
        np.save(tmp_path / f"{key}_x.npy", x)
        model.save(tmp_path / f"{key}.keras")
    code = LOAD_AND_PREDICT.format(directory=str(tmp_path), keys=list(built))
    for backend in other_backends:
        got = json.loads(in_backend(backend, code).strip().splitlines()[-1])
        for key, want in expected.items():
            np.testing.assert_allclose(
                np.asarray(got[key]), want, atol=1e-4, rtol=1e-4, err_msg=f"{key} on {backend}"
            )
