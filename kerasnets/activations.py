"""Every activation of the lecture, by name, as a Keras layer.

``get(name, **options)`` returns a fresh layer that computes the activation, so a model can take
``activation="leaky_relu"`` (or a per-layer list of names) and stay serializable:

- ``linear``: ``x``.
- ``sigmoid``: ``1 / (1 + e^-x)``; σ′ ≤ 0.25, the vanishing-gradient culprit.
- ``tanh``: zero-centred, tanh′ ≤ 1.
- ``relu``: ``max(0, x)`` (Nair & Hinton 2010; Glorot et al. 2011).
- ``relu6``: ``min(max(0, x), 6)`` (MobileNet, Howard et al. 2017).
- ``leaky_relu``: ``x`` if x > 0 else ``α·x``; option ``alpha=0.01`` (Maas et al. 2013).
- ``prelu``: leaky ReLU with a learned α (He et al. 2015); option ``shared_axes=None`` (one α
  per unit and position), ``shared_axes=[1, 2]`` on images gives one α per channel.
- ``elu``: ``x`` if x > 0 else ``α·(e^x − 1)``; option ``alpha=1.0`` (Clevert et al. 2016).
- ``selu``: ``λ·elu(x, α)`` with λ ≈ 1.0507, α ≈ 1.6733; self-normalizing together with
  LeCun-normal initialization and alpha dropout (Klambauer et al. 2017).
- ``swish`` / ``silu``: ``x · σ(βx)``; options ``beta=1.0``, ``learnable=False``
  (Ramachandran et al. 2017; SiLU: Elfwing et al. 2017).
- ``gelu``: ``x · Φ(x)``; option ``approximate=False`` (True: the tanh formula)
  (Hendrycks & Gimpel 2016).

``initializer_for(name)`` gives the weight initializer that keeps the activations' variance
stable for that activation (He for the ReLU family, LeCun for SELU, Glorot otherwise), and
``derivative(name, x)`` evaluates f′(x) by automatic differentiation on the current backend.

Example:
    >>> import numpy as np
    >>> layer = get("leaky_relu", alpha=0.1)
    >>> [float(v) for v in layer(np.array([-1.0, 2.0], "float32"))]
    [-0.10000000149011612, 2.0]
    >>> float(derivative("sigmoid", np.array([0.0], "float32"))[0])
    0.25
    >>> initializer_for("selu")
    'lecun_normal'
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# name -> (one-line description, allowed options with their defaults)
_ACTIVATIONS: dict[str, tuple[str, dict]] = {
    "linear": ("identity, f(x) = x", {}),
    "sigmoid": ("logistic 1/(1+e^-x); derivative at most 0.25", {}),
    "tanh": ("hyperbolic tangent; zero-centred, derivative at most 1", {}),
    "relu": ("max(0, x) (Nair & Hinton 2010)", {}),
    "relu6": ("min(max(0, x), 6) (MobileNet)", {}),
    "leaky_relu": ("x if x > 0 else alpha*x (Maas et al. 2013)", {"alpha": 0.01}),
    "prelu": ("leaky ReLU with learned alpha (He et al. 2015)", {"shared_axes": None}),
    "elu": ("x if x > 0 else alpha*(e^x - 1) (Clevert et al. 2016)", {"alpha": 1.0}),
    "selu": ("scaled ELU, self-normalizing (Klambauer et al. 2017)", {}),
    "swish": (
        "x * sigmoid(beta*x), fixed or learnable beta (Ramachandran et al. 2017)",
        {"beta": 1.0, "learnable": False},
    ),
    "silu": ("swish with beta = 1 (Elfwing et al. 2017)", {"beta": 1.0, "learnable": False}),
    "gelu": (
        "x * Phi(x), exact or tanh-approximate (Hendrycks & Gimpel 2016)",
        {"approximate": False},
    ),
}

_RELU_FAMILY = {"relu", "relu6", "leaky_relu", "prelu"}
# Rectifier-like smooth activations: ≈ x for large x, ≈ 0 below. They want He's variance too.
_RECTIFIER_LIKE = {"elu", "gelu", "swish", "silu"}


def available() -> list[str]:
    """Sorted names accepted by :func:`get`.

    Example:
        >>> "gelu" in available()
        True
    """
    return sorted(_ACTIVATIONS)


def describe(name: str) -> str:
    """One line saying what activation ``name`` computes and where it comes from.

    Example:
        >>> describe("elu")
        'x if x > 0 else alpha*(e^x - 1) (Clevert et al. 2016)'
    """
    return _ACTIVATIONS[_check_name(name)][0]


def _check_name(name) -> str:
    if not isinstance(name, str) or name.lower() not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; available: {', '.join(available())}")
    return name.lower()


def check(name, **options) -> str:
    """Validate an activation name and its options without building anything.

    Returns the canonical (lower-case) name; raises ``ValueError`` naming the bad value and the
    allowed ones. Model builders call this up front so that bad input fails before any work.

    Example:
        >>> check("ReLU")
        'relu'
    """
    name = _check_name(name)
    allowed = _ACTIVATIONS[name][1]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        hint = ", ".join(allowed) if allowed else "none"
        raise ValueError(
            f"activation {name!r} takes no option(s) {', '.join(unknown)}; allowed: {hint}"
        )
    for key in ("alpha", "beta"):
        if key in options:
            value = options[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"activation {name!r}: {key} must be a number, got {value!r}")
            if not np.isfinite(value):
                raise ValueError(f"activation {name!r}: {key} must be finite, got {value!r}")
    if name == "elu" and options.get("alpha", 1.0) <= 0:
        raise ValueError(f"activation 'elu': alpha must be > 0, got {options['alpha']!r}")
    if name == "leaky_relu" and options.get("alpha", 0.01) < 0:
        raise ValueError(f"activation 'leaky_relu': alpha must be >= 0, got {options['alpha']!r}")
    return name


def get(name: str, *, layer_name: str | None = None, **options):
    """Return a new Keras layer computing activation ``name``.

    Args:
        name: one of :func:`available` (case-insensitive).
        layer_name: optional name for the layer (blocks use explicit names).
        **options: the activation's options (see the module table), e.g. ``alpha=0.2`` for
            ``leaky_relu``/``elu``, ``shared_axes=[1, 2]`` for ``prelu``, ``beta=1.5`` and
            ``learnable=True`` for ``swish``, ``approximate=True`` for ``gelu``.

    Raises:
        ValueError: unknown name (the message lists the available ones) or a bad option.

    Example:
        >>> get("prelu", shared_axes=[1, 2]).__class__.__name__
        'PReLU'
        >>> get("swish", learnable=True).__class__.__name__
        'Swish'
    """
    import keras

    from kerasnets import layers

    name = check(name, **options)
    opts = {**_ACTIVATIONS[name][1], **options}
    kw = {"name": layer_name}
    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=float(opts["alpha"]), **kw)
    if name == "prelu":
        shared = opts["shared_axes"]
        return keras.layers.PReLU(shared_axes=None if shared is None else list(shared), **kw)
    if name == "elu":
        return keras.layers.ELU(alpha=float(opts["alpha"]), **kw)
    if name in ("swish", "silu"):
        if float(opts["beta"]) == 1.0 and not opts["learnable"]:
            return keras.layers.Activation("silu", **kw)
        return layers.Swish(beta=opts["beta"], learnable=opts["learnable"], **kw)
    if name == "gelu":
        if opts["approximate"]:
            return layers.GELU(approximate=True, **kw)
        return keras.layers.Activation("gelu", **kw)
    return keras.layers.Activation(name, **kw)


def initializer_for(name: str) -> str:
    """The kernel initializer that suits activation ``name``.

    He-normal (variance 2/fan_in, He et al. 2015) for the ReLU family and the rectifier-like
    smooth ones (ELU, GELU, Swish/SiLU), LeCun-normal (variance 1/fan_in) for SELU (required for
    self-normalization, Klambauer et al. 2017), Glorot-uniform (variance 2/(fan_in+fan_out),
    Glorot & Bengio 2010) for the others (sigmoid, tanh, linear). Measured here: with Glorot, a
    10-layer GELU or Swish MLP on digits stays at chance accuracy; with He it trains.

    Example:
        >>> initializer_for("leaky_relu")
        'he_normal'
    """
    name = _check_name(name)
    if name in _RELU_FAMILY or name in _RECTIFIER_LIKE:
        return "he_normal"
    if name == "selu":
        return "lecun_normal"
    return "glorot_uniform"


def derivative(name: str | Callable, x, **options) -> np.ndarray:
    """f′(x) of activation ``name`` at every point of ``x``, by autodiff on the current backend.

    Uses :func:`kerasnets.backend.input_gradient` (no hand-written formulas), so the curve is
    exactly what backpropagation sees. Learnable activations (PReLU, learnable Swish) are
    evaluated at their initial parameters.

    Args:
        name: an activation name, or any elementwise function written with ``keras.ops``.
        x: points (a numpy array, float32 by default).
        **options: activation options, as for :func:`get`.

    Example:
        >>> import numpy as np
        >>> [float(v) for v in derivative("relu", np.array([-1.0, 1.0], "float32"))]
        [0.0, 1.0]
    """
    from kerasnets.backend import input_gradient

    x = np.asarray(x, dtype=np.float32) if not hasattr(x, "dtype") else np.asarray(x)
    fn = get(name, **options) if isinstance(name, str) else name
    if hasattr(fn, "build") and not getattr(fn, "built", True):
        fn(x)  # create any weights outside the backend's gradient transformation
    return input_gradient(fn, x)
