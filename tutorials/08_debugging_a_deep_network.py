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
# # 08 — Debugging a deep network
#
# When a deep network does not learn, the cause is usually one of a few: gradients that are
# computed wrongly (a custom layer), gradients that vanish through depth (sigmoid with the wrong
# initialization), units that die (ReLU pushed by a too-high learning rate), or a learning rate
# that is simply wrong. The lecture's debugging tips turn each of these into a check; in
# kerasnets they are functions of `kerasnets.debug`:
#
# | tip | tool |
# |---|---|
# | compare numerical and analytical gradients | `debug.gradient_check` |
# | can the model memorize a small training set? | `debug.overfit_test` |
# | check the initial weight statistics | `debug.init_report`, `debug.propagate` |
# | use a learning-rate finder before full training | `debug.LRFinder`, `debug.lr_find` |
#
# and `kerasnets doctor model.keras` runs all four on a saved model. Here we break three
# networks on purpose and let the tools find what is wrong. It runs on any backend in about a
# minute on the digits data (`KERASNETS_FAST=1`: less).

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
from keras import ops

from kerasnets import data, debug, models
from kerasnets.experiments import fast_mode
from kerasnets.plots import show_figure, show_table

FAST = fast_mode()
keras.utils.set_random_seed(0)
print("backend:", keras.backend.backend(), "| fast mode:", FAST)
(x, y), (x_test, y_test) = data.load("digits", flatten=True)

# %% [markdown]
# ## 1. A layer with a wrong gradient
#
# A custom layer is the usual place for a wrong gradient. This one computes x·w² but, through
# a `stop_gradient` trick, backpropagates as if it computed x·w. Training would still run and
# the loss might even fall a little; only a gradient check says that the gradient is wrong.
# It perturbs weights by ±ε, measures the change of the loss, and compares with autodiff,
# layer by layer (in float64 on TensorFlow; Keras computes in float32 on JAX and PyTorch).


