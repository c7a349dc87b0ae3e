"""Hands-on project 1: the same deep MLP with every activation of the lecture.

Each variant trains an identical 10-hidden-layer MLP (same width, same optimizer, same epochs)
with the initializer its activation is meant for (He for the ReLU family and the
rectifier-like ELU, GELU and Swish; LeCun-normal for SELU, as its paper requires; Glorot for
sigmoid and tanh) and **its own learning rate**: before the seeds, a small sweep trains each
activation briefly at every learning rate of a grid and keeps the one with the best validation
accuracy (the test set is not looked at). One shared learning rate would compare the
activations at a setting that suits some and breaks others (SELU diverges at a rate that
sigmoid needs).

The measurements come from the monitors of ``callbacks/`` attached to ``fit``
(:class:`~callbacks.GradientFlowMonitor`, :class:`~callbacks.ActivationStatsMonitor`,
:class:`~callbacks.DeadNeuronMonitor`): gradient magnitude per layer at initialization, half
way and after training; activation mean, std and sparsity per layer at initialization and after
training; dead units. The report's sentences are generated from these numbers
(:func:`conclusions`), so a run where an activation fails says so.
"""

from __future__ import annotations

import warnings

import numpy as np

from kerasnets import io
from kerasnets.experiments import _plots
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
# activations towards 0 and does not train), LeCun-normal for SELU (needed for
# self-normalization), Glorot for the saturating sigmoid and tanh.
INITIALIZERS = {
    "sigmoid": "glorot_uniform",
    "tanh": "glorot_uniform",
    "selu": "lecun_normal",
}

# The lecture's selection guide, one line per activation.
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

