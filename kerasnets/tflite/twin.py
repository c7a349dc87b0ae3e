"""The ``tf_keras`` twin of a Keras 3 model, and tfmot through it.

TensorFlow Model Optimization (tfmot 0.8) accepts only Keras 2 (``tf_keras``) models. A *twin*
is the same functional graph rebuilt from ``tf_keras`` layers: every Keras 3 layer's config is
translated (dtype-policy dicts become dtype names, ``module``/``registered_name`` keys go,
initializers are dropped because the weights are copied, Keras-3-only options that are unset
are dropped) and its weights are copied, so the twin computes the same function (tested to
1e-5). Through the twin, :func:`tfmot_export` runs tfmot's quantization-aware training,
pruning, clustering and the collaborative schemes (pruning- and cluster-preserving QAT), then
converts to ``.tflite``. Layers that have no ``tf_keras`` equivalent (custom layers, raw
``keras.ops`` calls in the graph) or that tfmot cannot handle raise one ``ValueError`` that
lists them all.

TensorFlow is imported only inside these functions. :func:`to_tf_keras` works in any process
(it imports ``tf_keras``); :func:`tfmot_export` runs in-process on TensorFlow and in a
TensorFlow subprocess under JAX or PyTorch.

Example:
    >>> import keras, numpy as np
    >>> inputs = keras.Input((64,))
    >>> model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))
    >>> twin = to_tf_keras(model)
    >>> x = np.random.rand(4, 64).astype("float32")
    >>> bool(np.allclose(twin(x).numpy(), model.predict(x, verbose=0), atol=1e-5))
    True
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from kerasnets.data import check_samples
from kerasnets.tflite.conversion import (
    apply_options,
    check_input_shape,
    check_model,
    converter_options,
    run_converter,
)
from kerasnets.tflite.worker import run_in_tensorflow

TECHNIQUES = ("qat", "prune", "cluster", "pqat", "cqat")

_BASE_KEYS = {"name", "trainable", "dtype"}


def _is_dtype_policy(value):
    return isinstance(value, dict) and value.get("class_name") in (
        "DTypePolicy",
        "FloatDTypePolicy",
    )


def _strip_serialization(value):
    """Keras 3 object configs → Keras 2 ones: drop ``module``/``registered_name`` keys."""
    if isinstance(value, dict):
        if _is_dtype_policy(value):
            return value["config"]["name"]
        return {
            k: _strip_serialization(v)
            for k, v in value.items()
            if k not in ("module", "registered_name", "build_config")
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_strip_serialization(v) for v in value)
    return value


def _accepted_keys(cls):
    keys = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            keys |= set(inspect.signature(klass.__init__).parameters)
    return keys


def translate_config(layer, tf_keras):
    """``(tf_keras class, config)`` for a Keras 3 layer, or raise ``ValueError`` saying why."""
    cls_name = type(layer).__name__
    module = type(layer).__module__
    tfk_cls = getattr(tf_keras.layers, cls_name, None)
    if not module.startswith("keras.") or tfk_cls is None:
        raise ValueError("no tf_keras equivalent")
    config = layer.get_config()
    translated = {}
    accepted = _accepted_keys(tfk_cls)
    for key, value in config.items():
        if key.endswith("_initializer"):
            continue  # weights are copied; initializers differ in their options
        value = _strip_serialization(value)
        if key in accepted or key in _BASE_KEYS:
            translated[key] = value
        elif value in (None, False, {}, [], "", 0):
            continue  # a Keras 3 option left at its off value (quantization_config, ...)
        else:
            raise ValueError(f"option {key}={value!r} has no tf_keras equivalent")
    return tfk_cls, translated


def _make_twin_layer(layer, tf_keras):
    cls, config = translate_config(layer, tf_keras)
    try:
        return cls.from_config(config)
    except Exception as err:  # tf_keras rejects something in the config
        raise ValueError(" ".join(str(err).split())[:200]) from None


def _unsupported_layers(model, keras):
    """All ``"name (Class): reason"`` that keep ``model`` from having a tf_keras twin."""
    import tf_keras

    problems = []
    for op in _operations(model, keras):
        if isinstance(op, keras.layers.InputLayer):
            continue
        if isinstance(op, keras.Model):
            problems += _unsupported_layers(op, keras)
            continue
        if not isinstance(op, keras.layers.Layer):
            problems.append(f"{op.name} ({type(op).__name__}): a keras.ops call, not a layer")
            continue
        try:
            _make_twin_layer(op, tf_keras)
        except ValueError as err:
            problems.append(f"{op.name} ({type(op).__name__}): {err}")
    return problems


def _operations(model, keras):
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    if not hasattr(model, "_nodes_by_depth"):
        raise ValueError(
            f"model {model.name!r} is a subclassed model; a tf_keras twin needs a functional "
            "or sequential model (a graph of layers)"
        )
    return list(model.operations)


def to_tf_keras(model):
    """Build the ``tf_keras`` twin of a Keras 3 functional or sequential model.

    The twin has the same layers (same names), connected the same way, with the same
    weights. Nested functional models become nested ``tf_keras`` models.

    Raises:
        TypeError: ``model`` is not a Keras model (e.g. a path or an array).
        ValueError: listing every layer that has no ``tf_keras`` equivalent.

    Example:
        >>> import keras
        >>> inputs = keras.Input((8, 8, 1))
        >>> x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        >>> x = keras.layers.GlobalAveragePooling2D()(x)
        >>> twin = to_tf_keras(keras.Model(inputs, keras.layers.Dense(10)(x)))
        >>> [layer.__class__.__name__ for layer in twin.layers][1:]
        ['Conv2D', 'GlobalAveragePooling2D', 'Dense']
    """
    import keras
    import tf_keras

    check_model(model)
    problems = _unsupported_layers(model, keras)
    if problems:
        raise ValueError(
            f"model {model.name!r} has no tf_keras twin; unsupported: " + "; ".join(problems)
        )
    return _build_twin(model, keras, tf_keras)


def _build_twin(model, keras, tf_keras):
    if isinstance(model, keras.Sequential):
        spec = model.inputs[0]
        x = inputs = tf_keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype)
        for layer in model.layers:
            twin_layer = _make_twin_layer(layer, tf_keras)
            x = twin_layer(x)
            twin_layer.set_weights(layer.get_weights())
        return tf_keras.Model(inputs, x, name=model.name)

    tensors = {}
    inputs = []
    for kt in model.inputs:
        history = getattr(kt, "_keras_history", None)
        name = history[0].name if history else None
        t = tf_keras.Input(shape=tuple(kt.shape[1:]), dtype=kt.dtype, name=name)
        tensors[id(kt)] = t
        inputs.append(t)

    def lookup(value):
        if isinstance(value, keras.KerasTensor):
            return tensors[id(value)]
        if isinstance(value, (list, tuple)):
            return type(value)(lookup(v) for v in value)
        if isinstance(value, dict):
            return {k: lookup(v) for k, v in value.items()}
        return value

    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            op = node.operation
            if isinstance(op, keras.layers.InputLayer):
                continue
            if isinstance(op, keras.Model):
                twin_layer = _build_twin(op, keras, tf_keras)
            else:
                twin_layer = _make_twin_layer(op, tf_keras)
            args = lookup(list(node.arguments.args))
            kwargs = lookup(dict(node.arguments.kwargs))
            outputs = twin_layer(*args, **kwargs)
            if not isinstance(op, keras.Model):
                twin_layer.set_weights(op.get_weights())
            flat_out = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            for kt, t in zip(node.outputs, flat_out):
                tensors[id(kt)] = t
    outputs = lookup(model.outputs)
    if len(outputs) == 1:
        outputs = outputs[0]
    return tf_keras.Model(inputs, outputs, name=model.name)


def ends_with_softmax(model) -> bool:
    """Whether the model's last layer outputs probabilities (softmax), not logits."""
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", str(activation))
    return type(last).__name__ == "Softmax" or name == "softmax"


