"""LiteRT (TFLite) export from any backend: quantize, prune, evaluate, ship.

* :func:`convert` — Keras 3 model → ``.tflite`` with post-training quantization
  (``QUANTIZE_MODES``: none, float16, dynamic, int8, int8-full), optionally with TFLite's sparse
  encoding. On JAX or PyTorch the model is converted in a TensorFlow subprocess the call starts
  itself; failures raise :class:`ConversionError` (one line, full log in ``.detail``).
* :func:`evaluate`, :class:`TFLiteModel` — run a file in the LiteRT interpreter
  (``ai_edge_litert``): accuracy, max |Δ| and top-1 agreement against Keras, batch-1 latency at
  1 and N threads, raw and gzip size; :func:`size_breakdown` — where a file's bytes go.
* :func:`to_tf_keras`, :func:`tfmot_export` — the ``tf_keras`` twin of a Keras 3 model, and
  tfmot's QAT / pruning / clustering / collaborative optimization through it.
* :func:`write_bundle` — ``model.tflite``, ``labels.txt``, ``model.json`` (normalization,
  quantization, logits or probabilities), a README for Android and iOS, a runnable example.
* :func:`export_model` — all of it in one call (``kerasnets export``), in four stages
  (:func:`plan_export` → :func:`make_variants` → :func:`evaluate_variants` →
  :func:`write_outputs`); :func:`tour_step` — the deployment step of ``kerasnets tour``.

Modules, each importing only those before it: ``worker`` (runs a task on TensorFlow, in a
child process under JAX/PyTorch) → ``conversion`` → ``twin`` → ``runtime``, ``bundle``,
``report`` → ``pipeline``. Data is shaped to a model by :func:`kerasnets.data.for_model` and
models are loaded by :func:`kerasnets.io.load_model`.

TensorFlow is imported only inside the functions that need it; importing this package under
JAX or PyTorch does not load TensorFlow.

Example:
    >>> import keras, numpy as np
    >>> from kerasnets import tflite
    >>> inputs = keras.Input((64,))
    >>> model = keras.Model(inputs, keras.layers.Dense(10)(inputs))
    >>> x = np.random.rand(50, 64).astype("float32")
    >>> path = tflite.convert(model, "/tmp/tiny_int8.tflite", quantize="int8", calibration=x)
    >>> result = tflite.evaluate(path, x, reference=model.predict(x, verbose=0), runs=5)
    >>> result["input"]["dtype"], result["top1_agreement"] > 0.8
    ('float32', True)
"""

from kerasnets.tflite.bundle import write_bundle
from kerasnets.tflite.conversion import (
    IO_DTYPES,
    PER_CHANNEL_MODES,
    QUANTIZE_MODES,
    ConversionError,
    check_model,
    convert,
    convert_many,
)
from kerasnets.tflite.pipeline import (
    VARIANT_MAKERS,
    ExportPlan,
    Variant,
    evaluate_variants,
    export_model,
    make_variants,
    output_kind,
    plan_export,
    tour_step,
    write_outputs,
)
from kerasnets.tflite.report import markdown, write_report
from kerasnets.tflite.runtime import (
    TFLiteModel,
    evaluate,
    file_sizes,
    io_details,
    size_breakdown,
)
from kerasnets.tflite.twin import TECHNIQUES, tfmot_export, to_tf_keras
from kerasnets.tflite.worker import remove_stale_work_dirs, run_in_tensorflow

__all__ = [
    "IO_DTYPES",
    "PER_CHANNEL_MODES",
    "QUANTIZE_MODES",
    "TECHNIQUES",
    "VARIANT_MAKERS",
    "ConversionError",
    "ExportPlan",
    "TFLiteModel",
    "Variant",
    "check_model",
    "convert",
    "convert_many",
    "evaluate",
    "evaluate_variants",
    "export_model",
    "file_sizes",
    "io_details",
    "make_variants",
    "markdown",
    "output_kind",
    "plan_export",
    "remove_stale_work_dirs",
    "run_in_tensorflow",
    "size_breakdown",
    "tfmot_export",
    "to_tf_keras",
    "tour_step",
    "write_bundle",
    "write_outputs",
    "write_report",
]
