"""Hands-on project 2: plain vs residual networks, and which shortcut.

PlainNet and ResNet share every layer except the skip additions, so their difference is the
effect of the skips alone. The experiment trains, at the same depth (18) and at a deeper
depth (34, to look for the degradation problem), the plain network and the ResNet with identity
shortcuts, plus ResNet-18 with projection shortcuts on every block and a DenseNet-BC (dense,
concatenating connections). It records training curves and the gradient magnitude reaching
every convolution, at initialization and after training.
"""

from __future__ import annotations

from kerasnets import io
from kerasnets.experiments import _measure, _plots
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
### Why skip connections help

A plain network computes y = F(x); a residual block computes y = F(x) + x. Backpropagating
through the addition gives ∂y/∂x = ∂F/∂x + I: the identity term carries the gradient from the
loss to early layers unchanged, however small ∂F/∂x is, instead of multiplying one Jacobian per
layer as a plain stack does. In the gradient-flow figure this is the flatter profile of the
ResNets from the last layer back to the first. The same identity path lets a block start as
(almost) the identity: adding depth can then no longer make the *training* loss worse, which is
the degradation problem that plain networks show when they get deeper (He et al., 2016).
Projection shortcuts (a 1×1 convolution on every skip) add parameters and take the pure
identity path away from the gradient; He et al. found them only marginally better than identity
shortcuts. Dense connections (DenseNet) concatenate instead of add: every layer sees all earlier
feature maps, which also gives short gradient paths and reuses features with few parameters.
"""


@register
class ResNetVsPlainExperiment(Experiment):
    name = "resnet-vs-plain"
    title = "Project 2 — plain vs residual networks, identity vs projection vs dense shortcuts"
    datasets = ("digits", "mnist", "fashion_mnist", "cifar10", "shapes")

    def settings(self, dataset, epochs, fast):
        big = dataset not in ("digits", "shapes")
        return {
            "epochs": epochs or (1 if fast else (5 if big else 15)),
            "width": 4 if fast else 16,
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
        xp, yp = x[: s["probe_size"]], y[: s["probe_size"]]
        grads_init = _measure.gradient_magnitudes(model, xp, yp, training=True)
        history = model.fit(
            x,
            y,
            validation_data=(xv, yv),
            epochs=config["epochs"],
            batch_size=s["batch_size"],
            verbose=1 if verbose else 0,
        ).history
        grads_end = _measure.gradient_magnitudes(model, xp, yp, training=True)
        train_loss, train_acc = model.evaluate(x, y, batch_size=s["batch_size"], verbose=0)
        test_loss, test_acc = model.evaluate(xt, yt, batch_size=s["batch_size"], verbose=0)
        return {
            "model": model.name,
            "params": int(model.count_params()),
            "layers": grads_init["layers"],
            "history": {k: [_finite(v) for v in vals] for k, vals in history.items()},
            "final_train_loss": _finite(train_loss),
            "final_train_accuracy": float(train_acc),
            "test_accuracy": float(test_acc),
            "grad_init": grads_init["mean_abs"],
            "grad_end": grads_end["mean_abs"],
            "grad_ratio_init": _ratio(grads_init["mean_abs"]),
            "grad_ratio_end": _ratio(grads_end["mean_abs"]),
        }

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

        fig, axes = _plots.new_figure(ncols=1, nrows=len(variants), width=13, height=3.2)
        for ax, v in zip(axes, variants):
            series = {
                "at initialization": summary[v]["grad_init"],
                "after training": summary[v]["grad_end"],
            }
            _plots.per_layer(
                ax,
                seed0[v]["layers"],
                series,
                "mean |∂loss/∂kernel|",
                f"{v}: gradient reaching each layer",
                log=True,
            )
            ax.tick_params(axis="x", labelsize=6)
        figs.append(("gradient_flow.png", "Gradient flow per layer", fig))

        fig, axes = _plots.new_figure(ncols=3, width=5.5)
        _plots.bars(
            axes[0],
            variants,
            [summary[v]["final_train_loss"]["mean"] for v in variants],
            [summary[v]["final_train_loss"]["std"] for v in variants],
            "training loss after the last epoch",
            "Final training loss (lower is better)",
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
            "the mean |∂loss/∂kernel| of every convolution and dense layer on a probe batch, "
            "BatchNorm in training mode.\n",
            "## Results\n",
            _plots.table(
                [
                    "variant",
                    "parameters",
                    "final train loss",
                    "final train acc.",
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
                f"- Depth {depth}: training loss {m(r, 'final_train_loss'):.3g} with skips vs "
                f"{m(p, 'final_train_loss'):.3g} without — {verdict}; test "
                f"accuracy {m(r, 'test_accuracy'):.3f} vs {m(p, 'test_accuracy'):.3f}. Gradient "
                f"reaching the first layer relative to the last, at init: "
                f"{m(r, 'grad_ratio_init'):.2g} (ResNet) vs {m(p, 'grad_ratio_init'):.2g} (plain)."
            )
    if all(v in variants for v in ("plain-18", "plain-34")):
        l34, l18 = m("plain-34", "final_train_loss"), m("plain-18", "final_train_loss")
        deeper_worse = l34 > 1.1 * l18 and l34 - l18 > 0.01
        verdict = "degradation shows" if deeper_worse else "no degradation in this run"
        out.append(
            f"- Degradation: the deeper plain network ends at training loss "
            f"{m('plain-34', 'final_train_loss'):.3g} vs {m('plain-18', 'final_train_loss'):.3g}"
            f" for the shallower one — {verdict}"
            " (more layers, higher training loss)."
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


def _finite(v):
    v = float(v)
    return v if v == v and abs(v) != float("inf") else None


def _ratio(values):
    if not values or not values[-1]:
        return None
    return float(values[0] / values[-1])
