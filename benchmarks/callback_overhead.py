"""Cost of the training diagnostics: ``fit`` with all four monitors versus without.

The model is the lecture's 10-layer MLP (ReLU, He initialization, 64 units) on the flattened
digits (1,437 training images, batch 32), one model for all configurations. Each configuration
is compiled by a warm-up ``fit`` first; then whole ``fit`` calls of ``--epochs`` epochs are
timed alternately — without, with monitors, floor, with monitors and log_dir, [with
TensorBoard], without, ... — and the
ratio to "without" is reported for the medians of ``--repeats`` and for the fastest runs
("best": on a busy machine, or with TensorFlow's occasional 70 ms stall in an epoch, the
minimum is the steadier estimate of what the monitors themselves cost). The monitors run at
their default frequency (at the end of every epoch) with their default probe sizes; the time of
a ``fit`` includes their set-up and first check at ``on_train_begin``. The cost of the monitors
is per check, not per step, so the ratio falls as epochs get longer: ``--tile N`` repeats the
training set N times. Goal: ratio ≤ 1.10.

The "floor" column times a callback that does the least a gradient-flow check can do: at the
same moments, the same 256-sample probe gradient that ``GradientFlowMonitor`` takes
(:func:`kerasnets.backend.loss_and_gradients`), and no statistics at all: the cost that any
check of that gradient at every epoch pays before it computes a single statistic.

The "log_dir" column times the same four monitors writing their per-layer numbers and
histograms as TensorBoard event files (``log_dir=``), as a ratio to the monitors without it
(goal ≤ 1.05 at ``--tile 10``): the cost of the TensorBoard output alone. On a busy machine
that ratio of two fit times scatters by more than the cost itself, so the "events" column
also times the writing inside the log_dir fits (tagging, serializing, writing and closing the
event file) and reports 1 + that time over the monitors' fit time. It needs the
``tensorboard`` package, as the row below.

On TensorFlow the familiar peer, ``keras.callbacks.TensorBoard(histogram_freq=1)``, is timed
too if the ``tensorboard`` package is installed (``pip install kerasnets[tensorboard]``);
otherwise that row says so and is skipped.

By default each backend runs in its own subprocess (the backend is fixed per process);
``--backend NAME`` runs one backend in this process.

    python benchmarks/callback_overhead.py                  # tensorflow, jax, torch
    python benchmarks/callback_overhead.py --backend jax --epochs 10 --repeats 5
    python benchmarks/callback_overhead.py --threads 1 --tile 10   # busy machine, long epochs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

BACKENDS = ("tensorflow", "jax", "torch")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the top-level callbacks package, when run from a checkout


def build_mlp(depth=10, width=64):
    import keras

    layers = [keras.Input((64,))]
    layers += [
        keras.layers.Dense(width, activation="relu", kernel_initializer="he_normal")
        for _ in range(depth - 1)
    ]
    layers += [keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    return model


def tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def measure(epochs: int, repeats: int, tile: int = 1) -> dict:
    """Time ``fit`` with and without the monitors on the current backend."""
    import keras
    import numpy as np

    from callbacks import (
        ActivationStatsMonitor,
        DeadNeuronMonitor,
        GradientExplosionMonitor,
        GradientFlowMonitor,
        TrainingDiagnosticWarning,
    )
    from callbacks._probe import prepare_probe
    from kerasnets import data
    from kerasnets.backend import loss_and_gradients

    warnings.simplefilter("ignore", TrainingDiagnosticWarning)
    keras.utils.set_random_seed(0)
    (x, y), _ = data.load("digits", flatten=True)
    x, y = np.tile(x, (tile, 1)), np.tile(y, tile)  # longer epochs, same per-epoch checks
    logdir = tempfile.mkdtemp(prefix="callback-overhead-")

    def monitors(log_dir=None):
        return [
            DeadNeuronMonitor(x, log_dir=log_dir),
            GradientFlowMonitor(x, y, log_dir=log_dir),
            ActivationStatsMonitor(x, log_dir=log_dir),
            GradientExplosionMonitor(x, y, log_dir=log_dir),
        ]

    class GradientOnly(keras.callbacks.Callback):
        # The floor: GradientFlowMonitor's probe gradient at its moments, nothing else.
        def __init__(self):
            super().__init__()
            self.x, self.y = prepare_probe(x, y, 256, 0)  # as GradientFlowMonitor(x, y)

        def on_train_begin(self, logs=None):
            loss_and_gradients(self.model, self.x, self.y, training=True)

        def on_epoch_end(self, epoch, logs=None):
            loss_and_gradients(self.model, self.x, self.y, training=True)

    configs = {"without": lambda: [], "monitors": monitors, "floor": lambda: [GradientOnly()]}
    notes = {}
    if tensorboard_available():
        configs["log_dir"] = lambda: monitors(tempfile.mkdtemp(dir=logdir))
    else:
        notes["log_dir"] = "skipped: tensorboard is not installed"
    if keras.backend.backend() == "tensorflow":
        if tensorboard_available():
            configs["tensorboard"] = lambda: [keras.callbacks.TensorBoard(logdir, histogram_freq=1)]
        else:
            notes["tensorboard"] = (
                "skipped: TensorBoard is not installed (pip install kerasnets[tensorboard])"
            )
    # One model for every configuration: the same compiled train step in all of them, so the
    # ratios compare the callbacks and nothing else. Training goes on across the fits; the time
    # of a step does not depend on the weights' values.
    model = build_mlp()
    for name in configs:  # warm-up: compile the train step and each configuration's probes
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=configs[name]())

    # The time the log_dir fits spend writing events (tagging, serializing, writing, closing),
    # measured inside them: on a busy machine a steadier figure than a ratio of two fit times.
    from callbacks._base import Monitor

    writing = {"seconds": 0.0}

    def timed(method):
        def wrapper(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                writing["seconds"] += time.perf_counter() - start

        return wrapper

    Monitor._write_check = timed(Monitor._write_check)
    Monitor._close_tensorboard = timed(Monitor._close_tensorboard)

    times = {name: [] for name in configs}
    events_seconds = []
    for _ in range(repeats):  # alternate, so that machine load affects all alike
        for name in configs:
            callbacks = configs[name]()
            writing["seconds"] = 0.0
            start = time.perf_counter()
            model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=callbacks)
            times[name].append(time.perf_counter() - start)
            if name == "log_dir":
                events_seconds.append(writing["seconds"])
    medians = {name: float(np.median(t)) for name, t in times.items()}
    best = {name: float(np.min(t)) for name, t in times.items()}
    return {
        "backend": keras.backend.backend(),
        "epochs": epochs,
        "extra_ms_per_epoch": {
            n: 1e3 * (medians[n] - medians["without"]) / epochs for n in medians if n != "without"
        },
        "steps_per_epoch": int(np.ceil(len(x) / 32)),
        "seconds": medians,
        "ratios": {n: medians[n] / medians["without"] for n in medians if n != "without"},
        "best_seconds": best,
        "best_ratios": {n: best[n] / best["without"] for n in best if n != "without"},
        # log_dir: the monitors writing TensorBoard events, over the same monitors without it
        "log_dir_over_monitors": medians["log_dir"] / medians["monitors"]
        if "log_dir" in medians
        else None,
        "best_log_dir_over_monitors": best["log_dir"] / best["monitors"]
        if "log_dir" in best
        else None,
        # seconds a log_dir fit spent writing events (median), and the ratio it implies:
        # (monitors' fit time + that) / monitors' fit time
        "events_seconds_per_fit": float(np.median(events_seconds)) if events_seconds else None,
        "events_ratio": 1 + float(np.median(events_seconds)) / medians["monitors"]
        if events_seconds
        else None,
        "notes": notes,
    }


def run_child(backend: str, args) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    command = [sys.executable, os.path.abspath(__file__), "--backend", backend, "--json"]
    command += ["--epochs", str(args.epochs), "--repeats", str(args.repeats)]
    command += ["--tile", str(args.tile)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        return {"backend": backend, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_table(results):
    print(
        f"{'backend':<11} {'without (s)':>11} {'monitors (s)':>12} {'ratio':>6} {'best':>5} "
        f"{'+ms/epoch':>9} {'floor':>5} {'log_dir':>7} {'best':>5} {'events':>6}   "
        "TensorBoard(histogram_freq=1)"
    )
    for r in results:
        if "error" in r:
            print(f"{r['backend']:<11} failed: {r['error']}")
            continue
        s, ratios = r["seconds"], r["ratios"]
        if "tensorboard" in ratios:
            peer = f"{s['tensorboard']:.2f} s, ratio {ratios['tensorboard']:.2f}"
        else:
            peer = r["notes"].get("tensorboard", "n/a (TensorFlow only)")
        if r.get("log_dir_over_monitors") is not None:
            with_log_dir = (
                f"{r['log_dir_over_monitors']:>7.3f} {r['best_log_dir_over_monitors']:>5.3f} "
                f"{r['events_ratio']:>6.3f}"
            )
        else:
            with_log_dir = f"{'n/a':>7} {'':>5} {'':>6}"
        print(
            f"{r['backend']:<11} {s['without']:>11.2f} {s['monitors']:>12.2f} "
            f"{ratios['monitors']:>6.2f} {r['best_ratios']['monitors']:>5.2f} "
            f"{r['extra_ms_per_epoch']['monitors']:>9.0f} {ratios['floor']:>5.2f} "
            f"{with_log_dir}   {peer}"
        )
    r = next((r for r in results if "epochs" in r), None)
    if r:
        print(
            f"(ratio of the medians of whole fit() calls, and of the fastest ones (best: the "
            f"least disturbed by other work on the machine); {r['epochs']} epochs x "
            f"{r['steps_per_epoch']} steps, 10-layer MLP on digits; goal ratio <= 1.10; "
            "floor: the ratio of a callback that only takes the 256-sample probe gradient at the "
            "same moments; log_dir: the monitors writing TensorBoard events over the monitors "
            "without, median and best, goal <= 1.05; events: 1 + the time a log_dir fit spends "
            "writing events (timed inside it) over the monitors' fit time)"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, help="run one backend in this process")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per timed fit (5)")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per config (3)")
    parser.add_argument(
        "--tile", type=int, default=1, help="repeat the training set N times: longer epochs (1)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="OMP_NUM_THREADS for the backend subprocesses (torch's CPU kernels slow down many "
        "times on a machine busy with other work unless this is 1)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1 or args.tile < 1:
        parser.error("--epochs, --repeats and --tile must be positive")
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
        results = [measure(args.epochs, args.repeats, args.tile)]
    else:
        results = [run_child(b, args) for b in BACKENDS]
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0]))
    else:
        print_table(results)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
