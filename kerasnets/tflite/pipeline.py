"""One call from a Keras model (or ``.keras`` file) to ``.tflite`` variants, bundle and report.

:func:`export_model` is what ``kerasnets export`` runs; :func:`tour_step` is the deployment step
of ``kerasnets tour``. Both work on every backend (conversion happens in a TensorFlow
subprocess under JAX or PyTorch) and write one run directory atomically.

:func:`export_model` runs four stages, each a function of its own:

1. :func:`plan_export` — validate every option and the data, load the model: an
   :class:`ExportPlan`. Nothing is computed or written before it succeeds.
2. :func:`make_variants` — the ``.tflite`` files. Each maker in ``VARIANT_MAKERS`` turns the plan
   into zero or more :class:`Variant`\\ s (post-training quantization, native pruning/clustering,
   tfmot QAT); a new export format is a new maker appended there.
3. :func:`evaluate_variants` — one report row per variant, plus the float Keras model's row.
4. :func:`write_outputs` — the phone bundle of the last variant and the report.

Example:
    >>> from kerasnets import tflite
    >>> result = tflite.export_model("mlp.keras", "runs/mlp-int8", quantize="int8",
    ...                              calibration="digits")              # doctest: +SKIP
    >>> print(result["markdown"])                                       # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kerasnets.tflite.conversion import (
    QUANTIZE_MODES,
    check_model,
    check_options,
    check_per_channel,
    convert,
    convert_many,
)


@dataclass
class ExportPlan:
    """Everything :func:`export_model` does, validated: the stages read only this."""

    model: object
    source: str
    quantize: str
    io_dtype: str
    per_channel: bool | str
    prune: float | None
    cluster: int | None
    qat: bool
    sparse: bool | None
    epochs: int
    runs: int
    threads: tuple | None
    calibration: np.ndarray | None
    train: tuple | None
    x_eval: np.ndarray
    y_eval: np.ndarray | None
    random_inputs: bool
    labels: list
    normalization: dict
    output_kind: str


@dataclass
class Variant:
    """One exported ``.tflite`` file: its name, path, the Keras model it was made from."""

    name: str
    path: Path
    base: object
    extra: dict = field(default_factory=dict)


def output_kind(model) -> str:
    """What the model's output holds, from its last layer's activation.

    ``"probabilities (softmax)"``, ``"probabilities (sigmoid, per class)"``, ``"logits"``
    (no activation) or ``"scores (last activation: NAME)"``.

    Example:
        >>> import keras
        >>> inputs = keras.Input((4,))
        >>> output_kind(keras.Model(inputs, keras.layers.Dense(3)(inputs)))
        'logits'
    """
    last = model.layers[-1]
    if type(last).__name__ == "Softmax":
        return "probabilities (softmax)"
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", str(activation))
    if name == "softmax":
        return "probabilities (softmax)"
    if name == "sigmoid":
        return "probabilities (sigmoid, per class)"
    if name in ("linear", "None"):
        return "logits"
    return f"scores (last activation: {name})"


def _positive_int(value, name):
    from kerasnets._checks import positive_int

    return positive_int(value, name)


def plan_export(
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
    input_scale: float | None = None,
    input_offset: float | None = None,
    normalization: dict | None = None,
    epochs: int = 2,
    runs: int = 50,
    threads=None,
    force: bool = False,
) -> ExportPlan:
    """Validate :func:`export_model`'s arguments (same names) and load what they name.

    The one place export options are checked: options first, then ``out`` (it must not exist
    unless ``force``, and its parent must be writable), then the model and the data. Raises
    ``TypeError``/``ValueError``/``FileNotFoundError`` naming the value; writes nothing.
    """
    from kerasnets import data
    from kerasnets.io import check_output_dir, load_model

    # options
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"quantize={quantize!r} is not supported; use one of {QUANTIZE_MODES}")
    if prune is not None and not (
        isinstance(prune, (int, float, np.number)) and 0 <= float(prune) < 1
    ):
        raise ValueError(f"prune must be a sparsity in [0, 1), got {prune!r}")
    if cluster is not None and (
        isinstance(cluster, bool) or int(cluster) != cluster or int(cluster) < 2
    ):
        raise ValueError(f"cluster must be an integer >= 2, got {cluster!r}")
    per_channel = check_per_channel(per_channel)
    epochs, runs = _positive_int(epochs, "epochs"), _positive_int(runs, "runs")
    if threads is not None:
        threads = tuple(_positive_int(t, "threads") for t in threads)
    if sparse not in (None, True, False):
        raise ValueError(f"sparse must be True, False or None, got {sparse!r}")
    if normalization is not None and (input_scale is not None or input_offset is not None):
        raise ValueError("give normalization or input_scale/input_offset, not both")
    if qat and quantize == "none":
        quantize = "int8"  # QAT exists to produce an integer model
    check_output_dir(out, force)

    # the model
    if isinstance(model, (str, os.PathLike)):
        source, model = str(model), load_model(model)
    else:
        source = check_model(model).name

    # the data, shaped to the model and checked (empty, NaN/Inf, shape)
    given = None
    if calibration is not None:
        given = data.for_model(
            calibration, model, scale=input_scale, offset=input_offset, what="calibration data"
        )
    elif input_scale is not None or input_offset is not None:
        if train is None:
            raise ValueError("input_scale/input_offset describe the calibration data: give it")
    if train is not None:
        train = _pair(train, model, "training data")
    elif given is not None and given.y is not None:
        train = given.train
    if test is not None:
        test = _pair(test, model, "test data")
    elif given is not None:
        test = given.test
    samples = given.x if given is not None else None
    if samples is None and train is not None:
        samples = train[0]
    io_dtype = check_options(quantize, samples, io_dtype)
    if (prune is not None or cluster is not None or qat) and train is None:
        raise ValueError(
            "--prune/--cluster/--qat fine-tune the model: give labelled data (a dataset name "
            "as calibration, or train=(x, y))"
        )
    if normalization is None:
        if given is not None:
            normalization = given.normalization
        else:
            normalization = data.stated_normalization(input_scale, input_offset, "training data")
    elif not {"scale", "offset", "description"} <= set(normalization):
        raise ValueError(
            f"normalization needs the keys scale, offset, description; got {sorted(normalization)}"
        )

    # what the variants are evaluated on
    x_eval, y_eval = test if test is not None else (samples, None)
    random_inputs = x_eval is None
    if random_inputs:  # no data given: compare with Keras and time on uniform [0, 1) inputs
        shape = data.input_shape_of(model)
        if None in shape:
            raise ValueError(f"the model input {shape} has unknown dimensions; give calibration")
        x_eval = np.random.default_rng(0).random((32, *shape), dtype="float32")
    n_out = int(np.prod(model.outputs[0].shape[1:]))
    class_names = given.class_names if given is not None else None
    labels = [str(label) for label in (labels or class_names or range(n_out))]
    if len(labels) != n_out:
        raise ValueError(f"{len(labels)} labels for a model with {n_out} outputs")
    return ExportPlan(
        model=model,
        source=source,
        quantize=quantize,
        io_dtype=io_dtype,
        per_channel=per_channel,
        prune=None if prune is None else float(prune),
        cluster=None if cluster is None else int(cluster),
        qat=bool(qat),
        sparse=sparse,
        epochs=epochs,
        runs=runs,
        threads=threads,
        calibration=samples,
        train=train,
        x_eval=np.asarray(x_eval, dtype="float32"),
        y_eval=y_eval,
        random_inputs=random_inputs,
        labels=labels,
        normalization=dict(normalization),
        output_kind=output_kind(model),
    )


def _pair(pair, model, what):
    """``(x, y)`` checked and shaped to the model by :func:`kerasnets.data.for_model`."""
    from kerasnets import data

    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{what} must be an (x, y) pair, got {type(pair).__name__}")
    shaped = data.for_model(pair[0], model, labels=pair[1], what=what)
    return shaped.x, shaped.y


# --- stage 2: variants ------------------------------------------------------------------


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


def _loss_for(model):
    import keras

    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=not output_kind(model).startswith("probabilities (softmax)")
    )


def ptq_variants(plan: ExportPlan, directory: Path, done: list) -> list[Variant]:
    """float32 always, and ``plan.quantize`` unless ``"none"`` (one conversion call)."""
    jobs = {directory / "float32.tflite": {}}
    if plan.quantize != "none":
        jobs[directory / f"{plan.quantize}.tflite"] = {
            "quantize": plan.quantize,
            "io_dtype": plan.io_dtype,
            "per_channel": plan.per_channel,
        }
    paths = convert_many(plan.model, jobs, plan.calibration)
    return [Variant(path.stem, path, plan.model) for path in paths]


def compressed_variant(plan: ExportPlan, directory: Path, done: list) -> list[Variant]:
    """With ``prune``/``cluster``: native (all-backend) pruning, then clustering, fine-tuned on
    the training data, converted with ``plan.quantize`` (sparse encoding after pruning)."""
    if plan.prune is None and plan.cluster is None:
        return []
    from kerasnets.compression import clustering, pruning

    x, y = plan.train
    base, loss = plan.model, _loss_for(plan.model)
    if plan.prune is not None:
        base = pruning.prune_and_finetune(base, plan.prune, x, y, epochs=plan.epochs, loss=loss)
    if plan.cluster is not None:
        base = clustering.cluster_and_finetune(
            base, plan.cluster, x, y, epochs=plan.epochs, loss=loss
        )
    name = _variant_name(plan.quantize, plan.prune, plan.cluster)
    sparse = (plan.prune is not None) if plan.sparse is None else plan.sparse
    path = convert(
        base,
        directory / f"{name}.tflite",
        plan.quantize,
        plan.calibration,
        plan.io_dtype,
        sparse=sparse,
        per_channel=plan.per_channel,
    )
    return [Variant(name, path, base)]


def qat_variant(plan: ExportPlan, directory: Path, done: list) -> list[Variant]:
    """With ``qat``: tfmot quantization-aware training of the last compressed model (pruning-
    or cluster-preserving after ``prune``/``cluster``) through the ``tf_keras`` twin."""
    if not plan.qat:
        return []
    from kerasnets.tflite.twin import tfmot_export

    base = done[-1].base
    technique = "pqat" if plan.prune is not None else "cqat" if plan.cluster is not None else "qat"
    name = _variant_name(plan.quantize, plan.prune, plan.cluster, qat=True)
    result = tfmot_export(
        base,
        directory / f"{name}.tflite",
        technique,
        *plan.train,
        quantize=plan.quantize,
        calibration=plan.calibration,
        io_dtype=plan.io_dtype,
        sparsity=plan.prune or 0.0,
        clusters=plan.cluster or 16,
        epochs=plan.epochs,
    )
    return [Variant(name, Path(result["path"]), base, {"technique": f"tfmot {technique}"})]


#: The variant makers, in order: ``maker(plan, directory, variants_so_far) -> [Variant]``.
#: The last variant made goes into the phone bundle.
VARIANT_MAKERS = (ptq_variants, compressed_variant, qat_variant)


def make_variants(plan: ExportPlan, directory) -> list[Variant]:
    """Run every maker of ``VARIANT_MAKERS`` on ``plan``; ``.tflite`` files go to ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    variants: list[Variant] = []
    for maker in VARIANT_MAKERS:
        variants += maker(plan, directory, variants)
    return variants


