"""``kerasnets tour``: the main job, on the embedded digits data (no download).

The tour trains a small model from the zoo on scikit-learn's digits with a Keras progress bar,
evaluates it on the held-out test set and writes a run directory::

    runs/tour-<YYYYmmdd-HHMMSS>/
        metrics.json       test accuracy/loss, per-epoch history, backend, timings
        model.keras        the trained model (loads on any backend)
        curves.png         training and validation loss/accuracy per epoch

The directory is assembled under a temporary name and renamed when complete, so an interrupted
tour leaves nothing half-written; an existing directory is only replaced with ``force=True``.

Example:
    >>> summary = run_tour("runs/my-tour", epochs=2, verbose=0)  # doctest: +SKIP
    >>> summary["run_dir"], round(summary["test_accuracy"], 2)  # doctest: +SKIP
    ('runs/my-tour', 0.9)
"""

from __future__ import annotations

import time
from pathlib import Path

from kerasnets import io


def default_run_dir(prefix: str = "tour") -> Path:
    """``runs/<prefix>-<YYYYmmdd-HHMMSS>`` under the current directory."""
    return Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def build_tour_model(input_dim: int, num_classes: int):
    """The tour's model: the zoo's MLP on flattened digits, compiled with Adam."""
    import keras

    from kerasnets import models

    model = models.build(
        "mlp", input_shape=(input_dim,), num_classes=num_classes, depth=3, width=64
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def run_tour(
    out_dir: str | Path | None = None,
    *,
    epochs: int = 15,
    batch_size: int = 32,
    seed: int = 0,
    force: bool = False,
    verbose: int = 1,
) -> dict:
    """Train, evaluate and save the tour model; return a summary dict (also in metrics.json).

    Args:
        out_dir: run directory to create (default ``runs/tour-<time>``).
        epochs: training epochs (positive).
        batch_size: training batch size (positive).
        seed: seed for the data split and Keras' random state.
        force: replace ``out_dir`` if it exists (otherwise that is an error, raised at once).
        verbose: 1 shows Keras' progress bar and the step headers, 0 is silent.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    out_dir = Path(out_dir) if out_dir is not None else default_run_dir()
    io.check_output_dir(out_dir, force)

    import keras

    from kerasnets import data, plots

    def say(text):
        if verbose:
            print(text, flush=True)

    keras.utils.set_random_seed(seed)
    started = time.time()
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data.load(
        "digits", flatten=True, validation_split=0.15, seed=seed
    )
    say(
        f"[1/1] training an MLP on digits ({len(x_train)} train / {len(x_val)} validation / "
        f"{len(x_test)} test samples, backend {keras.backend.backend()})"
    )
    model = build_tour_model(x_train.shape[1], data.num_classes("digits"))
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
    ).history
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    say(f"test accuracy {test_accuracy:.4f}, test loss {test_loss:.4f}")

    summary = {
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "dataset": "digits",
        "model": model.name,
        "params": int(model.count_params()),
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "history": {k: [float(v) for v in vs] for k, vs in history.items()},
    }
    with io.run_directory(out_dir, force=force) as tmp:
        io.save_model(model, tmp / "model.keras")
        io.save_figure(
            plots.training_curves(history, title=f"{model.name} on digits"), tmp / "curves.png"
        )
        summary["seconds"] = round(time.time() - started, 2)
        io.write_json(tmp / "metrics.json", summary)
    summary["run_dir"] = str(out_dir)
    say(f"wrote {out_dir}/: metrics.json, model.keras, curves.png")
    return summary
