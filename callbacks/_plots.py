"""Matplotlib figures of the monitors' histories. Figures are returned, never shown."""

from __future__ import annotations

import math
import os

import numpy as np


def _pyplot():
    import matplotlib

    if not os.environ.get("DISPLAY") and "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _require_checks(monitor):
    if not monitor.checks["epoch"]:
        raise ValueError(
            f"{type(monitor).__name__} has no checks to plot yet; pass it to model.fit first"
        )


def _x_label(monitor):
    if all(b is None for b in monitor.checks["batch"]):
        return "epoch (0 = initial weights)"
    return "epoch:batch (0 = initial weights)"


def _layer_height(n_layers):
    return max(3.0, 0.28 * n_layers + 1.5)


def gradient_flow_figure(monitor, title=None):
    """Heatmap of log10 gradient norm (layers x checks) and norm-vs-depth profiles."""
    from matplotlib.colors import LogNorm

    _require_checks(monitor)
    plt = _pyplot()
    layers = list(monitor.history)
    labels = monitor.check_labels()
    norms = np.array([monitor.history[n]["grad_norm"] for n in layers], dtype=float)
    positive = norms[np.isfinite(norms) & (norms > 0)]
    fig, (heat, profile) = plt.subplots(
        1, 2, figsize=(11, _layer_height(len(layers))), gridspec_kw={"width_ratios": [1.2, 1]}
    )
    norm = LogNorm(positive.min(), positive.max()) if positive.size else None
    image = heat.imshow(
        np.where(norms > 0, norms, np.nan), aspect="auto", cmap="viridis", norm=norm
    )
    heat.set_yticks(range(len(layers)), layers, fontsize=8)
    step = max(1, len(labels) // 12)
    heat.set_xticks(range(0, len(labels), step), labels[::step])
    heat.set_xlabel(_x_label(monitor))
    heat.set_ylabel("layer (input at top)")
    heat.set_title("gradient L2 norm per layer")
    fig.colorbar(image, ax=heat, label="gradient L2 norm (log scale)")
    depth = np.arange(len(layers))
    shown = sorted({0, len(labels) - 1})
    for i in shown:
        profile.plot(depth, norms[:, i], marker="o", label=f"epoch {labels[i]}")
    profile.set_yscale("log")
    profile.set_xticks(depth, layers, rotation=60, ha="right", fontsize=8)
    profile.set_xlabel("layer (input → output)")
    profile.set_ylabel("gradient L2 norm (log scale)")
    profile.set_title("gradient norm vs depth")
    profile.grid(alpha=0.3, which="both")
    profile.legend()
    fig.suptitle(title or "Gradient flow")
    fig.tight_layout()
    return fig


def dead_share_figure(monitor, title=None):
    """Dead-unit share (%) per layer over the checks, with the warning threshold."""
    _require_checks(monitor)
    plt = _pyplot()
    layers = list(monitor.history)
    labels = monitor.check_labels()
    fig, (lines, bars) = plt.subplots(
        1, 2, figsize=(12, max(3.5, 0.22 * len(layers) + 2)), gridspec_kw={"width_ratios": [1.4, 1]}
    )
    x = np.arange(len(labels))
    for name in layers:
        lines.plot(
            x, 100 * np.asarray(monitor.history[name]["dead_unit_fraction"]), marker="o", label=name
        )
    lines.axhline(100 * monitor.threshold, color="red", ls="--", label="warning threshold")
    step = max(1, len(labels) // 12)
    lines.set_xticks(x[::step], labels[::step])
    lines.set_xlabel(_x_label(monitor))
    lines.set_ylabel("dead units (% of the layer)")
    lines.set_ylim(-2, 102)
    lines.set_title("dead units per layer over training")
    lines.grid(alpha=0.3)
    lines.legend(fontsize=7, loc="best", ncol=1 if len(layers) < 12 else 2)
    last = [100 * monitor.history[n]["dead_unit_fraction"][-1] for n in layers]
    colors = ["tab:red" if v > 100 * monitor.threshold else "tab:blue" for v in last]
    bars.barh(range(len(layers)), last, color=colors)
    bars.set_yticks(range(len(layers)), layers, fontsize=8)
    bars.invert_yaxis()
    bars.axvline(100 * monitor.threshold, color="red", ls="--")
    bars.set_xlim(0, 100)
    bars.set_xlabel("dead units (% of the layer)")
    bars.set_ylabel("layer (input at top)")
    bars.set_title(f"at epoch {labels[-1]}")
    fig.suptitle(title or "Dead units (output 0 on every probe sample)")
    fig.tight_layout()
    return fig


def activation_histograms_figure(monitor, check=-1, title=None):
    """One histogram panel per layer at one check, titled with its statistics."""
    _require_checks(monitor)
    layers = list(monitor.history)
    if not monitor.histogram_bins:
        raise ValueError("ActivationStatsMonitor(histogram_bins=0) recorded no histograms")
    n_checks = len(monitor.checks["epoch"])
    if not -n_checks <= check < n_checks:
        raise ValueError(f"check must be in [{-n_checks}, {n_checks - 1}], got {check}")
    plt = _pyplot()
    cols = min(4, len(layers))
    rows = math.ceil(len(layers) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, layers):
        h = monitor.history[name]
        counts, edges = np.asarray(h["histogram_counts"][check]), h["histogram_edges"][check]
        ax.stairs(counts, edges, fill=True, alpha=0.7)
        if counts.max(initial=0) > 0:
            ax.set_yscale("log")
            ax.set_ylim(bottom=0.8)
        ax.set_title(
            f"{name}\nmean {h['mean'][check]:.3g}, std {h['std'][check]:.3g}, "
            f"zeros {h['sparsity'][check]:.0%}",
            fontsize=8,
        )
        ax.set_xlabel("activation value")
        ax.set_ylabel("count (log)")
    for ax in list(axes.flat)[len(layers) :]:
        ax.set_visible(False)
    fig.suptitle(title or f"Activations at epoch {monitor.check_labels()[check]}")
    fig.tight_layout()
    return fig


def explosion_figure(monitor, title=None):
    """Global probe gradient norm per check with the threshold and the recorded events."""
    _require_checks(monitor)
    plt = _pyplot()
    labels = monitor.check_labels()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(labels))
    ax.plot(x, monitor.summary["explosion_grad_norm"], marker="o", label="gradient norm")
    ax.axhline(monitor.max_grad_norm, color="red", ls="--", label="threshold")
    ax.set_yscale("log")
    step = max(1, len(labels) // 12)
    ax.set_xticks(x[::step], labels[::step])
    ax.set_xlabel(_x_label(monitor))
    ax.set_ylabel("global gradient L2 norm (log)")
    if monitor.events:
        first = monitor.events[0]
        where = f" at layer {first['layer']!r}" if first["layer"] else ""
        ax.text(
            0.02,
            0.95,
            f"first sign: {first['kind']} at step {first['step']}{where}",
            transform=ax.transAxes,
            fontsize=8,
            va="top",
        )
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title or f"Exploding-gradient watch ({len(monitor.events)} signs)")
    fig.tight_layout()
    return fig
