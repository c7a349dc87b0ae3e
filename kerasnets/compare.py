"""One model on TensorFlow, JAX and PyTorch side by side: ``kerasnets compare-backends``.

:func:`compare_backends` builds a model once (a zoo name, a ``.keras`` file or a
``keras.Model``), saves it with its weights and a fixed batch of data, and runs every backend in
its own Python process (``python -m kerasnets.compare``; the backend cannot change inside a
running process) on **the same weights and the same data**. Each worker measures:

* forward parity: the outputs of ``predict_on_batch`` and the loss (inference mode);
* gradient parity: the loss gradients of every trainable weight from
  :func:`kerasnets.backend.loss_and_gradients` in training mode (BatchNorm on batch
  statistics, as a train step sees them), compared layer by layer;
* training parity: ``steps`` SGD steps with ``train_on_batch`` on that batch from the same start:
  the loss at each step and the weights afterwards;
* speed: the first ``predict_on_batch`` and ``train_on_batch`` calls (tracing / compilation
  included) and the steady state as medians of ``repeats`` alternated train-step / inference
  calls, with the CPUs the process may use and its OS thread count;
* memory: the process's peak resident set size (``getrusage``'s ``ru_maxrss``) before the first
  train step and after the timed steps; the growth is a lower bound of what training adds,
  since the peak before training already counts the model, its data and the forward pass;
* deployment (``deploy=True``): whether ``model.export(format="litert")`` works natively on the
  backend, whether kerasnets' TFLite path (:func:`kerasnets.tflite.convert`, which starts its own
  TensorFlow process off TensorFlow) works from it and matches Keras in the LiteRT interpreter,
  and whether a ``.keras`` file saved on it loads on each other backend with the same outputs;
* initialization: the same ``keras.utils.set_random_seed`` builds *different* initial weights on
  each backend (each draws from its own random generator), which is why the weights are shared.

The differences are taken against the first backend in ``backends`` that ran (the reference).
A backend that is not installed, or whose worker fails, gets a row that says so; the others
still run. Everything is checked before any process starts.

Written here rather than with a library: the per-backend processes, the shared files and the
comparisons are specific to Keras' one-backend-per-process design; the parts a library does
(saving, gradients, LiteRT, plotting, tables) use Keras, kerasnets, LiteRT and matplotlib.

Example:
    >>> result = compare_backends("mlp", input_shape=(16,), num_classes=4,
    ...                           backends=("tensorflow", "jax"), steps=2)  # doctest: +SKIP
    >>> result["backends"]["jax"]["forward"]["max_abs_diff"] < 1e-4         # doctest: +SKIP
    True
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

BACKENDS = ("tensorflow", "jax", "torch")
#: The Python module each backend needs (checked with ``importlib.util.find_spec``, no import).
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
LOSS = "sparse_categorical_crossentropy"
#: Parity threshold drawn in the figure and used by the tests (float32 round-off is ~1e-6).
TOLERANCE = 1e-4


# --- validation --------------------------------------------------------------------------------


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_backends(backends) -> tuple[str, ...]:
    """``backends`` as a tuple of distinct names from :data:`BACKENDS`, or a ValueError.

    Example:
        >>> check_backends("jax,torch")
        ('jax', 'torch')
        >>> check_backends(["jax", "mxnet"])
        Traceback (most recent call last):
        ...
        ValueError: unknown backend 'mxnet' in backends; use tensorflow, jax, torch
    """
    if isinstance(backends, str):
        backends = [b.strip() for b in backends.split(",") if b.strip()]
    backends = tuple(backends)
    if not backends:
        raise ValueError(f"backends must name at least one of {', '.join(BACKENDS)}")
    for b in backends:
        if b not in BACKENDS:
            raise ValueError(f"unknown backend {b!r} in backends; use {', '.join(BACKENDS)}")
    if len(set(backends)) != len(backends):
        raise ValueError(f"backends names a backend twice: {', '.join(backends)}")
    return backends


def installed(backend: str) -> bool:
    """Whether ``backend``'s Python package is installed (nothing is imported)."""
    return importlib.util.find_spec(BACKEND_MODULES[backend]) is not None


