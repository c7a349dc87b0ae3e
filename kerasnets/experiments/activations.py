"""Hands-on project 1: the same deep MLP with every activation of the lecture.

Each variant trains an identical 10-hidden-layer MLP (same width, same optimizer, the
variance-preserving initializer that suits each activation) and measures what the lecture
asks for: training and validation loss curves, the gradient magnitude per layer (at
initialization and after training), activation mean/std/sparsity per layer, dead units for
the ReLU family, epochs to a target accuracy, final accuracy and its spread across seeds. The
report ends with a recommendations table generated from these numbers next to the lecture's
selection guide.
"""

from __future__ import annotations

import numpy as np

from kerasnets import io
from kerasnets.experiments import _measure, _plots
from kerasnets.experiments._core import FAST_DATA, Experiment, load_split, register

ACTIVATIONS = (
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "prelu",
    "elu",
    "selu",
    "gelu",
    "swish",
)
RELU_FAMILY = ("relu", "leaky_relu", "prelu")

# Variance-preserving initializers: He for ReLU and the ReLU-like activations (ELU, GELU and
# Swish are ≈ ReLU for large inputs; with Glorot a 10-layer GELU/Swish stack shrinks its
# activations towards 0 and does not train), LeCun for SELU (needed for self-normalization),
# Glorot for the saturating sigmoid and tanh.
INITIALIZERS = {
    "sigmoid": "glorot_uniform",
    "tanh": "glorot_uniform",
    "selu": "lecun_normal",
}

# The lecture's selection guide (slide 17), one line per activation.
LECTURE_GUIDE = {
    "sigmoid": "output layers only (probabilities); σ′ ≤ 0.25 makes deep stacks vanish",
    "tanh": "zero-centred but saturating; shallow nets, gates",
    "relu": "the default: fast, works for most cases; watch for dead units",
    "leaky_relu": "deep CNNs (prevents dead neurons); limited compute",
    "prelu": "deep CNNs, slope learned per unit",
    "elu": "faster convergence / better accuracy at a small extra cost",
    "selu": "deep fully-connected nets without BatchNorm (self-normalizing)",
    "gelu": "Transformers / NLP (BERT, GPT); smooth",
    "swish": "experimental / research: possible accuracy gains; smooth",
}


