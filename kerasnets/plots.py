"""Matplotlib figures shared by the tour, the CLI and the experiments.

Figures are returned, not shown; save them with :func:`kerasnets.io.save_figure`. The Agg
backend is selected when no display is configured, so everything works headless.

The tutorials show their results with :func:`show_table`, :func:`show_markdown` and
:func:`show_figure`: rendered inline in a Jupyter notebook (an IPython kernel is running), and
as Markdown text on stdout and PNG files (whose paths are printed) when run as a script, which
never imports IPython.

Example:
    >>> fig = training_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
    ...                        "accuracy": [0.6, 0.8], "val_accuracy": [0.55, 0.75]})
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['loss', 'accuracy']
"""

from __future__ import annotations

import numbers
import os
import re
import sys
from pathlib import Path

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


# --- Tables and figures for the tutorials: inline in a notebook, text and files in a script ---

_NUM = r"[-+−]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:e[-+−]?\d+)?"
_NUMBER = re.compile(rf"{_NUM}(?:\s*±\s*{_NUM})?\s*(?:%|×|x|ms|s|MB)?", re.IGNORECASE)
_MISSING = {"", "-", "–", "—", "nan", "n/a"}


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (Jupyter, JupyterLab, Colab, nbclient).

    True only when an IPython *kernel* is running: a plain script, the ``python`` prompt and
    terminal IPython are not notebooks. IPython is never imported here; if nothing has imported
    it, this is not a notebook.

    Example:
        >>> in_notebook()  # a doctest is no notebook
        False
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # a broken or partial IPython install: not a kernel we can display in
        return False
    return getattr(shell, "kernel", None) is not None


def _cell(value) -> str:
    if value is None:
        text = ""
    elif isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        text = f"{value:.4g}"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _numeric(column) -> bool:
    """Whether a column's cells are all numbers (missing values aside), and one at least."""
    present = [c.strip() for c in column if c.strip().lower() not in _MISSING]
    return bool(present) and all(_NUMBER.fullmatch(c) for c in present)


def markdown_table(rows, headers, align=None) -> str:
    """A Markdown (GitHub) table of ``rows`` under ``headers``, as text.

    Args:
        rows: sequences of cells, one per row, as long as ``headers``. A string is used as is
            (format numbers yourself for a fixed number of digits); a float is written with 4
            significant digits, ``None`` as an empty cell, anything else with ``str``. ``|``
            in a cell is escaped.
        headers: the column titles.
        align: one letter per column, ``"l"``, ``"r"`` or ``"c"`` (e.g. ``"lrr"``); by default
            columns whose cells are all numbers (``1,024``, ``0.97 ± 0.01``, ``12%``, ``3.1 ms``;
            empty, ``–`` and ``nan`` cells aside) are right-aligned, the others left-aligned.

    Raises:
        ValueError: a row or ``align`` whose length is not the number of headers.

    Example:
        >>> print(markdown_table([("relu", 0.9712), ("sigmoid", "0.10")], ["activation", "acc."]))
        | activation | acc. |
        | --- | ---: |
        | relu | 0.9712 |
        | sigmoid | 0.10 |
    """
    headers = [_cell(h) for h in headers]
    cells = [[_cell(c) for c in row] for row in rows]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"a row has {len(row)} cells for {len(headers)} headers: {row}")
    if align is None:
        align = "".join("r" if _numeric(col) else "l" for col in zip(*cells)) or "l" * len(headers)
    if len(align) != len(headers) or set(align) - set("lrc"):
        raise ValueError(f"align needs one of l, r, c per column ({len(headers)}): {align!r}")
    rule = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule[a] for a in align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def show_markdown(text: str) -> None:
    """Show Markdown text: rendered in a notebook (``IPython.display.Markdown``), printed as is
    in a script (Markdown reads well as plain text too).

    Example:
        >>> show_markdown("**Recommendations**: use ReLU with He initialization.")
        **Recommendations**: use ReLU with He initialization.
    """
    if in_notebook():
        from IPython.display import Markdown, display

        display(Markdown(text))
    else:
        print(text, flush=True)


def show_table(rows, headers, align=None) -> None:
    """Show a table: :func:`markdown_table` of ``rows`` and ``headers``, then
    :func:`show_markdown` (a rendered table in a notebook, the Markdown text in a script).

    Example:
        >>> show_table([("standard 3×3", "73,728"), ("1×1", "8,192")], ["layer", "params"])
        | layer | params |
        | --- | ---: |
        | standard 3×3 | 73,728 |
        | 1×1 | 8,192 |
    """
    show_markdown(markdown_table(rows, headers, align))


def figure_dir() -> Path:
    """Where :func:`show_figure` saves figures outside a notebook.

    ``$KERASNETS_FIGURES`` if set; else ``figures/`` next to the running script (for
    ``python tutorials/01_....py``: ``tutorials/figures/``); else ``figures/`` in the current
    directory (an interactive prompt has no script).

    Example:
        >>> os.environ["KERASNETS_FIGURES"] = "/tmp/my-figures"
        >>> str(figure_dir())
        '/tmp/my-figures'
        >>> del os.environ["KERASNETS_FIGURES"]
    """
    if os.environ.get("KERASNETS_FIGURES"):
        return Path(os.environ["KERASNETS_FIGURES"])
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    base = Path(script).resolve().parent if script else Path.cwd()
    return base / "figures"


def _interactive_backend() -> bool:
    backend = matplotlib.get_backend().lower()
    try:
        from matplotlib.backends import BackendFilter, backend_registry

        interactive = backend_registry.list_builtin(BackendFilter.INTERACTIVE)
    except ImportError:  # matplotlib < 3.9
        interactive = [b.lower() for b in matplotlib.rcsetup.interactive_bk]
    return backend in interactive


def show_figure(fig, name: str, directory=None) -> Path | None:
    """Show a matplotlib figure inline in a notebook; in a script, save it as a PNG and say where.

    In a notebook the figure is displayed (and closed, so that it is not shown twice) and
    nothing is written. Elsewhere it is saved to ``directory / (name + ".png")`` (default
    :func:`figure_dir`, e.g. ``tutorials/figures/``), the line ``saved figure: PATH`` is
    printed, the figure is shown in a window if matplotlib has an interactive backend (a
    desktop session), and it is closed.

    Args:
        fig: the ``matplotlib.figure.Figure``.
        name: the file name, without or with ``.png`` (``"01_sigmoid_derivative"``).
        directory: where to save it (created if needed); default :func:`figure_dir`.

    Returns the saved file's path, or ``None`` in a notebook.

    Example:
        >>> import tempfile
        >>> fig, ax = plt.subplots()
        >>> _ = ax.plot([0, 1], [1, 0])
        >>> path = show_figure(fig, "example", directory=tempfile.mkdtemp())  # doctest: +ELLIPSIS
        saved figure: .../example.png
        >>> path.name, path.stat().st_size > 0
        ('example.png', True)
    """
    if in_notebook():
        from IPython.display import display

        display(fig)
        plt.close(fig)
        return None
    from kerasnets.io import atomic_path

    path = Path(directory if directory is not None else figure_dir())
    path = path / (name if name.endswith(".png") else f"{name}.png")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    print(f"saved figure: {path}", flush=True)
    if _interactive_backend():
        plt.show()
    plt.close(fig)
    return path
