"""Every zoo family converts to float32 TFLite and matches Keras within 1e-4; the tf_keras twin
reproduces the zoo models it supports; int8-full runs for the efficient CNN and the MLP.

Slow (a conversion per family): the all-backends runner runs it once, on TensorFlow."""

import json

import keras
import numpy as np
import pytest

from kerasnets import models, tflite

pytestmark = pytest.mark.slow

IMAGE = (16, 16, 3)

#: family -> small build options (tiny widths keep conversion and inference fast)
FAMILIES = {
    "mlp": {"input_shape": (64,), "num_classes": 10, "depth": 2, "width": 16},
    "resnet18": {"input_shape": IMAGE, "num_classes": 3, "width": 4},
    "plainnet18": {"input_shape": IMAGE, "num_classes": 3, "width": 4},
    "densenet_bc": {"input_shape": IMAGE, "num_classes": 3, "blocks": (2, 2), "growth_rate": 4},
    "googlenet": {"input_shape": IMAGE, "num_classes": 3, "width_multiplier": 0.125},
    "mobilenet": {"input_shape": IMAGE, "num_classes": 3, "alpha": 0.25},
    "baseline_cnn": {"input_shape": IMAGE, "num_classes": 3, "width": 8},
    "efficient_cnn": {"input_shape": IMAGE, "num_classes": 3, "width": 8},
}


def _build(name):
    model = models.build(name, **FAMILIES[name])
    shape = FAMILIES[name]["input_shape"]
    x = np.random.default_rng(0).random((8, *shape), dtype="float32")
    return model, x


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_converts_to_float32_within_1e_4(name, tmp_path):
    model, x = _build(name)
    reference = model.predict(x, verbose=0)
    path = tflite.convert(model, tmp_path / f"{name}.tflite")
    result = tflite.evaluate(path, x, reference=reference, runs=1, threads=(1,))
    assert result["max_abs_diff"] < 1e-4, (name, result["max_abs_diff"])


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_twin_reproduces_zoo_model(name):
    model, x = _build(name)
    try:
        twin = tflite.to_tf_keras(model)
    except ValueError as err:  # must say which layers, never fail silently
        assert "unsupported" in str(err)
        pytest.skip(f"{name}: {err}")
    np.testing.assert_allclose(np.asarray(twin(x)), model.predict(x, verbose=0), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["efficient_cnn", "mlp"])
def test_int8_full_runs(name, tmp_path):
    model, x = _build(name)
    reference = model.predict(x, verbose=0)
    path = tflite.convert(model, tmp_path / "q.tflite", quantize="int8-full", calibration=x)
    result = tflite.evaluate(path, x, reference=reference, runs=1, threads=(1,))
    assert result["input"]["dtype"] == "int8"
    assert result["top1_agreement"] >= 0.5
    assert keras.backend.backend() in ("tensorflow", "jax", "torch")


def test_pipeline_prune_cluster_qat_per_tensor(tmp_path):
    from kerasnets import data

    (x, y), (xt, yt) = data.load("digits", flatten=True, subset=400, test_subset=100)
    model = models.build("mlp", **FAMILIES["mlp"])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=5, verbose=0)
    result = tflite.export_model(
        model,
        tmp_path / "run",
        quantize="int8",
        calibration=x,
        train=(x, y),
        test=(xt, yt),
        prune=0.5,
        cluster=8,
        qat=True,
        per_channel=False,
        epochs=1,
        runs=3,
    )
    rows = {row["variant"]: row for row in result["rows"]}
    assert list(rows) == [
        "keras float32",
        "tflite float32",
        "tflite int8",
        "tflite pruned50+clustered8+int8",
        "tflite pruned50+clustered8+qat+int8",
    ]
    compressed = rows["tflite pruned50+clustered8+int8"]
    assert compressed["nonzero_params"] < 0.7 * compressed["params"]
    assert rows["tflite pruned50+clustered8+qat+int8"]["technique"] == "tfmot pqat"
    assert compressed["gzip_bytes"] < rows["tflite int8"]["gzip_bytes"]
    for row in rows.values():
        assert 0 <= row["accuracy"] <= 1
    assert (tmp_path / "run" / "bundle" / "model.tflite").is_file()


def test_tour_step_exports_int8(tmp_path, capsys):
    from kerasnets import data

    (x, y), (xt, yt) = data.load("digits", flatten=True, subset=300, test_subset=60)
    model = models.build("mlp", **FAMILIES["mlp"])
    result = tflite.tour_step(model, x, y, xt, yt, tmp_path / "deploy")
    assert [row["variant"] for row in result["rows"]][-1] == "tflite int8"
    assert "| tflite int8 |" in capsys.readouterr().out
    meta = json.loads((tmp_path / "deploy" / "bundle" / "model.json").read_text())
    assert meta["normalization"] == data.normalization("digits")
