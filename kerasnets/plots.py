"""Matplotlib figures shared by the tour, the CLI and the experiments.

Figures are returned, not shown; save them with :func:`kerasnets.io.save_figure`. The Agg
backend is selected when no display is configured, so everything works headless.

Example:
    >>> fig = training_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
    ...                        "accuracy": [0.6, 0.8], "val_accuracy": [0.55, 0.75]})
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['loss', 'accuracy']
"""

from __future__ import annotations

import os

import matplotlib

if not os.environ.get("DISPLAY") and "MPLBACKEND" not in os.environ:
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def training_curves(history: dict, title: str | None = None):
    """Loss and accuracy per epoch, training and validation, from a Keras ``History.history``.

    One panel per metric (``loss`` and any other metric that has values); the validation
    curve (``val_<metric>``) is drawn dashed next to the training one.
    """
    metrics = [k for k in history if not k.startswith("val_") and len(history[k]) > 0]
    if not metrics:
        raise ValueError("training_curves needs a history with at least one metric")
    metrics.sort(key=lambda k: (k != "loss", k))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        values = history[metric]
        epochs = range(1, len(values) + 1)
        ax.plot(epochs, values, marker="o", label="train")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", ls="--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
