"""Figures with error bars for experiment reports (mean ± std across seeds).

Every helper takes aggregated values (``{"mean": ..., "std": ...}`` from
:func:`kerasnets.experiments._core.aggregate`), draws error bars, and labels both axes.
"""

from __future__ import annotations

import numpy as np


def new_figure(ncols=1, nrows=1, width=6.0, height=4.0, sharey=False):
    """A matplotlib ``Figure`` (no pyplot window, any matplotlib backend) and its axes.

    ``sharey=True`` gives every panel one y scale (for panels that compare models).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey)
    if sharey:
        for ax in axes.ravel():
            ax.yaxis.set_tick_params(labelleft=True)
    return fig, axes.ravel()


def figure_legend(fig, ax, title=None):
    """One legend for the whole figure, right of the panels (it covers no data)."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, title=title)


def share_y(*axes):
    """Give ``axes`` one y range (the union of their ranges)."""
    low = min(ax.get_ylim()[0] for ax in axes)
    high = max(ax.get_ylim()[1] for ax in axes)
    for ax in axes:
        ax.set_ylim(low, high)


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def curves(ax, series: dict, xlabel: str, ylabel: str, title: str, log=False, legend=True):
    """One line per entry of ``series`` (label → ``{"mean": [...], "std": [...]}``) vs epoch."""
    for i, (label, agg) in enumerate(series.items()):
        mean, std = _arr(agg["mean"]), _arr(agg["std"])
        x = np.arange(1, len(mean) + 1)
        every = max(1, len(x) // 10)
        ax.errorbar(
            x,
            mean,
            yerr=std,
            label=label,
            color=f"C{i % 10}",
            linestyle="-" if i < 10 else "--",
            marker="o",
            markersize=3,
            capsize=3,
            errorevery=(i % every, every),
            linewidth=1.5,
        )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8)


def bars(ax, labels, means, stds, ylabel: str, title: str, log=False, fmt="{:.3f}"):
    """A bar per label with a ± std error bar and the mean written above it."""
    means, stds = _arr(means), _arr(stds)
    x = np.arange(len(labels))
    colors = [f"C{i % 10}" for i in range(len(labels))]
    ok = ~np.isnan(means)
    stds = np.nan_to_num(stds)
    ax.bar(x[ok], means[ok], yerr=stds[ok], capsize=4, color=np.array(colors)[ok], alpha=0.85)
    for xi, m, s in zip(x, means, stds):
        if np.isnan(m):
            ax.annotate("n/a", (xi, 0), ha="center", va="bottom", fontsize=7, color="grey")
        else:
            ax.annotate(
                fmt.format(m),
                (xi, m + s),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_xlabel("variant")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3, axis="y")


def per_layer(
    ax, layer_names, series: dict, ylabel: str, title: str, log=False, legend=True, index=False
):
    """One line per entry of ``series`` across the layers named on the x axis (input → output).

    ``index=True`` numbers the layers 1, 2, ... instead of naming them (for deep networks,
    whose names would overprint).
    """
    x = np.arange(len(layer_names))
    for i, (label, agg) in enumerate(series.items()):
        mean, std = _arr(agg["mean"]), _arr(agg["std"])
        if log:
            # keep the lower bar on a log axis
            lower = np.minimum(std, mean * 0.999)
            yerr = np.vstack([lower, std])
        else:
            yerr = std
        ax.errorbar(
            x[: len(mean)],
            mean,
            yerr=yerr,
            label=label,
            color=f"C{i % 10}",
            linestyle="-" if i < 10 else "--",
            marker="o",
            markersize=3,
            capsize=3,
        )
    if index:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v) + 1}"))
        ax.set_xlabel("weight layer number (input → output)")
    else:
        ax.set_xticks(x)
        ax.set_xticklabels(layer_names, rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("layer (input → output)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8)


def scatter(
    ax, points: dict, xkey: str, ykey: str, xlabel: str, ylabel: str, title: str, logx=False
):
    """One point per label with error bars in both directions (``points[label][key]`` agg)."""
    for i, (label, p) in enumerate(points.items()):
        xm, xs = p[xkey]["mean"], p[xkey]["std"] or 0.0
        ym, ys = p[ykey]["mean"], p[ykey]["std"] or 0.0
        if xm is None or ym is None:
            continue
        ax.errorbar(
            [xm],
            [ym],
            xerr=[xs],
            yerr=[ys],
            fmt="o",
            capsize=4,
            color=f"C{i % 10}",
            label=label,
            markersize=7,
        )
        ax.annotate(label, (xm, ym), xytext=(5, 5), textcoords="offset points", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logx:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def compact_number(value: float) -> str:
    """A short tick label: ``50k``, ``2.5M``, ``0.05``.

    Example:
        >>> [compact_number(v) for v in (63706, 2.5e6, 0.05, 20)]
        ['63.7k', '2.5M', '0.05', '20']
    """
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def log_ticks(ax) -> None:
    """Readable labels on a log x axis whatever its range: 1-2-5 ticks over more than a factor
    of 4, every integer multiple below that (matplotlib labels only powers of ten, so a narrow
    range such as 0.1-0.3 ms would show no number at all), short labels, no minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    lo, hi = ax.get_xlim()
    subs = (1.0, 2.0, 5.0) if hi / max(lo, 1e-300) > 4 else tuple(float(i) for i in range(1, 10))
    ax.xaxis.set_major_locator(LogLocator(subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: compact_number(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def table(header, rows) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def pm(agg, fmt="{:.3f}") -> str:
    """``mean ± std`` text of an aggregated number (``–`` if there is none)."""
    if not isinstance(agg, dict) or agg.get("mean") is None:
        return "–"
    text = fmt.format(agg["mean"])
    if agg.get("std") is not None and agg.get("n", 2) > 1:
        text += " ± " + fmt.format(agg["std"])
    return text
