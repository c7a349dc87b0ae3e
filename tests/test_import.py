"""Importing kerasnets is cheap and never loads TensorFlow under JAX or PyTorch."""

import json
import subprocess
import sys

import pytest

CODE = r"""
import importlib, json, pkgutil, sys
import kerasnets
assert "keras" not in sys.modules, "import kerasnets imported keras"
import callbacks
names = ["kerasnets", "callbacks"]
for pkg in (kerasnets, callbacks):
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        # Only the TFLite bridge may import TensorFlow, and only inside its functions.
        if m.name.startswith("kerasnets.tflite.") or m.name == "kerasnets.__main__":
            continue
        names.append(m.name)
        importlib.import_module(m.name)
print(json.dumps({"modules": names, "tensorflow": "tensorflow" in sys.modules,
                  "backend": __import__("keras").backend.backend()}))
"""


@pytest.mark.parametrize("backend_name", ["jax", "torch"])
def test_importing_kerasnets_does_not_load_tensorflow(backend_name, in_backend):
    result = json.loads(in_backend(backend_name, CODE).strip().splitlines()[-1])
    assert result["backend"] == backend_name
    assert "kerasnets.data" in result["modules"] and "kerasnets.backend" in result["modules"]
    assert result["tensorflow"] is False, "a kerasnets module imported tensorflow"


def test_import_is_lazy_and_submodules_resolve():
    code = "import sys, kerasnets; print('keras' in sys.modules, kerasnets.data.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "kerasnets.data"]


def test_unknown_attribute_is_an_attribute_error():
    import kerasnets

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        kerasnets.nope  # noqa: B018


QUIET_CODE = r"""
import kerasnets
import keras
from kerasnets import io, models
keras.utils.set_random_seed(0)          # imports TensorFlow on every backend
model = models.build("mlp", input_shape=(64,), depth=1, width=4)
io.save_model(model, "m.keras")
print("ok")
"""


def test_library_use_prints_no_tensorflow_start_up_lines(backend, tmp_path):
    """TensorFlow's C++ lines (absl, oneDNN, CUDA's E0000) stay off the terminal."""
    import os

    env = dict(os.environ, KERAS_BACKEND=backend)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env.pop("KERASNETS_TF_LOGS", None)
    proc = subprocess.run(
        [sys.executable, "-c", QUIET_CODE], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    noisy = [line for line in proc.stderr.splitlines() if line.strip()]
    assert noisy == [], "\n".join(noisy)
