"""The experiment runner: seeds × variants, one atomic result file per unit, resume, report.

An :class:`Experiment` says which variants it compares, how to run one variant with one seed
(returning a JSON-able dict), and how to turn the results of all seeds into figures and a
``report.md``. :func:`run` does everything else the same way for every experiment:

- validates the request before any work or any file write;
- creates ``runs/<experiment>-<time>/`` with ``config.json``;
- runs every (seed, variant) unit and writes ``seed-<k>/<variant>.json`` atomically as soon as it
  finishes, then ``seed-<k>/results.json`` when all variants of the seed are done;
- with ``resume=True`` skips every unit whose file exists, after checking that the directory was
  made with the same configuration;
- aggregates across seeds (mean ± std) into ``summary.json``, draws the figures and writes
  ``report.md``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from kerasnets import _quiet, io

FAST_ENV = "KERASNETS_FAST"

_REGISTRY: dict[str, type[Experiment]] = {}


class ResumeMismatchError(ValueError):
    """``resume=True`` on a directory that was made with a different configuration."""


def fast_mode(fast: bool | None = None) -> bool:
    """True if ``fast`` is true or the ``KERASNETS_FAST`` environment variable is set (``1``).

    Fast mode shrinks data and epochs so that experiments and tutorials finish in seconds (for
    tests and CI); its numbers show that the code runs, not what the lecture claims.
    """
    if fast:
        return True
    return os.environ.get(FAST_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def register(cls):
    """Class decorator: add an :class:`Experiment` subclass to the registry under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Names of the registered experiments, in the lecture's order."""
    _load_all()
    order = ("activations", "resnet-vs-plain", "efficient")
    return sorted(_REGISTRY, key=lambda n: (order.index(n) if n in order else len(order), n))


def get(name: str) -> Experiment:
    """Return a new instance of experiment ``name``; ``ValueError`` if there is none."""
    names = available()
    if name not in _REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(names)}")
    return _REGISTRY[name]()


def _load_all():
    # Import the experiment modules (they register themselves) in the lecture's order.
    import importlib

    for module in ("activations", "resnet_vs_plain", "efficient"):
        importlib.import_module(f"kerasnets.experiments.{module}")


class Experiment:
    """One of the lecture's hands-on projects as a reproducible experiment.

    Subclasses set ``name``, ``title`` and ``datasets`` and implement :meth:`settings`,
    :meth:`variants`, :meth:`load_data`, :meth:`run_unit` and :meth:`report`.
    """

    name = ""
    title = ""
    datasets: tuple[str, ...] = ()

    def settings(self, dataset: str, epochs: int | None, fast: bool) -> dict:
        """Experiment-specific configuration (JSON-able); part of ``config.json``."""
        raise NotImplementedError

    def variants(self, settings: dict) -> list[str]:
        """The names of the variants compared, in the order they are run and plotted."""
        raise NotImplementedError

    def load_data(self, config: dict):
        """Load the data once for all units (called before the run directory is made)."""
        raise NotImplementedError

    def run_unit(self, variant: str, seed: int, config: dict, data, verbose: int) -> dict:
        """Train/measure ``variant`` with ``seed``; return a JSON-able dict of results."""
        raise NotImplementedError

    def tune(self, variant: str, config: dict, data, verbose: int) -> dict | None:
        """Choose hyperparameters for ``variant`` once, before the seeds (default: none).

        Returns a JSON-able dict (e.g. a learning-rate sweep and its choice) that the runner
        saves as ``tuning/<variant>.json`` (read back on resume) and hands to :meth:`run_unit`
        and :meth:`report` as ``self.tuned[variant]``; None when there is nothing to tune.
        """
        return None

    def finish(self, config: dict, results: dict, data, verbose: int) -> dict | None:
        """Measure across all units after they are done (default: nothing).

        For comparisons that must be timed side by side (latency ratios under the same
        machine load). The dict is saved as ``final.json`` and given to :meth:`report` as
        ``self.final``.
        """
        return None

    def headline(self, result: dict) -> str:
        """A few words on a finished unit for its progress line (default: nothing)."""
        return ""

    def report(self, config: dict, results: dict, summary: dict, run_dir: Path) -> str:
        """Write the figures into ``run_dir`` and return the markdown body of ``report.md``.

        ``results`` maps seed → variant → unit dict; ``summary`` maps variant → aggregated
        dict (see :func:`aggregate`).
        """
        raise NotImplementedError