def _build(model, input_shape, num_classes):
    """Return ``(keras model, name)``; every error is a one-line ValueError or FileNotFoundError."""
    import keras

    if isinstance(model, keras.Model):
        if input_shape is not None or num_classes is not None:
            raise ValueError("input_shape and num_classes apply to zoo names, not to a model")
        return model, model.name
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(
            f"model must be a zoo name, a .keras file or a keras.Model, got {type(model).__name__}"
        )
    from kerasnets import io, models

    text = str(model)
    if text.endswith(".keras") or isinstance(model, os.PathLike):
        if input_shape is not None or num_classes is not None:
            raise ValueError("--input-shape and --classes apply to zoo names, not to .keras files")
        io.check_model_file(text)
        return io.load_model(text), Path(text).name
    if text not in models.available():
        raise ValueError(f"unknown model {text!r}; available: {', '.join(models.available())}")
    options = {}
    if input_shape is not None:
        options["input_shape"] = tuple(input_shape)
    if num_classes is not None:
        options["num_classes"] = _check_int("num_classes", num_classes, 2)
    try:
        built = models.build(text, **options)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{text} cannot be built with {options}: {err}") from None
    except Exception as err:  # a shape that breaks a layer deep inside the graph
        message = " ".join(str(err).split())[:200]
        raise ValueError(
            f"input shape {options.get('input_shape')} does not fit {text} "
            f"({type(err).__name__}: {message})"
        ) from None
    return built, text


def _check_model(model):
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"compare-backends needs a model with one input and one output, got "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs"
        )
    in_shape = tuple(model.inputs[0].shape[1:])
    out_shape = tuple(model.outputs[0].shape[1:])
    if any(d is None for d in in_shape):
        raise ValueError(f"the model's input shape {in_shape} must be fully known")
    if len(out_shape) != 1 or out_shape[0] is None or out_shape[0] < 2:
        raise ValueError(
            f"compare-backends needs a classifier with outputs (batch, classes), got {out_shape}"
        )
    return in_shape, int(out_shape[0])


# --- the parent --------------------------------------------------------------------------------


def compare_backends(
    model,
    input_shape=None,
    num_classes=None,
    backends=BACKENDS,
    batch: int = 8,
    steps: int = 3,
    repeats: int = 5,
    learning_rate: float = 0.01,
    seed: int = 0,
    threads: int | None = None,
    deploy: bool = True,
    out=None,
    force: bool = False,
    timeout: float = 900,
    progress=None,
) -> dict:
    """Run ``model`` on each backend in its own process from the same weights; compare.

    Args:
        model: a zoo name (:func:`kerasnets.models.build`), a ``.keras`` file
            (:func:`kerasnets.io.load_model`) or a built ``keras.Model`` with one input and a
            ``(batch, classes)`` output.
        input_shape, num_classes: options for a zoo model (its defaults otherwise).
        backends: names from :data:`BACKENDS` (or ``"jax,torch"``); the first one that runs is
            the reference of every difference.
        batch: samples in the one batch every backend sees (standard-normal inputs, random
            labels, drawn with ``seed``).
        steps: SGD steps (``learning_rate``) of the training-parity check, >= 1.
        repeats: alternated steady-state train-step / inference calls timed per backend.
        seed: seed of the data, of a zoo model's weights (``keras.utils.set_random_seed`` in
            this process) and of the initialization comparison.
        threads: pin each worker to this many CPUs (``os.sched_setaffinity`` before Keras is
            imported, and ``OMP_NUM_THREADS``), so every backend sizes its thread pools to it;
            ``None`` leaves each backend its default (all CPUs of this process).
        deploy: also check LiteRT export and ``.keras`` portability (adds a TensorFlow
            conversion per backend and a loader process per backend).
        out: a directory to create with ``report.md``, ``results.json`` and
            ``compare_backends.png`` (atomically; an existing one only with ``force``).
        timeout: seconds each worker process may run.
        progress: optional ``progress(message)`` called as each worker process starts.

    Returns:
        A dict: the setup (``model``, ``params``, ``input_shape``, ``num_classes``, ``batch``,
        ``steps``, ...), ``reference``, ``backends`` (one dict per backend: ``status``
        ``"ok"``/``"not installed"``/``"failed"``, ``forward``, ``gradients``, ``training``,
        ``time``, ``memory``, ``init``, ``deploy``, ``versions``), ``portability`` (``"A->B"``:
        max |Δ| of the outputs or an error), ``wall_s`` and ``cpu_s`` (CPU seconds of this
        process and its workers).

    Raises:
        ValueError, TypeError, FileNotFoundError: bad input, before any process starts.
    """
    start = time.perf_counter()
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu_start = sum(u.ru_utime + u.ru_stime for u in used)
    backends = check_backends(backends)
    batch = _check_int("batch", batch)
    steps = _check_int("steps", steps)
    repeats = _check_int("repeats", repeats)
    seed = _check_int("seed", seed, 0)
    cpus = len(os.sched_getaffinity(0))
    if threads is not None:
        threads = _check_int("threads", threads)
        if threads > cpus:
            raise ValueError(f"threads must be at most the {cpus} CPUs available, got {threads}")
    timeout = float(timeout)
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    if input_shape is not None:
        input_shape = tuple(input_shape)
    if out is not None:
        from kerasnets.io import check_output_dir

        check_output_dir(out, force)
    if isinstance(model, str) and not model.endswith(".keras"):
        import keras

        keras.utils.set_random_seed(seed)  # the same zoo weights in every run with this seed
    keras_model, name = _build(model, input_shape, num_classes)
    in_shape, classes = _check_model(keras_model)

    import keras

    from kerasnets.io import save_model

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *in_shape)).astype("float32")
    y = rng.integers(0, classes, size=batch).astype("int32")
    result = {
        "model": name,
        "params": int(keras_model.count_params()),
        "input_shape": list(in_shape),
        "num_classes": classes,
        "batch": batch,
        "steps": steps,
        "repeats": repeats,
        "learning_rate": float(learning_rate),
        "seed": seed,
        "loss": LOSS,
        "parent_backend": keras.backend.backend(),
        "cpus": cpus,
        "threads": threads,
        "load_average_start": os.getloadavg()[0],
        "backends": {},
        "portability": {},
    }
    with tempfile.TemporaryDirectory(prefix="kerasnets-compare-") as work:
        work = Path(work)
        save_model(keras_model, work / "model.keras")
        np.save(work / "x.npy", x)
        np.save(work / "y.npy", y)
        spec = {
            "work": str(work),
            "model": str(work / "model.keras"),
            "steps": steps,
            "repeats": repeats,
            "learning_rate": float(learning_rate),
            "seed": seed,
            "threads": threads,
            "deploy": bool(deploy),
        }
        ran = []
        for backend in backends:
            if not installed(backend):
                result["backends"][backend] = {
                    "status": "not installed",
                    "error": f"the {BACKEND_MODULES[backend]} package is not installed",
                }
                continue
            loads = {b: str(work / f"{b}.keras") for b in ran} if deploy else {}
            if progress is not None:
                progress(f"running {name} on {backend} ...")
            row = _run_worker(backend, dict(spec, mode="run", loads=loads), work, timeout)
            if progress is not None and row["status"] != "ok":
                progress(f"{backend} failed: {row['error']}")
            result["backends"][backend] = row
            if row["status"] == "ok":
                ran.append(backend)
                result["portability"].update(row.pop("loads", {}))
        if deploy:  # the earlier backends load the files saved by the later ones
            for i, backend in enumerate(ran[:-1]):
                loads = {b: str(work / f"{b}.keras") for b in ran[i + 1 :]}
                if progress is not None:
                    progress(f"loading the .keras files of {', '.join(loads)} on {backend} ...")
                row = _run_worker(backend, dict(spec, mode="load", loads=loads), work, timeout)
                if row["status"] == "ok":
                    result["portability"].update(row.get("loads", {}))
                else:
                    for source in loads:
                        result["portability"][f"{source}->{backend}"] = {"error": row["error"]}
        _compare(result, ran, work)
    result["wall_s"] = time.perf_counter() - start
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    result["cpu_s"] = sum(u.ru_utime + u.ru_stime for u in used) - cpu_start
    result["load_average_end"] = os.getloadavg()[0]
    if out is not None:
        write_outputs(result, out, force)
    return result


