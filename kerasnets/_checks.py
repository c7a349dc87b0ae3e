"""Argument checks shared by the library, the CLI and the callbacks.

Each raises ``ValueError`` or ``TypeError`` with one line that names the bad value and what is
allowed, before any work starts.

Example:
    >>> positive_int(3, "epochs")
    3
    >>> positive_int(0, "epochs")
    Traceback (most recent call last):
    ...
    ValueError: epochs must be a positive integer, got 0
    >>> check_model("model.keras")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: model must be a keras.Model, got str 'model.keras' (load a file with ...)
"""

from __future__ import annotations

import numbers

import numpy as np


def positive_int(value, what: str, minimum: int = 1, allow_none: bool = False):
    """``value`` as an ``int`` >= ``minimum`` (``None`` passes if ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{what} must be {wanted}, got {value!r}")
    return int(value)


def _describe(obj) -> str:
    if isinstance(obj, (str, bytes)) or hasattr(obj, "__fspath__"):
        return f"{type(obj).__name__} {str(obj)!r} (load a file with kerasnets.io.load_model)"
    if isinstance(obj, np.ndarray) or hasattr(obj, "shape"):
        return f"{type(obj).__name__} of shape {tuple(getattr(obj, 'shape', ()))}"
    return type(obj).__name__


def check_model(obj, what: str = "model"):
    """Raise ``TypeError`` unless ``obj`` is a ``keras.Model`` (a path or an array is not)."""
    import keras

    if not isinstance(obj, keras.Model):
        raise TypeError(f"{what} must be a keras.Model, got {_describe(obj)}")
    return obj
