"""Train-step time of the zoo's ResNet-50 versus ``keras.applications.ResNet50(weights=None)``.

Both networks get the same input (default 2×64×64×3, 10 classes, ImageNet stem for both), the
same optimizer (SGD) and loss; the script checks first that they have the same parameter and
MAC counts (so the same work), then times ``train_on_batch`` alternately — A B, B A, A B, ... —
after warm-up (compilation) and prints the median step time of each and the ratio
zoo / Keras Applications: the median of the ratios of adjacent steps (robust to machine load)
and, next to it, the ratio of the medians. Goal: ratio ≤ 1.05 (the zoo adds no overhead: it is
the same graph of standard layers).

By default each backend runs in its own subprocess (the backend is fixed per process);
``--backend NAME`` runs one backend in this process.

    python benchmarks/zoo_overhead.py                       # tensorflow, jax, torch
    python benchmarks/zoo_overhead.py --backend jax --repeats 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def measure(batch_size: int, size: int, classes: int, warmup: int, repeats: int) -> dict:
    """Time both models on the current backend; return their medians and the ratio."""
    import keras
    import numpy as np

    from kerasnets import analysis, models

    shape = (size, size, 3)
    ours = models.build("resnet50", input_shape=shape, num_classes=classes, stem="imagenet")
    reference = keras.applications.ResNet50(weights=None, input_shape=shape, classes=classes)
    counts = {
        name: (analysis.count_params(m)["params"], analysis.profile(m).macs)
        for name, m in (("zoo", ours), ("keras", reference))
    }
    if counts["zoo"] != counts["keras"]:
        raise SystemExit(f"the models differ (params, MACs): {counts}")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch_size, *shape)).astype("float32")
    y = rng.integers(0, classes, size=(batch_size,)).astype("int32")
    for m in (ours, reference):
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        for _ in range(warmup):
            m.train_on_batch(x, y)

    times = {"zoo": [], "keras": []}
    pair = [("zoo", ours), ("keras", reference)]
    for i in range(repeats):  # alternate (ABBA...), so that machine load affects both alike
        for name, m in pair if i % 2 == 0 else pair[::-1]:
            start = time.perf_counter()
            m.train_on_batch(x, y)  # returns Python floats: the step has finished
            times[name].append(time.perf_counter() - start)
    zoo_ms = 1e3 * float(np.median(times["zoo"]))
    keras_ms = 1e3 * float(np.median(times["keras"]))
    # Each pair of adjacent steps saw the same machine load: the median of their ratios is the
    # robust figure on a busy machine; the ratio of the medians is printed next to it.
    pair_ratio = float(np.median(np.array(times["zoo"]) / np.array(times["keras"])))
    return {
        "backend": keras.backend.backend(),
        "input": [batch_size, *shape],
        "params": counts["zoo"][0],
        "macs_per_example": counts["zoo"][1],
        "zoo_ms": zoo_ms,
        "keras_ms": keras_ms,
        "ratio": pair_ratio,
        "ratio_of_medians": zoo_ms / keras_ms,
        "repeats": repeats,
        "warmup": warmup,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, help="run one backend in-process")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--size", type=int, default=64, help="image side (64)")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="one JSON object per backend")
    args = parser.parse_args(argv)
    for name in ("batch_size", "size", "classes", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.size < 32:
        parser.error(f"--size must be >= 32 for the ImageNet stem, got {args.size}")

    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        result = measure(args.batch_size, args.size, args.classes, args.warmup, args.repeats)
        print(json.dumps(result) if args.json else _line(result), flush=True)
        return 0

    print(
        f"ResNet-50 train step, input {args.batch_size}x{args.size}x{args.size}x3, "
        f"{args.classes} classes, median of {args.repeats} alternated steps after "
        f"{args.warmup} warm-up"
    )
    status = 0
    for backend in BACKENDS:
        cmd = [sys.executable, __file__, "--backend", backend, "--json"]
        for name in ("batch_size", "size", "classes", "warmup", "repeats"):
            cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            print(f"{backend:10s} FAILED: {proc.stderr.strip().splitlines()[-1:]}")
            status = 1
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(result) if args.json else _line(result), flush=True)
    return status


def _line(r) -> str:
    verdict = "ok" if r["ratio"] <= 1.05 else "above the 1.05 goal"
    return (
        f"{r['backend']:10s} zoo {r['zoo_ms']:8.1f} ms  keras.applications {r['keras_ms']:8.1f} ms"
        f"  ratio {r['ratio']:.3f} ({verdict}; ratio of medians {r['ratio_of_medians']:.3f};"
        f" both {r['params']:,} params, {r['macs_per_example']:,} MACs/example)"
    )


if __name__ == "__main__":
    sys.exit(main())
