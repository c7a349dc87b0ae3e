"""Per-layer profile of a Keras model: parameters, MACs and output activation memory.

:func:`profile` walks the graph of a Sequential or functional model (nested models and submodels
are walked too, their layers named ``outer/inner``) with symbolic tensors of the real batch size,
so every layer call gets its actual input and output shapes. For each call it records the
parameters of the layer (trainable / non-trainable; a shared layer's parameters are counted at
its first call only), its MACs per example from :mod:`kerasnets.analysis.macs`, and the bytes of
its output for the whole batch. Layers with no MAC formula are listed as *uncounted*.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3),
    ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> p = profile(model)
    >>> p.params, p.macs  # conv: 6·6·(3·3·3·4); dense: 144·2
    (402, 4176)
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings

import keras
import numpy as np

from kerasnets.analysis.macs import layer_macs

_INPUT = "InputLayer"


@dataclasses.dataclass(frozen=True)
class Profile:
    """What :func:`profile` measured. ``layers`` holds one dict per layer call, in execution
    order, with keys ``name, type, output_shape, params, trainable_params,
    non_trainable_params, macs, activation_bytes, counted, note``.

    ``macs`` are per example; ``activation_bytes`` are for ``batch_size`` examples (the sum of
    every layer output, inputs included — what a training step keeps for the backward pass,
    roughly; inference needs less).
    """

    name: str
    backend: str
    batch_size: int
    layers: list
    params: int
    trainable_params: int
    non_trainable_params: int
    macs: int
    activation_bytes: int

    @property
    def flops(self) -> int:
        """FLOPs per example, counted as 2 × MACs (one multiply and one add each)."""
        return 2 * self.macs

    @property
    def uncounted(self) -> list[str]:
        """Names of the layer calls whose type has no MAC formula (their MACs count as 0)."""
        return [row["name"] for row in self.layers if not row["counted"]]

    def macs_by_type(self) -> dict[str, int]:
        """Total MACs per layer type, largest first: where the compute goes.

        Example: the convolutions of a CNN against its elementwise work (BN, activations,
        additions), which published multiply-add counts usually leave out.
        """
        totals: dict[str, int] = {}
        for row in self.layers:
            totals[row["type"]] = totals.get(row["type"], 0) + row["macs"]
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def to_dict(self) -> dict:
        """Plain, JSON-ready data: totals, ``uncounted`` and the per-layer rows."""
        return {
            "name": self.name,
            "backend": self.backend,
            "batch_size": self.batch_size,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "macs": self.macs,
            "flops": self.flops,
            "activation_bytes": self.activation_bytes,
            "uncounted": self.uncounted,
            "layers": [dict(row) for row in self.layers],
        }

    def to_text(self) -> str:
        """The per-layer table and totals as plain text."""
        from kerasnets.analysis.render import plain_table

        return plain_table(self)

    def to_rich(self):
        """The per-layer table as a ``rich.table.Table`` (print it with a rich Console)."""
        from kerasnets.analysis.render import rich_table

        return rich_table(self)

    def __str__(self) -> str:
        return self.to_text()


def _graph_of(model):
    """The functional graph that runs ``model``, or None if it is not a graph model."""
    if isinstance(model, keras.Sequential):
        return model._functional
    if isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth"):
        return model
    return None


def _check_model(model):
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    graph = _graph_of(model)
    if graph is None:
        if isinstance(model, keras.Sequential):
            raise ValueError(
                f"Sequential model {model.name!r} is not built; start it with keras.Input(shape) "
                "or call model.build(input_shape) first"
            )
        raise ValueError(
            f"model {model.name!r} ({type(model).__name__}) is not a Sequential or functional "
            "model; only graph models can be walked layer by layer"
        )
    return graph


def _check_positive_int(name, value):
    from kerasnets._checks import positive_int

    return positive_int(value, name)


def _itemsize(dtype) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:  # bfloat16 and friends numpy does not know
        bits = re.findall(r"\d+", str(dtype))
        return int(bits[-1]) // 8 if bits else 4


def _weights_size(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


def _tensors(structure):
    return [t for t in keras.tree.flatten(structure) if isinstance(t, keras.KerasTensor)]


def _row(name, type_name, outputs):
    shapes = [tuple(t.shape) for t in outputs]
    return {
        "name": name,
        "type": type_name,
        "output_shape": shapes[0] if len(shapes) == 1 else shapes,
        "params": 0,
        "trainable_params": 0,
        "non_trainable_params": 0,
        "macs": 0,
        "activation_bytes": sum(math.prod(t.shape) * _itemsize(t.dtype) for t in outputs),
        "counted": True,
        "note": "",
    }


def _input_shapes(graph, model, input_shape):
    """The per-example shape of each input: the model's, or ``input_shape`` filling it in."""
    known = [tuple(x.shape[1:]) for x in graph.inputs]
    if input_shape is None:
        for x, shape in zip(graph.inputs, known):
            if any(d is None for d in shape):
                raise ValueError(
                    f"input {x.name!r} of model {model.name!r} has shape {tuple(x.shape)}; "
                    "profiling needs every axis but the batch axis to be known: pass "
                    "input_shape=(...) or build the model with a fixed input shape"
                )
        return known
    if len(known) != 1:
        raise ValueError(
            f"input_shape applies to single-input models; {model.name!r} has {len(known)} inputs"
        )
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        shape = None
    ok = shape is not None and len(shape) == len(known[0]) and all(d > 0 for d in shape)
    if not ok or any(k is not None and k != d for k, d in zip(known[0], shape)):
        raise ValueError(
            f"input_shape must be {len(known[0])} positive integers matching the model's input "
            f"{known[0]} (None = any), got {input_shape!r}"
        )
    return [shape]


