"""The TFLite pipeline on the backend this process runs: conversion (in a TensorFlow subprocess
on JAX/torch), PTQ modes, LiteRT evaluation, tf_keras twin, tfmot QAT, bundle, CLI and bad input.

A model trained here (on JAX or torch too) exports and evaluates with one call: that is the
"any backend in" acceptance point, checked once per backend by the all-backends runner."""

import subprocess
import sys
from functools import partial

import keras
import numpy as np
import pytest

from kerasnets import data, tflite
from kerasnets.cli import main


def _mlp():
    inputs = keras.Input((64,))
    x = keras.layers.Dense(32, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x), name="mlp")


def _cnn():
    layers = keras.layers
    inputs = keras.Input((8, 8, 1))
    x = layers.ZeroPadding2D(1)(inputs)
    x = layers.Conv2D(8, 3, strides=2, padding="valid", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    y = layers.DepthwiseConv2D(3, padding="same")(x)
    y = layers.Conv2D(8, 1)(y)
    x = layers.Add()([x, y])
    x = layers.Concatenate()([x, layers.Activation("relu")(x)])
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10)(x), name="cnn")


@pytest.fixture(scope="module")
def digits():
    (x, y), (xt, yt) = data.load("digits", flatten=True)
    return x, y, xt[:120], yt[:120]


@pytest.fixture(scope="module")
def trained_mlp(digits, tmp_path_factory):
    """A small MLP trained on this backend, saved, and converted in every PTQ mode at once."""
    keras.utils.set_random_seed(0)
    x, y, xt, yt = digits
    model = _mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    d = tmp_path_factory.mktemp("mlp")
    keras.saving.save_model(model, d / "mlp.keras")
    jobs = {
        d / "none.tflite": {},
        d / "float16.tflite": {"quantize": "float16"},
        d / "dynamic.tflite": {"quantize": "dynamic"},
        d / "int8.tflite": {"quantize": "int8"},
        d / "int8-full.tflite": {"quantize": "int8-full"},
        d / "uint8.tflite": {"quantize": "int8-full", "io_dtype": "uint8"},
    }
    paths = tflite.convert_many(model, jobs, calibration=x)
    files = {p.stem: p for p in paths}
    return model, files, d


def test_ptq_modes_run_in_litert(trained_mlp, digits):
    model, files, _ = trained_mlp
    x, y, xt, yt = digits
    reference = model.predict(xt, verbose=0)
    keras_accuracy = np.mean(reference.argmax(-1) == yt)
    results = {
        name: tflite.evaluate(path, xt, yt, reference=reference, threads=(1, 2), runs=3)
        for name, path in files.items()
    }
    assert results["none"]["max_abs_diff"] < 1e-4
    assert results["float16"]["max_abs_diff"] < 1e-2
    assert results["int8-full"]["input"]["dtype"] == "int8"
    assert results["uint8"]["input"]["dtype"] == "uint8"
    assert results["int8"]["input"]["dtype"] == "float32"
    assert results["int8-full"]["input"]["scale"] > 0
    for name in ("dynamic", "int8", "int8-full", "uint8"):
        assert results[name]["top1_agreement"] >= 0.9, name
        assert results[name]["accuracy"] >= keras_accuracy - 0.05, name
    assert results["int8"]["bytes"] < results["none"]["bytes"] / 1.8
    assert results["none"]["gzip_bytes"] < results["none"]["bytes"]
    assert set(results["none"]["latency_ms"]) == {"1", "2"}
    assert all(v > 0 for v in results["none"]["latency_ms"].values())


def test_convert_validates_before_work(tmp_path):
    model = _mlp()
    with pytest.raises(ValueError, match="needs calibration"):
        tflite.convert(model, tmp_path / "a.tflite", quantize="int8-full")
    with pytest.raises(ValueError, match="quantize='int4'"):
        tflite.convert(model, tmp_path / "a.tflite", quantize="int4")
    with pytest.raises(ValueError, match=r"shape \(8, 8, 1\)"):
        tflite.convert(model, tmp_path / "a.tflite", "int8", np.zeros((4, 8, 8, 1)))
    with pytest.raises(ValueError, match="io_dtype"):
        tflite.convert(model, tmp_path / "a.tflite", "int8", np.zeros((4, 64)), io_dtype="uint8")
    with pytest.raises(ValueError, match="per_channel='dense' is not supported"):
        tflite.convert(model, tmp_path / "a.tflite", "int8", np.zeros((4, 64)), per_channel="dense")
    assert list(tmp_path.iterdir()) == []