# SELU's fixed point (Klambauer et al., 2017): zero mean, unit variance. "Near" it, here:
NEAR_MEAN, NEAR_STD = 0.25, (0.75, 1.33)


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
            "momentum": 0.9,
            # the learning-rate sweep: every rate of the grid, sweep_epochs epochs, seed 0,
            # scored by the best validation accuracy (fast mode: one rate, the code path only)
            "lr_grid": [0.03] if fast else [0.003, 0.01, 0.03, 0.1],
            "sweep_epochs": 1 if fast else 6,
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

    def _compiled(self, activation, learning_rate, data, s):
        import keras

        (x, y), _, (_, yt) = data
        num_classes = int(max(y.max(), yt.max()) + 1)
        model = self.build_model(activation, x.shape[1], num_classes, s)
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate, momentum=s["momentum"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def tune(self, variant, config, data, verbose):
        """The learning-rate sweep: best validation accuracy over a short run per rate."""
        import keras

        s = config["settings"]
        (x, y), (xv, yv), _ = data
        scores = []
        for lr in s["lr_grid"]:
            keras.backend.clear_session()
            keras.utils.set_random_seed(config["seeds"][0])
            model = self._compiled(variant, lr, data, s)
            history = model.fit(
                x,
                y,
                validation_data=(xv, yv),
                epochs=s["sweep_epochs"],
                batch_size=s["batch_size"],
                verbose=0,
            ).history
            val = [v for v in history["val_accuracy"] if np.isfinite(v)]
            scores.append(float(max(val)) if val else 0.0)
        best = int(np.argmax(scores))  # ties: the smaller rate (the grid is ascending)
        return {
            "learning_rate": s["lr_grid"][best],
            "lr_grid": list(s["lr_grid"]),
            "val_accuracy": scores,
            "epochs": s["sweep_epochs"],
        }

    def headline(self, result):
        if "test_accuracy" in result:
            return f"test accuracy {result['test_accuracy']:.3f} (lr {result['learning_rate']:g})"
        return (
            f"lr {result['learning_rate']:g} (best validation accuracy "
            f"{max(result['val_accuracy']):.3f})"
        )

    def run_unit(self, variant, seed, config, data, verbose):
        from callbacks import (
            ActivationStatsMonitor,
            DeadNeuronMonitor,
            GradientFlowMonitor,
            TrainingDiagnosticWarning,
        )

        s = config["settings"]
        (x, y), (xv, yv), (xt, yt) = data
        tuned = getattr(self, "tuned", {}).get(variant)
        lr = tuned["learning_rate"] if tuned else s["lr_grid"][0]
        model = self._compiled(variant, lr, data, s)
        xp, yp = x[: s["probe_size"]], y[: s["probe_size"]]
        kernels = [layer.name for layer in model.layers if hasattr(layer, "kernel")]
        flow = GradientFlowMonitor(xp, yp, layers=kernels, probe_size=None)
        stats = ActivationStatsMonitor(xp, histogram_bins=0, probe_size=None)
        dead = DeadNeuronMonitor(xp, probe_size=None)
        with warnings.catch_warnings():
            # the monitors keep their warnings in .warnings; the report shows the numbers
            warnings.simplefilter("ignore", TrainingDiagnosticWarning)
            history = model.fit(
                x,
                y,
                validation_data=(xv, yv),
                epochs=config["epochs"],
                batch_size=s["batch_size"],
                callbacks=[flow, stats, dead],
                verbose=1 if verbose >= 2 else 0,
            ).history
        test_loss, test_acc = model.evaluate(xt, yt, batch_size=s["batch_size"], verbose=0)
        curves = {
            k: [_finite(v) for v in history[k]]
            for k in ("loss", "accuracy", "val_loss", "val_accuracy")
        }
        layers, hidden = flow.layer_names, stats.layer_names
        checks = len(flow.checks["epoch"])  # the initial weights, then one per epoch

        def grads(k):
            return [_finite(flow.history[n]["kernel_grad_mean_abs"][k]) for n in layers]

        def acts(k):
            return {
                key: [_finite(stats.history[n][src][k]) for n in hidden]
                for key, src in (("mean", "mean"), ("std", "std"), ("sparsity", "sparsity"))
            }

        grad_init = grads(0)
        val_acc = [v if v is not None else 0.0 for v in curves["val_accuracy"]]
        num_classes = int(max(y.max(), yt.max()) + 1)
        return {
            "learning_rate": lr,
            "layers": layers,
            "hidden_layers": hidden,
            "history": curves,
            "test_accuracy": float(test_acc),
            "test_loss": _finite(test_loss),
            "chance_accuracy": 1.0 / num_classes,
            "best_val_accuracy": float(max(val_acc)),
            "epochs_to_target": epochs_to_target(curves["val_accuracy"], s["target_accuracy"]),
            "grad_init": grad_init,
            "grad_mid": grads((checks - 1) // 2),
            "grad_end": grads(checks - 1),
            "grad_ratio_init": _ratio(grad_init),
            "act_init": acts(0),
            "act_end": acts(checks - 1),
            "dead_init": [dead.history[n]["dead_unit_fraction"][0] for n in dead.layer_names],
            "dead_end": [dead.history[n]["dead_unit_fraction"][-1] for n in dead.layer_names],
            "dead_end_total": float(dead.summary["dead_unit_fraction"][-1]),
            "monitor_warnings": len(flow.warnings) + len(dead.warnings),
            "params": int(model.count_params()),
        }

    def report(self, config, results, summary, run_dir):
        variants = config["variants"]
        first = results[config["seeds"][0]][variants[0]]
        layers, hidden = first["layers"], first["hidden_layers"]
        s = config["settings"]
        target = s["target_accuracy"]
        tuning = {v: getattr(self, "tuned", {}).get(v) for v in variants}
        figs = []

        fig, axes = _plots.new_figure(ncols=3, width=5.0)
        for ax, key, label in zip(
            axes,
            ("loss", "val_loss", "val_accuracy"),
            ("training loss", "validation loss", "validation accuracy"),
        ):
            series = {v: summary[v]["history"][key] for v in variants}
            _plots.curves(
                ax, series, "epoch", label, f"{label} (mean ± std)", log="loss" in key, legend=False
            )
        _plots.figure_legend(fig, axes[0])
        figs.append(("curves.png", "Training and validation curves", fig))

        fig, axes = _plots.new_figure(ncols=3, width=5.0, sharey=True)
        for ax, key, when in zip(
            axes,
            ("grad_init", "grad_mid", "grad_end"),
            ("at initialization", "half way", "after training"),
        ):
            series = {v: summary[v][key] for v in variants}
            _plots.per_layer(
                ax, layers, series, "mean |∂loss/∂kernel| (log)", when, log=True, legend=False
            )
        _plots.figure_legend(fig, axes[0])
        fig.suptitle("Gradient magnitude per layer (one shared scale)")
        figs.append(("gradients.png", "Gradient magnitude per layer", fig))

        fig, axes = _plots.new_figure(ncols=3, nrows=2, width=5.0, height=3.6)
        for col, (key, label) in enumerate(
            (("mean", "activation mean"), ("std", "activation std"), ("sparsity", "share of zeros"))
        ):
            top, bottom = axes[col], axes[3 + col]
            for ax, src, when in ((top, "act_init", "at init"), (bottom, "act_end", "trained")):
                series = {v: summary[v][src][key] for v in variants}
                _plots.per_layer(ax, hidden, series, label, f"{label}, {when}", legend=False)
            _plots.share_y(top, bottom)
        _plots.figure_legend(fig, axes[0])
        fig.suptitle("Activation statistics per hidden layer (rows share a scale per column)")
        figs.append(("activation_stats.png", "Activation statistics per hidden layer", fig))

        relu = [v for v in variants if v in RELU_FAMILY]
        if relu:
            fig, axes = _plots.new_figure(ncols=2, width=6, sharey=True)
            for ax, key, when in zip(
                axes, ("dead_init", "dead_end"), ("at initialization", "after training")
            ):
                series = {v: summary[v][key] for v in relu}
                _plots.per_layer(ax, hidden, series, "dead units (fraction)", when)
                ax.set_ylim(-0.02, 1.02)
            fig.suptitle("Dead units (output exactly 0 on every probe input), ReLU family")
            figs.append(("dead_units.png", "Dead units, ReLU family", fig))

        fig, axes = _plots.new_figure(ncols=2, width=6)
        for v_i, v in enumerate(variants):
            t = tuning[v]
            if t:
                axes[0].plot(
                    t["lr_grid"], t["val_accuracy"], marker="o", color=f"C{v_i % 10}", label=v
                )
        axes[0].set_xscale("log")
        grid = sorted({lr for v in variants if tuning[v] for lr in tuning[v]["lr_grid"]})
        if grid:  # a tick at every rate swept, labelled as written in the table
            from matplotlib.ticker import NullFormatter

            axes[0].set_xticks(grid, [f"{lr:g}" for lr in grid])
            axes[0].xaxis.set_minor_formatter(NullFormatter())
        axes[0].set(
            xlabel="learning rate (SGD, momentum 0.9)",
            ylabel=f"best validation accuracy in {s['sweep_epochs']} epochs",
            title="Learning-rate sweep (seed 0)",
        )
        axes[0].grid(alpha=0.3)
        axes[0].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        _plots.bars(
            axes[1],
            variants,
            [summary[v]["test_accuracy"]["mean"] for v in variants],
            [summary[v]["test_accuracy"]["std"] for v in variants],
            "test accuracy (fraction)",
            "Final test accuracy, each at its chosen rate",
        )
        axes[1].set_ylim(0, 1.1)
        figs.append(("lr_sweep.png", "Learning-rate sweep and final accuracy", fig))

        fig, axes = _plots.new_figure(ncols=2, width=6)
        _plots.bars(
            axes[0],
            variants,
            [summary[v]["epochs_to_target"]["mean"] for v in variants],
            [summary[v]["epochs_to_target"]["std"] for v in variants],
            f"epochs to val. accuracy ≥ {target}",
            "Convergence speed (n/a: never reached)",
            fmt="{:.1f}",
        )
        _plots.bars(
            axes[1],
            variants,
            [summary[v]["seconds"]["mean"] for v in variants],
            [summary[v]["seconds"]["std"] for v in variants],
            "seconds per run",
            "Wall-clock time (training + monitors)",
            fmt="{:.1f}",
        )
        figs.append(("summary.png", "Convergence speed and time", fig))

        for fname, _, fig in figs:
            io.save_figure(fig, run_dir / fname)

        n_seeds = len(config["seeds"])
        lines = [
            f"An MLP with {s['depth']} hidden layers of {s['width']} units, no normalization and "
            f"no dropout, trained with SGD (momentum {s['momentum']}, batch {s['batch_size']}) for "
            f"{config['epochs']} epochs, with the initializer each activation is meant for (He "
            "for the ReLU family, ELU, GELU and Swish; LeCun-normal for SELU, as its paper "
            "requires; Glorot for sigmoid and tanh). Each activation gets its own learning rate: "
            f"a sweep over {', '.join(f'{lr:g}' for lr in s['lr_grid'])} trains it for "
            f"{s['sweep_epochs']} epoch(s) (seed {config['seeds'][0]}) at every rate and keeps "
            "the one with the best validation accuracy; the test set is used only for the final "
            "numbers. Gradients, activation statistics and dead units are measured by the "
            "`callbacks/` monitors during `fit` on "
            f"{s['probe_size']} training samples.\n",
            "## Results\n",
            results_table(variants, summary, target, n_seeds),
            "## Learning-rate sweep (validation accuracy)\n",
            sweep_table(variants, tuning),
            "## What this run shows\n",
            conclusions(variants, summary, tuning, n_seeds),
        ]
        for fname, caption, _ in figs:
            lines.append(f"## {caption}\n\n![{caption}]({fname})\n")
        lines.append("## Recommendations (measured here, next to the lecture's guide)\n")
        lines.append(recommendations(variants, summary))
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


def epochs_to_target(curve, target: float):
    """The first epoch (1-based) at which ``curve`` reaches ``target``, or ``None``.

    Example:
        >>> epochs_to_target([0.2, 0.5, 0.91, 0.95], 0.9)
        3
    """
    for i, v in enumerate(curve):
        if v is not None and v >= target:
            return i + 1
    return None


def _finite(v):
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None


def _ratio(values):
    if not values or not values[-1] or values[0] is None:
        return None
    return float(values[0] / values[-1])


def _mean(summary, v, key):
    agg = summary[v].get(key) if v in summary else None
    return agg["mean"] if isinstance(agg, dict) else None


def results_table(variants, summary, target, n_seeds):
    rows = []
    for v in variants:
        s = summary[v]
        reached = s["epochs_to_target"]["n"]
        rows.append(
            [
                v,
                f"{_mean(summary, v, 'learning_rate'):g}",
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
        "learning rate (chosen)",
        "test accuracy",
        "best val. accuracy",
        f"epochs to val. acc. {target} (seeds reaching)",
        "grad. first/last layer at init",
        "dead units after training",
        "seconds",
    ]
    return _plots.table(header, rows)


def sweep_table(variants, tuning) -> str:
    """One row per activation: the validation accuracy at every rate of the sweep, the pick."""
    grid = next((t["lr_grid"] for t in tuning.values() if t), None)
    if grid is None:
        return "No sweep was recorded.\n"
    rows = []
    for v in variants:
        t = tuning.get(v)
        if not t:
            continue
        cells = [
            f"**{a:.3f}**" if lr == t["learning_rate"] else f"{a:.3f}"
            for lr, a in zip(t["lr_grid"], t["val_accuracy"])
        ]
        rows.append([v, *cells, f"{t['learning_rate']:g}"])
    header = ["activation", *(f"lr {lr:g}" for lr in grid), "chosen"]
    return _plots.table(header, rows)


def conclusions(variants, summary, tuning, n_seeds) -> str:
    """The report's findings, each sentence computed from the measured numbers.

    Nothing here is a fixed claim: a result the data does not show (SELU staying near zero mean
    and unit variance, sigmoid vanishing, ReLU units dying) is reported as what was measured.

    Example:
        >>> agg = lambda m, s=0.0: {"mean": m, "std": s, "n": 3}
        >>> summary = {"relu": {"test_accuracy": agg(0.95), "chance_accuracy": agg(0.1),
        ...            "learning_rate": agg(0.01), "grad_ratio_init": agg(0.8)}}
        >>> print(conclusions(["relu"], summary, {}, 3).splitlines()[0])
        - Best test accuracy: relu, 0.950 ± 0.000 (3 seeds).
    """
    out = []
    acc = {v: _mean(summary, v, "test_accuracy") or 0.0 for v in variants}
    std = {v: (summary[v]["test_accuracy"].get("std") or 0.0) for v in variants}
    chance = _mean(summary, variants[0], "chance_accuracy") or 0.1
    at_chance = [v for v in variants if acc[v] < chance + 0.1]
    best = max(variants, key=lambda v: acc[v])
    out.append(
        f"- Best test accuracy: {best}, {_plots.pm(summary[best]['test_accuracy'])} "
        f"({n_seeds} seed{'s' if n_seeds != 1 else ''})."
    )
    if at_chance:
        names = ", ".join(f"{v} ({acc[v]:.3f})" for v in at_chance)
        out.append(
            f"- At chance level (accuracy below {chance + 0.1:.2f}; chance is {chance:.2f}): "
            f"{names}, even at the learning rate its sweep chose."
        )

    if "sigmoid" in variants:
        r = _mean(summary, "sigmoid", "grad_ratio_init")
        if r is not None:
            vanish = "vanishing" if r < 0.01 else "no strong vanishing"
            out.append(
                f"- Sigmoid: at initialization the first layer's gradient is {r:.2g}× the last "
                f"layer's ({vanish}: σ′ ≤ 0.25 per layer); its test accuracy is "
                f"{acc['sigmoid']:.3f}."
            )
    family = [v for v in variants if v in RELU_FAMILY]
    if family and "sigmoid" in variants:
        low, high = min(acc[v] for v in family), max(acc[v] for v in family)
        diff = low - acc["sigmoid"]
        verdict = (
            f"{diff:.3f} above sigmoid at the least"
            if diff > 0
            else f"not above sigmoid here ({diff:+.3f})"
        )
        out.append(
            f"- ReLU family: test accuracy {low:.3f}–{high:.3f}, {verdict}; first/last-layer "
            "gradient at init "
            + ", ".join(f"{v} {_mean(summary, v, 'grad_ratio_init') or 0:.2g}" for v in family)
            + "."
        )
    if "relu" in variants and "dead_end_total" in summary["relu"]:
        d = _mean(summary, "relu", "dead_end_total") or 0.0
        out.append(
            f"- Dead units: {d:.1%} of ReLU's hidden units output 0 on every probe input after "
            "training"
            + (
                "; Leaky ReLU and PReLU have none by construction (their negative side has a "
                "slope)."
                if any(v in variants for v in ("leaky_relu", "prelu"))
                else "."
            )
        )
    if "selu" in variants:
        out.append(selu_finding(summary, tuning.get("selu"), acc, std, best, chance))
    unstable = [v for v in variants if std[v] > 0.05 and v not in at_chance]
    if n_seeds > 1:
        if unstable:
            out.append(
                "- Unstable across seeds (std > 0.05): "
                + ", ".join(f"{v} (± {std[v]:.3f})" for v in unstable)
                + "."
            )
        else:
            spread = max(std[v] for v in variants)
            out.append(
                f"- Across seeds every activation's test accuracy varies by ± {spread:.3f} at most."
            )
    speed = {v: _mean(summary, v, "epochs_to_target") for v in variants}
    reached = {v: e for v, e in speed.items() if e is not None}
    if reached:
        fastest = min(reached, key=reached.get)
        never = [v for v in variants if speed[v] is None]
        out.append(
            f"- Fastest to the target validation accuracy: {fastest} ({reached[fastest]:.1f} "
            "epochs on average over the seeds that reached it)"
            + (f"; never reached: {', '.join(never)}." if never else ".")
        )
    return "\n".join(out) + "\n"


def selu_finding(summary, tuned, acc, std, best, chance) -> str:
    """SELU's sentence: does it train, and does it self-normalize, as measured."""
    lr = _mean(summary, "selu", "learning_rate")
    parts = [f"- SELU (LeCun-normal init, learning rate {lr:g}"]
    if tuned:
        parts.append(f" chosen by the sweep, validation accuracy {max(tuned['val_accuracy']):.3f}")
    parts.append(f"): test accuracy {acc['selu']:.3f} ± {std['selu']:.3f}")
    gap = acc[best] - acc["selu"]
    if acc["selu"] < chance + 0.1:
        parts.append(f", at chance: it failed to train here ({gap:.3f} below the best, {best})")
    elif gap > 0.05:
        parts.append(f", {gap:.3f} below the best ({best}): it did not train as well here")
    elif gap <= 0 and best != "selu":  # equal means (test accuracies are multiples of 1/n)
        parts.append(f", tied for the best with {best}: used as its paper says, it trains")
    elif gap <= 0:
        parts.append(", the best here: used as its paper says, it trains")
    else:
        parts.append(f", within {gap:.3f} of the best ({best}): used as its paper says, it trains")
    for key, when in (("act_init", "at initialization"), ("act_end", "after training")):
        stats = summary["selu"].get(key)
        if not stats:
            continue
        means = [m for m in stats["mean"]["mean"] if m is not None]
        stds = [s for s in stats["std"]["mean"] if s is not None]
        if not means or not stds:
            continue
        near = max(abs(m) for m in means) <= NEAR_MEAN and all(
            NEAR_STD[0] <= s <= NEAR_STD[1] for s in stds
        )
        verdict = (
            "near the zero mean and unit variance self-normalization predicts"
            if near
            else "not near the zero mean and unit variance self-normalization predicts"
        )
        parts.append(
            f". {when.capitalize()} its layers' means lie in [{min(means):.2f}, "
            f"{max(means):.2f}] and standard deviations in [{min(stds):.2f}, {max(stds):.2f}]: "
            f"{verdict}"
        )
    return "".join(parts) + "."


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
        if speed[v] is not None and fastest is not None and speed[v] <= fastest:
            notes.append("fastest to the target")
        elif speed[v] is not None and fastest is not None and speed[v] <= fastest + 0.5:
            notes.append("within half an epoch of the fastest to the target")
        elif speed[v] is None:
            notes.append("never reached the target")
        if v == stable and len(learned) > 1 and summary[v]["test_accuracy"]["n"] > 1:
            notes.append("most stable across seeds")
        ratio = summary[v]["grad_ratio_init"]["mean"]
        if ratio is not None and ratio < 0.05:
            notes.append(f"vanishing gradient (first/last {ratio:.1g})")
        dead = summary[v]["dead_end_total"]["mean"] or 0.0
        if v in RELU_FAMILY and dead > 0.05:
            notes.append(f"{dead:.0%} dead units")
        rows.append(
            [
                v,
                f"#{ranked.index(v) + 1}",
                "; ".join(notes) or "middle of the pack",
                LECTURE_GUIDE.get(v, ""),
            ]
        )
    return _plots.table(["activation", "accuracy rank", "measured here", "lecture's guide"], rows)