def _tfmot_unsupported(twin, technique):
    """``"name (Class)"`` of the twin's layers that the tfmot technique cannot take."""
    from tensorflow_model_optimization.python.core.clustering.keras import clustering_registry
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry,
    )
    from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry

    quantize_registry = default_8bit_quantize_registry.Default8BitQuantizeRegistry()
    checks = {
        "qat": [quantize_registry.supports],
        "prune": [prune_registry.PruneRegistry.supports],
        "cluster": [clustering_registry.ClusteringRegistry.supports],
        "pqat": [prune_registry.PruneRegistry.supports, quantize_registry.supports],
        "cqat": [clustering_registry.ClusteringRegistry.supports, quantize_registry.supports],
    }[technique]
    bad = []
    for layer in twin.layers:
        if type(layer).__name__ in ("InputLayer", "BatchNormalization"):
            continue
        if not all(check(layer) for check in checks):
            bad.append(f"{layer.name} ({type(layer).__name__})")
    return bad


def check_technique(technique, sparsity=None, clusters=None):
    """Validate tfmot options; raise ``ValueError`` naming the bad value."""
    if technique not in TECHNIQUES:
        raise ValueError(f"technique={technique!r} is not supported; use one of {TECHNIQUES}")
    if technique in ("prune", "pqat") and not (sparsity is not None and 0 <= sparsity < 1):
        raise ValueError(f"sparsity must be in [0, 1) for {technique!r}, got {sparsity!r}")
    if technique in ("cluster", "cqat") and not (clusters is not None and int(clusters) >= 2):
        raise ValueError(f"clusters must be an integer >= 2 for {technique!r}, got {clusters!r}")