def _worker_env(backend, threads=None):
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    env["PYTHONPATH"] = root + (os.pathsep + path if path else "")
    return env


def _run_worker(backend, spec, work, timeout):
    tag = f"{backend}-{spec['mode']}"
    spec_path = work / f"{tag}.spec.json"
    result_path = work / f"{tag}.json"
    spec_path.write_text(json.dumps(dict(spec, backend=backend, result=str(result_path))))
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "kerasnets.compare", str(spec_path)],
            capture_output=True,
            text=True,
            env=_worker_env(backend, spec.get("threads")),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"status": "failed", "error": f"the {backend} worker ran past {timeout:.0f} s"}
    row = json.loads(result_path.read_text()) if result_path.exists() else None
    if row is None or "error" in row:
        if row is not None:
            error = row["error"]
        else:
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            error = lines[-1] if lines else f"exit status {proc.returncode}"
        return {"status": "failed", "error": error[:300]}
    row["status"] = "ok"
    row["process_s"] = time.perf_counter() - start
    return row


def _parity(row):
    """The largest of a backend's shared-weight differences (forward, gradients, training)."""
    tr = row["training"]
    return max(
        row["forward"]["max_abs_diff"],
        row["gradients"]["max_rel_diff"],
        tr["final_loss_abs_diff"],
        tr["weights_max_abs_diff"],
    )


def _rel(diff, ref):
    norm = float(np.linalg.norm(ref))
    return float(np.linalg.norm(diff)) / norm if norm > 0 else float(np.linalg.norm(diff))


