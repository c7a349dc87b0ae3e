"""Low-rank factorization: replace a Dense or Conv2D by two thinner layers via the SVD.

A Dense kernel ``W`` (``n_in × n_out``) is ``U S Vᵀ``; keeping the ``r`` largest singular
values gives ``W ≈ A B`` with ``A = U_r √S_r`` (``n_in × r``) and ``B = √S_r V_rᵀ``
(``r × n_out``): ``Dense(n_out)`` becomes ``Dense(r, use_bias=False)`` then ``Dense(n_out)``
with the original bias and activation; parameters fall from ``n_in·n_out`` to
``r·(n_in + n_out)``.

A Conv2D kernel (``kh × kw × c_in × c_out``) is split between its spatial-and-input part and
its output channels (the "channel split"): reshaped to ``(kh·kw·c_in) × c_out`` and factorized
the same way, it becomes a ``kh × kw`` convolution to ``r`` channels (original strides,
padding, dilation) followed by a ``1 × 1`` convolution to ``c_out`` (original bias and
activation).

At full rank (``r = min`` of the two sides) the factorization reproduces the layer exactly, up
to float rounding. The result is a plain model of built-in layers that fine-tunes like any
other.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(32, name="fc"),
    ...                           keras.layers.Dense(4, name="out")])
    >>> result = low_rank(model, rank=4, layers="fc")
    >>> result.layers[0]["params_before"], result.layers[0]["params_after"]
    (1056, 288)
    >>> [layer.name for layer in result.model.layers[1:]]
    ['fc_low_rank', 'fc', 'out']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
from keras import ops

from kerasnets.compression._graph import copy_layer, rebuild, select_layers


@dataclass
class LowRankResult:
    """The factorized model and, per replaced layer, rank, parameters and kernel error.

    ``layers``: dicts with ``name``, ``rank``, ``max_rank``, ``energy`` (fraction of the
    squared singular values kept), ``params_before``, ``params_after`` and ``relative_error``
    (``‖W − AB‖_F / ‖W‖_F``, the worst-case relative output error direction). ``output_error``:
    the relative error of the model outputs on ``x`` when ``x`` was given.
    """

    model: keras.Model
    layers: list = field(default_factory=list)
    output_error: float | None = None


def _supported(layer):
    if type(layer) is keras.layers.Dense:
        return True
    return type(layer) is keras.layers.Conv2D and layer.groups == 1


def _choose_rank(singular, rank, energy, name):
    max_rank = singular.size
    if rank is not None:
        if rank > max_rank:
            raise ValueError(
                f"rank {rank} is larger than layer {name!r} allows (at most {max_rank})"
            )
        return int(rank)
    share = np.cumsum(singular**2) / np.sum(singular**2)
    return int(min(np.searchsorted(share, energy - 1e-12) + 1, max_rank))


def _factor(kernel2d, r):
    u, s, vt = np.linalg.svd(kernel2d.astype(np.float64), full_matrices=False)
    root = np.sqrt(s[:r])
    return (u[:, :r] * root).astype(kernel2d.dtype), (root[:, None] * vt[:r]).astype(kernel2d.dtype)


def low_rank(model, rank=None, energy=None, layers=None, exclude=None, x=None):
    """Factorize the chosen Dense/Conv2D layers of ``model``; return a :class:`LowRankResult`.

    Args:
        model: a Functional or Sequential model (not modified).
        rank: the rank ``r >= 1`` to keep in every chosen layer; ``ValueError`` if a layer
            allows less (``min(n_in, n_out)``, or ``min(kh·kw·c_in, c_out)`` for Conv2D).
        energy: instead of ``rank``, keep the smallest rank whose singular values hold this
            fraction (0, 1] of the squared singular values (1.0 → exact).
        layers, exclude: layer choice as in :func:`.prune_low_magnitude`; default every plain
            ``Dense`` and ``Conv2D`` (groups=1). Layers where the factorization would not save
            parameters are still factorized when chosen explicitly; by default they are left.
        x: optional input batch; the relative error of the model output on it is reported.
    """
    if (rank is None) == (energy is None):
        raise ValueError("give exactly one of rank= (an integer >= 1) or energy= (in (0, 1])")
    if rank is not None and (isinstance(rank, bool) or int(rank) != rank or rank < 1):
        raise ValueError(f"rank must be an integer >= 1, got {rank!r}")
    if energy is not None and not 0.0 < float(energy) <= 1.0:
        raise ValueError(f"energy must be in (0, 1], got {energy!r}")
    chosen = select_layers(model, layers, exclude, supported=_supported, what="factorized")
    plan, rows = {}, []
    for layer in chosen:
        kernel = ops.convert_to_numpy(layer.kernel)
        kernel2d = kernel.reshape(-1, kernel.shape[-1])
        singular = np.linalg.svd(kernel2d.astype(np.float64), compute_uv=False)
        r = _choose_rank(singular, rank, energy, layer.name)
        n_in, n_out = kernel2d.shape
        before = kernel2d.size
        after = r * (n_in + n_out)
        if (
            layers is None
            and after >= before
            and not (energy is not None and r == min(n_in, n_out))
        ):
            continue
        a, b = _factor(kernel2d, r)
        plan[layer.name] = (r, a.reshape(*kernel.shape[:-1], r), b)
        bias = layer.bias.shape[0] if layer.use_bias else 0
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "rank": r,
                "max_rank": int(min(n_in, n_out)),
                "energy": float(np.sum(singular[:r] ** 2) / np.sum(singular**2)),
                "params_before": int(before + bias),
                "params_after": int(after + bias),
                "relative_error": float(
                    np.linalg.norm(kernel2d - a @ b) / np.linalg.norm(kernel2d)
                ),
            }
        )

    def call_function(layer, *args, **kwargs):
        if layer.name not in plan:
            return layer(*args, **kwargs)
        r, a, b = plan[layer.name]
        config = layer.get_config()
        if isinstance(layer, keras.layers.Dense):
            first = keras.layers.Dense(r, use_bias=False, name=f"{layer.name}_low_rank")
            second_config = dict(config)
        else:
            first_config = dict(config, filters=r, use_bias=False, activation=None)
            first_config["name"] = f"{layer.name}_low_rank"
            first = keras.layers.Conv2D.from_config(first_config)
            second_config = dict(config, kernel_size=(1, 1), strides=(1, 1), padding="valid")
            second_config["dilation_rate"] = (1, 1)
            b = b.reshape(1, 1, *b.shape)
        second = type(layer).from_config(second_config)
        hidden = first(*args, **kwargs)
        out = second(hidden)
        first.set_weights([a])
        second.set_weights([b] + ([ops.convert_to_numpy(layer.bias)] if layer.use_bias else []))
        return out

    new_model = rebuild(model, copy_layer, call_function=call_function)
    result = LowRankResult(new_model, rows)
    if x is not None:
        ref = np.asarray(model.predict(x, verbose=0))
        out = np.asarray(new_model.predict(x, verbose=0))
        result.output_error = float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-12))
    return result
