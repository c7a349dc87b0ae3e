"""The data helper, the phone bundle's normalization and README, validation before work, and
what interrupted exports leave behind (nothing, once the next run has started).

Most tests here need no conversion; the SIGKILL test starts a real JAX process that starts the
TensorFlow converter child, kills the parent with SIGKILL and checks that the child dies too."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasnets import data, io, tflite
from kerasnets.cli import main


def _mlp(activation="softmax"):
    inputs = keras.Input((64,))
    x = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(10, activation=activation)(x))


@pytest.fixture
def offline_keras_cache(tmp_path, monkeypatch):
    """An empty Keras cache in tmp_path; a download fails as it does without network."""
    from keras.src.backend import config
    from keras.src.utils import file_utils

    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path / "keras"))
    monkeypatch.setattr(file_utils, "validate_file", lambda *a, **k: True)

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    return cache


# --- kerasnets.data.for_model and the normalization each loader applies ------------------------


def test_digits_normalization_matches_the_loader():
    """Every loader sample is a raw scikit-learn digit (0..16) times the normalization's scale."""
    from sklearn.datasets import load_digits

    norm = data.normalization("digits")
    assert (norm["scale"], norm["offset"]) == (1 / 16, 0.0)
    raw = load_digits().images.reshape(-1, 64)
    assert raw.max() == 16
    scaled = {row.tobytes() for row in (raw * norm["scale"] + norm["offset"]).astype("float32")}
    (x, _), (xt, _) = data.load("digits", flatten=True)
    assert all(row.tobytes() in scaled for row in np.concatenate([x, xt]))
    shaped = data.for_model("digits", _mlp())
    assert shaped.normalization == norm and shaped.x.shape == (1437, 64)


def test_uint8_and_synthetic_normalizations_match_the_loaders(offline_keras_cache):
    rng = np.random.default_rng(0)
    x_raw = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    np.savez(
        offline_keras_cache / "mnist.npz",
        x_train=x_raw,
        y_train=np.arange(6),
        x_test=x_raw[:2],
        y_test=np.arange(2),
    )
    norm = data.normalization("mnist")
    (x, _), _ = data.load("mnist")
    np.testing.assert_allclose(x[..., 0], x_raw * norm["scale"] + norm["offset"], atol=1e-7)
    (s, _), _ = data.load("shapes", size=8, subset=3, test_subset=3)
    assert data.normalization("shapes")["scale"] == 1.0 and 0 <= s.min() and s.max() <= 1


def test_for_model_shapes_dataset_and_npy_samples(tmp_path):
    cnn_input = (12, 12, 1)
    shaped = data.for_model("shapes", cnn_input, subset=6, test_subset=3)
    assert shaped.x.shape == (6, 12, 12, 1) and shaped.test[0].shape == (3, 12, 12, 1)
    assert shaped.class_names == ["square", "circle", "triangle"]
    np.save(tmp_path / "x.npy", np.ones((5, 8, 8), "uint8"))
    np.save(tmp_path / "y.npy", np.arange(5))
    user = data.for_model(tmp_path / "x.npy", (64,), labels=tmp_path / "y.npy", scale=0.5)
    assert user.x.shape == (5, 64) and user.x.dtype == np.float32 and user.test is None
    assert list(user.y) == [0, 1, 2, 3, 4]
    assert user.normalization == {
        "scale": 0.5,
        "offset": 0.0,
        "description": "x = raw * 0.5 + 0 (as stated)",
    }
    assert data.for_model(tmp_path / "x.npy", (64,)).normalization["scale"] is None


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: np.save(p, np.zeros((0, 64))), "is empty (shape (0, 64))"),
        (lambda p: np.save(p, np.full((3, 64), np.inf)), "contains 192 NaN/Inf values"),
        (lambda p: np.save(p, np.zeros((3, 7))), "samples of shape (7,)"),
        (lambda p: np.save(p, np.array(["a", "b"])), "holds <U1 values; expected numbers"),
        (lambda p: np.save(p, np.zeros(64)), "has shape (64,); expected samples"),
        (lambda p: p.write_bytes(b"garbage"), "is not a readable .npy array"),
    ],
)
def test_for_model_refuses_bad_npy_naming_the_file(tmp_path, make, message):
    path = tmp_path / "bad.npy"
    make(path)
    with pytest.raises(ValueError) as err:
        data.for_model(path, (64,), what="calibration data")
    assert message in str(err.value) and repr(str(path)) in str(err.value)
    assert "\n" not in str(err.value)