@register
class ActivationsExperiment(Experiment):
    name = "activations"
    title = "Project 1 — activation functions in a deep MLP"
    datasets = ("digits", "mnist", "fashion_mnist", "cifar10", "shapes")

    def settings(self, dataset, epochs, fast):
        big = dataset not in ("digits", "shapes")
        return {
            "epochs": epochs or (2 if fast else (10 if big else 20)),
            "depth": 10,
            "width": 32 if fast else 64,
            "batch_size": 32,
            "optimizer": "sgd",
            "learning_rate": 0.02,
            "momentum": 0.9,
            "subset": 20000 if big else None,
            "test_subset": None,
            "validation_split": 0.2,
            "probe_size": 128 if fast else 512,
            "target_accuracy": 0.5 if fast else 0.9,
            "activations": list(ACTIVATIONS),
            **(FAST_DATA if fast else {}),
        }

    def variants(self, settings):
        return list(settings["activations"])

    def load_data(self, config):
        return load_split(config, flatten=True)

    def build_model(self, activation, input_dim, num_classes, s):
        return build_mlp(
            activation,
            input_dim,
            num_classes,
            s["depth"],
            s["width"],
            initializer=INITIALIZERS.get(activation, "he_normal"),
        )

    def run_unit(self, variant, seed, config, data, verbose):
        import keras

        s = config["settings"]
        (x, y), (xv, yv), (xt, yt) = data
        num_classes = int(max(y.max(), yt.max()) + 1)
        model = self.build_model(variant, x.shape[1], num_classes, s)
        model.compile(
            optimizer=keras.optimizers.SGD(s["learning_rate"], momentum=s["momentum"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        xp, yp = x[: s["probe_size"]], y[: s["probe_size"]]
        grads_init = _measure.gradient_magnitudes(model, xp, yp)
        stats_init = _measure.activation_stats(model, xp)
        history = model.fit(
            x,
            y,
            validation_data=(xv, yv),
            epochs=config["epochs"],
            batch_size=s["batch_size"],
            verbose=1 if verbose else 0,
        ).history
        grads_end = _measure.gradient_magnitudes(model, xp, yp)
        stats_end = _measure.activation_stats(model, xp)
        test_loss, test_acc = model.evaluate(xt, yt, batch_size=s["batch_size"], verbose=0)
        curves = {k: [_finite(v) for v in history[k]] for k in history}
        return {
            "layers": grads_init["layers"],
            "hidden_layers": stats_end["layers"],
            "history": curves,
            "test_accuracy": float(test_acc),
            "test_loss": _finite(test_loss),
            "best_val_accuracy": float(np.nanmax(history["val_accuracy"])),
            "epochs_to_target": _measure.epochs_to_target(
                curves["val_accuracy"], s["target_accuracy"]
            ),
            "grad_init": grads_init["mean_abs"],
            "grad_end": grads_end["mean_abs"],
            "grad_ratio_init": _ratio(grads_init["mean_abs"]),
            "act_init": {k: stats_init[k] for k in ("mean", "std", "zero_fraction")},
            "act_end": {k: stats_end[k] for k in ("mean", "std", "zero_fraction")},
            "dead_init": stats_init["dead_fraction"],
            "dead_end": stats_end["dead_fraction"],
            "dead_end_total": float(np.mean(stats_end["dead_fraction"])),
            "params": int(model.count_params()),
        }

    def report(self, config, results, summary, run_dir):
        variants = config["variants"]
        first = results[config["seeds"][0]][variants[0]]
        layers, hidden = first["layers"], first["hidden_layers"]
        target = config["settings"]["target_accuracy"]
        figs = []

        fig, axes = _plots.new_figure(ncols=3, width=5.5)
        for ax, key, label in zip(
            axes,
            ("loss", "val_loss", "val_accuracy"),
            ("training loss", "validation loss", "validation accuracy"),
        ):
            series = {v: summary[v]["history"][key] for v in variants}
            _plots.curves(ax, series, "epoch", label, f"{label} (mean ± std)", log="loss" in key)
        figs.append(("curves.png", "Training and validation curves", fig))

        fig, axes = _plots.new_figure(ncols=2, width=7)
        for ax, key, when in zip(
            axes, ("grad_init", "grad_end"), ("at initialization", "after training")
        ):
            series = {v: summary[v][key] for v in variants}
            _plots.per_layer(
                ax,
                layers,
                series,
                "mean |∂loss/∂kernel|",
                f"Gradient magnitude per layer, {when}",
                log=True,
            )
        figs.append(("gradients.png", "Gradient magnitude per layer", fig))

        fig, axes = _plots.new_figure(ncols=3, width=5.5)
        for ax, key, label in zip(
            axes,
            ("mean", "std", "zero_fraction"),
            ("activation mean", "activation std", "sparsity (fraction of exact zeros)"),
        ):
            series = {v: summary[v]["act_end"][key] for v in variants}
            _plots.per_layer(ax, hidden, series, label, f"{label}, after training")
        figs.append(("activation_stats.png", "Activation statistics per hidden layer", fig))

        relu = [v for v in variants if v in RELU_FAMILY]
        if relu:
            fig, axes = _plots.new_figure(ncols=2, width=6)
            for ax, key, when in zip(
                axes, ("dead_init", "dead_end"), ("at initialization", "after training")
            ):
                series = {v: summary[v][key] for v in relu}
                _plots.per_layer(
                    ax,
                    hidden,
                    series,
                    "never-active units (fraction)",
                    f"Units with output ≤ 0 on every probe input, {when}",
                )
                ax.set_ylim(bottom=0)
            figs.append(
                (
                    "dead_units.png",
                    "Never-active units, ReLU family (dead for ReLU; "
                    "Leaky ReLU/PReLU units still learn through their slope)",
                    fig,
                )
            )

        fig, axes = _plots.new_figure(ncols=3, width=5.5)
        _plots.bars(
            axes[0],
            variants,
            [summary[v]["test_accuracy"]["mean"] for v in variants],
            [summary[v]["test_accuracy"]["std"] for v in variants],
            "test accuracy",
            "Final test accuracy",
        )
        _plots.bars(
            axes[1],
            variants,
            [summary[v]["epochs_to_target"]["mean"] for v in variants],
            [summary[v]["epochs_to_target"]["std"] for v in variants],
            f"epochs to val. accuracy ≥ {target}",
            "Convergence speed (missing bar: never reached)",
            fmt="{:.1f}",
        )
        _plots.bars(
            axes[2],
            variants,
            [summary[v]["seconds"]["mean"] for v in variants],
            [summary[v]["seconds"]["std"] for v in variants],
            "seconds per run",
            "Wall-clock time (train + probes)",
            fmt="{:.1f}",
        )
        figs.append(("summary.png", "Accuracy, convergence speed and time", fig))

        for fname, _, fig in figs:
            io.save_figure(fig, run_dir / fname)

        s = config["settings"]
        lines = [
            f"An MLP with {s['depth']} hidden layers of {s['width']} units, trained with SGD "
            f"(lr {s['learning_rate']}, momentum {s['momentum']}) for {config['epochs']} "
            "epochs, the same for every activation, with a variance-preserving initializer for "
            "each (He for the ReLU family, ELU, GELU and Swish; LeCun for SELU; Glorot for sigmoid "
            "and tanh).\n",
            "## Results\n",
            results_table(variants, summary, target, len(config["seeds"])),
        ]
        for fname, caption, _ in figs:
            lines.append(f"## {caption}\n\n![{caption}]({fname})\n")
        lines.append("## Recommendations (measured here, next to the lecture's guide)\n")
        lines.append(recommendations(variants, summary))
        lines.append(
            "\nReading the figures: sigmoid's gradient shrinks layer by layer towards the input "
            "(σ′ ≤ 0.25 per layer), so its first layers barely learn; the ReLU family keeps "
            "gradients of similar size across depth but can leave units that never fire; "
            "SELU keeps activations near zero mean and unit variance without BatchNorm.\n"
        )
        return "\n".join(lines)


def build_mlp(activation, input_dim, num_classes, depth, width, initializer=None):
    """The experiment's deep MLP (the zoo's ``mlp_deep``)."""
    from kerasnets import models

    return models.build(
        "mlp_deep",
        input_shape=(input_dim,),
        num_classes=num_classes,
        activation=activation,
        depth=depth,
        width=width,
        initializer=initializer,
    )


def _finite(v):
    v = float(v)
    return v if np.isfinite(v) else None


def _ratio(values):
    if not values or not values[-1]:
        return None
    return float(values[0] / values[-1])


def results_table(variants, summary, target, n_seeds):
    rows = []
    for v in variants:
        s = summary[v]
        reached = s["epochs_to_target"]["n"]
        rows.append(
            [
                v,
                _plots.pm(s["test_accuracy"]),
                _plots.pm(s["best_val_accuracy"]),
                f"{_plots.pm(s['epochs_to_target'], '{:.1f}')} ({reached}/{n_seeds})",
                _plots.pm(s["grad_ratio_init"], "{:.2g}"),
                _plots.pm(s["dead_end_total"], "{:.1%}") if v in RELU_FAMILY else "–",
                _plots.pm(s["seconds"], "{:.1f}"),
            ]
        )
    header = [
        "activation",
        "test accuracy",
        "best val. accuracy",
        f"epochs to {target} (seeds reaching)",
        "grad. first/last layer at init",
        "never-active units after training (dead for ReLU)",
        "seconds",
    ]
    return _plots.table(header, rows)


def recommendations(variants, summary) -> str:
    """A table: each activation's measured verdict next to the lecture's guide line."""
    acc = {v: summary[v]["test_accuracy"]["mean"] or 0.0 for v in variants}
    std = {v: summary[v]["test_accuracy"]["std"] or 0.0 for v in variants}
    speed = {v: summary[v]["epochs_to_target"]["mean"] for v in variants}
    best = max(acc.values())
    ranked = sorted(variants, key=lambda v: -acc[v])
    fastest = min((s for s in speed.values() if s is not None), default=None)
    # "most stable" only among the variants that learned (a model stuck at chance has std 0)
    learned = [v for v in variants if acc[v] >= best - 0.1]
    stable = min(learned, key=lambda v: std[v])
    rows = []
    for v in variants:
        notes = []
        if acc[v] >= best - max(0.01, std[ranked[0]]):
            notes.append("top accuracy here")
        elif acc[v] < best - 0.1:
            notes.append(f"{best - acc[v]:.0%} below the best")
        if speed[v] is not None and fastest is not None and speed[v] <= fastest + 0.5:
            notes.append("fastest to the target")
        elif speed[v] is None:
            notes.append("never reached the target")
        if v == stable and summary[v]["test_accuracy"]["n"] > 1:
            notes.append("most stable across seeds")
        ratio = summary[v]["grad_ratio_init"]["mean"]
        if ratio is not None and ratio < 0.05:
            notes.append(f"vanishing gradient (first/last {ratio:.1g})")
        dead = summary[v]["dead_end_total"]["mean"] or 0.0
        if v == "relu" and dead > 0.05:
            notes.append(f"{dead:.0%} dead units")
        elif v in RELU_FAMILY and dead > 0.05:
            notes.append(f"{dead:.0%} units always negative, still learning through the slope")
        rows.append(
            [
                v,
                f"#{ranked.index(v) + 1}",
                "; ".join(notes) or "middle of the pack",
                LECTURE_GUIDE.get(v, ""),
            ]
        )
    return _plots.table(["activation", "accuracy rank", "measured here", "lecture's guide"], rows)
