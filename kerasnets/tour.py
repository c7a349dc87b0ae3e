"""``kerasnets tour``: the main job, on the embedded digits data (no download).

The tour runs these steps and writes one run directory::

    runs/tour-<YYYYmmdd-HHMMSS>/
        metrics.json          test accuracy/loss, per-epoch history, backend, timings, step results
        model.keras           the trained model (loads on any backend)
        curves.png            training and validation loss/accuracy per epoch
        gradient_flow.png     [diagnostics] gradient norm per layer and epoch (callbacks/)
        dead_neurons.png      [diagnostics] share of dead ReLU units per layer and epoch
        diagnostics.json      [diagnostics] the monitors' full histories
        tflite/               [deploy] float32 and int8 .tflite, bundle, comparison table
        experiments/          [experiments] short versions of the three hands-on projects:
                              activations/, resnet-vs-plain/, efficient/ (report.md + figures)

1. **train**: the zoo's MLP on flattened digits, with one progress bar for the step, evaluated
   on the held-out test set; the dead-neuron and gradient-flow monitors watch every epoch.
2. **diagnostics**: the monitors' plots and histories.
3. **deploy**: export to TFLite as float32 and full-integer int8, evaluated in the LiteRT
   interpreter; prints the size/latency/accuracy table (on JAX and PyTorch the conversion runs
   in a TensorFlow subprocess).
4. **experiments**: short versions of the lecture's hands-on projects with one seed on digits
   (:data:`kerasnets.experiments.TOUR`: sigmoid vs ReLU vs SELU at depth 10, plain-34 vs
   ResNet-34, baseline vs efficient CNN), one line per finished unit and one line with each
   lesson's numbers; each writes a report with its figures. ``kerasnets run NAME`` runs the
   full versions.

The directory is assembled under a temporary name and renamed when complete, so an interrupted
tour leaves nothing half-written; an existing directory is only replaced with ``force=True``.

Example:
    >>> summary = run_tour("runs/my-tour", epochs=2, steps=("train",), verbose=0)  # doctest: +SKIP
    >>> summary["run_dir"], round(summary["test_accuracy"], 2)  # doctest: +SKIP
    ('runs/my-tour', 0.9)
"""

from __future__ import annotations

import time
from pathlib import Path

from kerasnets import _quiet, io

STEPS = ("train", "diagnostics", "deploy", "experiments")


def default_run_dir(prefix: str = "tour") -> Path:
    """``runs/<prefix>-<YYYYmmdd-HHMMSS>`` under the current directory."""
    return Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def build_tour_model(input_dim: int, num_classes: int):
    """The tour's model: the zoo's 3×64 ReLU MLP on flattened digits, compiled with Adam."""
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


def _check_steps(steps):
    steps = tuple(steps)
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        raise ValueError(
            f"unknown tour step(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from {', '.join(STEPS)}"
        )
    if "train" not in steps:
        raise ValueError("the tour's steps build on 'train'; include it")
    return steps