# --- stage 3: evaluation ----------------------------------------------------------------


def _macs(model):
    try:
        from kerasnets.analysis import count_macs

        return int(count_macs(model))
    except Exception:  # analysis not available, or a layer it cannot count
        return None


def _nonzero(model):
    return int(sum(np.count_nonzero(np.asarray(w)) for w in model.get_weights()))


def _keras_row(plan: ExportPlan, reference):
    """The float Keras model's row. Its size is that of its weights as float32 (a ``.keras``
    file adds the config and, for a compiled model, the optimizer state)."""
    from kerasnets.tflite.runtime import keras_latency_ms

    model = plan.model
    raw = b"".join(np.asarray(w).astype("float32").tobytes() for w in model.get_weights())
    accuracy = None
    if plan.y_eval is not None:
        accuracy = float(np.mean(reference.argmax(-1) == np.asarray(plan.y_eval)))
    return {
        "variant": "keras float32",
        "format": "keras",
        "params": int(model.count_params()),
        "nonzero_params": _nonzero(model),
        "macs": _macs(model),
        "bytes": len(raw),
        "gzip_bytes": len(gzip.compress(raw, compresslevel=9)),
        "latency_ms_1": keras_latency_ms(model, plan.x_eval[:8], runs=plan.runs),
        "latency_ms_n": None,
        "accuracy": accuracy,
        "max_abs_diff": 0.0,
        "top1_agreement": 1.0,
    }


