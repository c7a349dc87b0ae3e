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
# # 06 — The same code on TensorFlow, JAX and PyTorch
#
# kerasnets is written with Keras 3 layers and `keras.ops` only, so one model definition runs on
# all three backends. The backend is chosen per process (`KERAS_BACKEND`, before Keras is first
# imported) and cannot change inside a running process, so this notebook starts one small
# Python process per backend running the *same* code:
#
# 1. load the same `.keras` file (saved here, with its weights),
# 2. predict on the same test images — the outputs must agree to float32 round-off,
# 3. train a copy for a few epochs and time the first epoch (tracing/compilation included)
#    and the following ones.
#
# `KERASNETS_FAST=1` shrinks the data and epochs.

# %%
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from kerasnets import data, models
from kerasnets.experiments import fast_mode

FAST = fast_mode()
print("this process runs on:", keras.backend.backend(), "| fast mode:", FAST)
work = Path(tempfile.mkdtemp(prefix="kerasnets-tutorial-06-"))

# %% [markdown]
# ## 1. One model file for all backends
#
# We build the zoo's efficient CNN (depthwise-separable convolutions with explicit padding, so
# strided convolutions give the same result on every backend) and save it. A `.keras` file
# written under one backend loads under any other.

# %%
keras.utils.set_random_seed(0)
model = models.build(
    "efficient_cnn", input_shape=(8, 8, 1), num_classes=10, width=8 if FAST else 16, stem="cifar"
)
model_path = work / "model.keras"
model.save(model_path)
print(f"saved {model.name} ({model.count_params():,} parameters) to {model_path}")

# %% [markdown]
# ## 2. The same script, three processes

# %%
CHILD = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, numpy as np
from kerasnets import data

model_path, out_path, subset, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
(x, y), (xt, yt) = data.load("digits", subset=subset or None)
model = keras.saving.load_model(model_path)
np.save(out_path, model.predict(xt[:100], verbose=0))
keras.utils.set_random_seed(0)
model.compile(keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
t = time.perf_counter(); model.fit(x, y, epochs=1, batch_size=64, verbose=0)
first = time.perf_counter() - t
t = time.perf_counter(); model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
steady = (time.perf_counter() - t) / epochs
print(json.dumps({"backend": keras.backend.backend(), "first_epoch_s": first,
                  "epoch_s": steady, "test_accuracy": model.evaluate(xt, yt, verbose=0)[1]}))
"""

results, outputs = {}, {}
for backend in ("tensorflow", "jax", "torch"):
    out = work / f"{backend}.npy"
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(model_path),
            str(out),
            "300" if FAST else "0",
            "1" if FAST else "5",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        print(f"{backend}: failed\n{proc.stderr[-2000:]}")
        continue
    results[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
    outputs[backend] = np.load(out)
    print(results[backend])

# %% [markdown]
# ## 3. Identical numbers for identical weights

# %%
reference = model.predict(data.load("digits")[1][0][:100], verbose=0)
for backend, probs in outputs.items():
    diff = float(np.abs(probs - reference).max())
    same = float((probs.argmax(1) == reference.argmax(1)).mean())
    print(f"{backend:10s} max |Δ probability| vs this process: {diff:.2e}, same class: {same:.0%}")

# %% [markdown]
# ## 4. Speed

# %%
print(f"{'backend':10s} {'first epoch (s)':>16s} {'later epochs (s)':>17s} {'test acc.':>10s}")
for backend, r in results.items():
    print(
        f"{backend:10s} {r['first_epoch_s']:16.2f} {r['epoch_s']:17.2f} {r['test_accuracy']:10.3f}"
    )

# %% [markdown]
# **What it shows.** The predictions agree to about 10⁻⁶ — the same weights compute the same
# function on every backend. Training diverges slightly afterwards (different kernels round
# differently, and random streams differ per backend), so accuracies after training are close
# but not equal. The first epoch includes tracing and compilation (`tf.function`, XLA for JAX),
# which dominates on tiny data; the later epochs compare the steady-state speed on this CPU.
