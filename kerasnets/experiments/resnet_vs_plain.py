"""Hands-on project 2: plain vs residual networks, and which shortcut.

PlainNet and ResNet share every layer except the skip additions, so their difference is the
effect of the skips alone. The experiment trains, at the same depth (18) and at a deeper
depth (34, to look for the degradation problem), the plain network and the ResNet with identity
shortcuts, plus ResNet-18 with projection shortcuts on every block and a DenseNet-BC (dense,
concatenating connections). It records training curves and the gradient magnitude reaching
every convolution, at initialization and after training.
"""

from __future__ import annotations

import warnings

from kerasnets import io
from kerasnets.experiments import _plots
from kerasnets.experiments._core import FAST_DATA, Experiment, load_split, register

# variant -> (zoo name, extra options)
VARIANTS = {
    "plain-18": ("plainnet18", {}),
    "resnet-18": ("resnet18", {"shortcut": "identity"}),
    "resnet-18-projection": ("resnet18", {"shortcut": "projection"}),
    "densenet-bc": ("densenet_bc", {}),
    "plain-34": ("plainnet34", {}),
    "resnet-34": ("resnet34", {"shortcut": "identity"}),
}

EXPLANATION = """\
### Why skip connections help (the theory the numbers above are checked against)

A plain network computes y = F(x); a residual block computes y = F(x) + x. Backpropagating
through the addition gives ∂y/∂x = ∂F/∂x + I: the identity term carries the gradient from the
loss to early layers directly, instead of through one Jacobian per layer as in a plain stack,
where the product of many Jacobians shrinks or grows geometrically with depth (with BatchNorm
in training mode deep plain stacks tend to grow it towards the input, Yang et al., 2019). The
same identity path lets a block start as (almost) the identity, so adding blocks should not
make the *training* loss worse: the degradation problem of deep plain networks (He et al.,
2016). Projection shortcuts (a 1×1 convolution on every skip) add parameters and replace the
pure identity path; He et al. found them only marginally better than identity shortcuts. Dense
connections (DenseNet) concatenate instead of add: every layer sees all earlier feature maps,
which also gives short gradient paths and reuses features with few parameters.
"""