def evaluate_variants(plan: ExportPlan, variants: list[Variant]) -> list[dict]:
    """Report rows: the Keras model, then each variant run in the LiteRT interpreter."""
    from kerasnets.tflite.runtime import evaluate

    reference = np.asarray(plan.model.predict(plan.x_eval, verbose=0, batch_size=256))
    rows = [_keras_row(plan, reference)]
    for v in variants:
        result = evaluate(
            v.path,
            plan.x_eval,
            plan.y_eval,
            reference=reference,
            threads=plan.threads,
            runs=plan.runs,
        )
        lat = list(result["latency_ms"].values())
        rows.append(
            {
                "variant": f"tflite {v.name}",
                "format": "tflite",
                "params": int(v.base.count_params()),
                "nonzero_params": _nonzero(v.base),
                "macs": _macs(v.base),
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
                **v.extra,
            }
        )
    return rows


# --- stage 4: outputs -------------------------------------------------------------------


def write_outputs(plan: ExportPlan, rows, variants, directory) -> dict:
    """The bundle of the last variant (``bundle/``) and the report, into ``directory``."""
    import keras

    from kerasnets.tflite.bundle import write_bundle
    from kerasnets.tflite.report import write_report

    directory = Path(directory)
    final = variants[-1]
    bundle = write_bundle(
        final.path,
        directory / "bundle",
        plan.labels,
        plan.x_eval[0],
        normalization=plan.normalization,
        output=plan.output_kind,
        extra={"variant": final.name, "accuracy": rows[-1]["accuracy"]},
    )
    meta = {
        "source": plan.source,
        "backend": keras.backend.backend(),
        "quantize": plan.quantize,
        "evaluated_on": f"{len(plan.x_eval)} {'random ' if plan.random_inputs else ''}samples"
        + ("" if plan.y_eval is not None else " (no labels)"),
        "latency": "median ms per batch-1 call after warm-up; Keras: predict_on_batch",
        "keras size": "its weights as float32 bytes",
        "bundle_variant": final.name,
        "input normalization": plan.normalization["description"],
    }
    report = write_report(rows, directory, meta)
    return {"bundle": bundle, "report": report}