def task_tfmot(
    model,
    x_train,
    y_train,
    calibration,
    path,
    technique,
    quantize="int8",
    io_dtype=None,
    sparsity=0.8,
    clusters=16,
    epochs=2,
    batch_size=32,
    learning_rate=1e-3,
):
    """The TensorFlow side of :func:`tfmot_export` (runs where TensorFlow is the backend)."""
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras

    from kerasnets.io import atomic_path

    twin = to_tf_keras(model)
    loss = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=not ends_with_softmax(model))
    steps = int(np.ceil(len(x_train) / batch_size))

    def fit(m, callbacks=()):
        m.compile(
            optimizer=tf_keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"]
        )
        m.fit(
            x_train,
            y_train,
            epochs=epochs,
            batch_size=batch_size,
            verbose=0,
            callbacks=list(callbacks),
        )
        return m

    def pruned(m):
        schedule = tfmot.sparsity.keras.ConstantSparsity(
            sparsity, begin_step=0, frequency=max(1, steps // 2)
        )
        m = tfmot.sparsity.keras.prune_low_magnitude(m, pruning_schedule=schedule)
        fit(m, [tfmot.sparsity.keras.UpdatePruningStep()])
        return tfmot.sparsity.keras.strip_pruning(m)

    def clustered(m):
        init = tfmot.clustering.keras.CentroidInitialization.KMEANS_PLUS_PLUS
        m = tfmot.clustering.keras.cluster_weights(
            m, number_of_clusters=int(clusters), cluster_centroids_init=init
        )
        return tfmot.clustering.keras.strip_clustering(fit(m))

    def qat(m, scheme=None):
        annotated = tfmot.quantization.keras.quantize_annotate_model(m)
        if scheme is None:
            return fit(tfmot.quantization.keras.quantize_apply(annotated))
        return fit(tfmot.quantization.keras.quantize_apply(annotated, scheme))

    combine = tfmot.experimental.combine
    try:
        if technique == "qat":
            final = qat(twin)
        elif technique == "prune":
            final = pruned(twin)
        elif technique == "cluster":
            final = clustered(twin)
        elif technique == "pqat":
            final = qat(pruned(twin), combine.Default8BitPrunePreserveQuantizeScheme())
        else:
            final = qat(clustered(twin), combine.Default8BitClusterPreserveQuantizeScheme())
    except (RuntimeError, ValueError) as err:
        # tfmot stops at the first layer it cannot take; list all its registries reject.
        # (BatchNormalization is only quantizable fused after a convolution.)
        bad = _tfmot_unsupported(twin, technique) or ["see tfmot's message"]
        message = " ".join(str(err).split())[:300]
        raise ValueError(
            f"tfmot {technique!r} cannot take these layers: {', '.join(bad)} ({message})"
        ) from None

    quantized_training = technique in ("qat", "pqat", "cqat")
    if quantized_training and quantize not in ("int8", "int8-full"):
        raise ValueError(f"{technique!r} trains for int8: use quantize 'int8' or 'int8-full'")
    if quantized_training and calibration is None:
        options = converter_options(
            "dynamic", None, None, sparse=technique == "pqat"
        )  # QAT models carry their own ranges: no representative dataset needed
        if quantize == "int8-full":
            dtype = {"uint8": tf.uint8}.get(io_dtype, tf.int8)
            options["inference_input_type"] = options["inference_output_type"] = dtype
    else:
        options = converter_options(
            quantize, calibration, io_dtype, sparse=technique in ("prune", "pqat")
        )
    converter = apply_options(tf.lite.TFLiteConverter.from_keras_model(final), options)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(run_converter(converter.convert))
    weights = [w for layer in final.layers for w in layer.get_weights()]
    accuracy = None
    if len(x_train):
        out = final.predict(x_train, verbose=0)
        accuracy = float(np.mean(out.argmax(-1) == np.asarray(y_train).reshape(-1)))
    return {
        "path": str(path),
        "bytes": Path(path).stat().st_size,
        "params": int(sum(w.size for w in weights)),
        "nonzero_params": int(sum(np.count_nonzero(w) for w in weights)),
        "train_accuracy": accuracy,
    }


def tfmot_export(
    model,
    path,
    technique: str,
    x_train,
    y_train,
    quantize: str = "int8",
    calibration=None,
    io_dtype: str | None = None,
    sparsity: float = 0.8,
    clusters: int = 16,
    epochs: int = 2,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
) -> dict:
    """Optimize a Keras 3 model with tfmot (through its twin), fine-tune, convert to ``.tflite``.

    Args:
        model: a Keras 3 functional or sequential classifier (integer labels).
        path: output ``.tflite`` file (written atomically).
        technique: ``"qat"`` (quantization-aware training), ``"prune"`` (magnitude pruning to
            ``sparsity``, ``ConstantSparsity``, then sparse encoding), ``"cluster"`` (weight
            clustering to ``clusters`` centroids, k-means++), ``"pqat"`` (pruning, then
            pruning-preserving QAT), ``"cqat"`` (clustering, then cluster-preserving QAT).
        x_train, y_train: fine-tuning data.
        quantize: post-training mode of the final conversion (QAT techniques need ``"int8"``
            or ``"int8-full"``; their quantization ranges come from training).
        calibration: representative samples (required for PTQ ``int8`` after prune/cluster).
        io_dtype, sparsity, clusters, epochs, batch_size, learning_rate: as named.

    Returns:
        ``{"path", "bytes", "params", "nonzero_params", "train_accuracy"}``.

    Raises:
        TypeError: ``model`` is not a Keras model (e.g. a path or an array).
        ValueError: bad option, or layers tfmot or tf_keras cannot take (all listed).
        ConversionError: the TensorFlow subprocess failed (under JAX or PyTorch).

    Example:
        >>> result = tfmot_export(model, "/tmp/qat.tflite", "qat", x, y)  # doctest: +SKIP
        >>> result["bytes"] < 10_000                                       # doctest: +SKIP
        True
    """
    check_model(model)
    check_technique(technique, sparsity, clusters)
    path = Path(path)
    if path.suffix != ".tflite":
        raise ValueError(f"path must end with '.tflite', got {str(path)!r}")
    x_train = check_samples(x_train, "training data")
    y_train = np.asarray(y_train).astype("int32")
    if len(x_train) != len(y_train) or len(x_train) == 0:
        raise ValueError(f"x_train has {len(x_train)} samples but y_train has {len(y_train)}")
    check_input_shape(model, x_train, "training data")
    if technique in ("qat", "pqat", "cqat") and quantize not in ("int8", "int8-full"):
        raise ValueError(f"{technique!r} trains for int8: use quantize 'int8' or 'int8-full'")
    if (
        technique in ("prune", "cluster")
        and calibration is None
        and quantize
        in (
            "int8",
            "int8-full",
        )
    ):
        raise ValueError(f"quantize={quantize!r} needs calibration data")
    if calibration is not None:
        calibration = check_samples(calibration, "calibration data")[:100]
        check_input_shape(model, calibration)
    # Layers that tf_keras or tfmot cannot take are found here, before any work (and before
    # a TensorFlow subprocess starts); tfmot's own errors are still caught on the TF side.
    bad = _tfmot_unsupported(to_tf_keras(model), technique)
    if bad:
        raise ValueError(f"tfmot {technique!r} cannot take these layers: {', '.join(bad)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return run_in_tensorflow(
        "kerasnets.tflite.twin:task_tfmot",
        models={"model": model},
        arrays={"x_train": x_train, "y_train": y_train, "calibration": calibration},
        options={
            "path": str(path.resolve()),
            "technique": technique,
            "quantize": quantize,
            "io_dtype": io_dtype,
            "sparsity": float(sparsity),
            "clusters": int(clusters),
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "learning_rate": float(learning_rate),
        },
    )
