"""What compression bought: per layer sparsity, unique values, parameters, MACs and bytes.

:func:`report` looks at the weights a deployed model would carry (for a model still wrapped
for pruning or clustering: the masked / tied kernels of the inner layers, without the masks) and
measures, per layer and in total:

- ``params``: the number of weight values; ``macs``: multiply-accumulates per example from
  :func:`kerasnets.analysis.profile` (analytic, per layer type);
- ``sparsity``: the fraction of exact zeros in the kernels; ``unique``: the number of distinct
  kernel values (≤ k after clustering);
- ``bytes``: raw weight bytes at their stored dtypes; ``gzip_bytes``: the same bytes after
  ``gzip`` (level 9) — what zeros and shared values save on disk. The total ``gzip_bytes``
  compresses all weights as one stream, so it is less than the sum of the rows.

Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="fc")])
    >>> r = report(model)
    >>> r.layers[0]["params"], r.layers[0]["bytes"], r.params
    (36, 144, 36)
    >>> print(r)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import gzip

import keras
import numpy as np
from keras import ops

from kerasnets.compression._graph import KERNEL_NAMES, flat_layers
from kerasnets.compression.clustering import ClusterWeights
from kerasnets.compression.pruning import PruneLowMagnitude


def _effective_weights(layer):
    """``[(name, array)]`` of what ``layer`` deploys: wrapped kernels masked or tied."""
    if isinstance(layer, (PruneLowMagnitude, ClusterWeights)):
        replaced = (
            layer.masked_kernels()
            if isinstance(layer, PruneLowMagnitude)
            else layer.clustered_kernels()
        )
        return [
            (v.name, replaced.get(v.name, ops.convert_to_numpy(v.value)))
            for v in layer.layer.weights
        ]
    return [(v.name, ops.convert_to_numpy(v.value)) for v in layer.weights]


def _gzip_size(arrays):
    blob = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
    return len(gzip.compress(blob, compresslevel=9, mtime=0)) if blob else 0


def _macs_by_layer(model):
    try:
        from kerasnets import analysis
        from kerasnets.analysis.macs import layer_macs, register_macs
    except ImportError:  # the analysis package is optional here
        return {}

    @register_macs(PruneLowMagnitude, ClusterWeights)
    def _wrapped_macs(layer, input_shapes, output_shapes):
        return layer_macs(layer.layer, input_shapes, output_shapes)

    try:
        rows = analysis.profile(model).layers
    except Exception:  # a MAC count must never break a size report
        return {}
    macs = {}
    for row in rows:
        if row.get("counted"):
            macs[row["name"].split("/")[-1]] = macs.get(row["name"].split("/")[-1], 0) + row["macs"]
    return macs


@dataclasses.dataclass
class CompressionReport:
    """Rows (one dict per layer with weights) and totals; ``str()`` is a table."""

    name: str
    layers: list
    params: int
    macs: int | None
    sparsity: float
    bytes: int
    gzip_bytes: int

    def to_dict(self):
        return dataclasses.asdict(self)

    def __str__(self):
        headers = ["layer", "type", "params", "MACs", "sparsity", "unique", "bytes", "gzip"]
        body = [
            [
                r["name"],
                r["type"],
                f"{r['params']:,}",
                "-" if r["macs"] is None else f"{r['macs']:,}",
                "-" if r["sparsity"] is None else f"{r['sparsity']:.1%}",
                "-" if r["unique"] is None else f"{r['unique']:,}",
                f"{r['bytes']:,}",
                f"{r['gzip_bytes']:,}",
            ]
            for r in self.layers
        ]
        total = [
            "total",
            "",
            f"{self.params:,}",
            "-" if self.macs is None else f"{self.macs:,}",
            f"{self.sparsity:.1%}",
            "",
            f"{self.bytes:,}",
            f"{self.gzip_bytes:,}",
        ]
        widths = [
            max(len(h), *(len(row[i]) for row in [*body, total])) for i, h in enumerate(headers)
        ]

        def line(cells):
            return "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            ).rstrip()

        rule = "-" * len(line(headers))
        return "\n".join(
            [f"Model: {self.name}", line(headers), rule, *map(line, body), rule, line(total)]
        )


def report(model):
    """Measure ``model`` layer by layer; return a :class:`CompressionReport`.

    Works for plain, pruning-wrapped, clustered and ``quantize()``-d models. MACs come from
    :mod:`kerasnets.analysis` (``None`` for a layer it has no formula for).
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"report() needs a keras.Model, got {type(model).__name__}")
    macs = _macs_by_layer(model)
    rows, all_arrays, zeros, kernel_size = [], [], 0, 0
    for layer in flat_layers(model):
        weights = _effective_weights(layer)
        if not weights:
            continue
        arrays = [a for _, a in weights]
        kernels = [a for n, a in weights if n in KERNEL_NAMES]
        name = (
            layer.layer.name
            if isinstance(layer, (PruneLowMagnitude, ClusterWeights))
            else layer.name
        )
        layer_zeros = sum(int(np.sum(k == 0)) for k in kernels)
        layer_kernel = sum(k.size for k in kernels)
        zeros, kernel_size = zeros + layer_zeros, kernel_size + layer_kernel
        rows.append(
            {
                "name": name,
                "type": type(layer.layer if hasattr(layer, "layer") else layer).__name__,
                "params": int(sum(a.size for a in arrays)),
                "macs": macs.get(layer.name),
                "sparsity": layer_zeros / layer_kernel if layer_kernel else None,
                "unique": max(np.unique(k).size for k in kernels) if kernels else None,
                "bytes": int(sum(a.nbytes for a in arrays)),
                "gzip_bytes": _gzip_size(arrays),
            }
        )
        all_arrays.extend(arrays)
    return CompressionReport(
        name=model.name,
        layers=rows,
        params=int(sum(r["params"] for r in rows)),
        macs=int(sum(macs.values())) if macs else None,
        sparsity=zeros / kernel_size if kernel_size else 0.0,
        bytes=int(sum(r["bytes"] for r in rows)),
        gzip_bytes=_gzip_size(all_arrays),
    )
