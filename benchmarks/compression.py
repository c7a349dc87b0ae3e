"""Pruning benchmark on the embedded digits data (8×8×1, 1,437 train / 360 test images).

    python benchmarks/compression.py                # every backend, a few minutes on 2 cores
    python benchmarks/compression.py --threads 1 --repeats 9 --seeds 0   # busy machine, no distil
    python benchmarks/compression.py --threads 1 --repeats 21 --seeds 0   # README's
    python benchmarks/compression.py --backends torch --epochs 2 --finetune 2 --repeats 1 --seeds 2

For each backend (one subprocess each) it trains a small CNN, then prints

1. the train-step time of the model wrapped for pruning (``ConstantSparsity(0.8, frequency=100)``)
   over the plain model, both fitted side by side in the same process, one epoch each in turn
   (median over ``--repeats`` epochs after a warm-up epoch), in CPU time of the process and in
   wall time, and the median of the ratios of neighbouring epochs; goal ≤ 1.10. Each timed
   epoch is ``100 × --tile`` steps over the digits repeated, a whole number of the schedule's
   periods, so every epoch holds the same number of pruning steps (with 45-step epochs a
   median over epochs left out the ones that held a pruning step, and with it their cost);
2. test accuracy after pruning to 50 / 80 / 90 % during fine-tuning
   (:func:`kerasnets.compression.prune_and_finetune`) against the dense model fine-tuned for the
   same number of epochs (goal: ≤ 1 point lost at 80 %);
3. distillation (:class:`kerasnets.compression.Distiller`) on a fixed task where it should help
   (Hinton et al., 2015): an MLP teacher trained on all 1,437 labelled images, a 64-32-10 student
   given 5 labelled images per class, alone vs distilled with the same subset, init, optimizer
   and steps, mean ± std over seeds; then the same with every label, where the student alone
   already matches the teacher and distillation has nothing to add;

and, on TensorFlow, our pruning against tfmot's on a ``tf_keras`` twin of the same CNN with the
same weights, data, schedule, optimizer and epochs (:func:`run_tfmot`): absolute step times of
both tools and of both unpruned models, each tool's overhead against its own unpruned model
(goal: ours ≤ tfmot's), final sparsity and accuracy. Each backend's result ends with the load
average of the machine before and after it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
PERIOD = 100  # steps between pruning steps in the timed schedule


def build(keras, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(128, activation="relu", name="fc"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="digits_cnn",
    )


def _epoch_times(keras):
    """A callback recording each epoch's wall time and the process's CPU time (all threads).

    On a machine shared with other work the wall time of an epoch grows with the load; the
    CPU time this process spent is much less affected, so both are reported.
    """

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start[0])
            self.cpu_times.append(time.process_time() - self.start[1])

    timer = Timer()
    timer.times, timer.cpu_times = [], []
    return timer


def _step_ms(timer, steps, skip=0):
    """Median wall and CPU milliseconds per step over the recorded epochs (``skip`` first)."""
    import numpy as np

    return {
        "wall": 1e3 * float(np.median(timer.times[skip:])) / steps,
        "cpu": 1e3 * float(np.median(timer.cpu_times[skip:])) / steps,
    }


def run_backend(epochs, finetune, repeats=3, seeds=5, tile=1):
    import keras
    import numpy as np

    from kerasnets import compression, data

    (x, y), (xt, yt) = data.load("digits")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    out = {"backend": keras.backend.backend()}

    def acc(model):
        return float(np.mean(np.argmax(model.predict(xt, verbose=0), -1) == yt))

    dense = build(keras)
    dense.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    dense.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    weights = dense.get_weights()
    out["dense_accuracy"] = acc(dense)

    # 1. step time: plain vs wrapped, same weights, interleaved epochs.
    plain = build(keras)
    plain.set_weights(weights)
    wrapped = compression.prune_low_magnitude(
        plain, compression.ConstantSparsity(0.8, 0, frequency=PERIOD), exclude="logits"
    )
    timers = {}
    steps = tile * PERIOD  # whole periods: one pruning step per period in every epoch
    xs = np.resize(x, (steps * 32, *x.shape[1:]))  # the digits repeated
    ys = np.resize(y, (steps * 32,))
    for name, model in (("plain", plain), ("pruned", wrapped)):
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss)
        model.fit(xs, ys, epochs=1, batch_size=32, verbose=0)  # compile / warm up
        timers[name] = _epoch_times(keras)
    pairs = (("plain", plain), ("pruned", wrapped))
    for i in range(repeats):
        # Plain first, then pruned first: a slowdown of the machine that lasts a few epochs
        # falls on both orders alike.
        for name, model in pairs if i % 2 == 0 else pairs[::-1]:
            model.fit(xs, ys, epochs=1, batch_size=32, verbose=0, callbacks=[timers[name]])
    out["steps_per_epoch"] = steps
    out["step_ms_plain"] = _step_ms(timers["plain"], steps)
    out["step_ms_pruned"] = _step_ms(timers["pruned"], steps)
    out["step_time_ratio"] = {
        clock: out["step_ms_pruned"][clock] / out["step_ms_plain"][clock]
        for clock in ("wall", "cpu")
    }
    # The same ratio from each pair of neighbouring epochs, median over the pairs: what a
    # change of the machine's speed between pairs cannot move.
    out["step_time_ratio_paired"] = {
        clock: float(
            np.median(
                np.asarray(getattr(timers["pruned"], key))
                / np.asarray(getattr(timers["plain"], key))
            )
        )
        for clock, key in (("wall", "times"), ("cpu", "cpu_times"))
    }

    # 2. accuracy vs sparsity after fine-tuning (dense baseline fine-tuned equally long).
    base = build(keras)
    base.set_weights(weights)
    base.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    base.fit(x, y, epochs=finetune, batch_size=32, verbose=0)
    out["dense_finetuned_accuracy"] = acc(base)
    out["sparsity"] = {}
    for s in (0.5, 0.8, 0.9):
        model = build(keras)
        model.set_weights(weights)
        pruned = compression.prune_and_finetune(
            model, s, x, y, epochs=finetune, exclude="logits", loss=loss
        )
        sp = compression.kernel_sparsity(pruned)
        out["sparsity"][str(s)] = {"accuracy": acc(pruned), "fc_sparsity": sp["fc"]}
    if seeds:
        out["distillation"] = run_distillation(keras, seeds)
    return out, weights


# The distillation task (Hinton et al., 2015, in small): a teacher that saw all 1,437 labelled
# training images, and a 64-32-10 student that sees only 5 labelled images per class. The
# test (tests/test_compression.py) runs the same task on one seed.
DISTIL = {
    "per_class": 5,  # labelled images per class for the student (50 in all)
    "hidden": 32,  # student: 64 -> 32 (ReLU) -> 10
    "steps": 200,  # full-batch Adam steps, the same for the student alone and distilled
    "lr": 1e-2,
    "temperature": 4.0,
    "alpha": 0.1,
}


def distillation_teacher(keras, x, y):
    """An MLP 64 -> 128 -> 10 trained on the whole digits training set (about 0.97)."""
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)],
        name="teacher",
    )
    teacher.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    teacher.fit(x, y, epochs=20, batch_size=64, verbose=0)
    return teacher


def distillation_pair(keras, teacher, x, y, seed, per_class=None):
    """Train the student alone and distilled on the same labelled subset, init and steps.

    ``per_class`` images per class drawn with ``seed`` (``0``: the whole set); returns both
    students.
    """
    import numpy as np

    from kerasnets import compression

    c = DISTIL
    per_class = c["per_class"] if per_class is None else per_class
    if per_class:
        rng = np.random.default_rng(seed)
        idx = np.concatenate(
            [rng.choice(np.flatnonzero(y == k), per_class, replace=False) for k in range(10)]
        )
        x, y = x[idx], y[idx]

    def student():
        keras.utils.set_random_seed(seed)
        return keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(c["hidden"], activation="relu"),
                keras.layers.Dense(10),
            ],
            name="student",
        )

    # One full-batch step per batch: the set repeated `reps` times, in order, so `steps`
    # steps cost steps / reps epochs of Keras overhead.
    reps = 10
    xs, ys = np.tile(x, (reps, 1)), np.tile(y, reps)
    fit = {"epochs": c["steps"] // reps, "batch_size": len(x), "shuffle": False, "verbose": 0}
    alone = student()
    alone.compile(
        optimizer=keras.optimizers.Adam(c["lr"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    alone.fit(xs, ys, **fit)
    distiller = compression.Distiller(
        teacher, student(), temperature=c["temperature"], alpha=c["alpha"]
    )
    distiller.compile(optimizer=keras.optimizers.Adam(c["lr"]))
    distiller.fit(xs, ys, **fit)
    return alone, distiller.student


def run_distillation(keras, seeds=5):
    """Student alone vs distilled on DISTIL's task, and with every label, over ``seeds``."""
    import numpy as np

    from kerasnets import data

    (x, y), (xt, yt) = data.load("digits", flatten=True)

    def acc(model):
        return float(np.mean(np.argmax(model.predict(xt, verbose=0), -1) == yt))

    teacher = distillation_teacher(keras, x, y)
    out = {"teacher": acc(teacher), **DISTIL, "seeds": seeds}
    for name, per_class in (("few_labels", DISTIL["per_class"]), ("all_labels", 0)):
        runs = [distillation_pair(keras, teacher, x, y, s, per_class) for s in range(seeds)]
        out[name] = {
            "alone": [acc(a) for a, _ in runs],
            "distilled": [acc(d) for _, d in runs],
        }
    return out


