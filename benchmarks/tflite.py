"""TFLite pipeline benchmark: sizes, accuracy and latency of the exported variants, as ratios.

Digits (MLP 64-512-256-10): float32 vs int8 size (goal >= 3.8x), pruned 80% + int8 gzip vs
float32 gzip (goal >= 8x), int8 accuracy drop (goal <= 1 point), QAT vs post-training int8
accuracy, LiteRT int8 batch-1 latency vs Keras ``predict_on_batch``. int8 comes in the default
granularity (``per_channel="conv"``: one scale per Dense kernel) and with ``per_channel=True``
(one scale per output channel), with a table of where each file's bytes go.
Shapes (32x32x3): the baseline-vs-optimized table of hands-on project 3, baseline CNN vs
efficient CNN (goal: efficient < 500K parameters, within 2 points of the baseline).

Run: ``KERAS_BACKEND=tensorflow python benchmarks/tflite.py [--epochs 20] [--cnn-epochs 6]``
(any backend works; conversion then runs in a TensorFlow subprocess).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasnets import data, models, tflite  # noqa: E402
from kerasnets.compression import pruning  # noqa: E402
from kerasnets.tflite.runtime import keras_latency_ms, size_breakdown  # noqa: E402


def _accuracy(model, x, y):
    return float(np.mean(model.predict(x, verbose=0, batch_size=256).argmax(-1) == y))


def digits_part(epochs, tmp):
    (x, y), (xt, yt) = data.load("digits", flatten=True)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    h = keras.layers.Dense(512, activation="relu")(inputs)
    h = keras.layers.Dense(256, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h), name="mlp")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    ref = model.predict(xt, verbose=0)
    acc_keras = float(np.mean(ref.argmax(-1) == yt))

    jobs = {
        tmp / "f32.tflite": {},
        tmp / "int8.tflite": {"quantize": "int8"},
        tmp / "int8_pc.tflite": {"quantize": "int8", "per_channel": True},
    }
    f32, i8, i8_pc = tflite.convert_many(model, jobs, x)
    loss = keras.losses.SparseCategoricalCrossentropy()
    pruned = pruning.prune_and_finetune(model, 0.8, x, y, epochs=3, loss=loss)
    jobs = {
        tmp / "p80_int8.tflite": {"quantize": "int8"},
        tmp / "p80_int8_pc.tflite": {"quantize": "int8", "per_channel": True},
        tmp / "p80_int8_sparse.tflite": {"quantize": "int8", "sparse": True},
    }
    p8, p8_pc, p8_sp = tflite.convert_many(pruned, jobs, x)
    qat = tflite.tfmot_export(model, tmp / "qat.tflite", "qat", x, y, calibration=x, epochs=2)
    files = [
        ("float32", f32),
        ("int8", i8),
        ("int8 per-channel", i8_pc),
        ("p80+int8", p8),
        ("p80+int8 per-channel", p8_pc),
        ("p80+int8 sparse enc.", p8_sp),
        ("qat int8", qat["path"]),
    ]
    ev = {name: tflite.evaluate(path, xt, yt, reference=ref, runs=200) for name, path in files}
    keras_ms = keras_latency_ms(model, xt[:8], runs=200)
    print(
        f"\n== digits, MLP 64-512-256-10, {model.count_params():,} params, "
        f"backend {keras.backend.backend()}, {len(xt)} test samples =="
    )
    print(f"{'variant':<21}{'bytes':>9}{'gzip':>9}{'acc %':>8}{'top1 agree':>12}{'ms (1 thr)':>12}")
    for name, r in ev.items():
        print(
            f"{name:<21}{r['bytes']:>9,}{r['gzip_bytes']:>9,}{100 * r['accuracy']:>8.2f}"
            f"{100 * r['top1_agreement']:>11.1f}%{r['latency_ms']['1']:>12.4f}"
        )
    print(f"{'keras float32':<21}{'':>18}{100 * acc_keras:>8.2f}{'':>12}{keras_ms:>12.4f}")

    def line(label, value, goal=""):
        print(f"  {label:<48}{value}{'  (' + goal + ')' if goal else ''}")

    def size(a, b, key="bytes"):
        return f"{ev[a][key] / ev[b][key]:.2f}x"

    def drop(name):
        return f"{100 * (acc_keras - ev[name]['accuracy']):+.2f} points"

    print("where the bytes go (constants = weights and biases, read by the LiteRT interpreter):")
    head = ("variant", "bytes", "float32", "int8", "int32", "scales+zp", "rest")
    print("  {:<19}{:>9}{:>9}{:>9}{:>9}{:>11}{:>7}".format(*head))
    parts = {name: size_breakdown(path) for name, path in files[:3]}
    for name, b in parts.items():
        c = b["constants"]
        print(
            f"  {name:<19}{b['bytes']:>9,}{c.get('float32', 0):>9,}{c.get('int8', 0):>9,}"
            f"{c.get('int32', 0):>9,}{b['quant_params']:>11,}{b['other']:>7,}"
        )
    pc = parts["int8 per-channel"]
    channels = sum(t["scales"] for t in pc["tensors"] if t["dtype"] == "int8")
    extra = pc["quant_params"] - parts["int8"]["quant_params"]
    print(
        "  per_channel=True stores a float32 scale and an int64 zero point (12 bytes) for each of\n"
        f"  the {channels} output channels, on the int8 kernel and again on the int32 bias: "
        f"{extra:,}\n  bytes more than the default (per_channel='conv': one scale per Dense "
        "kernel, convolution\n  kernels keep per-channel scales). float32 constants left in "
        f"the int8 files: {parts['int8']['constants'].get('float32', 0)}"
        f" and {pc['constants'].get('float32', 0)} bytes."
    )
    print("ratios:")
    line("float32 / int8 file size (default)", size("float32", "int8"), "goal >= 3.8")
    line("float32 / int8 file size (per_channel=True)", size("float32", "int8 per-channel"))
    line(
        "float32 gzip / pruned80+int8 gzip", size("float32", "p80+int8", "gzip_bytes"), "goal >= 8"
    )
    line(
        "float32 gzip / pruned80+int8 gzip (per-channel)",
        size("float32", "p80+int8 per-channel", "gzip_bytes"),
        "goal >= 8",
    )
    line("float32 / pruned80+int8 sparse-encoded (raw)", size("float32", "p80+int8 sparse enc."))
    line("int8 accuracy drop vs Keras float", drop("int8"), "goal <= 1")
    line("int8 per-channel accuracy drop", drop("int8 per-channel"), "goal <= 1")
    line("pruned80+int8 accuracy drop", drop("p80+int8"))
    qat_gain = 100 * (ev["qat int8"]["accuracy"] - ev["int8"]["accuracy"])
    line("QAT int8 - post-training int8 accuracy", f"{qat_gain:+.2f} points")
    line(
        "Keras predict_on_batch / LiteRT int8 (batch 1)",
        f"{keras_ms / ev['int8']['latency_ms']['1']:.1f}x",
    )


def shapes_part(epochs, tmp):
    (x, y), (xt, yt) = data.load("shapes", size=32, subset=1200, test_subset=300)
    rows = []
    for name in ("baseline_cnn", "efficient_cnn"):
        keras.utils.set_random_seed(0)
        model = models.build(name, input_shape=(32, 32, 3), num_classes=3)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
        result = tflite.export_model(
            model,
            tmp / name,
            quantize="int8",
            calibration=x[:200],
            train=(x, y),
            test=(xt, yt),
            labels=data.CLASS_NAMES["shapes"],
            runs=50,
        )
        keras_row, f32_row, i8_row = result["rows"]
        rows.append((name, keras_row, f32_row, i8_row))
    print(
        f"\n== shapes 32x32x3, {len(x)} train / {len(xt)} test, {epochs} epochs: "
        "hands-on project 3 =="
    )
    print(
        f"{'model':<15}{'params':>10}{'MACs':>13}{'f32 KB':>9}{'int8 KB':>9}"
        f"{'keras ms':>10}{'int8 ms':>9}{'acc %':>8}{'int8 acc %':>11}"
    )
    for name, k, f, q in rows:
        print(
            f"{name:<15}{k['params']:>10,}{(k['macs'] or 0):>13,}{f['bytes'] / 1024:>9.1f}"
            f"{q['bytes'] / 1024:>9.1f}{k['latency_ms_1']:>10.3f}{q['latency_ms_1']:>9.3f}"
            f"{100 * k['accuracy']:>8.2f}{100 * q['accuracy']:>11.2f}"
        )
    (_, kb, _, qb), (_, ke, _, qe) = rows
    print("ratios:")
    print(
        f"  efficient / baseline params   {ke['params'] / kb['params']:.2f}  "
        f"(efficient < 500K: {ke['params'] < 500_000})"
    )
    if kb["macs"] and ke["macs"]:
        print(f"  efficient / baseline MACs     {ke['macs'] / kb['macs']:.2f}")
    print(
        f"  accuracy efficient - baseline {100 * (ke['accuracy'] - kb['accuracy']):+.2f} points"
        " (goal >= -2)"
    )
    gap = 100 * (qe["accuracy"] - qb["accuracy"])
    print(f"  int8 accuracy efficient - baseline {gap:+.2f} points")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="digits MLP epochs (20)")
    parser.add_argument("--cnn-epochs", type=int, default=6, help="shapes CNN epochs (6)")
    parser.add_argument("--skip-cnn", action="store_true", help="only the digits part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        digits_part(args.epochs, Path(tmp))
        if not args.skip_cnn:
            shapes_part(args.cnn_epochs, Path(tmp))


if __name__ == "__main__":
    main()
