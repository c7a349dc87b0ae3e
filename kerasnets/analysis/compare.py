"""Side-by-side cost of several models: the comparison table of hands-on project 3.

Example:
    >>> import keras
    >>> def net(conv):
    ...     x = keras.Input((16, 16, 32))
    ...     return keras.Model(x, conv(64, 3, padding="same")(x))
    >>> rows = compare({"standard": net(keras.layers.Conv2D),
    ...                 "separable": net(keras.layers.SeparableConv2D)}, latency=False)
    >>> [(r["name"], r["params"], round(r["macs_vs_first"], 3)) for r in rows]
    [('standard', 18496, 1.0), ('separable', 2400, 0.127)]
"""

from __future__ import annotations

from kerasnets.analysis.latency import latency as measure_latency
from kerasnets.analysis.profile import profile
from kerasnets.analysis.render import human, human_bytes


def compare(
    models, batch_sizes=(1, 32), latency: bool = True, warmup: int = 3, repeats: int = 20
) -> list[dict]:
    """Parameters, MACs, activation memory and (optionally) latency of each model.

    Args:
        models: ``{name: keras.Model}``; the first one is the baseline of the ratios.
        batch_sizes: batch sizes for latency; activation memory is for the first one.
        latency: time ``predict_on_batch`` (see :func:`kerasnets.analysis.latency`).
        warmup, repeats: as for :func:`kerasnets.analysis.latency`.

    Returns:
        One dict per model: ``name, params, trainable_params, macs, flops, activation_bytes,
        params_vs_first, macs_vs_first`` and, with ``latency``, ``latency_ms`` (``{batch size:
        median ms}``) and ``latency_vs_first`` (at the first batch size). Accuracy is not
        measured here: train the models and add it.
    """
    if not hasattr(models, "items") or not models:
        raise ValueError(f"models must be a non-empty {{name: model}} mapping, got {models!r}")
    batch_sizes = tuple(batch_sizes) if not isinstance(batch_sizes, int) else (batch_sizes,)
    if not batch_sizes:
        raise ValueError("batch_sizes must name at least one batch size, got an empty list")
    rows = []
    for name, model in models.items():
        p = profile(model, batch_size=batch_sizes[0])
        row = {
            "name": str(name),
            "params": p.params,
            "trainable_params": p.trainable_params,
            "macs": p.macs,
            "flops": p.flops,
            "activation_bytes": p.activation_bytes,
            "uncounted": p.uncounted,
        }
        if latency:
            timings = measure_latency(model, batch_sizes, warmup=warmup, repeats=repeats)
            row["latency_ms"] = {b: t["median_ms"] for b, t in timings.items()}
        rows.append(row)
    first = rows[0]
    for row in rows:
        row["params_vs_first"] = row["params"] / first["params"] if first["params"] else None
        row["macs_vs_first"] = row["macs"] / first["macs"] if first["macs"] else None
        if latency:
            b = batch_sizes[0]
            row["latency_vs_first"] = row["latency_ms"][b] / first["latency_ms"][b]
    return rows


def comparison_table(rows) -> str:
    """The rows of :func:`compare` as a plain-text table (ratios relative to the first row)."""
    headers = ["Model", "Params", "(×)", "MACs", "(×)", "Activations"]
    batch_sizes = list(rows[0].get("latency_ms", {}))
    headers += [f"Latency b={b}" for b in batch_sizes]
    if batch_sizes:
        headers.append("(×)")
    body = []
    for r in rows:
        cells = [
            r["name"],
            f"{r['params']:,}",
            _ratio(r["params_vs_first"]),
            human(r["macs"]),
            _ratio(r["macs_vs_first"]),
            human_bytes(r["activation_bytes"]),
        ]
        cells += [f"{r['latency_ms'][b]:.2f} ms" for b in batch_sizes]
        if batch_sizes:
            cells.append(_ratio(r["latency_vs_first"]))
        body.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in body)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    return "\n".join([line(headers), "-" * len(line(headers)), *map(line, body)])


def _ratio(value) -> str:
    return "—" if value is None else f"{value:.3f}"
