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
# # 03 — Skip connections and ResNet (hands-on project 2)
#
# A residual block computes **y = F(x) + x**. Its Jacobian is ∂y/∂x = ∂F/∂x + I: the identity
# term hands the gradient to earlier layers unchanged, so a deep stack of blocks no longer
# multiplies one small factor per layer. The same path lets an extra block start out as (nearly)
# the identity, which removes the *degradation problem*: without skips, a deeper plain network
# can end with a **higher training loss** than a shallower one — not overfitting, an
# optimization failure.
#
# This notebook builds a basic residual block by hand, checks that the zoo's PlainNet-18 and
# ResNet-18 differ only by the skips, and then runs project 2 as an experiment
# (`kerasnets run resnet-vs-plain`). `KERASNETS_FAST=1` shrinks it for CI.

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

from kerasnets import blocks, models
from kerasnets.experiments import fast_mode, run_experiment, show
from kerasnets.plots import show_markdown, show_table

FAST = fast_mode()
keras.utils.set_random_seed(0)
print("backend:", keras.backend.backend(), "| fast mode:", FAST)

# %% [markdown]
# ## 1. A basic residual block, y = F(x) + x
#
# `blocks.apply_basic_block` builds the ResNet-18/34 block out of standard Keras layers:
# two 3×3 conv–BN layers for F, and an identity shortcut (or a 1×1 projection when the shape
# changes). Because it is a graph of built-in layers, `summary()` shows the `Add` of the skip.

# %%
inputs = keras.Input((8, 8, 16))
outputs = blocks.apply_basic_block(inputs, 16, strides=1, shortcut="identity", name="block")
block = keras.Model(inputs, outputs)
block.summary(line_length=100)

# %% [markdown]
# ## 2. PlainNet vs ResNet: the same layers, minus the additions
#
# The zoo builds ResNet-18 and PlainNet-18 from the same code; PlainNet passes
# `shortcut="none"`. Where ResNet needs a 1×1 projection (the stage transitions) it has a few
# more parameters; everything else is identical, so a comparison isolates the skips. The table
# counts both models' parameters and their `Add` layers (ResNet: one per block).

# %%
options = dict(input_shape=(8, 8, 1), num_classes=10, width=8, stem="cifar")
plain = models.build("plainnet18", **options)
resnet = models.build("resnet18", **options)
show_table(
    [
        (
            name,
            f"{net.count_params():,}",
            sum(isinstance(ly, keras.layers.Add) for ly in net.layers),
        )
        for name, net in (("plainnet18", plain), ("resnet18", resnet))
    ],
    ["model", "parameters", "additions (Add layers)"],
)

# %% [markdown]
# ## 3. The experiment
#
# PlainNet vs ResNet at depth 18 and 34, ResNet-18 with projection shortcuts on every block,
# and a DenseNet-BC (concatenating, dense connections), each trained with several seeds on the
# digits. The report has the training curves, the gradient reaching every layer at
# initialization and after training, the final training loss (degradation) and accuracy, and
# a written explanation. In fast mode only the depth-18 pair runs, for one epoch.

# %%
run = run_experiment(
    "resnet-vs-plain",
    seeds=1 if FAST else 3,
    variants=["plain-18", "resnet-18"] if FAST else None,
    verbose=0,
)
print("report:", run["report"])
show(run)

# %%
report = open(run["report"], encoding="utf-8").read()
show_markdown(report[report.index("## Results") : report.index("## Training")])
show_markdown(report[report.index("## What the figures show") :])

# %% [markdown]
# **What it shows.** "What the figures show" is generated from the run's numbers: the final
# training loss of each network (last epoch, training mode, as in the curves), whether the
# deeper plain network degrades, how the gradient changes from the output to the input layer
# and how many decades it spans, on one shared scale for all models. The explanation after it
# is the theory those numbers are checked against. Fast mode (CI) trains one epoch on a few
# hundred images: its numbers only show that the code runs.

# %% [markdown]
# ## Exercises
#
# Reference solutions are in `tests/test_tutorial_exercises.py` (`test_03_*`), which checks them.
#
# 1. **What the shortcuts cost.** `resnet18` and `plainnet18` have the same layers except the
#    skips. Show that their parameter counts differ by exactly the parameters of the layers whose
#    name contains `proj` (the 1×1 projection shortcuts and their BatchNorms).
# 2. **The "+1" of the identity path.** Build a two-convolution branch F and the block x + F(x)
#    as two `keras.Model`s on the same layers, and show with `kerasnets.backend.input_gradient`
#    that the block's input gradient is the branch's plus exactly 1 everywhere.
