"""Custom layers, only where Keras has no built-in layer for a lecture pattern.

Everything else in kerasnets is built from standard Keras layers, so that summaries, FLOP
counters, pruning and the TFLite converter see ordinary layers. The two layers here are
activations with a parameter that ``keras.layers.Activation`` cannot carry:

- :class:`Swish`: ``f(x) = x · σ(βx)`` with a fixed or learnable β (Ramachandran, Zoph & Le,
  "Searching for Activation Functions", 2017). β = 1 is SiLU (Elfwing et al., 2017).
- :class:`GELU`: ``f(x) = x · Φ(x)``, exact (erf) or with the tanh approximation (Hendrycks &
  Gimpel, "Gaussian Error Linear Units", 2016).

Both are registered serializable (package ``"kerasnets"``), so a model using them saves to
``.keras`` and loads back on every backend.

Example:
    >>> import numpy as np
    >>> swish = Swish(beta=1.0, learnable=True)
    >>> y = swish(np.array([[0.0, 1.0]], "float32"))
    >>> [w.name for w in swish.trainable_weights]
    ['beta']
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasnets")
class Swish(keras.layers.Layer):
    """Swish activation ``x · sigmoid(β·x)`` with a fixed or learnable scalar β.

    β → 0 gives the linear function ``x/2``, β = 1 gives SiLU, β → ∞ approaches ReLU: with
    ``learnable=True`` the network chooses where on that scale to sit (Ramachandran et al., 2017).

    Args:
        beta: the (initial) value of β, a finite float.
        learnable: train β with the other weights (one scalar per layer).
        **kwargs: standard layer arguments (``name``, ``dtype``...).

    Example:
        >>> import numpy as np
        >>> y = Swish(beta=2.0)(np.array([0.0, 1.0], "float32"))
        >>> [round(float(v), 4) for v in y]
        [0.0, 0.8808]
    """

    def __init__(self, beta: float = 1.0, learnable: bool = False, **kwargs):
        super().__init__(**kwargs)
        try:
            beta = float(beta)
        except (TypeError, ValueError):
            raise ValueError(f"Swish beta must be a number, got {beta!r}") from None
        if beta != beta or beta in (float("inf"), float("-inf")):
            raise ValueError(f"Swish beta must be finite, got {beta!r}")
        self.beta_value = beta
        self.learnable = bool(learnable)
        self.supports_masking = True

    def build(self, input_shape):
        if self.learnable:
            self.beta = self.add_weight(
                name="beta",
                shape=(),
                initializer=keras.initializers.Constant(self.beta_value),
                trainable=True,
            )
        self.built = True

    def call(self, inputs):
        beta = self.beta if self.learnable else self.beta_value
        return inputs * ops.sigmoid(ops.cast(beta, inputs.dtype) * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "beta": self.beta_value, "learnable": self.learnable}


@keras.saving.register_keras_serializable(package="kerasnets")
class GELU(keras.layers.Layer):
    """Gaussian error linear unit ``x · Φ(x)`` (Hendrycks & Gimpel, 2016).

    Args:
        approximate: use ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`` instead of the exact
            ``0.5·x·(1 + erf(x/√2))`` (the approximation of the original BERT/GPT code).
        **kwargs: standard layer arguments.

    Example:
        >>> import numpy as np
        >>> y = GELU(approximate=True)(np.array([1.0], "float32"))
        >>> round(float(y[0]), 4)
        0.8412
    """

    def __init__(self, approximate: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.approximate = bool(approximate)
        self.supports_masking = True

    def call(self, inputs):
        return keras.activations.gelu(inputs, approximate=self.approximate)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "approximate": self.approximate}
