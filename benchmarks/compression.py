"""Pruning benchmark on the embedded digits data (8×8×1, 1,437 train / 360 test images).

    python benchmarks/compression.py                # every backend, a few minutes on 2 cores
    python benchmarks/compression.py --backends torch --epochs 2 --finetune 2 --repeats 1 --seeds 2

For each backend (one subprocess each) it trains a small CNN, then prints

1. the train-step time of the model wrapped for pruning over the plain model, both fitted side
   by side in the same process (median epoch time after a warm-up epoch; goal ≤ 1.20);
2. test accuracy after pruning to 50 / 80 / 90 % during fine-tuning
   (:func:`kerasnets.compression.prune_and_finetune`) against the dense model fine-tuned for the
   same number of epochs (goal: ≤ 1 point lost at 80 %);
3. distillation (:class:`kerasnets.compression.Distiller`) on a fixed task where it should help
   (Hinton et al., 2015): an MLP teacher trained on all 1,437 labelled images, a 64-32-10 student
   given 5 labelled images per class, alone vs distilled with the same subset, init, optimizer
   and steps, mean ± std over seeds; then the same with every label, where the student alone
   already matches the teacher and distillation has nothing to add;

and, on TensorFlow, our pruning against tfmot's on a ``tf_keras`` twin of the same CNN with the
same weights, schedule, optimizer and epochs: step-time ratio, final sparsity and accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


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
    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    timer = Timer()
    timer.times = []
    return timer


def run_backend(epochs, finetune, repeats=3, seeds=5):
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
        plain, compression.ConstantSparsity(0.8, 0, frequency=100), exclude="logits"
    )
    timers = {}
    for name, model in (("plain", plain), ("pruned", wrapped)):
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss)
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)  # compile / warm up
        timers[name] = _epoch_times(keras)
    for _ in range(repeats):
        for name, model in (("plain", plain), ("pruned", wrapped)):
            model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[timers[name]])
    steps = int(np.ceil(len(x) / 32))
    t_plain = float(np.median(timers["plain"].times)) / steps
    t_pruned = float(np.median(timers["pruned"].times)) / steps
    out["step_ms_plain"], out["step_ms_pruned"] = 1e3 * t_plain, 1e3 * t_pruned
    out["step_time_ratio"] = t_pruned / t_plain

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
    """Ours (Keras 3 on TF) vs tfmot (tf_keras) on the same CNN, weights and schedule."""
    import keras
    import numpy as np
    import tensorflow_model_optimization as tfmot
    import tf_keras

    from kerasnets import compression, data

    (x, y), (xt, yt) = data.load("digits")
    steps = finetune * int(np.ceil(len(x) / 32))
    end = (2 * steps) // 3
    freq = max(1, end // 10)

    def acc(predict):
        return float(np.mean(np.argmax(predict(xt), -1) == yt))

    def timed_fit(model, callbacks):
        timer = _epoch_times(tf_keras if "tf_keras" in type(model).__module__ else keras)
        model.fit(x, y, epochs=finetune, batch_size=32, verbose=0, callbacks=[*callbacks, timer])
        return float(np.median(timer.times[1:])) / int(np.ceil(len(x) / 32))

    ours = build(keras)
    ours.set_weights(weights)
    ours = compression.prune_low_magnitude(
        ours, compression.PolynomialDecay(0.0, 0.8, 0, end, frequency=freq), exclude="logits"
    )
    ours.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    t_ours = timed_fit(ours, [])
    ours = compression.strip_pruning(ours)
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
    theirs.compile(
        optimizer=tf_keras.optimizers.Adam(1e-3),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    t_theirs = timed_fit(theirs, [tfmot.sparsity.keras.UpdatePruningStep()])
    theirs = tfmot.sparsity.keras.strip_pruning(theirs)
    fc_theirs = theirs.get_layer("fc").get_weights()[0]
    return {
        "schedule": f"PolynomialDecay(0 -> 0.8, steps 0..{end}, every {freq})",
        "ours_step_ms": 1e3 * t_ours,
        "tfmot_step_ms": 1e3 * t_theirs,
        "step_time_ratio_ours_over_tfmot": t_ours / t_theirs,
        "ours_fc_sparsity": compression.kernel_sparsity(ours)["fc"],
        "tfmot_fc_sparsity": float(np.mean(fc_theirs == 0)),
        "ours_accuracy": acc(lambda v: ours.predict(v, verbose=0)),
        "tfmot_accuracy": acc(lambda v: theirs.predict(v, verbose=0)),
    }


def child(args):
    out, weights = run_backend(args.epochs, args.finetune, args.repeats, args.seeds)
    import keras

    if keras.backend.backend() == "tensorflow" and not args.no_tfmot:
        out["tfmot"] = run_tfmot(weights, args.finetune)
    print("RESULT " + json.dumps(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--epochs", type=int, default=8, help="dense training epochs")
    parser.add_argument("--finetune", type=int, default=6, help="fine-tuning epochs")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per model")
    parser.add_argument("--seeds", type=int, default=5, help="distillation seeds")
    parser.add_argument("--no-tfmot", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    import numpy as np

    results = []
    for backend in args.backends.split(","):
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        cmd = [sys.executable, __file__, "--child", "--epochs", str(args.epochs)]
        cmd += ["--finetune", str(args.finetune), "--repeats", str(args.repeats)]
        cmd += ["--seeds", str(args.seeds)]
        cmd += ["--no-tfmot"] if args.no_tfmot else []
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not lines:
            print(f"{backend}: failed\n{proc.stderr[-3000:]}")
            continue
        result = json.loads(lines[-1][7:])
        result["wall_s"] = time.perf_counter() - start
        results.append(result)
        r = result
        print(f"\n== {backend} ({r['wall_s']:.0f} s) ==")
        print(
            f"step time, pruning wrappers / plain: {r['step_time_ratio']:.2f} "
            f"({r['step_ms_pruned']:.1f} ms vs {r['step_ms_plain']:.1f} ms; goal <= 1.20)"
        )
        print(
            f"dense accuracy {r['dense_accuracy']:.4f}; dense fine-tuned "
            f"{r['dense_finetuned_accuracy']:.4f}"
        )
        for s, v in r["sparsity"].items():
            lost = 100 * (r["dense_finetuned_accuracy"] - v["accuracy"])
            print(
                f"  pruned {float(s):.0%}: accuracy {v['accuracy']:.4f} "
                f"(lost {lost:+.2f} points), fc sparsity {v['fc_sparsity']:.3f}"
            )
        d = r["distillation"]
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
            print(f"ours vs tfmot (tf_keras), {t['schedule']}:")
            print(
                f"  step time ours/tfmot {t['step_time_ratio_ours_over_tfmot']:.2f} "
                f"({t['ours_step_ms']:.1f} vs {t['tfmot_step_ms']:.1f} ms)"
            )
            print(
                f"  fc sparsity {t['ours_fc_sparsity']:.3f} vs {t['tfmot_fc_sparsity']:.3f}; "
                f"accuracy {t['ours_accuracy']:.4f} vs {t['tfmot_accuracy']:.4f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