# %%
class SquareScale(keras.layers.Layer):
    """y = x·w² with a deliberately wrong gradient (that of x·w)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs):
        right, wrong = inputs * self.w * self.w, inputs * self.w
        return wrong + ops.stop_gradient(right - wrong)


inputs = keras.Input((64,))
h = keras.layers.Dense(16, activation="relu", name="dense")(inputs)
h = SquareScale(name="square_scale")(h)
buggy = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="out")(h))
check = debug.gradient_check(buggy, x[:8], y[:8], entries=4)
show_table(
    [
        (r["layer"], f"{r['relative_error']:.1e}", "yes" if r["flagged"] else "no")
        for r in check["layers"]
    ],
    ["layer", "relative error", "flagged"],
)
print("flagged:", check["flagged"], "| tolerance", check["tolerance"], check["dtype"])

# %% [markdown]
# The Dense layers agree with finite differences to within the tolerance; `square_scale` is off
# by tens of percent: the reported gradient x is half the true one, 2·x·w at w = 1.
#
# ## 2. A sigmoid network whose signal vanishes
#
# `debug.propagate` pushes standard-normal inputs through a stack of Dense layers at
# initialization and records the mean and variance after every layer. The theory: σ′ ≤ 0.25
# shrinks the signal of a sigmoid stack with Glorot weights; ReLU halves the variance at every
# layer unless the weights have He's variance 2/fan_in; SELU with LeCun's 1/fan_in is drawn to
# mean 0, variance 1 (its fixed point). Compare the curves with the table under them.

# %%
depth = 10 if FAST else 30
cases = [
    ("sigmoid", "glorot_uniform"),
    ("relu", "glorot_uniform"),
    ("relu", "he_normal"),
    ("selu", "lecun_normal"),
]
runs = {f"{a} + {i}": debug.propagate(a, i, depth=depth, width=256) for a, i in cases}
fig, ax = plt.subplots(figsize=(6, 4))
for label, run in runs.items():
    ax.plot(run["layers"], run["variance"], marker="o", ms=3, label=label)
ax.set_yscale("log")
ax.set_xlabel("layer (depth)")
ax.set_ylabel("activation variance (log scale)")
ax.set_title("Activation variance through depth at initialization")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
show_figure(fig, "08_activation_variance")
show_table(
    [(label, f"{run['variance'][-1]:.3g}") for label, run in runs.items()],
    ["activation + initializer", f"variance after layer {depth}"],
)

# %% [markdown]
# `debug.init_report` does the same for a real model: the kernel's standard deviation per layer
# against the theory of its initializer, and the activations on real data.

# %%
sigmoid_net = models.build("mlp", input_shape=(64,), depth=10, width=64, activation="sigmoid")
report = debug.init_report(sigmoid_net, x[:256])
show_table(
    [
        (row["layer"], f"{row['std']:.3f}", row["theory"], f"{row['theory_std']:.3f}")
        for row in report["layers"][:3]
    ],
    ["layer", "kernel std", "theory", "theory std"],
)
print("activation variance per layer:", [f"{v:.1e}" for v in report["activations"]["variance"]])

# %% [markdown]
# ## 3. A learning rate far too high, and dead ReLUs
#
# The learning-rate finder (Smith 2017) raises the rate exponentially over a short run and
# records the loss; the loss falls, flattens and then explodes. The suggested rate is a tenth
# of the rate at the lowest (smoothed) loss. The model's weights are put back afterwards. The
# sweep uses plain SGD, the optimizer trained with below (a rate found for one optimizer does
# not carry over to another).

# %%
relu_net = models.build("mlp", input_shape=(64,), depth=5, width=64)
steps = 40 if FAST else 100
finder = debug.lr_find(relu_net, x, y, 1e-4, 10.0, num_steps=steps, optimizer="sgd")
print(f"suggested learning rate: {finder.suggestion:.2g}  ({finder.rule})")
show_figure(finder.plot(), "08_lr_finder")

# %% [markdown]
# Now train the same network twice for a few epochs with plain SGD: once at the suggested rate
# and once at 30 times it. A too-high rate can push ReLU units into never firing again (dead:
# output ≤ 0 for every sample; `init_report(...)["activations"]` counts them per layer) or
# blow the weights up to infinity or NaN. Read the two rows: which happened here?

# %%
epochs = 2 if FAST else 5
rows = []
for name, lr in [("suggested", finder.suggestion), ("30x too high", 30 * finder.suggestion)]:
    net = models.build("mlp", input_shape=(64,), depth=5, width=64)
    net.set_weights(relu_net.get_weights())
    net.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    net.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    loss, acc = net.evaluate(x_test, y_test, verbose=0)
    finite = all(np.isfinite(w).all() for w in net.get_weights())
    dead = debug.init_report(net, x[:512])["activations"]["dead_fraction"]
    rows.append((name, f"{lr:.2g}", f"{acc:.3f}", finite, " ".join(f"{d:.0%}" for d in dead)))
show_table(
    rows, ["rate", "learning rate", "test accuracy", "weights finite", "dead units per layer"]
)

# %% [markdown]
# ## 4. Can it memorize 16 samples?
#
# A model and a data pipeline that work can drive the loss on a handful of samples to about
# zero. If they cannot, suspect the labels, a frozen layer, a wrong loss or a tiny model.

# %%
healthy = debug.overfit_test(relu_net, x, y)
print(f"healthy: passed {healthy['passed']} in {healthy['steps']} steps")
frozen = models.build("mlp", input_shape=(64,), depth=2, width=16)
for layer in frozen.layers[:-1]:
    layer.trainable = False
result = debug.overfit_test(frozen, x, y, steps=50)
print("frozen: passed", result["passed"], "| first cause:", result["causes"][0])

# %% [markdown]
# ## Exercises
#
# Reference solutions are in `tests/test_debug.py` (`test_exercise_*`), which checks them.
#
# 1. **Vanishing depth.** With `debug.propagate("relu", "glorot_uniform", depth=30)`, find the
#    first layer at which the activation variance is below 1% of the input variance (1), and
#    check that with `"he_normal"` no layer of the 30 falls below it.
# 2. **Fix the layer.** Rewrite `SquareScale.call` so that `debug.gradient_check` passes.
# 3. **Your own sweep.** Attach a `debug.LRFinder` callback to your own `model.fit` for a SELU
#    MLP (`activation="selu"`), read `finder.result().suggestion`, and check that the
#    model's weights after `fit` are the ones it had before.