def run_tfmot(weights, finetune):
    """Ours (Keras 3) vs tfmot (``tf_keras``), each against its own unpruned model, on TensorFlow.

    Four models with the same CNN, weights, data, optimizer and pruning schedule: Keras 3 plain,
    Keras 3 with our wrappers, ``tf_keras`` plain and ``tf_keras`` with tfmot's. They fine-tune
    one epoch at a time, interleaved (plain, ours, tf_keras plain, tfmot, plain, ...), so that a
    change of load on the machine hits all four alike. The first epoch (tracing) is not timed.
    Each tool's overhead is its pruned step time over its own plain one: Keras 3 and ``tf_keras``
    steps differ by themselves, so the overheads, not the absolute times, compare the pruning.
    """
    import keras
    import numpy as np
    import tensorflow_model_optimization as tfmot
    import tf_keras

    from kerasnets import compression, data

    (x, y), (xt, yt) = data.load("digits")
    steps_per_epoch = int(np.ceil(len(x) / 32))
    steps = finetune * steps_per_epoch
    end = (2 * steps) // 3
    freq = max(1, end // 10)

    def acc(model):
        return float(np.mean(np.argmax(model.predict(xt, verbose=0), -1) == yt))

    ours_plain = build(keras)
    ours_plain.set_weights(weights)
    ours = compression.prune_low_magnitude(
        ours_plain, compression.PolynomialDecay(0.0, 0.8, 0, end, frequency=freq), exclude="logits"
    )
    k = tf_keras.layers
    twin = tf_keras.Sequential(
        [
            k.InputLayer((8, 8, 1)),
            k.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            k.Conv2D(64, 3, padding="same", activation="relu", name="conv2"),
            k.MaxPooling2D(name="pool"),
            k.Flatten(name="flatten"),
            k.Dense(128, activation="relu", name="fc"),
            k.Dense(10, name="logits"),
        ]
    )
    twin.set_weights(weights)
    sched = tfmot.sparsity.keras.PolynomialDecay(0.0, 0.8, 0, end, frequency=freq)

    def wrap(layer):
        if layer.name == "logits":
            return layer
        return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=sched)

    theirs = tf_keras.models.clone_model(twin, clone_function=wrap)
    for layer in theirs.layers:
        src = twin.get_layer(layer.layer.name if hasattr(layer, "layer") else layer.name)
        target = layer.layer if hasattr(layer, "layer") else layer
        target.set_weights(src.get_weights())
    runs = {
        "keras3_plain": (ours_plain, keras, []),
        "ours": (ours, keras, []),
        "tf_keras_plain": (twin, tf_keras, []),
        "tfmot": (theirs, tf_keras, [tfmot.sparsity.keras.UpdatePruningStep()]),
    }
    timers = {}
    for name, (model, lib, _) in runs.items():
        model.compile(
            optimizer=lib.optimizers.Adam(1e-3),
            loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        timers[name] = _epoch_times(lib)
    for _ in range(finetune):
        for name, (model, _, callbacks) in runs.items():
            model.fit(
                x, y, epochs=1, batch_size=32, verbose=0, callbacks=[*callbacks, timers[name]]
            )
    ms = {name: _step_ms(timer, steps_per_epoch, skip=1) for name, timer in timers.items()}
    ours = compression.strip_pruning(ours)
    theirs = tfmot.sparsity.keras.strip_pruning(theirs)
    fc_theirs = theirs.get_layer("fc").get_weights()[0]
    overhead = {
        tool: {c: ms[tool][c] / ms[plain][c] for c in ("wall", "cpu")}
        for tool, plain in (("ours", "keras3_plain"), ("tfmot", "tf_keras_plain"))
    }
    return {
        "schedule": f"PolynomialDecay(0 -> 0.8, steps 0..{end}, every {freq})",
        "timed_epochs": finetune - 1,
        "step_ms": ms,
        "overhead": overhead,
        "ours_fc_sparsity": compression.kernel_sparsity(ours)["fc"],
        "tfmot_fc_sparsity": float(np.mean(fc_theirs == 0)),
        "accuracy": {
            "keras3_plain": acc(ours_plain),
            "ours": acc(ours),
            "tf_keras_plain": acc(twin),
            "tfmot": acc(theirs),
        },
    }


def _die_with_parent():
    """In a backend's subprocess: end it when this script ends, even by ``kill -9`` (Linux)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: a killed parent leaves the child to finish its backend
        pass


def _load():
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def child(args):
    load_before = _load()
    out, weights = run_backend(args.epochs, args.finetune, args.repeats, args.seeds, args.tile)
    import keras

    if keras.backend.backend() == "tensorflow" and not args.no_tfmot:
        out["tfmot"] = run_tfmot(weights, args.finetune)
    out["load_before"], out["load_after"] = load_before, _load()
    print("RESULT " + json.dumps(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--epochs", type=int, default=8, help="dense training epochs")
    parser.add_argument(
        "--finetune", type=int, default=6, help="fine-tuning epochs (the first is not timed)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per model")
    parser.add_argument(
        "--tile",
        type=int,
        default=1,
        help=f"timed epochs are {PERIOD} x this many steps (the schedule prunes every {PERIOD})",
    )
    parser.add_argument("--seeds", type=int, default=5, help="distillation seeds (0: skip it)")
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads per backend subprocess (OMP, TensorFlow and XLA); 1 on a machine "
        "busy with other work, where multi-threaded kernels slow down many times",
    )
    parser.add_argument("--no-tfmot", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name, least in (("repeats", 1), ("tile", 1), ("epochs", 1), ("finetune", 2), ("seeds", 0)):
        if getattr(args, name) < least:
            parser.error(f"--{name} must be an integer >= {least}, got {getattr(args, name)}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a positive integer, got {args.threads}")
    unknown = [b for b in args.backends.split(",") if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend(s) {unknown} in --backends; choose from {list(BACKENDS)}")
    if args.child:
        return child(args)
    import numpy as np

    results = []
    for backend in args.backends.split(","):
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        if args.threads:
            n = str(args.threads)
            env.update(OMP_NUM_THREADS=n, TF_NUM_INTRAOP_THREADS=n, TF_NUM_INTEROP_THREADS=n)
            env["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'true' if n != '1' else 'false'}"
        cmd = [sys.executable, __file__, "--child", "--epochs", str(args.epochs)]
        cmd += ["--finetune", str(args.finetune), "--repeats", str(args.repeats)]
        cmd += ["--tile", str(args.tile)]
        cmd += ["--seeds", str(args.seeds)]
        cmd += ["--no-tfmot"] if args.no_tfmot else []
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, preexec_fn=_die_with_parent
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not lines:
            print(f"{backend}: failed\n{proc.stderr[-3000:]}")
            continue
        result = json.loads(lines[-1][7:])
        result["wall_s"] = time.perf_counter() - start
        results.append(result)
        r = result
        print(f"\n== {backend} ({r['wall_s']:.0f} s) ==")
        ratio, pruned, plain = r["step_time_ratio"], r["step_ms_pruned"], r["step_ms_plain"]
        print(
            f"step time, pruning wrappers / plain ({r['steps_per_epoch']}-step epochs, one "
            f"pruning step in every {PERIOD}): {ratio['cpu']:.3f} in CPU time "
            f"({pruned['cpu']:.2f} vs {plain['cpu']:.2f} ms), {ratio['wall']:.3f} in wall time "
            f"({pruned['wall']:.2f} vs {plain['wall']:.2f} ms); goal <= 1.10"
        )
        paired = r["step_time_ratio_paired"]
        print(
            f"  median over {args.repeats} pairs of neighbouring epochs: {paired['cpu']:.3f} CPU, "
            f"{paired['wall']:.3f} wall"
        )
        print(
            f"dense accuracy {r['dense_accuracy']:.4f}; dense fine-tuned "
            f"{r['dense_finetuned_accuracy']:.4f}"
        )
        for s, v in r["sparsity"].items():
            lost = 100 * (r["dense_finetuned_accuracy"] - v["accuracy"])
            print(
                f"  pruned {float(s):.0%}: accuracy {v['accuracy']:.4f} "
                f"(lost {lost:+.2f} points; goal <= 1 at 80 %), fc sparsity {v['fc_sparsity']:.3f}"
            )
        d = r.get("distillation")
        if d:
            print(
                f"distillation, teacher MLP 64-128-10 (accuracy {d['teacher']:.4f}) -> student "
                f"64-{d['hidden']}-10, {d['steps']} full-batch steps, T={d['temperature']:g}, "
                f"alpha={d['alpha']:g}, mean +- std over {d['seeds']} seeds (subset and init):"
            )
            for key, what in (
                ("few_labels", f"{10 * d['per_class']} labelled images"),
                ("all_labels", "all 1,437 labelled images"),
            ):
                alone, distilled = (np.array(d[key][k]) for k in ("alone", "distilled"))
                print(
                    f"  {what}: alone {alone.mean():.4f} +- {alone.std():.4f}, distilled "
                    f"{distilled.mean():.4f} +- {distilled.std():.4f} (distilled wins "
                    f"{int(np.sum(distilled > alone))}/{len(alone)} seeds)"
                )
        if "tfmot" in r:
            t = r["tfmot"]
            print(
                f"ours vs tfmot, {t['schedule']}, same CNN, weights, data and Adam, "
                f"median of {t['timed_epochs']} interleaved epochs (ms per step, CPU / wall):"
            )
            for name, plain_name in (("ours", "keras3_plain"), ("tfmot", "tf_keras_plain")):
                ms, base, over = t["step_ms"][name], t["step_ms"][plain_name], t["overhead"][name]
                print(
                    f"  {name:5s} {ms['cpu']:.2f} / {ms['wall']:.2f}, own plain model "
                    f"({plain_name}) {base['cpu']:.2f} / {base['wall']:.2f}: overhead "
                    f"{over['cpu']:.3f} / {over['wall']:.3f}"
                )
            ours_over, their_over = t["overhead"]["ours"], t["overhead"]["tfmot"]
            print(
                f"  overhead ours / tfmot: {ours_over['cpu'] / their_over['cpu']:.3f} CPU, "
                f"{ours_over['wall'] / their_over['wall']:.3f} wall (goal <= 1)"
            )
            a = t["accuracy"]
            print(
                f"  fc sparsity {t['ours_fc_sparsity']:.3f} vs {t['tfmot_fc_sparsity']:.3f}; "
                f"accuracy ours {a['ours']:.4f} (its plain model {a['keras3_plain']:.4f}), "
                f"tfmot {a['tfmot']:.4f} (its plain model {a['tf_keras_plain']:.4f})"
            )
        print(f"load average before / after: {r['load_before']} / {r['load_after']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the backends already printed stay printed; no file is written
        print("compression.py: interrupted", file=sys.stderr)
        sys.exit(130)