def test_for_model_refuses_bad_labels_names_and_models(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 64)))
    with pytest.raises(ValueError, match=r"labels array has 3 labels for 4 samples"):
        data.for_model(tmp_path / "x.npy", (64,), labels=np.arange(3))
    with pytest.raises(ValueError, match=r"unknown dataset 'digit' for data; use one of digits"):
        data.for_model("digit", (64,))
    with pytest.raises(ValueError, match=r"dataset 'digits' brings its own labels"):
        data.for_model("digits", (64,), scale=1.0)
    with pytest.raises(FileNotFoundError, match="no such .npy file"):
        data.for_model(tmp_path / "missing.npy", (64,))
    with pytest.raises(TypeError, match=r"got an array of shape \(4, 64\)"):
        data.for_model("digits", np.zeros((4, 64)))
    with pytest.raises(TypeError, match=r"got the path 'm.keras'"):
        data.for_model("digits", "m.keras")


# --- library functions given a path or an array instead of a model -----------------------------


def test_a_path_or_an_array_instead_of_a_model_is_a_type_error(tmp_path):
    x = np.zeros((4, 64), "float32")
    calls = {
        "convert": lambda m: tflite.convert(m, tmp_path / "a.tflite"),
        "convert_many": lambda m: tflite.convert_many(m, {tmp_path / "a.tflite": {}}),
        "to_tf_keras": lambda m: tflite.to_tf_keras(m),
        "tfmot_export": lambda m: tflite.tfmot_export(m, tmp_path / "a.tflite", "qat", x, [0] * 4),
        "tour_step": lambda m: tflite.tour_step(m, x, [0] * 4, x, [0] * 4, tmp_path / "t"),
        "export_model": lambda m: tflite.export_model(m, tmp_path / "e"),
    }
    for name, call in calls.items():
        for bad, said in (("m.keras", "the path 'm.keras'"), (x, "an array of shape (4, 64)")):
            if name == "export_model" and isinstance(bad, str):
                continue  # export_model takes a .keras path on purpose
            with pytest.raises(TypeError, match="model must be a Keras model") as err:
                call(bad)
            assert said in str(err.value), (name, str(err.value))
    model = _mlp()
    for call in (
        lambda: tflite.evaluate(model, x),
        lambda: tflite.TFLiteModel(model),
        lambda: tflite.size_breakdown(model),
        lambda: tflite.write_bundle(model, tmp_path / "b", ["a"], x[0], {}, "logits"),
    ):
        with pytest.raises(TypeError, match=r"path to a .tflite file, got a Keras model"):
            call()
    assert list(tmp_path.iterdir()) == []


def test_nan_calibration_is_refused_before_an_int8_model_is_written(tmp_path):
    x = np.random.default_rng(0).random((8, 64), dtype="float32")
    x[3, 5] = np.nan
    with pytest.raises(ValueError, match=r"calibration data contains 1 NaN/Inf values .*sample 3"):
        tflite.convert(_mlp(), tmp_path / "a.tflite", "int8", x)
    with pytest.raises(ValueError, match=r"calibration data array contains 1 NaN/Inf"):
        tflite.export_model(_mlp(), tmp_path / "run", "int8", x)
    assert list(tmp_path.iterdir()) == []


# --- the bundle: normalization, README, output kind -------------------------------------------


