"""The search itself: an Optuna study whose trials build, train and measure one architecture.

:func:`search` is the whole project-4 run (``kerasnets nas``): it creates or joins a study, runs
trials until the budget of finished trials is reached (or the timeout), trains the hand-designed
baselines, writes the report and saves the best network as ``.keras`` and int8 ``.tflite``.
:func:`work` is one worker of a shared study (``kerasnets nas worker``): it reads the study's
configuration from the database and runs trials until the study's budget is used up.

Storage is SQLite (a file in the run directory) by default, or any SQLAlchemy URL Optuna
accepts, e.g. ``postgresql://user@host/db``, for many processes or machines. Robustness:

- **budget**: a trial runs only if fewer than ``trials`` trials before it (by number) are
  finished, running or waiting, so concurrent workers finish exactly the budget. A trial that
  loses that race is marked failed with the user attribute ``over_budget`` and ignored.
- **heartbeat**: every trial beats; a trial whose worker died (no beat for ``grace_period``
  seconds) is marked failed by the next worker and re-queued with the same parameters
  (Optuna's ``RetryHeartbeatStaleTrialCallback``); ``resume=True`` does that at once for a run
  directory's own SQLite study. A trial whose worker died before its first beat (Optuna never
  counts such a trial as stale) gets one beat from the worker that finds it older than the
  grace period, and goes stale one grace period later like any other.
- **configuration**: the study stores its search space, objectives, data and budget as a user
  attribute; a run that brings different ones is refused before it writes anything.

Example:
    >>> from kerasnets.nas import SearchSpace, search
    >>> space = SearchSpace(layer_types=("conv3x3",), min_layers=1, max_layers=2,
    ...                     channels=(8,), max_downsamples=1)
    >>> result = search("random", trials=2, epochs=1, space=space, subset=100,
    ...                 out="/tmp/nas-doc", baselines=False, export=False,
    ...                 verbose=0)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path

from kerasnets.nas.space import SearchSpace

OBJECTIVES = ("accuracy", "macs", "params")
CONFIG_ATTR = "kerasnets_nas"
# Architectures over max_macs are pruned before training and do not count against the budget.
OVER_MAX_MACS = "over_max_macs"
# How many such skipped candidates per budgeted trial before a search gives up.
MAX_SKIPS_PER_TRIAL = 50
# Fields that define what a study searches; a run must agree on all of them to join it.
_DEFINING = (
    "space",
    "objectives",
    "strategy",
    "dataset",
    "epochs",
    "trials",
    "max_macs",
    "subset",
    "batch_size",
)

#: The search space of fast mode (tests, tutorials): tiny and cheap.
FAST_SPACE = SearchSpace(
    layer_types=("conv3x3", "separable", "residual"),
    min_layers=1,
    max_layers=3,
    channels=(8, 16),
    max_downsamples=1,
)


class StudyMismatchError(ValueError):
    """The named study exists with another search space, objective or budget."""


def _optuna():
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Heartbeats, retries and fail_stale_trials are marked experimental (stable since 2.9).
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


# --------------------------------------------------------------------------------------
# validation
def check_objectives(objectives) -> tuple:
    """Normalize ``"accuracy"`` / ``"accuracy,macs"`` / a sequence; the first is accuracy.

    Example:
        >>> check_objectives("accuracy,macs")
        ('accuracy', 'macs')
    """
    if isinstance(objectives, str):
        objectives = [o.strip() for o in objectives.split(",") if o.strip()]
    objectives = tuple(objectives)
    if not objectives or objectives[0] != "accuracy" or len(objectives) > 2:
        raise ValueError(
            f"objectives must be 'accuracy' or 'accuracy,COST' with COST one of macs, params; "
            f"got {','.join(objectives) or repr('')}"
        )
    for o in objectives:
        if o not in OBJECTIVES:
            raise ValueError(f"unknown objective {o!r}; allowed: {', '.join(OBJECTIVES)}")
    return objectives


def redact(url: str) -> str:
    """The storage URL with its password hidden (for reports and messages)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