def _check_count(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer (1, 2, ...), got {value!r}")
    return int(value)


def make_config(
    name: str,
    dataset: str = "digits",
    seeds: int = 3,
    epochs: int | None = None,
    fast=None,
    variants=None,
    overrides=None,
) -> tuple[Experiment, dict]:
    """Validate a request and return ``(experiment, config)``; no work, no file written.

    ``overrides`` replaces some of the experiment's settings (only existing keys), e.g. the
    tour's shorter ``{"lr_grid": [0.01, 0.03], "sweep_epochs": 2}``.
    """
    import keras

    experiment = get(name)
    if dataset not in experiment.datasets:
        raise ValueError(
            f"unknown dataset {dataset!r} for experiment {name!r}; available: "
            f"{', '.join(experiment.datasets)}"
        )
    seeds = _check_count(seeds, "seeds")
    if epochs is not None:
        epochs = _check_count(epochs, "epochs")
    fast = fast_mode(fast)
    settings = experiment.settings(dataset, epochs, fast)
    if overrides:
        unknown = sorted(set(overrides) - set(settings))
        if unknown:
            raise ValueError(
                f"unknown setting(s) {', '.join(unknown)} for experiment {name!r}; "
                f"available: {', '.join(sorted(settings))}"
            )
        settings.update(overrides)
    all_variants = experiment.variants(settings)
    if variants is not None:
        if isinstance(variants, str):
            variants = [v.strip() for v in variants.split(",") if v.strip()]
        bad = [v for v in variants if v not in all_variants]
        if bad or not variants:
            raise ValueError(
                f"unknown variant(s) {', '.join(map(repr, bad)) or '(none given)'} for "
                f"experiment {name!r}; available: {', '.join(all_variants)}"
            )
        all_variants = [v for v in all_variants if v in variants]
    config = {
        "experiment": name,
        "dataset": dataset,
        "seeds": list(range(seeds)),
        "epochs": settings.pop("epochs"),
        "fast": fast,
        "backend": keras.backend.backend(),
        "variants": all_variants,
        "settings": settings,
    }
    return experiment, config


# Fast mode: 320 training images split 256/64 and 128 test images, so that every batch of 64
# has the same shape (one compiled step per function on JAX, no recompiles for partial batches).
FAST_DATA = {"subset": 320, "test_subset": 128, "validation_split": 0.2, "batch_size": 64}


def load_split(config: dict, flatten: bool = False):
    """``(train, validation, test)`` pairs of the run's dataset, per the run's settings."""
    from kerasnets import data

    s = config["settings"]
    return data.load(
        config["dataset"],
        flatten=flatten,
        size=s.get("size"),
        subset=s["subset"],
        test_subset=s["test_subset"],
        validation_split=s["validation_split"],
        seed=0,
    )


def _default_run_dir(name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path("runs") / f"{name}-{stamp}"
    k = 2
    while path.exists():
        path = Path("runs") / f"{name}-{stamp}-{k}"
        k += 1
    return path


def _normalize(config):
    # Compare configurations as they read back from JSON (tuples become lists, ...).
    import json

    return json.loads(io.to_json(config))


def _prepare_run_dir(config: dict, out, resume: bool) -> Path:
    import json

    if resume:
        if out is None:
            raise ValueError("resume needs the run directory to continue: pass out=DIR (--out DIR)")
        run_dir = Path(out)
        config_path = run_dir / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(
                f"cannot resume: {str(config_path)!r} does not exist (not a run directory)"
            )
        old = json.loads(config_path.read_text())
        new = _normalize(config)
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            details = "; ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in diff)
            raise ResumeMismatchError(
                f"cannot resume {str(run_dir)!r}: it was made with a different configuration "
                f"({details}); rerun with the same options or choose a new --out"
            )
        return run_dir
    run_dir = Path(out) if out is not None else _default_run_dir(config["experiment"])
    if run_dir.exists():
        raise io.RunDirectoryExistsError(
            f"run directory {str(run_dir)!r} already exists; pass resume=True (--resume) to "
            "continue it, or choose another out (--out)"
        )
    return run_dir


def _clean_temporaries(run_dir: Path):
    # A process killed in the middle of an atomic write can leave a hidden temporary file.
    for path in run_dir.rglob(".*"):
        if path.is_file():
            path.unlink()


def _read_unit(path: Path):
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _say(message: str, verbose: int):
    if verbose:
        print(message, file=sys.stderr, flush=True)


def run(
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
    """Run experiment ``name`` and return ``{"run_dir", "config", "summary", "report", ...}``.

    See :func:`kerasnets.experiments.run_experiment` for the arguments. ``on_unit_done(seed,
    variant, result)`` is called after each unit's file is written (progress hooks, tests).
    """
    experiment, config = make_config(name, dataset, seeds, epochs, fast, variants, overrides)
    with _quiet.retracing_warnings_off():  # one tf.function per trained model is expected
        return _run(experiment, config, out, resume, verbose, on_unit_done)


def _run(experiment, config, out, resume, verbose, on_unit_done):
    import keras

    name = config["experiment"]
    run_dir = _prepare_run_dir(config, out, resume)
    try:
        data = experiment.load_data(config)
    except RuntimeError as err:  # e.g. kerasnets.data.DatasetUnavailableError
        raise ValueError(str(err)) from None

    run_dir.mkdir(parents=True, exist_ok=True)
    _clean_temporaries(run_dir)
    experiment.run_dir = run_dir  # for units that write artifacts (models, .tflite files)
    if not (run_dir / "config.json").exists():
        io.write_json(run_dir / "config.json", config)

    variants, seed_list = config["variants"], config["seeds"]
    total, done, computed = len(variants) * len(seed_list), 0, 0
    results: dict[int, dict[str, dict]] = {}
    start = time.time()
    experiment.tuned = {}
    for variant in variants:
        path = run_dir / "tuning" / f"{variant}.json"
        cached = _read_unit(path) if resume else None
        if cached is None:
            keras.backend.clear_session()
            t0 = time.time()
            tuned = experiment.tune(variant, config, data, verbose)
            if tuned is None:
                continue
            io.write_json(path, tuned)
            cached = _normalize(tuned)
            _say(
                f"{name}: tuned {variant} in {time.time() - t0:.1f} s: "
                f"{experiment.headline(cached)}",
                verbose,
            )
        experiment.tuned[variant] = cached
    for seed in seed_list:
        seed_dir = run_dir / f"seed-{seed}"
        results[seed] = {}
        for variant in variants:
            done += 1
            path = seed_dir / f"{variant}.json"
            cached = _read_unit(path) if resume else None
            tag = f"[{done}/{total}] {name}: {variant}, seed {seed + 1}/{len(seed_list)}"
            if cached is not None:
                _say(f"{tag} (done, resumed)", verbose)
                results[seed][variant] = cached
                continue
            keras.backend.clear_session()
            keras.utils.set_random_seed(seed)
            t0 = time.time()
            result = experiment.run_unit(variant, seed, config, data, verbose)
            result = dict(result, seconds=round(time.time() - t0, 3))
            io.write_json(path, result)
            results[seed][variant] = _normalize(result)
            headline = experiment.headline(results[seed][variant])
            _say(f"{tag}: {result['seconds']:.1f} s{', ' + headline if headline else ''}", verbose)
            computed += 1
            if on_unit_done is not None:
                on_unit_done(seed, variant, result)
        io.write_json(seed_dir / "results.json", {"seed": seed, "variants": results[seed]})

    t0 = time.time()
    experiment.final = experiment.finish(config, results, data, verbose)
    if experiment.final is not None:
        io.write_json(run_dir / "final.json", experiment.final)
        experiment.final = _normalize(experiment.final)
        _say(f"{name}: final measurements in {time.time() - t0:.1f} s", verbose)
    summary = {v: aggregate([results[s][v] for s in seed_list]) for v in variants}
    io.write_json(run_dir / "summary.json", summary)
    body = experiment.report(config, results, summary, run_dir)
    fast_note = (
        ", fast mode (shrunk data and epochs: the numbers show that the code runs, not what "
        "the lecture claims)"
        if config["fast"]
        else ""
    )
    header = (
        f"# {experiment.title}\n\n"
        f"Experiment `{name}` on `{config['dataset']}`, backend `{config['backend']}`, "
        f"{len(seed_list)} seed(s), {config['epochs']} epoch(s){fast_note}.\n"
        f"Every plotted value is the mean over seeds; error bars are ± one standard deviation "
        f"across seeds.\n\n"
    )
    io.write_text(run_dir / "report.md", header + body)
    _say(
        f"{name}: done in {time.time() - start:.0f} s ({computed} unit(s) computed, "
        f"{total - computed} resumed); report: {run_dir / 'report.md'}",
        verbose,
    )
    return {
        "run_dir": str(run_dir),
        "report": str(run_dir / "report.md"),
        "figures": sorted(p.name for p in run_dir.glob("*.png")),
        "config": config,
        "summary": summary,
        "computed_units": computed,
        "resumed_units": total - computed,
    }


def _as_float(value):
    if value is None:
        return math.nan
    return float(value)


def aggregate(units: list[dict]) -> dict:
    """Mean and standard deviation across seeds of every number in a list of unit dicts.

    Numbers become ``{"mean": m, "std": s, "n": k}`` (``None``/NaN values are left out of the
    statistics; ``n`` counts the seeds that had a value); lists of numbers of equal length
    become ``{"mean": [...], "std": [...]}`` element by element; nested dicts are aggregated
    key by key; strings and other values are kept from the first unit.

    Example:
        >>> aggregate([{"acc": 0.5, "curve": [1, 2]}, {"acc": 0.7, "curve": [3, 4]}])["acc"]
        {'mean': 0.6, 'std': 0.09999999999999998, 'n': 2}
    """
    first = units[0]
    if isinstance(first, dict):
        keys = [k for k in first if all(isinstance(u, dict) and k in u for u in units)]
        return {k: aggregate([u[k] for u in units]) for k in keys}
    if _is_number(first) or first is None:
        if not all(_is_number(u) or u is None for u in units):
            return first
        values = np.array([_as_float(u) for u in units])
        ok = values[~np.isnan(values)]
        if len(ok) == 0:
            return {"mean": None, "std": None, "n": 0}
        return {"mean": float(ok.mean()), "std": float(ok.std()), "n": int(len(ok))}
    if isinstance(first, list) and first and all(_is_number(v) or v is None for v in first):
        if all(isinstance(u, list) and len(u) == len(first) for u in units):
            values = np.array([[_as_float(v) for v in u] for u in units])
            with np.errstate(all="ignore"):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean, std = np.nanmean(values, 0), np.nanstd(values, 0)
            return {"mean": _nan_to_none(mean), "std": _nan_to_none(std)}
    return first


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _nan_to_none(array):
    return [None if np.isnan(v) else float(v) for v in array]
