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
# # 04 — DenseNet, bottleneck, 1×1, Inception and depthwise-separable blocks
#
# The lecture's efficient building blocks, each built with `kerasnets.blocks` (graphs of
# standard Keras layers) and measured with `kerasnets.analysis`: the counted parameters and
# multiply-accumulates (MACs) next to the lecture's formulas. Nothing here trains, so it takes
# seconds on any backend.
#
# Notation: a k×k convolution from M to N channels on an H×W output map.
#
# | block | parameters (no bias) | MACs |
# |---|---|---|
# | standard conv | k²·M·N | k²·M·N·H·W |
# | 1×1 conv | M·N | M·N·H·W |
# | depthwise k×k | k²·M | k²·M·H·W |
# | depthwise-separable | k²·M + M·N | (k²·M + M·N)·H·W, a fraction 1/N + 1/k² of the standard |
# | bottleneck (1×1 → 3×3 → 1×1) | M·b + 9·b² + b·N | the same times H·W |

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

from kerasnets import analysis, blocks, models
from kerasnets.plots import show_table

H = W = 16
M, N, K = 64, 128, 3
print("backend:", keras.backend.backend())


def measure(build, input_shape=(H, W, M)):
    """Parameters and MACs per image of the graph ``build(x)`` on an input of this shape."""
    x = keras.Input(input_shape)
    model = keras.Model(x, build(x))
    return model.count_params(), analysis.count_macs(model), model


# %% [markdown]
# ## 1. Standard vs 1×1 vs depthwise-separable convolution

# %%
rows = []
p, m, _ = measure(lambda x: keras.layers.Conv2D(N, K, padding="same", use_bias=False)(x))
rows.append(("standard 3×3", p, K * K * M * N, m, K * K * M * N * H * W))
p, m, _ = measure(lambda x: keras.layers.Conv2D(N, 1, use_bias=False)(x))
rows.append(("1×1", p, M * N, m, M * N * H * W))
p, m, _ = measure(lambda x: keras.layers.SeparableConv2D(N, K, padding="same", use_bias=False)(x))
rows.append(("depthwise-separable 3×3", p, K * K * M + M * N, m, (K * K * M + M * N) * H * W))
show_table(
    [(name, f"{p:,}", f"{pf:,}", f"{m:,}", f"{mf:,}") for name, p, pf, m, mf in rows],
    ["layer", "parameters", "formula", "MACs", "formula"],
)
ratio = rows[2][3] / rows[0][3]
print(f"separable / standard = {ratio:.3f}; 1/N + 1/k² = {1 / N + 1 / K**2:.3f}")

# %% [markdown]
# The counter agrees with the formulas exactly: a depthwise-separable 3×3 costs about 1/9 + 1/N
# of a standard one — the MobileNet saving.
#
# ## 2. The kerasnets blocks
#
# Each block adds BatchNorm and activations to the bare convolutions, so its counts are a little
# higher than the formulas for the convolutions alone; `analysis.profile` lists every layer.

# %%
block_table = {
    "basic residual (2× 3×3)": lambda x: blocks.apply_basic_block(x, M, name="basic"),
    "bottleneck residual (1×1→3×3→1×1)": lambda x: blocks.apply_bottleneck_block(
        x, M // 4, name="bottleneck"
    ),
    "depthwise-separable": lambda x: blocks.apply_depthwise_separable_block(x, N, name="dws"),
    "inverted residual (MobileNetV2)": lambda x: blocks.apply_inverted_residual(x, M, name="inv"),
    "inception module": lambda x: blocks.apply_inception_module(
        x, 32, 48, 64, 8, 16, 16, name="inception"
    ),
    "dense block (4 layers, k=12)": lambda x: blocks.apply_dense_block(x, 4, 12, name="dense"),
}
block_rows = []
for name, build in block_table.items():
    p, m, model = measure(build)
    block_rows.append((name, f"{p:,}", f"{m:,}", model.output_shape[-1]))
show_table(block_rows, ["block", "parameters", "MACs", "output channels"])

# %% [markdown]
# - The **bottleneck** (1×1 reduce → 3×3 → 1×1 expand, here 64 → 16 → 16 → 64) costs a fraction
#   of two full 3×3 convolutions at 64 channels: the 1×1 convolutions move the expensive 3×3 to
#   fewer channels.
# - The **Inception** module runs 1×1, 3×3 and 5×5 paths in parallel; its 1×1 "reduce"
#   convolutions (48 and 8 channels here) keep the 3×3 and 5×5 paths cheap.
# - A **dense block** concatenates: each layer adds k = 12 channels and sees all earlier ones,
#   so the output has M + 4·12 channels with few parameters.
#
# ## 3. Whole models: the baseline and the efficient CNN of project 3

# %%
from kerasnets.experiments.efficient import VARIANTS

base, model_rows = None, []
for variant, (zoo_name, options, step) in VARIANTS.items():
    model = models.build(zoo_name, input_shape=(16, 16, 1), num_classes=10, stem="cifar", **options)
    params, macs = model.count_params(), analysis.count_macs(model)
    base = base or (params, macs)
    model_rows.append(
        (
            variant,
            f"{params:,}",
            f"{params / base[0]:.2f}×",
            f"{macs:,}",
            f"{macs / base[1]:.3f}×",
            step,
        )
    )
show_table(
    model_rows,
    ["variant", "parameters", "vs baseline", "MACs per 16×16 digit", "vs baseline", "step"],
)

# %% [markdown]
# **What it shows.** The table (computed by the counter) follows project 3's ablation. The
# depthwise-separable step cuts the convolutions' multiply-adds several-fold but keeps the
# baseline's dense head, which then holds most of its parameters; the efficient CNN's 1×1
# bottlenecks (inverted residuals) and global pooling remove most of the remaining parameters,
# while its multiply-adds, still far below the baseline's, end up above the separable step's.
# Whether accuracy and latency follow is measured by `kerasnets run efficient` (its
# report's ablation table and checks are generated from the run) and in tutorial 05.

# %% [markdown]
# ## Exercises
#
# Reference solutions are in `tests/test_tutorial_exercises.py` (`test_04_*`), which checks them.
#
# 1. **Separable by the formula.** For a 3×3 convolution from 64 to 128 channels, derive the ratio
#    of multiply-adds of a standard and a depthwise-separable convolution (9·N / (9 + N)), and
#    check it with `analysis.count_macs` on two one-layer models.
# 2. **Bottleneck saving.** Compare a 1×1 (256 → 64), 3×3 (64 → 64), 1×1 (64 → 256) bottleneck with
#    one 3×3 convolution from 256 to 256 channels. What fraction of the multiply-adds does the
#    bottleneck save, and how does it compare with the lecture's "~70 %"?
