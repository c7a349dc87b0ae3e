# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 — Activation functions (hands-on project 1)
#
# Every activation of the lecture, its derivative, the dead-ReLU problem, and then the
# lecture's project 1 as a reproducible experiment: the same 10-hidden-layer MLP trained with
# each activation over several seeds, with loss curves, gradient magnitudes per layer,
# activation statistics, dead units, convergence speed and final accuracy (mean ± std), and a
# recommendations table drawn from the measurements.
#
# The same experiment runs from the command line: `kerasnets run activations`.
# `KERASNETS_FAST=1` shrinks data, epochs and the list of activations (CI runs it that way).

# %%
# Setup for Colab or a fresh Jupyter; run this cell first. If kerasnets cannot be imported, it
# is installed into this kernel's Python (what `%pip install SOURCE` does), from SOURCE =
# $KERASNETS_SOURCE when that is set (a "git+https://..." URL of the repository, or the path of
# a checkout), else from the checkout this notebook sits in (the folder above tutorials/).
# `import kerasnets` then keeps TensorFlow's C++ start-up lines, which TF_CPP_MIN_LOG_LEVEL does
# not all stop, out of the output: it comes before anything imports Keras or TensorFlow.
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if importlib.util.find_spec("kerasnets") is None:
    here = Path(globals().get("__file__", Path.cwd() / "notebook")).resolve().parent
    checkout = str(here.parent) if (here.parent / "pyproject.toml").exists() else None
    source = os.environ.get("KERASNETS_SOURCE") or checkout
    if source is None:
        raise RuntimeError("kerasnets is not installed: set KERASNETS_SOURCE to its repository")
    print("installing kerasnets from", source)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", source])
    importlib.invalidate_caches()

import kerasnets  # noqa: F401, I001  (its import hook keeps TensorFlow's start-up lines quiet)

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np

from kerasnets import activations, data, models
from kerasnets.experiments import fast_mode, run_experiment, show
from kerasnets.plots import show_figure, show_markdown, show_table

FAST = fast_mode()
keras.utils.set_random_seed(0)
print("backend:", keras.backend.backend(), "| fast mode:", FAST)

# %% [markdown]
# ## 1. The functions and their derivatives
#
# Derivatives come from automatic differentiation on the current backend
# (`activations.derivative`). Note the sigmoid's maximum slope of 0.25, tanh's of 1, ReLU's
# 0-or-1 step, the small negative slope of Leaky ReLU, and the smooth, slightly non-monotonic
# GELU and Swish.

# %%
names = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "swish"]
z = np.linspace(-4, 4, 401).astype("float32")
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for name in names:
    layer = activations.get(name, **({"alpha": 0.1} if name == "leaky_relu" else {}))
    axes[0].plot(z, keras.ops.convert_to_numpy(layer(z)), label=name)
    d = activations.derivative(name, z, **({"alpha": 0.1} if name == "leaky_relu" else {}))
    axes[1].plot(z, d, label=name)
axes[0].set(xlabel="z", ylabel="f(z)", title="Activation functions", ylim=(-2, 4))
axes[1].set(xlabel="z", ylabel="f′(z)", title="Derivatives (autodiff)")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
show_figure(fig, "02_activations_and_derivatives")
show_table(
    [(name, activations.describe(name)) for name in names], ["activation", "what it computes"]
)

# %% [markdown]
# ## 2. The dead-ReLU problem
#
# A ReLU unit whose pre-activation is negative for every input outputs 0 everywhere and gets
# no gradient: it is dead and stays dead. A too-large learning rate is a classic cause: one
# big update pushes the bias far negative. We train the same ReLU MLP with a sane and with a
# far too large learning rate and count, per hidden layer, the units that are never active on
# the training data.

# %%
(x, y), _ = data.load("digits", flatten=True, subset=300 if FAST else None)


from callbacks import DeadNeuronMonitor

rows = []
for lr in (0.01, 1.0):
    keras.utils.set_random_seed(0)
    model = models.build("mlp_deep", input_shape=(64,), num_classes=10, activation="relu", width=64)
    model.compile(
        optimizer=keras.optimizers.SGD(lr, momentum=0.9), loss="sparse_categorical_crossentropy"
    )
    model.fit(x, y, epochs=1 if FAST else 3, batch_size=32, verbose=0)
    # the training-diagnostics callback measures it once, outside fit
    layers = DeadNeuronMonitor(x, probe_size=None).measure(model)["layers"]
    dead = [v["dead_unit_fraction"] for v in layers.values()]
    rows.append((f"{lr:g}", *(f"{d:.0%}" for d in dead)))
show_table(rows, ["learning rate", *(f"layer {i}" for i in range(1, len(dead) + 1))])

# %% [markdown]
# With the large learning rate many units usually die (whole layers in the worst case, which
# cuts the network in two; the numbers above are this run's). Leaky ReLU, PReLU, ELU and the
# smooth activations have no flat negative side, so their units keep a gradient.
#
# ## 3. The project: one deep MLP, every activation, several seeds
#
# `run_experiment("activations")` first sweeps a few learning rates for each activation and
# keeps the one with the best validation accuracy (one shared rate would favour some
# activations: SELU diverges at rates sigmoid needs), then trains the zoo's `mlp_deep` (10
# hidden layers) with each activation, its initializer and its rate, for each seed, writes
# `runs/activations-<time>/` (config, per-seed results, PNG figures, `report.md`) and returns
# the aggregated numbers. A killed run continues with
# `resume=True`.

# %%
run = run_experiment(
    "activations",
    seeds=1 if FAST else 3,
    variants=["sigmoid", "relu", "leaky_relu", "selu"] if FAST else None,
    verbose=0,
)
print("report:", run["report"])
show(run)

# %% [markdown]
# The report's tables, including the generated recommendations next to the lecture's guide:

# %%
report = open(run["report"], encoding="utf-8").read()
show_markdown(report[report.index("## Results") : report.index("## Training")])
show_markdown(report[report.index("## Recommendations") :])

# %% [markdown]
# **What it shows.** The "What this run shows" section above is generated from this run's
# numbers, so it is what to read. On the digits with the default settings (3 seeds, TensorFlow;
# see `notes/experiments.md` for the measured figures) sigmoid stays at chance at depth 10: its
# gradient at the first layer is orders of magnitude below the last layer's, whatever the
# learning rate; the ReLU family and the smooth activations with He initialization train, ReLU
# with a share of dead units; SELU with LeCun-normal initialization and its own learning rate
# trains as well as the best. Fast mode (CI) only checks that the code runs.

# %% [markdown]
# ## Exercises
#
# Reference solutions are in `tests/test_tutorial_exercises.py` (`test_02_*`), which checks them.
#
# 1. **Swish is not monotonic.** Find the x where Swish's derivative is most negative, and its
#    value there (`activations.derivative("swish", x)` on a grid over [-6, 0]).
# 2. **Sparse at birth.** Build `models.build("mlp", input_shape=(64,), depth=3, width=100)` and
#    measure, with `debug.activation_stats` on the digits, the share of exact zeros in each ReLU
#    layer before any training. How does it compare with the lecture's "~50 %"?
