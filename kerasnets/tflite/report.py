"""The comparison table of hands-on project 3: float Keras model vs each exported variant.

Each row is a dict with ``variant``, ``params``, ``nonzero_params``, ``macs``, ``bytes``,
``gzip_bytes``, ``latency_ms_1`` / ``latency_ms_n`` (batch 1, 1 and N threads), ``accuracy``,
``max_abs_diff`` and ``top1_agreement`` (against the float Keras model). :func:`markdown` renders
them, :func:`write_report` writes ``report.md``, ``report.json`` and ``accuracy_vs_size.png``.

Example:
    >>> rows = [{"variant": "keras float32", "params": 1000, "bytes": 9000, "accuracy": 0.95}]
    >>> print(markdown(rows).splitlines()[2])
    | keras float32 | 1,000 | – | – | 8.8 KB | – | – | – | 95.00% | – | – |
"""

from __future__ import annotations

from pathlib import Path

COLUMNS = (
    ("variant", "variant"),
    ("params", "params"),
    ("nonzero_params", "nonzero"),
    ("macs", "MACs"),
    ("bytes", "size"),
    ("gzip_bytes", "gzip"),
    ("latency_ms_1", "ms (1 thr)"),
    ("latency_ms_n", "ms (N thr)"),
    ("accuracy", "accuracy"),
    ("max_abs_diff", "max abs diff"),
    ("top1_agreement", "top-1 agree"),
)


def _bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _cell(key, value):
    if value is None:
        return "–"
    if key in ("bytes", "gzip_bytes"):
        return _bytes(value)
    if key in ("params", "nonzero_params", "macs"):
        return f"{value:,}"
    if key.startswith("latency"):
        return f"{value:.3f}"
    if key in ("accuracy", "top1_agreement"):
        return f"{100 * value:.2f}%"
    if key == "max_abs_diff":
        return f"{value:.2e}"
    return str(value)


def markdown(rows) -> str:
    """The rows as a Markdown table (sizes in KB, accuracy in %, latency in ms)."""
    lines = [
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(k, row.get(k)) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def plot(rows, title="accuracy vs size"):
    """A matplotlib figure: test accuracy (%) against file size (KB, log scale).

    One colour per variant, in a legend beside the axes (names are long and sizes cluster, so
    labels written next to the points overprint each other); a filled circle is the raw file,
    a cross the same file gzip-compressed, joined by a thin line.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(7.5, 4))
    colours = plt.get_cmap("tab10")
    shown = [row for row in rows if row.get("accuracy") is not None and row.get("bytes")]
    for i, row in enumerate(shown):
        colour = colours(i % 10)
        acc = 100 * row["accuracy"]
        sizes = [row["bytes"] / 1024]
        ax.scatter(sizes[0], acc, marker="o", s=40, color=colour, label=row["variant"], zorder=3)
        if row.get("gzip_bytes"):
            sizes.append(row["gzip_bytes"] / 1024)
            ax.scatter(sizes[1], acc, marker="x", s=40, color=colour, zorder=3)
            ax.plot(sizes, [acc, acc], color=colour, linewidth=0.8, alpha=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("file size (KB, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    accuracies = [100 * row["accuracy"] for row in shown]
    if accuracies:
        low, high = min(accuracies), max(accuracies)
        pad = max(0.5, 0.1 * (high - low))
        ax.set_ylim(low - pad, min(100.0, high + pad) + (0.2 if high >= 100 else 0))
    ticks = FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(ticks)
    ax.xaxis.set_minor_formatter(ticks)
    ax.tick_params(axis="x", which="both", labelsize=8)
    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], linestyle="", label=""),
        Line2D([], [], marker="o", linestyle="", color="grey", label="size (file; Keras: weights)"),
        Line2D([], [], marker="x", linestyle="", color="grey", label="gzip -9 of it"),
    ]
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False
    )
    fig.tight_layout()
    return fig


def write_report(rows, directory, meta: dict | None = None) -> dict:
    """Write ``report.md``, ``report.json`` and ``accuracy_vs_size.png``; return their paths."""
    from kerasnets.io import save_figure, write_json, write_text

    directory = Path(directory)
    meta = meta or {}
    header = "# TFLite export report\n\n"
    if meta:
        header += "\n".join(f"- {k}: {v}" for k, v in meta.items() if not isinstance(v, dict))
        header += "\n\n"
    paths = {
        "markdown": write_text(directory / "report.md", header + markdown(rows) + "\n"),
        "json": write_json(directory / "report.json", {**meta, "rows": rows}),
    }
    if any(row.get("accuracy") is not None for row in rows):
        paths["plot"] = save_figure(plot(rows), directory / "accuracy_vs_size.png")
    return {k: str(v) for k, v in paths.items()}