def _compare(result, ran, work):
    """Fill the differences against the reference backend (the first that ran)."""
    result["reference"] = ran[0] if ran else None
    if not ran:
        return
    ref = ran[0]

    def load(backend, what):
        return np.load(work / f"{backend}_{what}.npy")

    ref_out, ref_init, ref_trained = load(ref, "forward"), load(ref, "init"), load(ref, "trained")
    ref_grads = dict(np.load(work / f"{ref}_grads.npz"))
    ref_loss = result["backends"][ref]["training"]["losses"]
    for backend in ran:
        row = result["backends"][backend]
        out, init, trained = (
            load(backend, "forward"),
            load(backend, "init"),
            load(backend, "trained"),
        )
        grads = dict(np.load(work / f"{backend}_grads.npz"))
        diff = np.abs(out.astype("float64") - ref_out)
        row["forward"] = {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean())}
        layers = {}
        for path in grads:
            layers.setdefault(path.rsplit("/", 1)[0], []).append(path)
        per_layer = {}
        for layer, paths in layers.items():
            g = np.concatenate([grads[p].ravel() for p in paths]).astype("float64")
            r = np.concatenate([ref_grads[p].ravel() for p in paths]).astype("float64")
            per_layer[layer] = _rel(g - r, r)
        row["gradients"] = {
            "max_rel_diff": max(per_layer.values()) if per_layer else 0.0,
            "worst_layer": max(per_layer, key=per_layer.get) if per_layer else None,
            "layers": per_layer,
        }
        initial = row["training"]["initial_loss"]
        true_class = out[np.arange(len(out)), np.load(work / "y.npy")]
        row["forward"].update(
            {
                "loss": initial,
                "loss_abs_diff": abs(initial - result["backends"][ref]["training"]["initial_loss"]),
                "saturated": int((true_class < row["epsilon"]).sum()),
            }
        )
        losses = row["training"]["losses"]
        row["training"].update(
            {
                "loss_abs_diff": [abs(a - b) for a, b in zip(losses, ref_loss)],
                "final_loss_abs_diff": abs(losses[-1] - ref_loss[-1]),
                "weights_max_abs_diff": float(np.abs(trained - ref_trained).max()),
                "weights_rel_diff": _rel(trained.astype("float64") - ref_trained, ref_trained),
            }
        )
        row["init"].update(
            {
                "max_abs_diff": float(np.abs(init - ref_init).max()),
                "rel_diff": _rel(init.astype("float64") - ref_init, ref_init),
            }
        )


# --- the worker (one per backend, `python -m kerasnets.compare SPEC`) --------------------------


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _os_threads():
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _flat(weights):
    return np.concatenate([np.asarray(w, dtype="float32").ravel() for w in weights])


def _one_line(err):
    text = " ".join(str(err).split())[:200]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _check_loads(spec, model_loader, x, own_out, backend):
    loads = {}
    for source, path in spec["loads"].items():
        key = f"{source}->{backend}"
        try:
            loaded = model_loader(path)
            out = np.asarray(loaded.predict_on_batch(x))
            loads[key] = {"max_abs_diff": float(np.abs(out - own_out).max())}
        except Exception as err:
            loads[key] = {"error": _one_line(err)}
    return loads


def _deploy(model, x, work, backend):
    from kerasnets import tflite

    found = {}
    path = work / f"{backend}_native.tflite"
    try:
        model.export(str(path), format="litert", verbose=False)
        found["litert_native"] = {"ok": True, "bytes": path.stat().st_size}
    except Exception as err:
        found["litert_native"] = {"ok": False, "error": _one_line(err)}
    path = work / f"{backend}_kerasnets.tflite"
    try:
        start = time.perf_counter()
        tflite.convert(model, path)
        seconds = time.perf_counter() - start
        lite = tflite.TFLiteModel(path).predict(x)
        keras_out = np.asarray(model.predict_on_batch(x))
        found["kerasnets_tflite"] = {
            "ok": True,
            "bytes": path.stat().st_size,
            "seconds": seconds,
            "max_abs_diff": float(np.abs(lite - keras_out).max()),
        }
    except Exception as err:
        found["kerasnets_tflite"] = {"ok": False, "error": _one_line(err)}
    return found