def test_plan_export_takes_normalization_from_the_data(tmp_path):
    model = _mlp(activation=None)
    plan = tflite.plan_export(model, tmp_path / "a", calibration="digits")
    assert plan.normalization == data.normalization("digits")
    assert plan.output_kind == "logits" and plan.labels == [str(i) for i in range(10)]
    np.save(tmp_path / "x.npy", np.ones((4, 64), "float32"))
    npy = str(tmp_path / "x.npy")
    plan = tflite.plan_export(model, tmp_path / "b", calibration=npy, input_scale=1 / 255)
    assert (
        plan.normalization["scale"] == 1 / 255 and "as stated" in plan.normalization["description"]
    )
    plan = tflite.plan_export(model, tmp_path / "c", calibration=npy)
    assert plan.normalization["scale"] is None
    assert "not stated" in plan.normalization["description"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]  # planning writes nothing


def test_output_kind_reads_the_last_activation():
    inputs = keras.Input((4,))
    assert tflite.output_kind(_mlp()) == "probabilities (softmax)"
    assert tflite.output_kind(_mlp(activation=None)) == "logits"
    assert tflite.output_kind(_mlp(activation="sigmoid")).startswith("probabilities (sigmoid")
    softmax_layer = keras.Model(inputs, keras.layers.Softmax()(keras.layers.Dense(3)(inputs)))
    assert tflite.output_kind(softmax_layer) == "probabilities (softmax)"
    assert tflite.output_kind(_mlp(activation="relu")) == "scores (last activation: relu)"


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_bundle_readme_has_android_and_ios_code_for_this_model(dtype):
    meta = {
        "input": {"shape": [1, 8, 8, 1], "dtype": dtype, "scale": 0.5, "zero_point": -3},
        "output": {"shape": [1, 10], "dtype": dtype, "scale": 0.25, "zero_point": 7},
        "normalization": data.normalization("digits"),
        "output_kind": "logits",
    }
    text = tflite.bundle.readme(meta)
    for needle in (
        "import org.tensorflow.lite.Interpreter",
        "CompiledModel",
        "import TensorFlowLite",
        "NHWC: [1, height 8, width 8, channels 1]",
        "x = raw * 0.0625 + 0 (x = raw / 16",
        "10 logits",
        "apply softmax yourself",
        "Why `model.json`",
    ):
        assert needle in text, needle
    if dtype == "int8":
        assert "Math.round(x / 0.5f - 3).coerceIn(-128, 127)" in text
        assert "(bytes[i].toInt() - 7) * 0.25f" in text
        assert "writeFloat" in text and "use the `Interpreter` code" in text
    else:
        assert "input.putFloat(x)" in text and "inputs[0].writeFloat(" in text


def test_report_figure_has_no_overprinted_labels():
    rows = [
        {"variant": f"tflite v{i}", "bytes": 4000 + i, "gzip_bytes": 3000, "accuracy": 0.9}
        for i in range(4)
    ]
    fig = tflite.report.plot(rows)
    ax = fig.axes[0]
    assert len(ax.texts) == 0  # no labels written at the points
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == [row["variant"] for row in rows]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


# --- CLI validation: one line, exit 2, the value named, nothing written -----------------------