def export_model(model, out, quantize: str = "int8", calibration=None, **options) -> dict:
    """Export ``model`` to ``.tflite`` variants, evaluate them, write bundle and report to ``out``.

    Variants: float32 always; ``quantize`` if not ``"none"``; with ``prune``/``cluster`` the
    model compressed by :mod:`kerasnets.compression` (fine-tuned on the training data) and
    converted with ``quantize`` (pruned models with TFLite's sparse encoding unless
    ``sparse=False``); with ``qat`` tfmot quantization-aware training through the ``tf_keras``
    twin (pruning- or cluster-preserving after ``prune``/``cluster``) to int8. The last variant
    goes into the deployment bundle.

    Args:
        model: a Keras 3 model or a ``.keras`` path (loaded with
            :func:`kerasnets.io.load_model`).
        out: run directory to create (``RunDirectoryExistsError`` if it exists, unless
            ``force``); written atomically, nothing is left behind on failure.
        quantize: one of ``QUANTIZE_MODES``.
        calibration: dataset name (``"digits"``, ``"shapes"``, ...; its samples are shaped to
            the model input and its test split evaluates), a ``.npy`` file or an array
            (checked by :func:`kerasnets.data.for_model`: empty, NaN/Inf, shape).
        prune, cluster, qat: optimizations (need labelled data: a dataset name or ``train``).
        io_dtype, sparse, per_channel: conversion options (see
            :func:`kerasnets.tflite.convert`).
        train, test: ``(x, y)`` pairs that override the dataset's (e.g. from the tour).
        labels: class names (default: the dataset's, else ``"0", "1", ...``).
        input_scale, input_offset: for ``.npy``/array data, how raw inputs became the samples
            (``x = raw * scale + offset``), written to the bundle; a dataset brings its own.
        normalization: the same as a dict ``{"scale", "offset", "description"}`` (e.g.
            :func:`kerasnets.data.normalization` of the dataset the model was trained on).
        epochs: fine-tuning epochs for prune/cluster/QAT.
        runs, threads: latency measurement (median of ``runs`` after warm-up).
        force: replace ``out`` if it exists.

    Returns:
        ``{"out", "rows", "markdown", "bundle", "report", "variants"}``.

    Raises:
        TypeError / ValueError / FileNotFoundError: bad options, model or data (by
            :func:`plan_export`, before any work).
        ConversionError: a conversion failed (one line; the log in ``.detail``).
    """
    from kerasnets.io import run_directory
    from kerasnets.tflite.report import markdown

    plan = plan_export(model, out, quantize, calibration, **options)
    with run_directory(out, options.get("force", False)) as tmp:
        variants = make_variants(plan, tmp / "variants")
        rows = evaluate_variants(plan, variants)
        written = write_outputs(plan, rows, variants, tmp)
    out = Path(out)
    return {
        "out": str(out),
        "rows": rows,
        "markdown": markdown(rows),
        "bundle": str(out / written["bundle"].name),
        "report": {k: str(out / Path(v).name) for k, v in written["report"].items()},
        "variants": {v.name: str(out / "variants" / v.path.name) for v in variants},
    }


def tour_step(
    model,
    x_train,
    y_train,
    x_test,
    y_test,
    run_dir,
    labels=None,
    force=True,
    verbose=True,
    dataset="digits",
) -> dict:
    """The deployment step of ``kerasnets tour``: int8 export of the trained model + table.

    Converts ``model`` to float32 and full-integer int8 TFLite (calibrated on ``x_train``),
    evaluates both in the LiteRT interpreter on ``(x_test, y_test)``, writes the bundle and
    report to ``run_dir`` and prints the comparison table (``verbose``). ``dataset`` names the
    kerasnets dataset the arrays come from (the tour trains on digits): its normalization goes
    into the bundle. Returns :func:`export_model`'s result.

    Example:
        >>> result = tour_step(model, x, y, x_test, y_test, "runs/tour/tflite")  # doctest: +SKIP
    """
    from kerasnets import data

    check_model(model)
    result = export_model(
        model,
        run_dir,
        quantize="int8",
        calibration=np.asarray(x_train)[:200],
        train=(x_train, y_train),
        test=(x_test, y_test),
        labels=labels or data.CLASS_NAMES[dataset],
        normalization=data.normalization(dataset),
        runs=30,
        force=force,
    )
    if verbose:
        print(result["markdown"])
    return result
