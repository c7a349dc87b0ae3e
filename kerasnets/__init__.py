"""kerasnets: the architecture patterns of deep networks, written once in Keras 3.

Everything runs unchanged on TensorFlow, JAX and PyTorch; the backend is chosen with the
``KERAS_BACKEND`` environment variable before Keras is first imported (or with
``kerasnets --backend NAME`` on the command line).

Importing this package is cheap and imports neither Keras nor a backend: submodules load on
first use, so ``kerasnets.cli`` can still pick the backend. Under JAX or PyTorch, TensorFlow is
never imported unless a TFLite function asks for it. Wherever TensorFlow does get imported
after kerasnets (Keras does so for seeding and saving on every backend), its C++ start-up lines
are kept off the terminal (:mod:`kerasnets._quiet`).

Example:
    >>> import kerasnets
    >>> (x_train, y_train), (x_test, y_test) = kerasnets.data.load("digits")
    >>> x_train.shape[1:]
    (8, 8, 1)
"""

import importlib

from kerasnets import _quiet

_quiet.install()  # TensorFlow's C++ start-up lines stay off the terminal (see kerasnets._quiet)

__version__ = "0.1.0"

_SUBMODULES = {
    "activations",
    "analysis",
    "backend",
    "blocks",
    "claims",
    "compare",
    "compression",
    "data",
    "debug",
    "docs",
    "experiments",
    "graph",
    "io",
    "layers",
    "models",
    "nas",
    "plots",
    "tflite",
    "tour",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kerasnets.{name}")
    raise AttributeError(f"module 'kerasnets' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