def worker(spec: dict) -> dict:
    """Measure one backend in this process (the backend ``KERAS_BACKEND`` selected).

    Writes ``<backend>_forward.npy``, ``_grads.npz``, ``_init.npy``, ``_trained.npy`` and
    ``<backend>.keras`` into ``spec["work"]`` and returns the measurements (see the module
    docstring). With ``spec["mode"] == "load"`` it only loads ``spec["loads"]``' files.
    """
    import keras

    from kerasnets.backend import loss_and_gradients
    from kerasnets.io import load_model, save_model

    backend = keras.backend.backend()
    work = Path(spec["work"])
    x, y = np.load(work / "x.npy"), np.load(work / "y.npy")
    if spec["mode"] == "load":
        own = np.load(work / f"{backend}_forward.npy")
        return {"loads": _check_loads(spec, load_model, x, own, backend)}

    versions = {"keras": keras.__version__}
    module = sys.modules.get(BACKEND_MODULES[backend])
    versions[backend] = getattr(module, "__version__", "?")
    row = {"backend": backend, "versions": versions}
    if backend == "torch" and spec.get("threads") == 1:
        # PyTorch 2.13's CPU build corrupts the heap in the backward pass of oneDNN
        # convolutions when it runs on one thread (the tiny ResNet of the tests dies with
        # "double free or corruption" / "corrupted size vs. prev_size"; with oneDNN off, or on
        # two threads, it does not). One thread is what --threads 1 asks for, so oneDNN goes.
        import torch

        torch.backends.mkldnn.enabled = False
        row["note"] = "oneDNN off: PyTorch 2.13 CPU crashes in its 1-thread conv backward"
    model = load_model(spec["model"])

    # Forward: the first call traces / compiles.
    start = time.perf_counter()
    out = np.asarray(model.predict_on_batch(x))
    first_infer = time.perf_counter() - start
    np.save(work / f"{backend}_forward.npy", out)
    if spec["deploy"]:
        save_model(model, work / f"{backend}.keras")

    # The loss at the shared weights in inference mode (the forward pass above), and the
    # gradients a train step uses: training mode (BatchNorm on batch statistics).
    loss = loss_and_gradients(model, x, y, loss=LOSS)[0]
    _, grads = loss_and_gradients(model, x, y, loss=LOSS, training=True)
    np.savez(work / f"{backend}_grads.npz", **grads)
    row["random_layers"] = sorted(
        layer.name
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if any(word in type(layer).__name__ for word in ("Dropout", "Noise"))
    )
    row["epsilon"] = keras.config.epsilon()

    model.compile(optimizer=keras.optimizers.SGD(spec["learning_rate"]), loss=LOSS)
    rss_before = _peak_rss_mb()
    losses = []
    start = time.perf_counter()
    for step in range(spec["steps"]):
        losses.append(float(np.asarray(model.train_on_batch(x, y))))
        if step == 0:
            first_train = time.perf_counter() - start
    losses.append(loss_and_gradients(model, x, y, loss=LOSS, training=True)[0])
    np.save(work / f"{backend}_trained.npy", _flat(model.trainable_weights))
    row["training"] = {"initial_loss": loss, "losses": losses}

    # Steady state: train step and inference alternated, so both see the same machine load.
    train_s, infer_s = [], []
    for _ in range(spec["repeats"]):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        train_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.predict_on_batch(x)
        infer_s.append(time.perf_counter() - start)
    row["time"] = {
        "first_inference_s": first_infer,
        "first_train_step_s": first_train,
        "train_step_s": statistics.median(train_s),
        "inference_s": statistics.median(infer_s),
        "cpus": len(os.sched_getaffinity(0)),
        "os_threads": _os_threads(),
    }
    rss_after = _peak_rss_mb()
    row["memory"] = {
        "peak_rss_before_train_mb": rss_before,
        "peak_rss_mb": rss_after,
        "train_growth_mb": rss_after - rss_before,
        "how": "peak resident set size of the worker process (getrusage ru_maxrss) before the "
        "first train step and after the timed steps",
    }

    # The same seed on each backend: a fresh model from the same config.
    keras.utils.set_random_seed(spec["seed"])
    fresh = type(model).from_config(model.get_config())
    init = _flat(fresh.trainable_weights)
    np.save(work / f"{backend}_init.npy", init)
    row["init"] = {"first_values": [float(v) for v in init[:4]], "size": int(init.size)}
    del fresh

    if spec["deploy"]:
        start = time.perf_counter()
        row["deploy"] = _deploy(model, x, work, backend)
        row["deploy"]["seconds"] = time.perf_counter() - start
        row["loads"] = _check_loads(spec, load_model, x, out, backend)
    return row


def _main(argv) -> int:
    if len(argv) != 1:
        print("usage: python -m kerasnets.compare SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    if spec.get("threads"):  # before Keras and the backend size their thread pools
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: spec["threads"]])
    from kerasnets.io import write_json

    try:
        row = worker(spec)
    except Exception as err:
        row = {"error": _one_line(err), "traceback": traceback.format_exc()}
    write_json(spec["result"], row)
    return 0


# --- rendering ---------------------------------------------------------------------------------


def _sci(value):
    return "—" if value is None else f"{value:.1e}"


def _ms(seconds):
    return "—" if seconds is None else f"{1e3 * seconds:,.1f}"


def _deploy_cell(row, key):
    found = row.get("deploy", {}).get(key)
    if found is None:
        return "—"
    return "yes" if found["ok"] else "no"


def _loads_on(result, backend):
    pairs = {k: v for k, v in result["portability"].items() if k.startswith(f"{backend}->")}
    ok = [k.split("->")[1] for k, v in pairs.items() if "max_abs_diff" in v]
    bad = [k.split("->")[1] for k, v in pairs.items() if "error" in v]
    return ", ".join(ok + [f"not {b}" for b in bad]) or "—"