def _walk(model, batch_size, input_shape=None):
    """Run ``model``'s graph on symbolic tensors of ``batch_size``; return one row per call."""
    graph = _check_model(model)
    rows = []
    counted_layers = set()

    specs = []
    for x, example_shape in zip(graph.inputs, _input_shapes(graph, model, input_shape)):
        shape = (batch_size, *example_shape)
        spec = keras.KerasTensor(shape, dtype=x.dtype)
        specs.append(spec)
        history = getattr(x, "_keras_history", None)
        name = history.operation.name if history else x.name
        rows.append(_row(name, _INPUT, [spec]))

    def run(graph, inputs, prefix):
        def call_fn(op, *args, **kwargs):
            inner = _graph_of(op)
            if inner is not None:
                return run(inner, args[0] if len(args) == 1 else list(args), f"{prefix}{op.name}/")
            outputs = op.compute_output_spec(*args, **kwargs)
            kwargs.pop("mask", None)
            in_shapes = [tuple(t.shape[1:]) for t in _tensors((args, kwargs))]
            out_tensors = _tensors(outputs)
            row = _row(prefix + op.name, type(op).__name__, out_tensors)
            macs = layer_macs(op, in_shapes, [tuple(t.shape[1:]) for t in out_tensors])
            if macs is None:
                row["counted"] = False
                row["note"] = f"no MAC formula for {type(op).__name__}: counted as 0"
            else:
                row["macs"] = macs
            if isinstance(op, keras.layers.Layer):
                if id(op) in counted_layers:
                    row["note"] = row["note"] or "shared layer: parameters counted at first call"
                else:
                    counted_layers.add(id(op))
                    row["params"] = _weights_size(op.weights)
                    row["trainable_params"] = _weights_size(op.trainable_weights)
                    row["non_trainable_params"] = row["params"] - row["trainable_params"]
            rows.append(row)
            return outputs

        return graph._run_through_graph(inputs, call_fn=call_fn)

    run(graph, specs if len(specs) > 1 else specs[0], "")
    return rows


def count_params(model) -> dict:
    """Parameters of ``model``: ``{"params", "trainable_params", "non_trainable_params"}``.

    Every variable is counted once, even if shared between layers. Works for any built model.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
        ...                       keras.layers.BatchNormalization()])
        >>> count_params(m)  # dense 4·3+3; BN γ,β trainable, moving μ,σ² not
        {'params': 27, 'trainable_params': 21, 'non_trainable_params': 6}
    """
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built; build it with an input shape first")
    total = _weights_size({id(w): w for w in model.weights}.values())
    trainable = _weights_size({id(w): w for w in model.trainable_weights}.values())
    return {
        "params": total,
        "trainable_params": trainable,
        "non_trainable_params": total - trainable,
    }


def profile(model, batch_size: int = 1, input_shape=None) -> Profile:
    """Profile ``model`` layer by layer: parameters, MACs per example, activation bytes.

    Args:
        model: a built Sequential or functional ``keras.Model`` (including functional
            subclasses) with a fixed input shape; nested models are walked.
        batch_size: batch size for the activation memory (MACs are always per example).
        input_shape: the input shape without the batch axis, for a single-input model built
            with unknown axes (e.g. ``(None, None, 3)``); known axes must match.

    Returns:
        A :class:`Profile`; ``str(profile)`` is the table, ``profile.to_dict()`` the JSON data.

    Example:
        >>> import keras
        >>> x = keras.Input((16, 16, 8))
        >>> y = keras.layers.SeparableConv2D(16, 3, padding="same", use_bias=False)(x)
        >>> p = profile(keras.Model(x, y))
        >>> p.macs == 16 * 16 * (3 * 3 * 8 + 8 * 16)  # D²·M + M·N per output position
        True
    """
    batch_size = _check_positive_int("batch_size", batch_size)
    rows = _walk(model, batch_size, input_shape)
    totals = count_params(model)
    missing = totals["params"] - sum(row["params"] for row in rows)
    missing_trainable = totals["trainable_params"] - sum(row["trainable_params"] for row in rows)
    if missing:  # variables the model owns directly, outside any layer of its graph
        row = _row(f"{model.name}/(own weights)", "Weights", [])
        row.update(
            output_shape=(),
            params=missing,
            trainable_params=missing_trainable,
            non_trainable_params=missing - missing_trainable,
            note="variables owned by the model itself, used outside its layers",
        )
        rows.append(row)
    return Profile(
        name=model.name,
        backend=keras.backend.backend(),
        batch_size=batch_size,
        layers=rows,
        macs=sum(row["macs"] for row in rows),
        activation_bytes=sum(row["activation_bytes"] for row in rows),
        **totals,
    )


def count_macs(model, input_shape=None) -> int:
    """Total MACs per example of ``model`` (see :mod:`kerasnets.analysis.macs`).

    Layers with no MAC formula count as 0 and a ``UserWarning`` names them. ``input_shape``:
    as for :func:`profile`.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((10,)), keras.layers.Dense(5)])
        >>> count_macs(m)
        50
    """
    result = profile(model, input_shape=input_shape)
    if result.uncounted:
        warnings.warn(
            f"MACs of {len(result.uncounted)} layer call(s) with no formula counted as 0: "
            + ", ".join(result.uncounted),
            stacklevel=2,
        )
    return result.macs
