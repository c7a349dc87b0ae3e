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
# # 06 — One model, three backends: the backend-comparison exercise
#
# kerasnets is written with Keras 3 layers and `keras.ops` only, so one model definition runs on
# TensorFlow, JAX and PyTorch. Keras picks its backend once per process (`KERAS_BACKEND`, read
# when Keras is first imported), so a fair comparison needs one process per backend, all
# starting from **the same weights and the same batch**. That is what
# `kerasnets compare-backends` does:
#
# ```bash
# kerasnets compare-backends resnet18 --input-shape 32,32,3 --out runs/compare-resnet18
# kerasnets compare-backends mlp --input-shape 64 --classes 10 --batch 1 --no-deploy
# ```
#
# This notebook calls the library function behind the command,
# `kerasnets.compare.compare_backends`, and reads its result: forward, gradient and training
# parity, first-call and steady-state times, memory, and what happens *before* weights are
# shared. `KERASNETS_FAST=1` shrinks the model and skips the deployment checks.

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

from kerasnets import compare
from kerasnets.experiments import fast_mode
from kerasnets.plots import show_figure, show_markdown, show_table

FAST = fast_mode()
print("this process runs on:", keras.backend.backend(), "| fast mode:", FAST)

if FAST:
    setup = dict(model="mlp", input_shape=(16,), num_classes=4, steps=2, repeats=2, deploy=False)
else:
    setup = dict(model="efficient_cnn", input_shape=(32, 32, 3), num_classes=10, steps=5)
result = compare.compare_backends(**setup, batch=8, progress=print)
print(compare.setup_line(result))
show_markdown(compare.table(result))

# %% [markdown]
# ## 1. The same weights compute the same function
#
# Each backend loaded the same `.keras` file and ran the same batch. The differences below are
# against the first backend (TensorFlow). Float32 has about 7 significant digits, so agreement
# to ~1e-6 means the backends compute the same function and differ only in the order in which
# they add up numbers. Gradients are taken in training mode, as a train step takes them.

# %%
ref = result["reference"]
ok = {backend: row for backend, row in result["backends"].items() if row["status"] == "ok"}
show_table(
    [
        (
            f"{backend} vs {ref}",
            f"{row['forward']['max_abs_diff']:.1e}",
            f"{row['gradients']['max_rel_diff']:.1e}",
            f"`{row['gradients']['worst_layer']}`",
        )
        for backend, row in ok.items()
        if backend != ref
    ],
    ["backends", "outputs max abs Δ", "largest per-layer gradient difference (rel.)", "layer"],
)

# %% [markdown]
# ## 2. Training: the same start, slightly different paths
#
# Every backend then takes the same SGD steps on the same batch. Rounding differences are fed
# back into the weights at every step, so the trajectories drift apart. Compare the backends'
# losses below step by step (each train step reports the loss before its update), and the
# weights' difference after the last step; exercise 3 asks how the drift grows. With
# dropout, whose random masks come from each backend's own generator, two runs would differ from
# the first step on.

# %%
steps = result["steps"]  # losses: the one each train step reports, then the loss after the last
show_table(
    [
        (
            backend,
            *(f"{v:.6f}" for v in row["training"]["losses"]),
            f"{row['training']['weights_max_abs_diff']:.1e}",
        )
        for backend, row in ok.items()
    ],
    [
        "backend",
        *(f"loss at step {i}" for i in range(1, steps + 1)),
        f"loss after step {steps}",
        f"weights max abs Δ after step {steps}",
    ],
)

# %% [markdown]
# ## 3. Before the weights are shared
#
# Why share weights at all? Because `keras.utils.set_random_seed(0)` seeds each backend's *own*
# random generator: the same seed and the same model config give different initial weights on
# TensorFlow, JAX and PyTorch.

# %%
show_table(
    [
        (
            backend,
            ", ".join(f"{v:+.4f}" for v in row["init"]["first_values"]),
            f"{row['init']['max_abs_diff']:.2f}",
        )
        for backend, row in ok.items()
    ],
    ["backend", "first initial weights", f"max abs Δ vs {ref}"],
)

# %% [markdown]
# ## 4. Speed and memory
#
# The first call of `predict_on_batch` and of `train_on_batch` includes tracing and compiling
# (`tf.function` on TensorFlow, `jax.jit` / XLA on JAX; PyTorch runs eagerly and compiles
# nothing). The steady-state times are medians of alternated train-step / inference calls.

# %%
show_table(
    [
        (
            backend,
            f"{1e3 * row['time']['first_train_step_s']:.1f}",
            f"{1e3 * row['time']['train_step_s']:.2f}",
            f"{1e3 * row['time']['inference_s']:.2f}",
            f"{row['memory']['peak_rss_mb']:.0f}",
            row["time"]["cpus"],
        )
        for backend, row in ok.items()
    ],
    [
        "backend",
        "first train step, ms",
        "then, ms",
        "inference, ms",
        "peak RSS, MB",
        "CPUs",
    ],
)
fig = compare.plot(result)  # the figure `--out` saves: parity bars and step times
show_figure(fig, "06_backend_comparison")

# %% [markdown]
# ## Exercises
#
# The reference solution of exercise 1 is `test_tutorial_06_exercise_1_*` in
# `tests/test_compare_backends.py`; the others depend on the machine they run on.
#
# 1. **Why does JAX's first train step take so much longer than its later ones?** Compare the
#    ratio first/steady across backends in the table. What is being compiled, and when would
#    that cost pay off?
# 2. **Which backend is fastest for this model on this CPU, and does it stay so at batch 1?**
#    Run `kerasnets compare-backends mlp --input-shape 64 --classes 10 --batch 1 --no-deploy`
#    and again with `--batch 256`. Explain the change with per-call overhead versus arithmetic.
# 3. **How far do trajectories drift?** Raise `--steps` (10, 100) and plot
#    `training.loss_abs_diff` from `results.json` against the step. Is the growth steady?
# 4. **Deployment.** Run with `--out` on a small CNN and read the "Deployment" section of
#    `report.md`: which backends can call `model.export(format="litert")` themselves, and how does
#    kerasnets still get a `.tflite` from the others?
# 5. **Initialization.** The initial weights differ across backends by about the size of the
#    weights themselves. Would two runs with the same seed on *one* backend differ? Run the
#    command twice with `--backends jax --out ...` and compare `init.first_values` in the two
#    `results.json` files.
# 6. **Same outputs, different loss.** Run `kerasnets compare-backends resnet18 --input-shape
#    32,32,3 --no-deploy` and read "loss diff, same weights": the outputs agree to ~1e-6, yet the
#    inference-mode loss does not. The report says how many samples give their true class a
#    probability below `keras.config.epsilon()`; find in Keras' source
#    (`keras/src/backend/*/nn.py`, `sparse_categorical_crossentropy`) what each backend does
#    with such a probability.