def table_rows(result) -> tuple[list[str], list[list[str]]]:
    """The comparison table as ``(header, rows)`` of strings: one row per backend."""
    steps = result["steps"]
    head = [
        "backend",
        "fwd max abs diff",
        "fwd mean abs diff",
        "loss diff, same weights",
        "grad max rel diff",
        f"loss diff after {steps} steps",
        f"weights max abs diff after {steps} steps",
        "init max abs diff (same seed)",
        "first inference ms",
        "inference ms",
        "first train step ms",
        "train step ms",
        "peak RSS MB",
        "LiteRT export",
        "kerasnets TFLite",
        ".keras loads on",
    ]
    rows = []
    for backend, row in result["backends"].items():
        if row["status"] != "ok":
            cells = [backend, f"{row['status']}: {row['error']}"] + ["—"] * (len(head) - 2)
        else:
            ref = backend == result["reference"]
            t, tr = row["time"], row["training"]

            def diff(value, ref=ref):
                return "reference" if ref else _sci(value)

            cells = [
                backend,
                diff(row["forward"]["max_abs_diff"]),
                diff(row["forward"]["mean_abs_diff"]),
                diff(row["forward"]["loss_abs_diff"]),
                diff(row["gradients"]["max_rel_diff"]),
                diff(tr["final_loss_abs_diff"]),
                diff(tr["weights_max_abs_diff"]),
                diff(row["init"]["max_abs_diff"]),
                _ms(t["first_inference_s"]),
                _ms(t["inference_s"]),
                _ms(t["first_train_step_s"]),
                _ms(t["train_step_s"]),
                f"{row['memory']['peak_rss_mb']:,.0f}",
                _deploy_cell(row, "litert_native"),
                _deploy_cell(row, "kerasnets_tflite"),
                _loads_on(result, backend),
            ]
        rows.append(cells)
    return head, rows


def table(result) -> str:
    """The comparison table in markdown: parity, speed, memory and deployment per backend.

    Example:
        >>> print(table({"steps": 3, "reference": None, "portability": {},
        ...              "backends": {"torch": {"status": "not installed",
        ...                                     "error": "the torch package is not installed"}}}))
        ... # doctest: +ELLIPSIS
        | backend | fwd max abs diff | ...
        ...
        | torch | not installed: the torch package is not installed | ...
    """
    head, rows = table_rows(result)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def rich_table(result):
    """The comparison table as a ``rich.table.Table`` (for a terminal)."""
    from rich.table import Table

    head, rows = table_rows(result)
    out = Table(title=setup_line(result), title_justify="left")
    for i, name in enumerate(head):
        out.add_column(name, justify="left" if i == 0 else "right")
    for cells in rows:
        out.add_row(*cells)
    return out


def setup_line(result):
    """One sentence: the model, the data, the steps and the machine the comparison ran on."""
    return (
        f"{result['model']} ({result['params']:,} parameters), input {tuple(result['input_shape'])}"
        f", {result['num_classes']} classes, batch {result['batch']}, {result['steps']} SGD "
        f"steps (lr {result['learning_rate']}), {result['repeats']} alternated timing repeats, "
        f"seed {result['seed']}; parent process on {result['parent_backend']}, "
        f"{result['cpus']} CPUs, "
        + (
            "each backend with its default threads"
            if result.get("threads") is None
            else f"each worker pinned to {result['threads']} CPU(s)"
        )
        + f" (1-minute load average {result['load_average_start']:.1f} at "
        f"the start, {result.get('load_average_end', float('nan')):.1f} at the end)"
    )