def run_tour(
    out_dir: str | Path | None = None,
    *,
    epochs: int = 15,
    batch_size: int = 32,
    seed: int = 0,
    steps=STEPS,
    force: bool = False,
    verbose: int = 1,
) -> dict:
    """Run the tour's steps and write the run directory; return a summary (also metrics.json).

    Args:
        out_dir: run directory to create (default ``runs/tour-<time>``).
        epochs: training epochs (positive).
        batch_size: training batch size (positive).
        seed: seed for the data split and Keras' random state.
        steps: which of ``STEPS`` to run (``train`` is always needed).
        force: replace ``out_dir`` if it exists (otherwise that is an error, raised at once).
        verbose: 1 shows Keras' progress bar, the step headers and tables; 0 is silent.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    steps = _check_steps(steps)
    out_dir = Path(out_dir) if out_dir is not None else default_run_dir()
    io.check_output_dir(out_dir, force)

    import keras

    from kerasnets import data, plots

    total = len(steps)

    def say(number, text):
        if verbose:
            print(f"[{number}/{total}] {text}", flush=True)

    keras.utils.set_random_seed(seed)
    started = time.time()
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data.load(
        "digits", flatten=True, validation_split=0.15, seed=seed
    )
    say(
        1,
        f"training an MLP on digits ({len(x_train)} train / {len(x_val)} validation / "
        f"{len(x_test)} test samples, backend {keras.backend.backend()})",
    )
    model = build_tour_model(x_train.shape[1], data.num_classes("digits"))
    monitors = []
    if "diagnostics" in steps:
        from callbacks import DeadNeuronMonitor, GradientFlowMonitor

        monitors = [DeadNeuronMonitor(x_val), GradientFlowMonitor(x_val, y_val)]
    progress = [_EpochBar(epochs)] if verbose else []
    with _quiet.retracing_warnings_off():
        history = model.fit(
            x_train,
            y_train,
            validation_data=(x_val, y_val),
            epochs=epochs,
            batch_size=batch_size,
            callbacks=monitors + progress,
            verbose=0,
        ).history
    history = {
        k: v for k, v in history.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")
    }
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    if verbose:
        print(f"test accuracy {test_accuracy:.4f}, test loss {test_loss:.4f}", flush=True)

    summary = {
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "dataset": "digits",
        "model": model.name,
        "params": int(model.count_params()),
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "steps": list(steps),
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "history": {k: [float(v) for v in vs] for k, vs in history.items()},
    }
    written = ["metrics.json", "model.keras", "curves.png"]
    with io.run_directory(out_dir, force=force) as tmp:
        # portable: plain keras.saving.load_model reads it without kerasnets
        io.save_model(model, tmp / "model.keras", portable=True)
        io.save_figure(
            plots.training_curves(history, title=f"{model.name} on digits"), tmp / "curves.png"
        )
        number = 1
        if "diagnostics" in steps:
            number += 1
            say(number, "diagnostics: gradient flow and dead units per layer")
            summary["diagnostics"] = _diagnostics(monitors, tmp, verbose)
            written += [
                "gradient_flow.png",
                "dead_neurons.png",
                "diagnostics.json",
                "tensorboard/",
            ]
        if "deploy" in steps:
            number += 1
            say(number, "deploy: TFLite float32 and int8, evaluated in the LiteRT interpreter")
            summary["deploy"] = _deploy(model, x_train, y_train, x_test, y_test, tmp, verbose)
            written.append("tflite/")
        if "experiments" in steps:
            number += 1
            say(number, "experiments: short versions of the hands-on projects, one seed each")
            with _quiet.retracing_warnings_off():
                summary["experiments"] = _experiments(tmp, out_dir, verbose)
            written.append("experiments/")
        summary["seconds"] = round(time.time() - started, 2)
        io.write_json(tmp / "metrics.json", summary)
    summary["run_dir"] = str(out_dir)
    if verbose:
        print(f"wrote {out_dir}/: {', '.join(written)}", flush=True)
        if "diagnostics" in steps:
            print(f"per-layer diagnostics: tensorboard --logdir {out_dir}/tensorboard", flush=True)
    return summary


def _weight_layer_of(model, name):
    """The layer with weights whose output feeds layer ``name`` (through BN, dropout, ...)."""
    layer = model.get_layer(name)
    for _ in range(len(model.layers)):
        if layer.weights and hasattr(layer, "kernel"):
            return layer.name
        history = getattr(layer.input, "_keras_history", None)
        if history is None:
            return None
        layer = history[0]
    return None


def _diagnostics(monitors, run_dir, verbose):
    dead, flow = monitors
    io.save_figure(dead.plot(title="dead ReLU units per layer"), run_dir / "dead_neurons.png")
    io.save_figure(flow.plot(title="gradient flow per layer"), run_dir / "gradient_flow.png")
    io.write_json(
        run_dir / "diagnostics.json",
        {"dead_neurons": dead.history, "gradient_flow": flow.history},
    )
    from callbacks import write_tensorboard

    write_tensorboard(monitors, run_dir / "tensorboard")  # per-layer charts in TensorBoard
    result = {
        "dead_share_last_epoch": {k: v["dead_unit_fraction"][-1] for k, v in dead.history.items()},
        "kernel_grad_norm_last_epoch": {
            k: v["kernel_grad_norm"][-1] for k, v in flow.history.items() if "kernel_grad_norm" in v
        },
    }
    # The dead-unit monitor watches activation layers (hidden1_act), the gradient monitor the
    # layers with weights (hidden1_dense): pair each activation with the layer that feeds it.
    result["layer_pairs"] = {
        act: _weight_layer_of(dead.model, act) for act in result["dead_share_last_epoch"]
    }
    if verbose:
        norms = result["kernel_grad_norm_last_epoch"]
        for act, share in result["dead_share_last_epoch"].items():
            weights = result["layer_pairs"][act]
            norm = norms.get(weights)
            norm_text = f", {weights} kernel gradient norm {norm:.3g}" if norm is not None else ""
            print(f"    {act:<16} dead units {share:6.1%}{norm_text}")
        last = [k for k in norms if k not in result["layer_pairs"].values()]
        for layer in last:
            print(f"    {layer:<16} kernel gradient norm {norms[layer]:.3g}")
    return result


def _deploy(model, x_train, y_train, x_test, y_test, run_dir, verbose):
    from kerasnets import data, tflite

    result = tflite.tour_step(
        model,
        x_train,
        y_train,
        x_test,
        y_test,
        run_dir / "tflite",
        labels=data.CLASS_NAMES["digits"],
        verbose=bool(verbose),
    )
    return {"rows": result["rows"]}


def _experiments(run_dir, final_dir, verbose):
    from kerasnets import experiments

    def say(text):
        if verbose:
            print(text, flush=True)

    done = experiments.tour_pass(run_dir / "experiments", seeds=1, verbose=verbose, say=say)
    result = {}
    for name, info in done.items():
        # run_dir is the temporary directory: record and print where the report will be.
        report = Path("experiments") / name / Path(info["report"]).name
        result[name] = {
            "report": str(report),
            "seconds": info["seconds"],
            "lesson": info["lesson"],
        }
        if verbose:
            print(f"    {name} ({info['seconds']:.0f} s): {info['lesson']}", flush=True)
            print(f"      report: {Path(final_dir) / report}", flush=True)
    return result


class _EpochBar:
    """One rich progress bar for the training step, advanced once per epoch (a Keras callback).

    Replaces Keras' own per-epoch bars (one bar per epoch, redrawn per batch). Written here
    because Keras has no single-bar mode; rich draws it (a dependency of kerasnets).
    """

    def __new__(cls, epochs):
        import keras

        class EpochBar(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                from rich.progress import BarColumn, Progress, TextColumn

                self.progress = Progress(
                    TextColumn("    epoch {task.completed:>3}/{task.total}"),
                    BarColumn(bar_width=20),
                    TextColumn("{task.fields[metrics]}"),
                )
                self.task = self.progress.add_task("train", total=epochs, metrics="")
                self.progress.start()

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                names = {"loss": "loss", "accuracy": "acc", "val_accuracy": "val_acc"}
                text = " ".join(f"{names[k]} {logs[k]:.4f}" for k in names if k in logs)
                self.progress.update(self.task, advance=1, metrics=text)

            def on_train_end(self, logs=None):
                self.progress.stop()

        return EpochBar()
