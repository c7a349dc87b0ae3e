"""Tables for a :class:`~kerasnets.analysis.profile.Profile`: plain text and rich.

Example:
    >>> import keras
    >>> from kerasnets.analysis import profile
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="fc")])
    >>> print(plain_table(profile(m)).splitlines()[0].split())
    ['Layer', 'Type', 'Output', 'shape', 'Params', 'MACs', 'Activations']
"""

from __future__ import annotations

HEADERS = ("Layer", "Type", "Output shape", "Params", "MACs", "Activations")
_RIGHT = {3, 4, 5}


def human(n: float, unit: str = "") -> str:
    """``1234567`` → ``"1.23M"``: three significant figures with a k/M/G/T suffix.

    Example:
        >>> human(1234567), human(999), human(2.5e9)
        ('1.23M', '999', '2.5G')
    """
    value, suffix = float(n), ""
    for bigger in ("k", "M", "G", "T"):
        if abs(value) < 999.5:
            break
        value, suffix = value / 1000, bigger
    return f"{value:.3g}{suffix}{unit}"


def human_bytes(n: int) -> str:
    """Bytes in binary units: ``human_bytes(3 * 2**20) == "3.0 MiB"``."""
    for factor, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= factor:
            return f"{n / factor:.1f} {suffix}"
    return f"{n} B"


def _shape(shape) -> str:
    if shape and isinstance(shape[0], tuple):
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _cells(row) -> list[str]:
    return [
        row["name"],
        row["type"],
        _shape(row["output_shape"]),
        f"{row['params']:,}",
        human(row["macs"]) if row["counted"] else "? (uncounted)",
        human_bytes(row["activation_bytes"]),
    ]


def totals_lines(profile) -> list[str]:
    """The totals under the table, one fact per line."""
    lines = [
        f"Model: {profile.name}  (backend {profile.backend})",
        f"Params: {profile.params:,}  (trainable {profile.trainable_params:,}, "
        f"non-trainable {profile.non_trainable_params:,})",
        f"MACs per example: {profile.macs:,} ({human(profile.macs)}; FLOPs ≈ 2 × MACs = "
        f"{human(profile.flops)})",
        f"Output activations at batch {profile.batch_size}: "
        f"{human_bytes(profile.activation_bytes)} (sum over all layer outputs)",
    ]
    if profile.uncounted:
        lines.append(f"Uncounted (no MAC formula, counted as 0): {', '.join(profile.uncounted)}")
    return lines


def plain_table(profile) -> str:
    """The per-layer table and the totals as plain text (no colours, fixed-width columns)."""
    body = [_cells(row) for row in profile.layers]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(HEADERS)]

    def line(cells):
        return "  ".join(
            c.rjust(w) if i in _RIGHT else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "-" * len(line(HEADERS))
    return "\n".join([line(HEADERS), rule, *map(line, body), rule, *totals_lines(profile)])


def rich_table(profile):
    """The per-layer table as a ``rich.table.Table`` with the totals as its caption."""
    from rich.table import Table

    table = Table(title=f"{profile.name}", caption="\n".join(totals_lines(profile)))
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="right" if i in _RIGHT else "left")
    for row in profile.layers:
        table.add_row(*_cells(row), style=None if row["counted"] else "yellow")
    return table
