"""The lecture's hands-on projects as reproducible experiments with error bars and a report.

| name | project | compares |
|---|---|---|
| ``activations`` | 1 | a 10-hidden-layer MLP with 9 activations, each at its own swept rate |
| ``resnet-vs-plain`` | 2 | plain vs ResNet at depth 18 and 34; identity/projection/dense skips |
| ``efficient`` | 3 | baseline → depthwise-separable → bottleneck CNN, each as float32/int8 TFLite |

``run_experiment(name)`` trains every variant with every seed, writes
``runs/<name>-<time>/`` (``config.json``, ``seed-<k>/results.json``, ``summary.json``, PNG
figures with mean ± std error bars, ``report.md`` whose findings are generated from the
numbers) and returns a dict describing the run. A killed run continues with ``resume=True``;
finished (seed, variant) units — and an experiment's tuning (``tuning/<variant>.json``) — are
not recomputed. ``TOUR`` holds the short versions that ``kerasnets tour`` runs.
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
    overrides=None,
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
        overrides: replace some of the experiment's settings (existing keys only), e.g.
            ``{"sweep_epochs": 2}``; they are part of ``config.json``.

    Returns:
        ``{"run_dir", "report", "figures", "config", "summary", "computed_units",
        "resumed_units"}``; ``summary`` maps each variant to mean ± std over seeds.

    Raises:
        ValueError: unknown experiment or dataset, seeds/epochs < 1, ``resume`` without
            ``out`` or on a directory made with another configuration — before any work.
        FileExistsError: ``out`` exists and ``resume`` is false.
    """
    return run(
        name, dataset, seeds, epochs, out, resume, fast, verbose, on_unit_done, variants, overrides
    )


# The tour's short versions: the variants and settings that show each project's lesson in
# about a minute on TensorFlow on a 2-core CPU (one seed; the full runs use `kerasnets run`).
TOUR = {
    "activations": {
        "variants": ["sigmoid", "relu", "selu"],
        "epochs": 8,
        "overrides": {"lr_grid": [0.003, 0.01], "sweep_epochs": 2, "probe_size": 256},
    },
    "resnet-vs-plain": {
        "variants": ["plain-34", "resnet-34"],
        "epochs": 4,
        "overrides": {"width": 8, "probe_size": 128},
    },
    "efficient": {
        "variants": ["baseline", "efficient"],
        "epochs": 10,
        "overrides": {"latency_runs": 50, "calibration_samples": 100},
    },
}


def tour_pass(out_dir, seeds: int = 1, fast: bool = False, verbose: int = 1, say=None) -> dict:
    """The experiments step of ``kerasnets tour``: each project's short version on digits.

    Runs :data:`TOUR` (the variants that show each lesson, shorter training, one seed) — or,
    with ``fast``, fast mode with the same variants — writes ``<out_dir>/<experiment>/`` and
    returns ``{name: {"report", "seconds", "summary", "lesson"}}``. ``say(text)`` receives one
    line per finished unit (default: print to stderr when ``verbose``).
    """
    import sys

    if say is None:

        def say(text):
            if verbose:
                print(text, file=sys.stderr, flush=True)

    out_dir = Path(out_dir)
    done = {}
    for name in available():
        preset = TOUR[name]
        start = time.time()
        experiment = get(name)

        def unit_done(seed, variant, result, name=name, experiment=experiment):
            say(
                f"    {name}: {variant} in {result['seconds']:.1f} s, {experiment.headline(result)}"
            )

        run_info = run_experiment(
            name,
            "digits",
            seeds=seeds,
            epochs=None if fast else preset["epochs"],
            out=out_dir / name,
            fast=fast,
            verbose=0,
            on_unit_done=unit_done,
            variants=preset["variants"],
            overrides=None if fast else preset["overrides"],
        )
        done[name] = {
            "report": run_info["report"],
            "seconds": round(time.time() - start, 1),
            "summary": run_info["summary"],
            "lesson": lesson(name, run_info["summary"]),
        }
    return done


def lesson(name: str, summary: dict) -> str:
    """One line with the numbers that carry an experiment's lesson (for the tour).

    Example:
        >>> acc = lambda m: {"test_accuracy": {"mean": m, "std": 0.0, "n": 1}}
        >>> lesson("activations", {"sigmoid": acc(0.1), "relu": acc(0.93)})
        'test accuracy at depth 10: sigmoid 0.100, relu 0.930'
    """
    if name == "activations":
        return "test accuracy at depth 10: " + ", ".join(
            f"{v} {s['test_accuracy']['mean']:.3f}" for v, s in summary.items()
        )
    if name == "resnet-vs-plain":
        return "training loss after the last epoch: " + ", ".join(
            f"{v} {s['final_train_loss']['mean']:.3g}" for v, s in summary.items()
        )
    parts = []
    base = summary.get("baseline")
    for v, s in summary.items():
        acc = s["forms"]["keras"]["accuracy"]["mean"]
        text = f"{v} accuracy {acc:.3f}, {s['params']['mean']:,.0f} params"
        if base is not None and v != "baseline":
            text += (
                f" ({s['params']['mean'] / base['params']['mean']:.2f}× the baseline's, "
                f"{s['macs']['mean'] / base['macs']['mean']:.2f}× its MACs)"
            )
        parts.append(text)
    return "; ".join(parts)


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
