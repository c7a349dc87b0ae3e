"""One call from a Keras model (or ``.keras`` file) to ``.tflite`` variants, bundle and report.

:func:`export_model` is what ``kerasnets export`` runs; :func:`tour_step` is the deployment step
of ``kerasnets tour``. Both work on every backend (conversion happens in a TensorFlow
subprocess under JAX or PyTorch) and write one run directory atomically.

Example:
    >>> from kerasnets import tflite
    >>> result = tflite.export_model("mlp.keras", "runs/mlp-int8", quantize="int8",
    ...                              calibration="digits")              # doctest: +SKIP
    >>> print(result["markdown"])                                       # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from kerasnets.tflite.conversion import QUANTIZE_MODES, check_options, check_per_channel


def load_keras_model(path):
    """Load a ``.keras`` file (safe mode on); ``ValueError`` in one line if it is not one."""
    import keras

    from kerasnets.tflite._convert import register_custom_objects

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such model file: {str(path)!r}")
    if path.suffix != ".keras":
        raise ValueError(f"{str(path)!r} is not a Keras model file: expected a '.keras' file")
    register_custom_objects()
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:
        message = " ".join(str(err).split())[:200]
        raise ValueError(f"{str(path)!r} is not a valid Keras model file ({message})") from None


def _input_shape(model):
    if len(model.inputs) != 1:
        raise ValueError(f"only single-input models are supported, got {len(model.inputs)}")
    return tuple(model.inputs[0].shape[1:])


def dataset_for_model(name, model, subset=None, test_subset=None, seed=0):
    """Load kerasnets dataset ``name`` shaped to ``model``'s input.

    Samples are flattened for vector inputs, given the model's channel count, and drawn at
    the model's size for ``shapes``; otherwise their values must fit the input exactly
    (e.g. digits as 64-vectors or 8×8×1 images). Returns ``((x, y), (x_test, y_test))``.
    """
    from kerasnets import data

    if name not in data.DATASETS:
        raise ValueError(f"unknown dataset {name!r}; use one of {data.DATASETS} or a .npy file")
    shape = _input_shape(model)
    if any(s is None for s in shape):
        raise ValueError(f"the model input {shape} has unknown dimensions; pass a .npy file")
    kwargs = {"subset": subset, "test_subset": test_subset, "seed": seed}
    if len(shape) == 3 and shape[-1] in (1, 3):
        kwargs["channels"] = shape[-1]
        if name == "shapes":
            kwargs["size"] = shape[:2]
    (x, y), (xt, yt) = data.load(name, **kwargs)
    if x.shape[1:] != shape:
        if int(np.prod(x.shape[1:])) != int(np.prod(shape)):
            raise ValueError(
                f"{name} samples have shape {x.shape[1:]} ({int(np.prod(x.shape[1:]))} values) "
                f"and cannot be reshaped to the model input {shape} "
                f"({int(np.prod(shape))} values)"
            )
        x, xt = x.reshape((len(x), *shape)), xt.reshape((len(xt), *shape))
    return (x, y), (xt, yt)


def resolve_calibration(calibration, model):
    """Calibration data from a dataset name, a ``.npy`` path or an array.

    Returns ``(samples, train, test, labels)`` where ``train``/``test`` are ``(x, y)`` pairs and
    ``labels`` class names when ``calibration`` names a dataset, else ``None``.
    """
    from kerasnets import data
    from kerasnets.tflite.conversion import check_input_shape

    if calibration is None:
        return None, None, None, None
    if isinstance(calibration, (str, os.PathLike)):
        text = str(calibration)
        if text.endswith(".npy"):
            path = Path(text)
            if not path.is_file():
                raise FileNotFoundError(f"no such calibration file: {text!r}")
            try:
                samples = np.load(path, allow_pickle=False).astype("float32")
            except Exception as err:
                raise ValueError(f"cannot read calibration file {text!r}: {err}") from None
        else:
            train, test = dataset_for_model(text, model)
            return train[0], train, test, list(data.CLASS_NAMES[text])
    else:
        samples = np.asarray(calibration, dtype="float32")
    shape = _input_shape(model)
    if samples.ndim >= 1 and samples.shape[1:] != shape and samples.ndim > 1:
        if int(np.prod(samples.shape[1:])) == int(np.prod(shape)) and None not in shape:
            samples = samples.reshape((len(samples), *shape))
    check_input_shape(model, samples)
    if len(samples) == 0:
        raise ValueError("calibration data is empty")
    return samples, None, None, None


def _keras_row(model, x_test, y_test, runs):
    """The float Keras model's row. Its size is that of its weights as float32 (a ``.keras``
    file adds the config and, for a compiled model, the optimizer state)."""
    from kerasnets.tflite.runtime import keras_latency_ms

    weights = [np.asarray(w) for w in model.get_weights()]
    raw = b"".join(w.astype("float32").tobytes() for w in weights)
    row = {
        "variant": "keras float32",
        "format": "keras",
        "params": int(model.count_params()),
        "nonzero_params": int(sum(np.count_nonzero(w) for w in weights)),
        "macs": _macs(model),
        "bytes": len(raw),
        "gzip_bytes": len(gzip.compress(raw, compresslevel=9)),
        "latency_ms_1": keras_latency_ms(model, x_test[:8], runs=runs)
        if x_test is not None
        else None,
        "latency_ms_n": None,
        "accuracy": None,
        "max_abs_diff": 0.0,
        "top1_agreement": 1.0,
    }
    return row


def _macs(model):
    try:
        from kerasnets.analysis import count_macs

        return int(count_macs(model))
    except Exception:  # analysis not available, or a layer it cannot count
        return None


def _nonzero(model):
    return int(sum(np.count_nonzero(np.asarray(w)) for w in model.get_weights()))


def _compile_for_finetuning(model):
    import keras

    from kerasnets.tflite.twin import ends_with_softmax

    return keras.losses.SparseCategoricalCrossentropy(from_logits=not ends_with_softmax(model))


def _compress(model, x, y, prune, cluster, epochs):
    """Native (all-backend) pruning then clustering from ``kerasnets.compression``."""
    from kerasnets.compression import clustering, pruning

    loss = _compile_for_finetuning(model)
    if prune is not None:
        model = pruning.prune_and_finetune(model, prune, x, y, epochs=epochs, loss=loss)
    if cluster is not None:
        model = clustering.cluster_and_finetune(model, cluster, x, y, epochs=epochs, loss=loss)
    return model


def _variant_name(quantize, prune=None, cluster=None, qat=False):
    parts = []
    if prune is not None:
        parts.append(f"pruned{round(100 * prune)}")
    if cluster is not None:
        parts.append(f"clustered{cluster}")
    if qat:
        parts.append("qat")
    parts.append("float32" if quantize == "none" else quantize)
    return "+".join(parts)


def export_model(
    model,
    out,
    quantize: str = "int8",
    calibration=None,
    *,
    prune: float | None = None,
    cluster: int | None = None,
    qat: bool = False,
    io_dtype: str | None = None,
    sparse: bool | None = None,
    per_channel: bool | str = "conv",
    train=None,
    test=None,
    labels=None,
    epochs: int = 2,
    runs: int = 50,
    threads=None,
    force: bool = False,
) -> dict:
    """Export ``model`` to ``.tflite`` variants, evaluate them, write bundle and report to ``out``.

    Variants: float32 always; ``quantize`` if not ``"none"``; with ``prune``/``cluster`` the
    model compressed by :mod:`kerasnets.compression` (fine-tuned on the training data) and
    converted with ``quantize`` (pruned models with TFLite's sparse encoding unless
    ``sparse=False``); with ``qat`` tfmot quantization-aware training through the ``tf_keras``
    twin (pruning- or cluster-preserving after ``prune``/``cluster``) to int8. The last variant
    goes into the deployment bundle.

    Args:
        model: a Keras 3 model or a ``.keras`` path (any backend, any Keras 3 model).
        out: run directory to create (``RunDirectoryExistsError`` if it exists, unless
            ``force``); written atomically, nothing is left behind on failure.
        quantize: one of ``QUANTIZE_MODES``.
        calibration: dataset name (``"digits"``, ``"shapes"``, ...; its samples are shaped to
            the model input and its test split evaluates), a ``.npy`` file or an array.
        prune, cluster, qat: optimizations (need labelled data: a dataset name or ``train``).
        io_dtype, sparse, per_channel: conversion options (see
            :func:`kerasnets.tflite.convert`).
        train, test: ``(x, y)`` pairs that override the dataset's (e.g. from the tour).
        labels: class names (default: the dataset's, else ``"0", "1", ...``).
        epochs: fine-tuning epochs for prune/cluster/QAT.
        runs, threads: latency measurement (median of ``runs`` after warm-up).

    Returns:
        ``{"out", "rows", "markdown", "bundle", "report", "variants"}``.
    """
    import keras

    from kerasnets.io import check_output_dir, run_directory
    from kerasnets.tflite.bundle import write_bundle
    from kerasnets.tflite.conversion import convert, convert_many
    from kerasnets.tflite.report import markdown, write_report
    from kerasnets.tflite.runtime import evaluate
    from kerasnets.tflite.twin import tfmot_export

    # --- validate everything before any work ---
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"quantize={quantize!r} is not supported; use one of {QUANTIZE_MODES}")
    if prune is not None and not (0 <= float(prune) < 1):
        raise ValueError(f"prune must be a sparsity in [0, 1), got {prune!r}")
    if cluster is not None and (int(cluster) != cluster or int(cluster) < 2):
        raise ValueError(f"cluster must be an integer >= 2, got {cluster!r}")
    per_channel = check_per_channel(per_channel)
    check_output_dir(out, force)
    source = str(model) if not isinstance(model, keras.Model) else model.name
    if not isinstance(model, keras.Model):
        model = load_keras_model(model)
    samples, data_train, data_test, data_labels = resolve_calibration(calibration, model)
    train = train if train is not None else data_train
    test = test if test is not None else data_test
    if samples is None and train is not None:
        samples = np.asarray(train[0], dtype="float32")
    io_dtype = check_options(quantize, samples, io_dtype)
    if qat and quantize == "none":
        quantize = "int8"  # QAT exists to produce an integer model
    needs_labels = prune is not None or cluster is not None or qat
    if needs_labels and train is None:
        raise ValueError(
            "--prune/--cluster/--qat fine-tune the model: give labelled data (a dataset name "
            "as calibration, or train=(x, y))"
        )
    from kerasnets.tflite.conversion import check_input_shape

    if train is not None:
        check_input_shape(model, train[0], "training data")
    if test is not None:
        check_input_shape(model, test[0], "test data")
    x_eval = test[0] if test is not None else samples
    y_eval = test[1] if test is not None else None
    random_inputs = x_eval is None
    if random_inputs:  # no data given: compare with Keras and time on uniform [0, 1) inputs
        shape = _input_shape(model)
        if any(s is None for s in shape):
            raise ValueError(f"the model input {shape} has unknown dimensions; give calibration")
        x_eval = np.random.default_rng(0).random((32, *shape), dtype="float32")
    x_eval = np.asarray(x_eval, dtype="float32")
    n_out = int(np.prod(model.outputs[0].shape[1:]))
    labels = list(labels or data_labels or [str(i) for i in range(n_out)])
    if len(labels) != n_out:
        raise ValueError(f"{len(labels)} labels for a model with {n_out} outputs")

    # --- work, in a temporary run directory renamed into place at the end ---
    reference = np.asarray(model.predict(x_eval, verbose=0, batch_size=256))
    rows = [_keras_row(model, x_eval, y_eval, runs)]
    if y_eval is not None:
        rows[0]["accuracy"] = float(np.mean(reference.argmax(-1) == np.asarray(y_eval)))
    variants = []
    with run_directory(out, force) as tmp:
        vdir = tmp / "variants"
        vdir.mkdir()

        def add(name, path, base, extra=None):
            result = evaluate(path, x_eval, y_eval, reference=reference, threads=threads, runs=runs)
            lat = list(result["latency_ms"].values())
            rows.append(
                {
                    "variant": f"tflite {name}",
                    "format": "tflite",
                    "params": int(base.count_params()),
                    "nonzero_params": _nonzero(base),
                    "macs": _macs(base),
                    "bytes": result["bytes"],
                    "gzip_bytes": result["gzip_bytes"],
                    "latency_ms_1": lat[0],
                    "latency_ms_n": lat[-1] if len(lat) > 1 else None,
                    "accuracy": result.get("accuracy"),
                    "max_abs_diff": result["max_abs_diff"],
                    "top1_agreement": result["top1_agreement"],
                    "threads": list(result["latency_ms"]),
                    "input_dtype": result["input"]["dtype"],
                    "xnnpack": result["xnnpack"],
                    **(extra or {}),
                }
            )
            variants.append((name, path))

        jobs = {vdir / "float32.tflite": {}}
        if quantize != "none":
            jobs[vdir / f"{quantize}.tflite"] = {
                "quantize": quantize,
                "io_dtype": io_dtype,
                "per_channel": per_channel,
            }
        for path in convert_many(model, jobs, samples):
            add(path.stem, path, model)
        base = model
        if prune is not None or cluster is not None:
            base = _compress(model, *train, prune, cluster, epochs)
            name = _variant_name(quantize, prune, cluster)
            use_sparse = (prune is not None) if sparse is None else bool(sparse)
            path = convert(
                base,
                vdir / f"{name}.tflite",
                quantize,
                samples,
                io_dtype,
                sparse=use_sparse,
                per_channel=per_channel,
            )
            add(name, path, base)
        if qat:
            technique = "pqat" if prune is not None else "cqat" if cluster is not None else "qat"
            name = _variant_name(quantize, prune, cluster, qat=True)
            result = tfmot_export(
                base,
                vdir / f"{name}.tflite",
                technique,
                *train,
                quantize=quantize,
                calibration=samples,
                io_dtype=io_dtype,
                sparsity=prune or 0.0,
                clusters=cluster or 16,
                epochs=epochs,
            )
            add(name, Path(result["path"]), base, {"technique": f"tfmot {technique}"})
        final_name, final_path = variants[-1]
        bundle_dir = write_bundle(
            final_path,
            tmp / "bundle",
            labels,
            x_eval[0],
            extra={"variant": final_name, "accuracy": rows[-1]["accuracy"]},
        )
        meta = {
            "source": source,
            "backend": keras.backend.backend(),
            "quantize": quantize,
            "evaluated_on": f"{len(x_eval)} {'random ' if random_inputs else ''}samples"
            + ("" if y_eval is not None else " (no labels)"),
            "latency": "median ms per batch-1 call after warm-up; Keras: predict_on_batch",
            "keras size": "its weights as float32 bytes",
            "bundle_variant": final_name,
        }
        report = write_report(rows, tmp, meta)
    out = Path(out)
    return {
        "out": str(out),
        "rows": rows,
        "markdown": markdown(rows),
        "bundle": str(out / bundle_dir.name),
        "report": {k: str(out / Path(v).name) for k, v in report.items()},
        "variants": {name: str(out / "variants" / Path(p).name) for name, p in variants},
    }


def tour_step(
    model, x_train, y_train, x_test, y_test, run_dir, labels=None, force=True, verbose=True
) -> dict:
    """The deployment step of ``kerasnets tour``: int8 export of the trained model + table.

    Converts ``model`` to float32 and full-integer int8 TFLite (calibrated on ``x_train``),
    evaluates both in the LiteRT interpreter on ``(x_test, y_test)``, writes the bundle and
    report to ``run_dir`` and prints the comparison table (``verbose``). Returns
    :func:`export_model`'s result.

    Example:
        >>> result = tour_step(model, x, y, x_test, y_test, "runs/tour/tflite")  # doctest: +SKIP
    """
    result = export_model(
        model,
        run_dir,
        quantize="int8",
        calibration=np.asarray(x_train)[:200],
        train=(x_train, y_train),
        test=(x_test, y_test),
        labels=labels,
        runs=30,
        force=force,
    )
    if verbose:
        print(result["markdown"])
    return result
