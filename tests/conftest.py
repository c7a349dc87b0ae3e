"""Shared fixtures. Every test runs on the backend named by KERAS_BACKEND (one pytest process
per backend; ``python tests/all_backends.py`` runs all three)."""

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same seeds and a clean Keras name scope."""
    keras.utils.set_random_seed(1234)
    keras.backend.clear_session(free_memory=False)  # gc.collect() would cost ~0.5 s a test
    yield


@pytest.fixture
def backend():
    """Name of the Keras backend this test process runs on."""
    return keras.backend.backend()


@pytest.fixture
def other_backends():
    """The two backends this process is *not* running on."""
    return [b for b in BACKENDS if b != keras.backend.backend()]


def run_python(backend_name, code, timeout=600, cwd=None):
    """Run ``code`` in a fresh Python process on ``backend_name``; return its stdout.

    Fails the test with the child's stderr if it exits non-zero.
    """
    env = dict(os.environ, KERAS_BACKEND=backend_name, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=cwd,
    )
    if proc.returncode != 0:
        pytest.fail(f"subprocess on {backend_name} failed:\n{proc.stderr[-4000:]}")
    return proc.stdout


@pytest.fixture
def in_backend():
    """``in_backend(name, code)`` runs ``code`` in a subprocess on another backend."""
    return run_python


@pytest.fixture
def rng():
    return np.random.default_rng(0)
