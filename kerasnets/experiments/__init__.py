"""The lecture's hands-on projects as reproducible experiments with error bars and a report.

| name | project | compares |
|---|---|---|
| ``activations`` | 1 | one 10-hidden-layer MLP with 9 activations (sigmoid ... GELU, Swish) |
| ``resnet-vs-plain`` | 2 | plain vs ResNet at depth 18 and 34; identity/projection/dense skips |
| ``efficient`` | 3 | baseline vs efficient CNN, pruned, and as TFLite int8 |

``run_experiment(name)`` trains every variant with every seed, writes
``runs/<name>-<time>/`` (``config.json``, ``seed-<k>/results.json``, ``summary.json``, PNG
figures with mean ± std error bars, ``report.md``) and returns a dict describing the run. A
killed run continues with ``resume=True``; finished (seed, variant) units are not recomputed.
``KERASNETS_FAST=1`` (or ``fast=True``) shrinks data and epochs so a run takes seconds.

Example:
    >>> from kerasnets.experiments import run_experiment
    >>> run = run_experiment("activations", seeds=1, fast=True, verbose=0)  # doctest: +SKIP
    >>> run["report"]  # doctest: +SKIP
    'runs/activations-20260101-120000/report.md'
"""

from __future__ import annotations

import time
from pathlib import Path

from kerasnets.experiments._core import (
    FAST_ENV,
    Experiment,
    ResumeMismatchError,
    aggregate,
    available,
    fast_mode,
    get,
    make_config,
    run,
)

__all__ = [
    "FAST_ENV",
    "Experiment",
    "ResumeMismatchError",
    "aggregate",
    "available",
    "fast_mode",
    "get",
    "make_config",
    "run_experiment",
    "show",
    "tour_pass",
]


def run_experiment(
    name: str,
    dataset: str = "digits",
    seeds: int = 3,
    epochs: int | None = None,
    out=None,
    resume: bool = False,
    fast: bool | None = None,
    verbose: int = 1,
    on_unit_done=None,
    variants=None,
) -> dict:
    """Run one of the lecture's hands-on projects and write its report.

    Args:
        name: one of :func:`available` (``"activations"``, ``"resnet-vs-plain"``,
            ``"efficient"``).
        dataset: ``"digits"`` (embedded, the default), ``"shapes"``, or ``"mnist"``,
            ``"fashion_mnist"``, ``"cifar10"`` when they are in the Keras cache.
        seeds: how many seeds (0, 1, ..., seeds-1) each variant is trained with.
        epochs: training epochs per run (default: the experiment's, shorter in fast mode).
        out: the run directory (default ``runs/<name>-<YYYYmmdd-HHMMSS>``); it must not exist
            unless ``resume`` is true.
        resume: continue the run in ``out``: units whose result file exists are read back,
            not recomputed. The directory's ``config.json`` must match this request.
        fast: shrink data and epochs (also on with ``KERASNETS_FAST=1``).
        verbose: 0 silent, 1 one progress line (stderr) per tuned variant and per finished
            unit, 2 also the Keras epoch bars.
        on_unit_done: optional ``f(seed, variant, result)`` called after each unit is saved.
        variants: run only these variants (a list or comma-separated names; default all).

    Returns:
        ``{"run_dir", "report", "figures", "config", "summary", "computed_units",
        "resumed_units"}``; ``summary`` maps each variant to mean ± std over seeds.

    Raises:
        ValueError: unknown experiment or dataset, seeds/epochs < 1, ``resume`` without
            ``out`` or on a directory made with another configuration — before any work.
        FileExistsError: ``out`` exists and ``resume`` is false.
    """
    return run(name, dataset, seeds, epochs, out, resume, fast, verbose, on_unit_done, variants)


def tour_pass(out_dir, seeds: int = 1, fast: bool = True, verbose: int = 1) -> dict:
    """All three experiments on digits with one seed: the experiments part of ``kerasnets tour``.

    Writes ``<out_dir>/<experiment>/`` for each experiment and returns
    ``{name: {"report", "seconds", "summary"}}``.
    """
    out_dir = Path(out_dir)
    done = {}
    for name in available():
        start = time.time()
        run_info = run_experiment(
            name, "digits", seeds=seeds, out=out_dir / name, fast=fast, verbose=verbose
        )
        done[name] = {
            "report": run_info["report"],
            "seconds": round(time.time() - start, 1),
            "summary": run_info["summary"],
        }
    return done


def show(run_or_path, names=None) -> list[str]:
    """Display a run's figures inline in Jupyter; elsewhere print their paths.

    Args:
        run_or_path: the dict :func:`run_experiment` returns, a run directory, or one PNG.
        names: figure file names to show (default: all the run's figures).

    Returns the paths shown.
    """
    path = Path(run_or_path["run_dir"] if isinstance(run_or_path, dict) else run_or_path)
    if path.is_dir():
        paths = [path / n for n in (names or sorted(p.name for p in path.glob("*.png")))]
    else:
        paths = [path]
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    for p in paths:
        if shell is not None and getattr(shell, "kernel", None) is not None:
            from IPython.display import Image, display

            display(Image(filename=str(p)))
        else:
            print(f"figure: {p}")
    return [str(p) for p in paths]