def test_int8_weight_scales_and_where_the_bytes_go(tmp_path):
    """Default int8: one scale per Dense kernel, one per channel for conv kernels; no float copy
    of any weight. Per-channel Dense pays 12 bytes (float32 scale + int64 zero point) per channel
    on the kernel and again on the bias, which is why the default is per tensor for Dense."""
    keras.utils.set_random_seed(0)
    dense = partial(keras.layers.Dense, bias_initializer="random_normal")  # zero biases fold
    inputs = keras.Input((64,))
    h = dense(512, activation="relu")(inputs)
    h = dense(256, activation="relu")(h)
    mlp = keras.Model(inputs, dense(10)(h))
    x = np.random.default_rng(0).random((16, 64), dtype="float32")
    jobs = {
        tmp_path / "f32.tflite": {},
        tmp_path / "int8.tflite": {"quantize": "int8"},
        tmp_path / "pc.tflite": {"quantize": "int8", "per_channel": True},
        tmp_path / "pt.tflite": {"quantize": "int8", "per_channel": False},
    }
    f32, i8, pc, pt = (tflite.size_breakdown(p) for p in tflite.convert_many(mlp, jobs, x))
    kernels = 64 * 512 + 512 * 256 + 256 * 10
    assert f32["constants"] == {"float32": 4 * mlp.count_params()}
    for result in (i8, pc, pt):
        assert result["constants"] == {"int32": 4 * (512 + 256 + 10), "int8": kernels}
    assert [t["scales"] for t in i8["tensors"]] == [1] * 6
    assert i8["bytes"] == pt["bytes"]  # Dense-only: the default is per tensor
    assert pc["quant_params"] - i8["quant_params"] == 2 * 12 * (512 + 256 + 10 - 3)
    assert f32["bytes"] / i8["bytes"] >= 3.8
    assert f32["bytes"] / pc["bytes"] < 3.6
    assert i8["other"] < 4000 and pc["other"] < 4000  # graph, names, signature: small

    model = _cnn()
    images = np.random.default_rng(0).random((16, 8, 8, 1), dtype="float32")
    scales = {
        len(t["shape"]): t["scales"]
        for t in tflite.size_breakdown(
            tflite.convert(model, tmp_path / "cnn.tflite", "int8", images)
        )["tensors"]
        if t["dtype"] == "int8"
    }
    assert scales == {4: 8, 2: 1}  # conv kernels per channel (8 filters), Dense per tensor


def test_twin_reproduces_outputs_and_lists_unsupported_layers():
    model = _cnn()
    x = np.random.default_rng(0).random((6, 8, 8, 1), dtype="float32")
    model.predict(x, verbose=0)
    twin = tflite.to_tf_keras(model)
    np.testing.assert_allclose(np.asarray(twin(x)), model.predict(x, verbose=0), atol=1e-5, rtol=0)
    assert [layer.name for layer in twin.layers] == [layer.name for layer in model.layers]

    inputs = keras.Input((4,))
    bad = keras.layers.Lambda(lambda t: t * 2, name="doubler")(inputs)
    bad = keras.layers.Dense(2, name="head")(keras.ops.relu(bad))
    with pytest.raises(ValueError, match="doubler") as err:
        tflite.to_tf_keras(keras.Model(inputs, bad))
    assert "relu" in str(err.value) and "head" not in str(err.value)


def test_tfmot_qat_end_to_end_to_int8(digits, tmp_path):
    x, y, xt, yt = digits
    model = _cnn()
    x_img, xt_img = x[:128].reshape(-1, 8, 8, 1), xt.reshape(-1, 8, 8, 1)
    result = tflite.tfmot_export(
        model, tmp_path / "qat.tflite", "qat", x_img, y[:128], quantize="int8-full", epochs=1
    )
    report = tflite.evaluate(result["path"], xt_img, yt, runs=2)
    assert report["input"]["dtype"] == "int8"
    assert 0 <= report["accuracy"] <= 1
    with pytest.raises(ValueError, match="technique"):
        tflite.tfmot_export(model, tmp_path / "x.tflite", "distill", x_img, y[:128])