def report(result) -> str:
    """``report.md``: the setup, the table, and what each backend's numbers say."""
    lines = [
        f"# Backend comparison: {result['model']}",
        "",
        setup_line(result) + ".",
        "",
        table(result),
        "",
    ]
    ref = result["reference"]
    ok = [b for b, r in result["backends"].items() if r["status"] == "ok"]
    if ref is None:
        lines.append("No backend ran, so nothing was compared.")
        return "\n".join(lines) + "\n"
    lines += [
        f"Differences are against {ref}, the first backend that ran. Times are medians of "
        f"{result['repeats']} alternated train-step / inference calls after the first call "
        "(which includes tracing or compilation); memory is the worker's peak resident set "
        "size (`getrusage` `ru_maxrss`). Gradients are taken in training mode (BatchNorm on "
        "batch statistics), as a train step takes them; outputs and the loss at the shared "
        "weights in inference mode.",
        "",
    ]
    lines += [f"- {b}: {r['note']}." for b, r in result["backends"].items() if r.get("note")] + [
        ""
    ] * any(r.get("note") for r in result["backends"].values())
    lines += [
        "## Parity",
        "",
    ]
    for backend in ok:
        if backend == ref:
            continue
        row = result["backends"][backend]
        fwd, grads, tr = row["forward"], row["gradients"], row["training"]
        lines.append(
            f"- **{backend}**: outputs differ by at most {fwd['max_abs_diff']:.1e} (mean "
            f"{fwd['mean_abs_diff']:.1e}); the largest per-layer relative gradient difference is "
            f"{grads['max_rel_diff']:.1e} (layer `{grads['worst_layer']}`); after "
            f"{result['steps']} SGD steps the loss differs by {tr['final_loss_abs_diff']:.1e} "
            f"({tr['losses'][-1]:.6f} vs {result['backends'][ref]['training']['losses'][-1]:.6f})"
            f" and the weights by at most {tr['weights_max_abs_diff']:.1e}."
        )
    others = [b for b in ok if b != ref]
    if others:
        worst = max(_parity(result["backends"][b]) for b in others)
        if worst < TOLERANCE:
            verdict = (
                f"Every difference with shared weights is at most {worst:.1e}, below "
                f"{TOLERANCE:g}: float32 round-off (about 7 significant digits) from summing in a "
                "different order. The backends compute the same function."
            )
        else:
            verdict = (
                f"The largest difference with shared weights is {worst:.1e}, above "
                f"{TOLERANCE:g}. Round-off grows where a result is a small difference of large "
                "terms (in training mode a BatchNorm layer's input gradients sum to zero over the "
                "batch) and through training steps; a real mismatch (e.g. a strided convolution "
                "padded differently) shows as a difference near 1 from one layer on. The "
                "per-layer gradient table below shows which it is."
            )
        lines += ["", verdict]
        for backend in others:
            fwd = result["backends"][backend]["forward"]
            ref_loss = result["backends"][ref]["forward"]["loss"]
            if fwd["loss_abs_diff"] < TOLERANCE:
                continue
            text = (
                f"The loss at the shared weights (inference mode) differs on {backend} by "
                f"{fwd['loss_abs_diff']:.2g} ({fwd['loss']:.4f} vs {ref_loss:.4f} on {ref})"
            )
            if fwd["saturated"]:
                eps = result["backends"][backend]["epsilon"]
                text += (
                    f" although the outputs agree: {fwd['saturated']} of {result['batch']} samples "
                    f"give their true class a probability below {eps:g}. Keras clips "
                    f"probabilities to [{eps:g}, 1 - {eps:g}] before the log on JAX and PyTorch; "
                    "on TensorFlow it takes the cross-entropy from the softmax's logits, "
                    "without clipping"
                )
            lines.append("")
            lines.append(text + ".")
        random = sorted({n for b in ok for n in result["backends"][b].get("random_layers", [])})
        if random:
            lines += [
                "",
                f"The model has random layers ({', '.join(random)}): in training mode each "
                "backend draws its own masks, so gradient and training differences include them.",
            ]
    lines += [
        "",
        "## Before the weights are shared",
        "",
    ]
    for backend in ok:
        row = result["backends"][backend]
        first = ", ".join(f"{v:+.4f}" for v in row["init"]["first_values"])
        extra = (
            ""
            if backend == ref
            else f"; max |Δ| {row['init']['max_abs_diff']:.2e}, relative "
            f"{row['init']['rel_diff']:.2f}"
        )
        lines.append(
            f"- {backend}: first initial weights with seed {result['seed']}: {first}{extra}"
        )
    lines += ["", "## Speed and memory", ""]
    for backend in ok:
        t, m = result["backends"][backend]["time"], result["backends"][backend]["memory"]
        lines.append(
            f"- {backend}: first train step {_ms(t['first_train_step_s'])} ms, then "
            f"{_ms(t['train_step_s'])} ms ({t['first_train_step_s'] / t['train_step_s']:.0f}x); "
            f"first inference {_ms(t['first_inference_s'])} ms, then {_ms(t['inference_s'])} ms; "
            f"{t['cpus']} CPUs, {t['os_threads']} OS threads in the process; peak RSS "
            f"{m['peak_rss_before_train_mb']:,.0f} MB before training, "
            f"{m['peak_rss_mb']:,.0f} MB after (+{m['train_growth_mb']:,.0f} MB)."
        )
    lines += ["", "## Per-layer gradient differences (relative)", ""]
    if others:
        layers = list(result["backends"][others[0]]["gradients"]["layers"])
        lines.append("| layer | " + " | ".join(others) + " |")
        lines.append("|---|" + "---|" * len(others))
        for layer in layers:
            cells = [_sci(result["backends"][b]["gradients"]["layers"].get(layer)) for b in others]
            lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    else:
        lines.append("Only one backend ran.")
    if any("deploy" in result["backends"][b] for b in ok) or result["portability"]:
        lines += ["", "## Deployment", ""]
    for backend in ok:
        dep = result["backends"][backend].get("deploy")
        if dep is None:
            continue
        for key, what in (
            ("litert_native", "`model.export(format='litert')`"),
            ("kerasnets_tflite", "kerasnets' TFLite path"),
        ):
            d = dep[key]
            if d["ok"]:
                extra = (
                    f", LiteRT outputs within {d['max_abs_diff']:.1e} of Keras"
                    if "max_abs_diff" in d
                    else ""
                )
                lines.append(f"- {backend}: {what} works ({d['bytes']:,} bytes{extra})")
            else:
                lines.append(f"- {backend}: {what} fails: {d['error']}")
    for pair, value in result["portability"].items():
        source, target = pair.split("->")
        if "error" in value:
            lines.append(
                f"- `.keras` saved on {source} does not load on {target}: {value['error']}"
            )
        else:
            lines.append(
                f"- `.keras` saved on {source} loads on {target}; outputs within "
                f"{value['max_abs_diff']:.1e} of {target}'s own"
            )
    lines += [
        "",
        f"Whole run: {result['wall_s']:.0f} s wall clock, {result['cpu_s']:.0f} s of CPU time "
        "(this process and its workers).",
        "",
    ]
    return "\n".join(lines)


