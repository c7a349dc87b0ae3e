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


def check_samples(x, y=None, what: str = "x"):
    """Check that ``x`` (and ``y``) are non-empty arrays with one sample per label.

    Returns ``x`` and ``y`` as numpy arrays. ``ValueError`` for an empty array, a length
    mismatch between ``x`` and ``y``, or non-finite values in ``x``.
    """
    x = np.asarray(x)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{what} is empty (shape {x.shape}): need at least one sample")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(x):
            raise ValueError(
                f"{what} has {len(x)} samples but the labels have "
                f"{len(y) if y.ndim else 'no'} entries: they must match"
            )
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise ValueError(f"{what} has {bad} NaN or infinite values")
    return x, y