def check_storage_url(url: str) -> str:
    """Parse ``url`` as an SQLAlchemy URL Optuna can use and return it, with a driver chosen.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; where only ``psycopg2`` is
    installed (the ``nas`` extra's ``psycopg2-binary``), the URL is given ``+psycopg2``.
    ``ValueError`` (one line) if the URL does not parse or names another database kind.

    Example:
        >>> check_storage_url("sqlite:///runs/study.db")
        'sqlite:///runs/study.db'
        >>> check_storage_url("not a url")
        Traceback (most recent call last):
        ...
        ValueError: unparsable storage URL 'not a url'; expected e.g. sqlite:///path/study.db \
or postgresql://user@host:5432/db
    """
    import importlib.util

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    hint = "expected e.g. sqlite:///path/study.db or postgresql://user@host:5432/db"
    if not isinstance(url, str):
        raise TypeError(f"storage URL must be a string, got {type(url).__name__}")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ValueError(f"unparsable storage URL {url!r}; {hint}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "mysql"):
        raise ValueError(
            f"unsupported storage {backend!r} in {redact(url)!r}; use sqlite or postgresql"
        )
    if (
        backend == "postgresql"
        and parsed.drivername == "postgresql"
        and importlib.util.find_spec("psycopg") is None
        and importlib.util.find_spec("psycopg2") is not None
    ):
        return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return url


def open_storage(url: str, grace_period: int = 60):
    """An Optuna ``RDBStorage`` with heartbeats and retry of dead trials; one-line errors.

    Args:
        url: SQLAlchemy URL (see :func:`check_storage_url`).
        grace_period: seconds without a heartbeat after which a running trial counts as dead
            (heartbeats every ``max(1, grace_period // 4)`` seconds).
    """
    optuna = _optuna()
    from sqlalchemy.exc import SQLAlchemyError

    url = check_storage_url(url)
    for attempt in range(3):
        try:
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=max(1, grace_period // 4),
                grace_period=grace_period,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                    max_retry=2
                ),
            )
        except ImportError:
            raise ValueError(
                f"no database driver for {redact(url)!r}; install the 'nas' extra "
                "(psycopg2-binary) or name one, e.g. postgresql+psycopg2://"
            ) from None
        except (SQLAlchemyError, OSError) as err:
            # Two processes creating the tables at once collide; the second try finds them.
            message = str(err).lower()
            if attempt < 2 and ("already exists" in message or "duplicate" in message):
                time.sleep(1.0)
                continue
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"cannot reach storage {redact(url)!r}: {first}") from None


def _existing_config(storage, name: str):
    optuna = _optuna()
    names = [
        s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
    ]
    if name not in names:
        return None
    study = optuna.load_study(study_name=name, storage=storage)
    config = study.user_attrs.get(CONFIG_ATTR)
    if config is None:
        raise StudyMismatchError(f"study {name!r} exists but is not a kerasnets NAS study")
    return config


def _check_same(old: dict, new: dict, name: str) -> None:
    diff = [k for k in _DEFINING if old.get(k) != new.get(k)]
    if diff:
        detail = "; ".join(f"{k}: stored {old.get(k)!r}, given {new.get(k)!r}" for k in diff)
        raise StudyMismatchError(
            f"study {name!r} exists with another configuration ({detail}); the study is "
            "unchanged: use another --study name or the same options"
        )


# --------------------------------------------------------------------------------------
# the trial
def _data(config: dict):
    from kerasnets import data

    (x, y), (xv, yv), (xt, yt) = data.load(
        config["dataset"], validation_split=0.2, subset=config["subset"], seed=0
    )
    if x.ndim != 4:
        raise ValueError(f"dataset {config['dataset']!r} has no images; NAS needs (h, w, c)")
    return (x, y), (xv, yv), (xt, yt)


def _cost(model, objective: str) -> float:
    from kerasnets import analysis

    return float(analysis.count_macs(model) if objective == "macs" else model.count_params())


class _OverBudget(Exception):
    """The study's budget was used up by other workers while this trial was being created."""


def _slots_used(study, before: int | None = None) -> tuple[int, int]:
    """(finished + running + waiting trials [numbered below ``before``], waiting trials)."""
    from optuna.trial import TrialState

    live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=live)
        if not t.user_attrs.get(OVER_MAX_MACS)
    ]
    if before is not None:
        trials = [t for t in trials if t.number < before]
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    return len(trials), waiting


