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
# # 01 — Depth and the vanishing gradient
#
# Backpropagation multiplies one factor per layer. Through a sigmoid layer that factor contains
# σ′(z) = σ(z)(1 − σ(z)), which is **at most 0.25** (at z = 0). Ten sigmoid layers therefore
# scale the gradient reaching the first layer by at most 0.25¹⁰ ≈ 10⁻⁶ (before the weights are
# counted): the early layers of a deep sigmoid network barely learn. This notebook
#
# 1. checks σ′ ≤ 0.25 with the backend's automatic differentiation,
# 2. measures ∏σ′ along a 10-layer sigmoid stack on real inputs,
# 3. measures the gradient reaching every layer of the same MLP with sigmoid and with ReLU.
#
# It runs on any backend (`KERAS_BACKEND=tensorflow|jax|torch`) in seconds, on the embedded
# digits data. `KERASNETS_FAST=1` shrinks it further (that is how CI runs it).

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
from kerasnets.backend import loss_and_gradients
from kerasnets.experiments import fast_mode
from kerasnets.plots import show_figure, show_table

FAST = fast_mode()
keras.utils.set_random_seed(0)
print("backend:", keras.backend.backend(), "| fast mode:", FAST)

# %% [markdown]
# ## 1. The derivative of the sigmoid never exceeds 0.25
#
# `activations.derivative` differentiates the activation with the backend's autodiff (no
# hand-written formula), so this is exactly what backpropagation sees.

# %%
z = np.linspace(-6, 6, 601).astype("float32")
d_sigmoid = activations.derivative("sigmoid", z)
print(f"max σ′ = {d_sigmoid.max():.4f} at z = {z[d_sigmoid.argmax()]:.2f}")
print(f"0.25 ** 10 = {0.25**10:.3g}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(z, keras.ops.convert_to_numpy(keras.activations.sigmoid(z)), label="σ(z)")
ax.plot(z, d_sigmoid, label="σ′(z)")
ax.axhline(0.25, color="grey", linestyle=":", label="0.25")
ax.set_xlabel("z")
ax.set_ylabel("value")
ax.set_title("The sigmoid and its derivative")
ax.legend()
show_figure(fig, "01_sigmoid_derivative")

# %% [markdown]
# ## 2. ∏σ′ along a 10-layer sigmoid stack
#
# We build the zoo's `mlp_deep` (10 hidden layers) with sigmoid activations, read the
# pre-activations z of every hidden layer on a batch of digits, and multiply the mean σ′(z) of
# the layers. The product is the shrink factor that the activations alone apply to the gradient
# on its way from the last hidden layer to the first.

# %%
(x, y), _ = data.load("digits", flatten=True, subset=256 if FAST else None)
width = 32 if FAST else 64
model = models.build(
    "mlp_deep", input_shape=(64,), num_classes=10, activation="sigmoid", width=width
)
dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
probe = keras.Model(model.inputs, [layer.output for layer in dense])
pre_activations = probe.predict(x[:128], verbose=0)
mean_derivative = [float(activations.derivative("sigmoid", zl).mean()) for zl in pre_activations]
show_table([(i, f"{d:.3f}") for i, d in enumerate(mean_derivative, 1)], ["hidden layer", "mean σ′"])
print(
    f"product over {len(mean_derivative)} layers: {np.prod(mean_derivative):.3g}  "
    f"(bound 0.25^{len(mean_derivative)} = {0.25 ** len(mean_derivative):.3g})"
)

# %% [markdown]
# ## 3. The gradient reaching each layer: sigmoid vs ReLU
#
# `kerasnets.backend.loss_and_gradients` returns the gradient of the loss with respect to every
# weight (on TensorFlow, JAX or PyTorch). We plot the mean |∂loss/∂kernel| per layer, input to
# output, for the same MLP with sigmoid and with ReLU (each with its matching initializer), and
# list the first and the last layer's values with their ratio.

# %%
fig, ax = plt.subplots(figsize=(7, 4))
rows = []
for name in ("sigmoid", "relu"):
    keras.utils.set_random_seed(0)
    net = models.build("mlp_deep", input_shape=(64,), num_classes=10, activation=name, width=width)
    _, grads = loss_and_gradients(net, x[:128], y[:128], loss="sparse_categorical_crossentropy")
    kernels = [layer for layer in net.layers if isinstance(layer, keras.layers.Dense)]
    mags = [float(np.abs(grads[layer.kernel.path]).mean()) for layer in kernels]
    rows.append((name, f"{mags[0]:.2e}", f"{mags[-1]:.2e}", f"{mags[0] / mags[-1]:.2g}"))
    ax.semilogy(range(1, len(mags) + 1), mags, marker="o", label=name)
ax.set_xlabel("layer (1 = input side)")
ax.set_ylabel("mean |∂loss/∂kernel|")
ax.set_title("Gradient magnitude per layer at initialization")
ax.legend()
show_figure(fig, "01_gradient_per_layer")
headers = ["activation", "first layer (input side)", "last layer (output)", "first / last"]
show_table(rows, headers)

# %% [markdown]
# **What it shows.** With sigmoid the gradient shrinks by orders of magnitude from the output
# to the input — roughly the ∏σ′ measured above — so the first layers receive almost no
# learning signal. With ReLU (derivative 1 for active units) and He initialization the gradient
# keeps its size across depth. Tutorial 02 compares all the activations; tutorial 03 shows the
# other cure, skip connections.

# %% [markdown]
# ## Exercises
#
# Reference solutions are in `tests/test_tutorial_exercises.py` (`test_01_*`), which checks them.
#
# 1. **How deep until the signal is gone?** With `activations.derivative("sigmoid", x)` on a fine
#    grid, find σ′'s maximum and the smallest depth n at which even that best case, max(σ′)ⁿ,
#    falls below 10⁻⁶.
# 2. **Variance through depth.** With `debug.propagate`, follow the activation variance through
#    20 Dense layers for ReLU with `"he_normal"` and for sigmoid with `"glorot_uniform"`. Which
#    stays of order 1, and where does the sigmoid's settle (mean and variance)?