def plot(result):
    """The figure: parity bars (log scale) and step times per backend (log scale)."""
    from kerasnets.plots import plt

    ok = [b for b, r in result["backends"].items() if r["status"] == "ok"]
    ref = result["reference"]
    others = [b for b in ok if b != ref]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.6))
    metrics = [
        ("forward max", lambda r: r["forward"]["max_abs_diff"]),
        ("forward mean", lambda r: r["forward"]["mean_abs_diff"]),
        ("loss, same weights", lambda r: r["forward"]["loss_abs_diff"]),
        ("gradient (max rel.)", lambda r: r["gradients"]["max_rel_diff"]),
        (f"loss after {result['steps']} steps", lambda r: r["training"]["final_loss_abs_diff"]),
        (f"weights after {result['steps']} steps", lambda r: r["training"]["weights_max_abs_diff"]),
        ("init, same seed", lambda r: r["init"]["max_abs_diff"]),
    ]
    floor, top = 1e-12, 10.0
    width = 0.8 / max(1, len(others))
    for i, backend in enumerate(others):
        values = [fn(result["backends"][backend]) for _, fn in metrics]
        top = max([top, *(10 * v for v in values)])
        pos = np.arange(len(metrics)) + (i - (len(others) - 1) / 2) * width
        bars = left.bar(pos, [max(v, floor) for v in values], width, label=f"{backend} vs {ref}")
        for bar, v in zip(bars, values):
            if v == 0:
                left.annotate(
                    "0",
                    (bar.get_x() + bar.get_width() / 2, floor),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
    left.axhline(TOLERANCE, color="grey", ls="--", lw=1, label=f"{TOLERANCE:g} (tolerance)")
    left.set_yscale("log")
    left.set_ylim(floor / 2, top)
    left.set_xticks(np.arange(len(metrics)), [m for m, _ in metrics], rotation=25, ha="right")
    left.set_ylabel("difference (absolute; gradient relative)")
    left.set_title("Parity with shared weights (init: without)")
    left.grid(axis="y", alpha=0.3)
    if others:
        left.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    else:
        left.text(0.5, 0.5, "only one backend ran", transform=left.transAxes, ha="center")

    kinds = [
        ("first inference", "first_inference_s"),
        ("inference", "inference_s"),
        ("first train step", "first_train_step_s"),
        ("train step", "train_step_s"),
    ]
    width = 0.8 / max(1, len(ok))
    for i, backend in enumerate(ok):
        t = result["backends"][backend]["time"]
        pos = np.arange(len(kinds)) + (i - (len(ok) - 1) / 2) * width
        right.bar(pos, [1e3 * t[k] for _, k in kinds], width, label=backend)
    right.set_yscale("log")
    right.set_xticks(np.arange(len(kinds)), [k for k, _ in kinds])
    right.set_ylabel("time per call (ms, log scale)")
    right.set_title(f"Step times, batch {result['batch']} (steady: median of {result['repeats']})")
    right.grid(axis="y", alpha=0.3)
    if ok:
        right.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.suptitle(f"{result['model']} on {', '.join(ok) or 'no backend'}")
    fig.tight_layout()
    return fig


def write_outputs(result, out, force=False) -> dict:
    """Write ``report.md``, ``results.json`` and ``compare_backends.png`` into ``out`` (atomic)."""
    from kerasnets.io import run_directory, save_figure, write_json, write_text

    with run_directory(out, force=force) as tmp:
        write_json(tmp / "results.json", result)
        write_text(tmp / "report.md", report(result))
        save_figure(plot(result), tmp / "compare_backends.png")
    result["files"] = {
        name: str(Path(out) / name)
        for name in ("report.md", "results.json", "compare_backends.png")
    }
    return result["files"]


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
