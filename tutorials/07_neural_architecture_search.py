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
# # 07 — Neural architecture search with Optuna
#
# The lecture's project 4 in three parts, each one library call of `kerasnets.nas`:
#
# 1. **the search space**: which networks may be built (layer types, depth, widths, where to
#    halve the resolution), as a JSON-serializable `SearchSpace`;
# 2. **the search strategy**: an Optuna sampler (random search, regularized evolution, NSGA-II)
#    that proposes one architecture per trial; each trial builds the network from
#    `kerasnets.blocks`, trains it briefly and records accuracy and MACs;
# 3. **the analysis**: the Pareto front of accuracy against cost next to hand-designed baselines,
#    the top architectures, what the best ones have in common, and what the search cost.
#
# With `KERASNETS_FAST=1` everything shrinks to seconds (a tiny space, a few trials of one epoch
# on 200 digits): the numbers then only show that the code runs.

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

from kerasnets import analysis, nas
from kerasnets.experiments import fast_mode, show
from kerasnets.plots import show_table

FAST = fast_mode()
print("backend:", keras.backend.backend(), "| fast mode:", FAST)

# %% [markdown]
# ## 1. The search space
#
# The default is the lecture's: plain 3×3 and 5×5 convolutions, depthwise-separable
# convolutions and residual blocks; 5 to 15 layers; 32 to 256 channels; up to two layers that
# downsample. A space narrows or widens by its fields, and travels as JSON (a study stores it, so
# a worker with a different space is refused).

# %%
space = nas.SearchSpace()
print(space.to_json())
small = nas.SearchSpace(
    layer_types=("conv3x3", "separable", "residual"),
    min_layers=2 if FAST else 4,
    max_layers=3 if FAST else 8,
    channels=(8, 16) if FAST else (32, 64),
    max_downsamples=1 if FAST else 2,
)
print("narrowed:", small.to_json())

# %% [markdown]
# One architecture of the space and the Keras model it becomes: every layer is a block of
# `kerasnets.blocks`, then global average pooling and the classifier. So the MAC counter sees
# every convolution.

# %%
arch = nas.mobilenet_style(16)
model = nas.build(arch, input_shape=(8, 8, 1), num_classes=10)
print(arch.describe())
print(f"{model.count_params():,} parameters, {analysis.count_macs(model):,} MACs per image")

# %% [markdown]
# ## 2. A small search
#
# Regularized evolution (Real et al., 2019): after a random first population, each trial copies
# the best of a few randomly drawn recent architectures and mutates one choice; the oldest
# architectures leave the population. By default the search only considers networks at most half
# as costly as the zoo's `baseline_cnn` (`max_macs="baseline/2"`), so anything at least as
# accurate dominates it. The study lives in `runs/tutorial-nas/study.db` (SQLite); with
# `storage="postgresql://..."` several machines could share it.

# %%
summary = nas.search(
    "evolution",
    trials=4 if FAST else 20,
    epochs=1 if FAST else 4,
    space=small,
    out="runs/tutorial-nas",
    force=True,
    export=not FAST,
)

# %% [markdown]
# ## 3. The report
#
# `summary` holds everything `report.md` says; the figures are in the run directory.

# %%
show_table(
    [(r["number"], f"{r['accuracy']:.3f}", f"{r['macs']:,}", r["layers"]) for r in summary["top5"]],
    ["trial", "accuracy", "MACs", "layers"],
)
show_table(
    [(name, f"{b['accuracy']:.3f}", f"{b['macs']:,}") for name, b in summary["baselines"].items()],
    ["baseline", "accuracy", "MACs"],
)
print("trials dominating baseline_cnn:", summary["dominating_baseline_cnn"])
cost = summary["cost"]
print(
    f"{cost['trials_finished']} trials in {cost['wall_seconds']:.0f} s; "
    f"{cost['cpu_seconds_per_trial']:.1f} CPU-s per trial; overhead share "
    f"{cost['overhead_share']:.1%}"
)
for name in ("pareto", "progress", "patterns"):
    show(summary["figures"][name])  # inline in a notebook; a script prints the PNG's path

# %% [markdown]
# ## Where to go from here
#
# - `kerasnets nas --strategy nsga2 --trials 40` searches accuracy *and* MACs at once (Pareto
#   front, no constraint); `--strategy random` is the baseline strategy.
# - `kerasnets nas worker --storage postgresql://user@host/db --study NAME` on several machines
#   shares one study; `optuna-dashboard postgresql+psycopg2://user@host/db` watches it live.
# - `kerasnets.nas.proxies` scores an untrained network in milliseconds (NASWOT, gradient norm);
#   `benchmarks/nas.py` measures how well that ranks trained accuracy.

# %% [markdown]
# ## Exercises
#
# Reference solutions are in `tests/test_tutorial_exercises.py` (`test_07_*`), which checks them.
#
# 1. **Your own space.** Narrow the space to depthwise-separable layers with 32 or 64 channels,
#    save it with `to_json` and read it back with `SearchSpace.from_json`: is it the same space?
#    What does an empty `layer_types` give?
# 2. **Beat the baseline on paper.** Write an architecture by hand (`nas.space.Architecture` of
#    `Layer`s), build it with `nas.build` for the 8×8 digits and check with
#    `analysis.count_macs` that it needs less than half the multiply-adds of `baseline_cnn`.