def _finished(study) -> list:
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return [
        t
        for t in study.get_trials(deepcopy=False, states=states)
        if not t.user_attrs.get(OVER_MAX_MACS)
    ]


def make_objective(config: dict, data=None):
    """The Optuna objective of a study with ``config`` (returns the objective values).

    It samples an architecture from the space, builds it, counts MACs and parameters, prunes it
    at once if it exceeds ``max_macs``, trains it for ``epochs`` epochs (reporting validation
    accuracy after each, so Optuna's pruner can stop it), and records times as user attributes.
    """
    optuna = _optuna()
    import keras
    import numpy as np

    from kerasnets.nas.builder import build

    space = SearchSpace.from_dict(config["space"])
    objectives = tuple(config["objectives"])
    (x, y), (xv, yv), _ = data if data is not None else _data(config)
    num_classes = int(max(y.max(), yv.max()) + 1)

    def objective(trial):
        used, _ = _slots_used(trial.study, before=trial.number)
        if used >= config["trials"]:
            trial.set_user_attr("over_budget", True)
            raise _OverBudget(f"trial {trial.number} is over the budget of {config['trials']}")
        t0, c0 = time.perf_counter(), time.process_time()
        arch = space.sample(trial)
        keras.utils.set_random_seed(int(config.get("seed", 0)) + trial.number)
        model = build(arch, input_shape=x.shape[1:], num_classes=num_classes)
        from kerasnets import analysis

        macs, params = analysis.count_macs(model), model.count_params()
        trial.set_user_attr("arch", arch.to_dict())
        trial.set_user_attr("macs", int(macs))
        trial.set_user_attr("params", int(params))
        t_build = time.perf_counter() - t0
        trial.set_user_attr("time_build", t_build)
        if config.get("max_macs") and macs > config["max_macs"]:
            trial.set_user_attr(OVER_MAX_MACS, True)
            raise optuna.TrialPruned()
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        single = len(objectives) == 1
        history = []

        class Report(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                acc = float(logs["val_accuracy"])
                history.append(acc)
                if single:
                    trial.report(acc, epoch)
                    if trial.should_prune():
                        self.model.stop_training = True
                        self.pruned = True

        cb = Report()
        cb.pruned = False
        t1 = time.perf_counter()
        model.fit(
            x,
            y,
            validation_data=(xv, yv),
            epochs=config["epochs"],
            batch_size=config["batch_size"],
            verbose=0,
            callbacks=[cb],
        )
        t_train = time.perf_counter() - t1
        acc = history[-1] if history else float("nan")
        trial.set_user_attr("accuracy", acc)
        trial.set_user_attr("history", history)
        trial.set_user_attr("time_train", t_train)
        trial.set_user_attr("time_trial", time.perf_counter() - t0)
        trial.set_user_attr("cpu_trial", time.process_time() - c0)
        if cb.pruned:
            trial.set_user_attr("pruned_reason", f"pruner stopped it after {len(history)} epochs")
            raise optuna.TrialPruned()
        if not np.isfinite(acc):
            raise ValueError(f"trial {trial.number}: validation accuracy is {acc}")
        if single:
            return acc
        return acc, _cost(model, objectives[1])

    return objective


# --------------------------------------------------------------------------------------
# study set-up
def make_config(
    strategy="evolution",
    trials=30,
    epochs=5,
    dataset="digits",
    space=None,
    objectives=None,
    max_macs="baseline/2",
    subset=None,
    batch_size=32,
    seed=0,
    fast=None,
) -> dict:
    """Validate a search request and return its configuration (JSON data stored in the study).

    Fast mode (``fast=True`` or ``KERASNETS_FAST=1``) uses :data:`FAST_SPACE`, one epoch and 200
    training samples unless those are given.

    Example:
        >>> make_config("evolution", objectives="accuracy,macs")
        Traceback (most recent call last):
        ...
        ValueError: strategy 'evolution' is single-objective; use objectives='accuracy' \
(or strategy nsga2 or random for 'accuracy,macs')
    """
    from kerasnets import data as data_mod
    from kerasnets.experiments import fast_mode
    from kerasnets.nas.samplers import STRATEGIES

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
    if objectives is None:
        objectives = ("accuracy", "macs") if strategy == "nsga2" else ("accuracy",)
    objectives = check_objectives(objectives)
    if strategy == "evolution" and len(objectives) > 1:
        raise ValueError(
            f"strategy 'evolution' is single-objective; use objectives='accuracy' "
            f"(or strategy nsga2 or random for {','.join(objectives)!r})"
        )
    if strategy == "nsga2" and len(objectives) < 2:
        raise ValueError("strategy 'nsga2' needs two objectives, e.g. objectives='accuracy,macs'")
    fast = fast_mode(fast)
    if space is None:
        space = FAST_SPACE if fast else SearchSpace()
    if isinstance(space, dict):
        space = SearchSpace.from_dict(space)
    if not isinstance(space, SearchSpace):
        raise TypeError(f"space must be a SearchSpace or its dict, got {type(space).__name__}")
    if epochs is None:
        epochs = 1 if fast else 5
    if subset is None and fast:
        subset = 200
    for value, what in ((trials, "trials"), (epochs, "epochs"), (batch_size, "batch_size")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{what} must be a positive integer, got {value!r}")
    if subset is not None and (not isinstance(subset, int) or subset < 20):
        raise ValueError(f"subset must be an integer >= 20, got {subset!r}")
    if dataset not in data_mod.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; available: {', '.join(data_mod.DATASETS)}")
    shape, num_classes = _shape(dataset)
    if max_macs in ("baseline", "baseline/2"):
        divisor = 2 if max_macs == "baseline/2" else 1
        max_macs = None if len(objectives) > 1 else _baseline_macs(shape, num_classes) // divisor
    if max_macs is not None and (
        isinstance(max_macs, bool) or not isinstance(max_macs, (int, float)) or max_macs <= 0
    ):
        raise ValueError(
            "max_macs must be a positive number, 'baseline', 'baseline/2' or None, "
            f"got {max_macs!r}"
        )
    return {
        "strategy": strategy,
        "space": space.to_dict(),
        "objectives": list(objectives),
        "dataset": dataset,
        "epochs": int(epochs),
        "trials": int(trials),
        "max_macs": None if max_macs is None else int(max_macs),
        "subset": subset,
        "batch_size": int(batch_size),
        "seed": int(seed),
        "input_shape": shape,
        "num_classes": int(num_classes),
    }


def _shape(dataset):
    from kerasnets import data

    (x, _), _ = data.load(dataset, subset=20, test_subset=10)
    if x.ndim != 4:
        raise ValueError(f"dataset {dataset!r} has no images; NAS needs (h, w, c)")
    return [int(s) for s in x.shape[1:]], data.num_classes(dataset)


def _baseline_macs(shape, num_classes) -> int:
    """MACs of the zoo's ``baseline_cnn`` on images of ``shape`` (the default constraint)."""
    from kerasnets import analysis, models

    model = models.build("baseline_cnn", input_shape=tuple(shape), num_classes=num_classes)
    return int(analysis.count_macs(model))


def _directions(objectives):
    return ["maximize"] + ["minimize"] * (len(objectives) - 1)


def _sampler(config: dict, seed: int | None):
    from kerasnets.nas.builder import estimate_macs
    from kerasnets.nas.samplers import make_sampler

    # A quarter of the budget as random start and population (4 to 10): with 2-3, measured at
    # 8 and 24 trials, evolution mutated around its first few candidates and stayed below
    # random search (benchmarks/nas.py).
    population = max(4, min(10, config["trials"] // 4))
    space, feasible = SearchSpace.from_dict(config["space"]), None
    limit, shape = config.get("max_macs"), config.get("input_shape")
    if limit and shape and len(config["objectives"]) == 1:

        def feasible(arch):  # a lower bound of the counted MACs: never rejects a feasible one
            return estimate_macs(arch, shape, config["num_classes"]) <= limit

    return make_sampler(
        config["strategy"], seed=seed, population_size=population, space=space, feasible=feasible
    )


def _pruner(config):
    optuna = _optuna()
    if len(config["objectives"]) > 1:
        return optuna.pruners.NopPruner()
    # Early epochs are noisy (batch-norm statistics settle): judge only the second half.
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=config["epochs"] // 2)


def open_study(storage_url: str, study_name: str, config: dict | None, seed=None, grace_period=60):
    """Create or join study ``study_name``; return ``(study, config)``.

    With ``config`` None, the study must exist and its stored configuration is used (a worker).
    With a ``config``, an existing study must have the same defining fields
    (:class:`StudyMismatchError` otherwise, raised before anything is written).
    """
    optuna = _optuna()
    if not isinstance(study_name, str) or not study_name.strip():
        raise ValueError(f"study name must be a non-empty string, got {study_name!r}")
    storage = open_storage(storage_url, grace_period)
    old = _existing_config(storage, study_name)
    if config is None:
        if old is None:
            raise ValueError(
                f"no study {study_name!r} in {redact(storage_url)!r}; start one with "
                f"kerasnets nas --storage URL --study {study_name}"
            )
        config = old
    elif old is not None:
        _check_same(old, config, study_name)
        config = {**config, "seed": old.get("seed", config["seed"])}
    sampler_seed = seed if seed is not None else config["seed"]
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        directions=_directions(config["objectives"]),
        sampler=_sampler(config, sampler_seed),
        pruner=_pruner(config),
        load_if_exists=True,
    )
    if old is None:
        study.set_user_attr(CONFIG_ATTR, config)
    return study, config


def recover_interrupted(study) -> list[int]:
    """Mark trials left ``RUNNING`` by a dead process failed and re-queue them; return numbers.

    Only call it when no other process works on the study (a run directory's own SQLite
    study on ``resume``); shared studies rely on heartbeats instead. Failed trials that were
    never retried (e.g. interrupted by Ctrl-C) are re-queued too; over-budget ones are not.
    """
    optuna = _optuna()
    from optuna.trial import TrialState

    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    retried = {t.system_attrs.get("failed_trial") for t in trials}
    requeued = []
    for t in trials:
        if t.state != TrialState.FAIL or t.user_attrs.get("over_budget"):
            continue
        if t.number in retried:
            continue
        retry(study, study._storage.get_trial(t._trial_id))
        requeued.append(t.number)
    return requeued


# --------------------------------------------------------------------------------------
# running trials
def _progress(config, verbose, stream=None):
    from optuna.trial import TrialState

    stream = stream or sys.stdout

    def callback(study, trial):
        if (
            not verbose
            or trial.user_attrs.get("over_budget")
            or trial.user_attrs.get(OVER_MAX_MACS)
        ):
            return
        done = len(_finished(study))
        acc = trial.user_attrs.get("accuracy")
        macs = trial.user_attrs.get("macs")
        best = _best_so_far(study)
        line = f"trial {trial.number:>3} {trial.state.name.lower():<8}"
        line += f" acc {acc:.3f}" if acc is not None else " acc   -  "
        line += f"  MACs {macs / 1e6:7.3f}M" if macs is not None else ""
        if best is not None:
            line += f"  best {best[0]:.3f} (trial {best[1]})"
        line += f"  [{done}/{config['trials']} finished]"
        if trial.state == TrialState.FAIL:
            line += " failed"
        print(line, file=stream, flush=True)

    return callback


def _best_so_far(study):
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return None
    best = max(done, key=lambda t: (t.values[0], -t.user_attrs.get("macs", 0)))
    return best.values[0], best.number


def _beat_for_silent_trials(study, beaten: set) -> None:
    """Give a running trial older than the grace period one heartbeat, once per trial.

    Optuna's ``RDBStorage`` only fails running trials that have a heartbeat record (optuna 5.1,
    ``_get_stale_trial_ids`` skips trials without one). A worker killed between creating its
    trial and the trial's first beat would leave it running forever, holding a slot of the
    budget. One beat on its behalf makes it go stale after one more grace period; for a live
    trial the extra beat changes nothing. ``beaten`` holds the trial ids already given one, so
    a dead trial is never kept alive by repeated beats.
    """
    from optuna.trial import TrialState

    storage = study._storage
    interval = storage.get_heartbeat_interval()
    if not interval:
        return
    grace = datetime.timedelta(seconds=getattr(storage, "grace_period", None) or 2 * interval)
    now = datetime.datetime.now()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t._trial_id in beaten or t.datetime_start is None or now - t.datetime_start < grace:
            continue
        storage.record_heartbeat(t._trial_id)
        beaten.add(t._trial_id)


def run_trials(study, config, timeout=None, verbose=1, data=None, max_trials=None) -> int:
    """Run trials on ``study`` until its budget is used up, ``timeout`` seconds pass, or this
    process ran ``max_trials`` trials; return how many this process ran."""
    optuna = _optuna()
    objective = make_objective(config, data)
    callback = _progress(config, verbose)
    start, ran = time.perf_counter(), 0
    poll = float(study._storage.get_heartbeat_interval() or 1)
    beaten = set()
    while True:
        optuna.storages.fail_stale_trials(study)  # no-op without heartbeats
        _beat_for_silent_trials(study, beaten)
        if len(_finished(study)) >= config["trials"]:
            break
        if timeout is not None and time.perf_counter() - start >= timeout:
            break
        if max_trials is not None and ran >= max_trials:
            break
        skipped = sum(
            bool(t.user_attrs.get(OVER_MAX_MACS)) for t in study.get_trials(deepcopy=False)
        )
        if skipped > MAX_SKIPS_PER_TRIAL * config["trials"]:
            print(
                f"stopping: {skipped} candidates exceeded max_macs; widen it or narrow the space",
                file=sys.stderr,
            )
            break
        used, waiting = _slots_used(study)
        if used >= config["trials"] and not waiting:
            # Every slot is taken by a running trial of another worker: wait, since that
            # worker may die and its trial come back as a waiting retry.
            time.sleep(poll)
            continue
        before = len(study.trials)
        study.optimize(objective, n_trials=1, catch=(_OverBudget,), callbacks=[callback])
        ran += 1
        last = study.get_trials(deepcopy=False)[before:]
        if any(t.user_attrs.get("over_budget") for t in last):
            time.sleep(poll)
    return ran


def default_run_dir() -> Path:
    return Path("runs") / f"nas-{datetime.datetime.now():%Y%m%d-%H%M%S}"


def search(
    strategy: str = "evolution",
    trials: int = 30,
    timeout: float | None = None,
    epochs: int | None = None,
    dataset: str = "digits",
    space=None,
    objectives=None,
    max_macs="baseline/2",
    subset=None,
    batch_size: int = 32,
    seed: int = 0,
    out=None,
    resume: bool = False,
    force: bool = False,
    storage: str | None = None,
    study_name: str | None = None,
    baselines: bool = True,
    export: bool = True,
    fast: bool | None = None,
    verbose: int = 1,
    grace_period: int = 60,
) -> dict:
    """Run a neural architecture search and write its report; return the report's summary.

    Args:
        strategy: ``"random"``, ``"evolution"`` (regularized evolution) or ``"nsga2"``.
        trials: budget of finished trials (complete or pruned) of the study.
        timeout: stop starting new trials after this many seconds (the running one finishes).
        epochs: training epochs per trial (default 5; 1 in fast mode).
        dataset: a :data:`kerasnets.data.DATASETS` image dataset (default digits, 8×8×1).
        space: a :class:`SearchSpace` (or its dict); default the lecture's.
        objectives: ``"accuracy"`` (random, evolution) or ``"accuracy,macs"`` / ``"accuracy,
            params"`` (nsga2, random).
        max_macs: single-objective constraint: architectures with more MACs are pruned before
            training. ``"baseline/2"`` (default) means half the MACs of the zoo's
            ``baseline_cnn`` on the same images, so a find at least as accurate dominates it;
            ``"baseline"`` its full MACs; None no constraint. Ignored for two objectives.
        subset: training samples to keep (default all; 200 in fast mode).
        batch_size: training batch size.
        seed: seed of the sampler and of each trial's initialization.
        out: run directory (default ``runs/nas-<time>``); the report and files go there.
        resume: continue the study in ``out`` (SQLite): interrupted trials are failed and
            retried, finished ones kept.
        force: replace an existing ``out`` (without ``resume``).
        storage: SQLAlchemy URL of a shared study (e.g. PostgreSQL); default SQLite in ``out``.
        study_name: study name in ``storage`` (default ``"nas"``).
        baselines: also train ``baseline_cnn``, ``efficient_cnn`` and a MobileNet-style model
            the same way, for the report.
        export: save the best architecture (retrained) as ``best.keras`` and int8
            ``best_int8.tflite``.
        fast: fast mode (see :func:`make_config`).
        verbose: 1 prints one line per finished trial; 0 is quiet.
        grace_period: seconds without heartbeat after which a trial counts as dead.

    Returns:
        The report summary (see :func:`kerasnets.nas.report.summarize`), with ``"out"``.

    Raises:
        ValueError: any bad argument, an unreachable storage, a study that exists with another
            configuration, an existing ``out`` without ``resume``/``force`` — all before training.
    """
    from kerasnets import io

    config = make_config(
        strategy,
        trials,
        epochs,
        dataset,
        space,
        objectives,
        max_macs,
        subset,
        batch_size,
        seed,
        fast,
    )
    out = Path(out) if out is not None else default_run_dir()
    study_name = study_name or "nas"
    if resume:
        if storage is None and not (out / "study.db").exists():
            raise FileNotFoundError(f"nothing to resume: {str(out / 'study.db')!r} does not exist")
    elif storage is None:
        io.check_output_dir(out, force)
    if storage is None:
        url = f"sqlite:///{(out / 'study.db').resolve()}"
        if not resume:
            if out.exists():
                import shutil

                shutil.rmtree(out)
            out.mkdir(parents=True)
    else:
        url = storage
    study, config = open_study(url, study_name, config, seed=seed, grace_period=grace_period)
    data = _data(config)
    if resume and storage is None:
        requeued = recover_interrupted(study)
        if requeued and verbose:
            print(f"resuming: re-queued interrupted trial(s) {requeued}", flush=True)
    t0 = time.perf_counter()
    run_trials(study, config, timeout=timeout, verbose=verbose, data=data)
    if verbose:
        print(f"search: {time.perf_counter() - t0:.1f} s", flush=True)
    from kerasnets.nas import report as report_mod

    if baselines:
        report_mod.train_baselines(study, config, data, verbose=verbose)
    out.mkdir(parents=True, exist_ok=True)
    summary = report_mod.write_report(study, out, storage_url=url)
    if export:
        summary["export"] = report_mod.export_best(study, config, data, out, verbose=verbose)
        io.write_json(out / "summary.json", summary)
    summary["out"] = str(out)
    return summary


def work(
    storage: str,
    study_name: str,
    timeout=None,
    max_trials=None,
    seed=None,
    verbose=1,
    grace_period=60,
) -> int:
    """One worker of a shared study: run its trials until the budget is used up.

    The configuration (space, objectives, data, budget) comes from the study. Each worker seeds
    its sampler from ``seed`` (default: the process id), so workers draw different candidates.
    Returns how many trials this worker ran.

    Example:
        >>> work("postgresql://postgres@127.0.0.1:5432/nas", "lab")  # doctest: +SKIP
    """
    study, config = open_study(
        storage,
        study_name,
        None,
        seed=os.getpid() if seed is None else seed,
        grace_period=grace_period,
    )
    return run_trials(study, config, timeout=timeout, verbose=verbose, max_trials=max_trials)


def write_study_report(storage: str | None = None, study_name: str = "nas", out=None) -> dict:
    """Write the report of an existing study into ``out``, from the database alone.

    ``storage`` defaults to the SQLite file of run directory ``out`` (``out/study.db``). Nothing
    is trained and the study is not modified.

    Example:
        >>> write_study_report("postgresql://postgres@127.0.0.1/nas", "lab",
        ...                    out="runs/lab-report")  # doctest: +SKIP
    """
    optuna = _optuna()
    from kerasnets.nas import report as report_mod

    if out is None:
        raise ValueError("out (the report directory) is required")
    out = Path(out)
    if storage is None:
        db = out / "study.db"
        if not db.exists():
            raise FileNotFoundError(
                f"no study in {str(out)!r} ({str(db)!r} does not exist); pass --storage URL"
            )
        storage = f"sqlite:///{db.resolve()}"
    rdb = open_storage(storage)
    if _existing_config(rdb, study_name) is None:
        raise ValueError(f"no study {study_name!r} in {redact(storage)!r}")
    study = optuna.load_study(study_name=study_name, storage=rdb)
    out.mkdir(parents=True, exist_ok=True)
    return report_mod.write_report(study, out, storage_url=storage)
