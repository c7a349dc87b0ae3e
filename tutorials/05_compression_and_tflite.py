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
# # 05 — Compression and TFLite export (hands-on project 3)
#
# From a trained Keras model to something that fits on a phone: magnitude pruning (with
# `kerasnets.compression`, native Keras 3, every backend), full-integer int8 post-training
# quantization and the `.tflite` file (`kerasnets.tflite`, which converts in a TensorFlow
# subprocess when the model was trained on JAX or PyTorch), and an honest measurement of what
# each step costs and saves: size, CPU latency and accuracy, evaluated in the LiteRT
# interpreter. Then project 3 as an experiment (`kerasnets run efficient`).
# `KERASNETS_FAST=1` shrinks data and epochs for CI.

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
import tempfile
from pathlib import Path

import keras

from kerasnets import analysis, compression, data, models, tflite
from kerasnets.experiments import fast_mode, run_experiment, show
from kerasnets.plots import show_markdown, show_table

FAST = fast_mode()
keras.utils.set_random_seed(0)
print("backend:", keras.backend.backend(), "| fast mode:", FAST)
work = Path(tempfile.mkdtemp(prefix="kerasnets-tutorial-05-"))

# %% [markdown]
# ## 1. Train the efficient CNN on the digits

# %%
(x, y), (xt, yt) = data.load("digits", subset=300 if FAST else None)
model = models.build(
    "efficient_cnn", input_shape=x.shape[1:], num_classes=10, width=8 if FAST else 32, stem="cifar"
)
model.compile(
    keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
model.fit(x, y, epochs=1 if FAST else 15, batch_size=64, verbose=0)
float_acc = model.evaluate(xt, yt, verbose=0)[1]
print(
    f"{model.count_params():,} parameters, {analysis.count_macs(model):,} MACs per image, "
    f"test accuracy {float_acc:.3f}"
)

# %% [markdown]
# ## 2. Magnitude pruning
#
# `prune_and_finetune` zeroes the smallest weights of every kernel, raising the sparsity from
# 0 to the target while fine-tuning, then strips the pruning wrappers. The zeros do not make a
# dense model faster by themselves; they make it *compress* (gzip, or TFLite's sparse
# encoding) and are the starting point for structured pruning.

# %%
pruned = compression.prune_and_finetune(model, 0.5, x, y, epochs=1 if FAST else 3, verbose=0)
pruned.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
pruned_acc = pruned.evaluate(xt, yt, verbose=0)[1]
weights = pruned.get_weights()
zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)
print(f"pruned: {zeros:.0%} of all weights are zero, test accuracy {pruned_acc:.3f}")

# %% [markdown]
# ## 3. int8 post-training quantization and the LiteRT interpreter
#
# Full-integer quantization maps weights *and* activations to int8 with scales calibrated on a
# few hundred training images (the representative dataset). The model keeps float input and
# output; `tflite.evaluate` runs the file in the LiteRT interpreter and compares it with the
# Keras model.

# %%
rows = []
for name, keras_model in (("float", model), ("pruned", pruned)):
    for quantize in ("int8",) if FAST else ("none", "int8"):
        path = tflite.convert(
            keras_model,
            work / f"{name}-{quantize}.tflite",
            quantize=quantize,
            calibration=x[:100] if quantize == "int8" else None,
        )
        ev = tflite.evaluate(
            path,
            xt,
            yt,
            reference=keras_model.predict(xt, verbose=0),
            threads=(1,),
            runs=10 if FAST else 50,
        )
        rows.append(
            (
                f"{name} {quantize}",
                f"{ev['bytes']:,}",
                f"{ev['gzip_bytes']:,}",
                f"{ev['accuracy']:.3f}",
                f"{ev['top1_agreement']:.1%}",
                f"{ev['latency_ms']['1']:.3f}",
            )
        )
show_table(rows, ["model", "bytes", "gzip bytes", "accuracy", "agrees", "ms per image (1 thread)"])

# %% [markdown]
# The int8 file is about a quarter of the float file (4 bytes → 1 byte per weight; fast mode
# converts only the int8 files), and the pruned model's zeros show up in the gzip column.
# "agrees" is the share of test images whose predicted class is the same as the Keras model's.
#
# ## 4. The project: baseline vs efficient, pruned and int8, several seeds
#
# `run_experiment("efficient")` does all of the above for the baseline and the efficient CNN
# with each seed, and writes the comparison table (parameters, MACs, CPU latency, size,
# accuracy) and the accuracy–efficiency plot. In fast mode only the efficient CNN runs.

# %%
run = run_experiment(
    "efficient",
    seeds=1 if FAST else 3,
    variants=["efficient"] if FAST else None,
    verbose=0,
)
show(run)
report = open(run["report"], encoding="utf-8").read()
show_markdown(report[report.index("## Ablation") : report.index("## Accuracy–efficiency")])

# %% [markdown]
# **What it shows.** The ablation table, the checks against the project's targets and the
# recommendation above are generated from this run's measurements (in fast mode only the
# efficient CNN runs, briefly, so its numbers only show that the code runs): parameters, MACs,
# LiteRT latency and accuracy of each step, and whether the efficient CNN stays within the
# project's 2-point accuracy budget. int8 quantization divides the size by about four at almost
# no accuracy cost; pruning adds compressibility. Latency on a laptop CPU depends more on the
# runtime than on MACs at this size: the LiteRT interpreter is far faster per image than a
# Keras `predict` call.

# %% [markdown]
# ## Exercises
#
# Reference solutions are in `tests/test_tutorial_exercises.py` (`test_05_*`), which checks them.
#
# 1. **Exactly 80 %.** Prune a small MLP's hidden layers with `ConstantSparsity(0.8, 0,
#    frequency=1)`, train one epoch, strip the wrappers and check with
#    `compression.kernel_sparsity` that every pruned kernel holds 80 % zeros.
# 2. **Bits per weight.** Cluster an MLP's kernels into 16 shared values
#    (`compression.cluster_weights`, then `strip_clustering`), count the distinct values per
#    kernel with `compression.unique_values`, and work out how many bits an index into the
#    codebook needs, against 32 bits per float32 weight.