@register
class ResNetVsPlainExperiment(Experiment):
    name = "resnet-vs-plain"
    title = "Project 2 — plain vs residual networks, identity vs projection vs dense shortcuts"
    datasets = ("digits", "mnist", "fashion_mnist", "cifar10", "shapes")

    def settings(self, dataset, epochs, fast):
        big = dataset not in ("digits", "shapes")
        return {
            # digits: width 8 and 8 epochs keep 6 variants x 3 seeds near 6 minutes on a 2-core
            # CPU (measured: the first epoch of a 34-layer net costs ~9 s of CPU for tracing,
            # later ones ~0.7 s); in 4 epochs plain-34 ends at training loss 2.14 and
            # ResNet-34 at 0.15 (one seed)
            "epochs": epochs or (1 if fast else (5 if big else 8)),
            "width": 4 if fast else (16 if big else 8),
            "growth_rate": 4 if fast else 12,
            # 3 dense blocks of 5 bottleneck layers: 34 weight layers, like ResNet-34
            "dense_blocks": [2, 2, 2] if fast else [5, 5, 5],
            "batch_size": 64,
            "learning_rate": 0.05,
            "momentum": 0.9,
            "subset": 10000 if big else None,
            "test_subset": None,
            "size": 16 if dataset == "shapes" else None,
            "validation_split": 0.2,
            "probe_size": 64 if fast else 256,
            **(FAST_DATA if fast else {}),
            "variants": list(VARIANTS),
        }

    def variants(self, settings):
        return list(settings["variants"])

    def load_data(self, config):
        return load_split(config)

    def build_model(self, variant, input_shape, num_classes, s):
        from kerasnets import models

        zoo_name, options = VARIANTS[variant]
        if zoo_name.startswith("densenet"):
            options = dict(
                options, growth_rate=s["growth_rate"], blocks=s["dense_blocks"], stem="cifar"
            )
        else:
            options = dict(options, width=s["width"], stem="cifar")
        return models.build(zoo_name, input_shape=input_shape, num_classes=num_classes, **options)

    def run_unit(self, variant, seed, config, data, verbose):
        import keras

        s = config["settings"]
        (x, y), (xv, yv), (xt, yt) = data
        num_classes = int(max(y.max(), yt.max()) + 1)
        model = self.build_model(variant, x.shape[1:], num_classes, s)
        model.compile(
            optimizer=keras.optimizers.SGD(s["learning_rate"], momentum=s["momentum"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        from callbacks import GradientFlowMonitor, TrainingDiagnosticWarning

        xp, yp = x[: s["probe_size"]], y[: s["probe_size"]]
        kernels = [layer.name for layer in model.layers if hasattr(layer, "kernel")]
        # training-mode gradients (BatchNorm on batch statistics), as the optimizer sees them
        flow = GradientFlowMonitor(xp, yp, layers=kernels, probe_size=None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrainingDiagnosticWarning)
            history = model.fit(
                x,
                y,
                validation_data=(xv, yv),
                epochs=config["epochs"],
                batch_size=s["batch_size"],
                callbacks=[flow],
                verbose=1 if verbose >= 2 else 0,
            ).history
        history = {
            k: [_finite(v) for v in history[k]]
            for k in ("loss", "accuracy", "val_loss", "val_accuracy")
        }
        eval_loss, eval_acc = model.evaluate(x, y, batch_size=s["batch_size"], verbose=0)
        test_loss, test_acc = model.evaluate(xt, yt, batch_size=s["batch_size"], verbose=0)
        grad_init = [flow.history[n]["kernel_grad_mean_abs"][0] for n in kernels]
        grad_end = [flow.history[n]["kernel_grad_mean_abs"][-1] for n in kernels]
        return {
            "model": model.name,
            "params": int(model.count_params()),
            "layers": kernels,
            "history": history,
            # the curves' number: mean training-mode loss over the last epoch's batches
            "final_train_loss": history["loss"][-1],
            "final_train_accuracy": history["accuracy"][-1],
            # the whole training set once more in inference mode (BatchNorm moving statistics)
            "train_loss_inference": _finite(eval_loss),
            "train_accuracy_inference": float(eval_acc),
            "test_accuracy": float(test_acc),
            "grad_init": grad_init,
            "grad_end": grad_end,
            "grad_ratio_init": _ratio(grad_init),
            "grad_ratio_end": _ratio(grad_end),
        }

    def headline(self, result):
        return (
            f"train loss {result['final_train_loss']:.3g}, test accuracy "
            f"{result['test_accuracy']:.3f}"
        )

    def report(self, config, results, summary, run_dir):
        variants = config["variants"]
        seed0 = results[config["seeds"][0]]
        figs = []

        fig, axes = _plots.new_figure(ncols=3, width=5.5)
        for ax, key, label in zip(
            axes,
            ("loss", "val_loss", "val_accuracy"),
            ("training loss", "validation loss", "validation accuracy"),
        ):
            series = {v: summary[v]["history"][key] for v in variants}
            _plots.curves(ax, series, "epoch", label, f"{label} (mean ± std)", log="loss" in key)
        figs.append(("curves.png", "Training curves: plain vs residual", fig))

        groups = [[v for v in variants if v.endswith(d) or d in v] for d in ("18", "34")]
        groups = [g for g in groups if g] + [
            [v for v in variants if not any(v in g for g in groups)]
        ]
        groups = [g for g in groups if g]
        fig, axes = _plots.new_figure(
            ncols=2, nrows=len(groups), width=6.5, height=3.6, sharey=True
        )
        for row, group in enumerate(groups):
            for col, (key, when) in enumerate(
                (("grad_init", "at initialization"), ("grad_end", "after training"))
            ):
                ax = axes[2 * row + col]
                series = {v: summary[v][key] for v in group}
                longest = max(group, key=lambda v: len(seed0[v]["layers"]))
                _plots.per_layer(
                    ax,
                    seed0[longest]["layers"],
                    series,
                    "mean |∂loss/∂kernel| (log)",
                    f"{', '.join(group)}: {when}",
                    log=True,
                    index=True,
                )
                ax.title.set_fontsize(9)
        fig.suptitle("Gradient reaching each weight layer (training mode, one shared y scale)")
        figs.append(("gradient_flow.png", "Gradient flow per layer", fig))

        fig, axes = _plots.new_figure(ncols=3, width=5.5)
        _plots.bars(
            axes[0],
            variants,
            [summary[v]["final_train_loss"]["mean"] for v in variants],
            [summary[v]["final_train_loss"]["std"] for v in variants],
            "training loss, last epoch (training mode)",
            "Final training loss (lower is better)",
            log=True,
            fmt="{:.3g}",
        )
        _plots.bars(
            axes[1],
            variants,
            [summary[v]["test_accuracy"]["mean"] for v in variants],
            [summary[v]["test_accuracy"]["std"] for v in variants],
            "test accuracy",
            "Final test accuracy",
        )
        _plots.bars(
            axes[2],
            variants,
            [summary[v]["grad_ratio_init"]["mean"] for v in variants],
            [summary[v]["grad_ratio_init"]["std"] for v in variants],
            "first-layer / last-layer gradient",
            "Gradient reaching the input, at init",
            log=True,
            fmt="{:.2g}",
        )
        figs.append(("summary.png", "Degradation and final accuracy", fig))

        for fname, _, fig in figs:
            io.save_figure(fig, run_dir / fname)

        s = config["settings"]
        rows = [
            [
                v,
                f"{seed0[v]['params']:,}",
                _plots.pm(summary[v]["final_train_loss"], "{:.3g}"),
                _plots.pm(summary[v]["train_loss_inference"], "{:.3g}"),
                _plots.pm(summary[v]["final_train_accuracy"]),
                _plots.pm(summary[v]["test_accuracy"]),
                _plots.pm(summary[v]["grad_ratio_init"], "{:.2g}"),
                _plots.pm(summary[v]["grad_ratio_end"], "{:.2g}"),
                _plots.pm(summary[v]["seconds"], "{:.1f}"),
            ]
            for v in variants
        ]
        lines = [
            f"Zoo models on {config['dataset']} (stem `cifar`, first-stage width {s['width']}; "
            f"DenseNet-BC with dense blocks of {s['dense_blocks']} layers, growth rate "
            f"{s['growth_rate']}), SGD (lr {s['learning_rate']}, momentum "
            f"{s['momentum']}), {config['epochs']} epochs, batch {s['batch_size']}. Gradients are "
            "the mean |∂loss/∂kernel| of every convolution and dense layer on "
            f"{s['probe_size']} training samples, measured by `callbacks.GradientFlowMonitor` "
            "during `fit` (BatchNorm in training mode). *Train loss, last epoch* is the "
            "training-mode loss averaged over the last epoch's batches, the number the curves "
            "end at; *inference mode* evaluates the training set again with BatchNorm's moving "
            "statistics (a plain network whose moving statistics lag behind its batch "
            "statistics can score far worse there).\n",
            "## Results\n",
            _plots.table(
                [
                    "variant",
                    "parameters",
                    "train loss, last epoch (training mode, as in the curves)",
                    "train loss, inference mode",
                    "train acc., last epoch",
                    "test acc.",
                    "grad first/last (init)",
                    "grad first/last (trained)",
                    "seconds",
                ],
                rows,
            ),
        ]
        for fname, caption, _ in figs:
            lines.append(f"## {caption}\n\n![{caption}]({fname})\n")
        lines.append("## What the figures show\n")
        lines.append(findings(variants, summary))
        lines.append(EXPLANATION)
        return "\n".join(lines)


def findings(variants, summary) -> str:
    """Sentences drawn from the measured numbers (what this run shows, or does not)."""
    out = []

    def m(v, key):
        value = summary[v][key]["mean"] if v in summary else None
        return float("nan") if value is None else value

    for depth in ("18", "34"):
        p, r = f"plain-{depth}", f"resnet-{depth}"
        if p in variants and r in variants:
            lr, lp = m(r, "final_train_loss"), m(p, "final_train_loss")
            if lr < 0.9 * lp and lp - lr > 0.01:
                verdict = "the ResNet trains further"
            elif lp < 0.9 * lr and lr - lp > 0.01:
                verdict = "the plain network trains further here"
            else:
                verdict = "both fit the training set about equally well"
            out.append(
                f"- Depth {depth}: training loss (last epoch, training mode) "
                f"{m(r, 'final_train_loss'):.3g} with skips vs "
                f"{m(p, 'final_train_loss'):.3g} without — {verdict}; test "
                f"accuracy {m(r, 'test_accuracy'):.3f} vs {m(p, 'test_accuracy'):.3f}. Gradient "
                f"reaching the first layer relative to the last, at init: "
                f"{m(r, 'grad_ratio_init'):.2g} (ResNet) vs {m(p, 'grad_ratio_init'):.2g} (plain)."
            )
    if all(v in variants for v in ("plain-18", "plain-34")):
        l34, l18 = m("plain-34", "final_train_loss"), m("plain-18", "final_train_loss")
        deeper_worse = l34 > 1.1 * l18 and l34 - l18 > 0.01
        verdict = (
            "degradation shows (more layers, higher training loss)"
            if deeper_worse
            else "no degradation in this run (the deeper plain network is not worse)"
        )
        out.append(
            f"- Degradation: the deeper plain network ends at training loss {l34:.3g} vs "
            f"{l18:.3g} for the shallower one — {verdict}."
        )
    for v in variants:
        if not v.startswith(("plain", "resnet")) or v not in summary:
            continue
        r0, r1 = m(v, "grad_ratio_init"), m(v, "grad_ratio_end")
        spread = _spread(summary[v]["grad_init"]["mean"])
        if r0 != r0:
            continue
        trend = (
            "grows towards the input"
            if r0 > 2
            else "shrinks towards the input"
            if r0 < 0.5
            else "stays within a factor 2 from output to input"
        )
        out.append(
            f"- {v}: at initialization the gradient {trend} (first/last layer {r0:.3g}, "
            f"after training {r1:.3g}); across its layers it spans {spread:.1f} decades."
        )
    for depth in ("18", "34"):
        p, r = f"plain-{depth}", f"resnet-{depth}"
        if p in variants and r in variants:
            sp, sr = (
                _spread(summary[p]["grad_init"]["mean"]),
                _spread(summary[r]["grad_init"]["mean"]),
            )
            flatter = "flatter" if sr < sp else "not flatter"
            out.append(
                f"- Depth {depth}: the ResNet's gradient profile at init spans {sr:.1f} decades "
                f"vs {sp:.1f} for the plain network — {flatter} with skips."
            )
    if all(v in variants for v in ("resnet-18", "resnet-18-projection")):
        out.append(
            f"- Identity vs projection shortcuts (ResNet-18): test accuracy "
            f"{m('resnet-18', 'test_accuracy'):.3f} vs "
            f"{m('resnet-18-projection', 'test_accuracy'):.3f}."
        )
    if "densenet-bc" in variants:
        out.append(
            f"- Dense connections (DenseNet-BC): test accuracy "
            f"{m('densenet-bc', 'test_accuracy'):.3f}, gradient first/last at init "
            f"{m('densenet-bc', 'grad_ratio_init'):.2g}."
        )
    return "\n".join(out) + "\n"


def _spread(values):
    """Decades between the largest and smallest positive value (log10 max/min)."""
    import math

    ok = [v for v in values if v is not None and v > 0]
    return math.log10(max(ok) / min(ok)) if ok else float("nan")


def _finite(v):
    v = float(v)
    return v if v == v and abs(v) != float("inf") else None


def _ratio(values):
    if not values or not values[-1]:
        return None
    return float(values[0] / values[-1])