def test_cli_export_bundle_and_evaluate(trained_mlp, tmp_path, capsys):
    _, files, d = trained_mlp
    out = tmp_path / "run"
    argv = [str(d / "mlp.keras"), "--quantize", "int8", "--calibration", "digits"]
    assert main(["export", *argv, "--out", str(out), "--runs", "3", "--json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    variants = [row["variant"] for row in result["rows"]]
    assert variants == ["keras float32", "tflite float32", "tflite int8"]
    assert result["rows"][1]["max_abs_diff"] < 1e-4
    for name in ("report.md", "report.json", "accuracy_vs_size.png", "variants/int8.tflite"):
        assert (out / name).is_file(), name
    bundle = out / "bundle"
    meta = json.loads((bundle / "model.json").read_text())
    assert meta["input"]["shape"] == [1, 64]
    assert meta["normalization"] == data.normalization("digits")  # raw / 16, not / 255
    assert meta["output_kind"] == "probabilities (softmax)"
    readme = (bundle / "README.md").read_text()
    assert "raw * 0.0625" in readme and "CompiledModel" in readme and "Swift" in readme
    assert (bundle / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    run = subprocess.run(
        [sys.executable, "example.py"], cwd=bundle, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "predicted class" in run.stdout

    assert main(["evaluate-tflite", str(files["int8-full"]), "--data", "digits", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] == 360 and report["accuracy"] > 0.8


@pytest.mark.parametrize(
    "flag, per_channel",
    [([], "conv"), (["--scales", "channel"], True), (["--scales", "tensor"], False)],
)
def test_cli_export_scales_option(flag, per_channel, monkeypatch, tmp_path, capsys):
    import kerasnets.tflite

    seen = {}

    def fake_export(model, out, **options):
        seen.update(options)
        return {"rows": []}

    monkeypatch.setattr(kerasnets.tflite, "export_model", fake_export)
    main(["export", str(tmp_path / "m.keras"), "--out", str(tmp_path / "o"), "--json", *flag])
    assert seen["per_channel"] == per_channel
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "m.keras", "--scales", "row"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'row'" in capsys.readouterr().err


def test_cli_export_bad_input_is_one_line_and_writes_nothing(trained_mlp, tmp_path, capsys):
    _, _, d = trained_mlp
    model = str(d / "mlp.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip file")
    text = tmp_path / "model.txt"
    text.write_text("hello")
    existing = tmp_path / "existing"
    existing.mkdir()
    cases = [
        ([str(corrupt), "--calibration", "digits"], "not a .keras model file: not a zip"),
        ([str(text), "--calibration", "digits"], "not a Keras model file"),
        ([model, "--quantize", "int8-full"], "needs calibration"),
        ([model, "--calibration", "shapes"], "do not fit the model input (64,)"),
        ([model, "--calibration", "digits", "--out", str(existing)], "already exists"),
    ]
    for argv, message in cases:
        if "--out" not in argv:
            argv = [*argv, "--out", str(tmp_path / "out")]
        assert main(["export", *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.keras", "existing", "model.txt"]
    assert list(existing.iterdir()) == []


def test_failures_are_one_line_errors(digits, tmp_path):
    inputs = keras.Input((4,))
    erf = keras.Model(inputs, keras.layers.Dense(2)(keras.ops.erf(inputs)))
    with pytest.raises(tflite.ConversionError, match="no builtin kernel for: Erf") as err:
        tflite.convert(erf, tmp_path / "erf.tflite")
    assert "\n" not in str(err.value) and err.value.detail
    assert not (tmp_path / "erf.tflite").exists()

    x, y, _, _ = digits
    inputs = keras.Input((64,))
    h = keras.layers.LayerNormalization(name="norm")(keras.layers.Dense(8)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10)(h))
    with pytest.raises(ValueError, match=r"cannot take these layers: norm \(LayerNormalization\)"):
        tflite.tfmot_export(model, tmp_path / "q.tflite", "qat", x[:64], y[:64], epochs=1)
    assert list(tmp_path.iterdir()) == []