def test_cli_refuses_bad_numbers_and_outputs_before_work(tmp_path, capsys, offline_keras_cache):
    model = tmp_path / "m.keras"
    io.save_model(_mlp(), model)
    np.save(tmp_path / "empty.npy", np.zeros((0, 64), "float32"))
    np.save(tmp_path / "nan.npy", np.full((2, 64), np.nan, "float32"))
    (tmp_path / "file.txt").write_text("x")
    before = sorted(p.name for p in tmp_path.iterdir())
    out = ["--out", str(tmp_path / "out")]
    argparse_cases = [
        (
            ["export", str(model), "--runs", "0", *out],
            "--runs: expected a positive integer, got '0'",
        ),
        (["export", str(model), "--epochs", "0", *out], "--epochs: expected a positive integer"),
        (["export", str(model), "--input-scale", "nan", *out], "expected a finite non-zero"),
        (["evaluate-tflite", "m.tflite", "--runs", "-1"], "got '-1'"),
    ]
    for argv, message in argparse_cases:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        err = capsys.readouterr().err.strip()
        assert exit_info.value.code == 2 and message in err and len(err.splitlines()) == 1, err
    library_cases = [
        (["--calibration", "digits", "--out", "/proc/kn-out"], "'/proc/kn-out'"),
        (
            ["--calibration", "digits", "--out", str(tmp_path / "file.txt" / "run")],
            "file.txt' is not a directory",
        ),
        (["--calibration", "digitz", *out], "unknown dataset 'digitz'"),
        (["--calibration", "cifar10", *out], "dataset 'cifar10' is not in the Keras cache"),
        (["--calibration", str(tmp_path / "empty.npy"), *out], "empty.npy' is empty"),
        (["--calibration", str(tmp_path / "nan.npy"), *out], "nan.npy' contains 128 NaN/Inf"),
        (["--calibration", "digits", "--input-scale", "2", *out], "brings its own labels"),
    ]
    for argv, message in library_cases:
        assert main(["export", str(model), *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    if os.geteuid() != 0:  # root writes into read-only directories; /proc covers it above
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        argv = ["export", str(model), "--calibration", "digits", "--out", str(locked / "r")]
        assert main(argv) == 2
        assert f"cannot write '{locked / 'r'}'" in capsys.readouterr().err
        locked.rmdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


#: A float32 Dense 64 -> 10 softmax model (3.7 KB), made once on TensorFlow with
#: ``tflite.convert(keras.Model(i, keras.layers.Dense(10, activation="softmax")(i)), path)``
#: for ``i = keras.Input((64,))``: a file to evaluate without a conversion on every backend.
DENSE_TFLITE = Path(__file__).parent / "data" / "dense64x10.tflite"


def test_cli_evaluate_tflite_refuses_bad_data(tmp_path, capsys, offline_keras_cache):
    path = DENSE_TFLITE
    np.save(tmp_path / "x.npy", np.zeros((3, 64), "float32"))
    np.save(tmp_path / "y.npy", np.arange(2))
    cases = [
        (["--data", "nosuch"], "unknown dataset 'nosuch' for --data"),
        (["--data", "cifar10"], "dataset 'cifar10' is not in the Keras cache"),
        (["--data", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")], "2 labels"),
        (["--data", "digits", "--labels", str(tmp_path / "y.npy")], "--labels is for .npy"),
    ]
    for argv, message in cases:
        assert main(["evaluate-tflite", str(path), *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert main(["evaluate-tflite", str(path), "--data", str(tmp_path / "x.npy"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 3


# --- interruptions ---------------------------------------------------------------------------


def _children(pid):
    """Pids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid):
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_an_export_takes_its_converter_child_along(tmp_path):
    """A JAX process converting a model is SIGKILLed: its TensorFlow child dies with it, and the
    next run removes the temp directory both left (its owner's pid is dead)."""
    code = (
        "import keras\n"
        "from kerasnets import tflite\n"
        "i = keras.Input((4,))\n"
        "tflite.convert(keras.Model(i, keras.layers.Dense(2)(i)), 'never.tflite')\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", TMPDIR=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="3")
    parent = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_until(
            lambda: _children(parent.pid) and list(tmp_path.glob("kerasnets-tflite-*/spec.json")),
            timeout=120,
        ), "the converter child did not start"
        (child,) = _children(parent.pid)
        (work_dir,) = tmp_path.glob(f"kerasnets-tflite-{parent.pid}-*")
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        assert _wait_until(lambda: not _alive(child), timeout=15), (
            "the TensorFlow child survived its parent"
        )
    finally:
        parent.kill()
    assert tflite.remove_stale_work_dirs(tmp_path) in ([work_dir.name], [])
    assert not work_dir.exists() and not (tmp_path / "never.tflite").exists()
