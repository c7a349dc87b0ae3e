"""The monitors' TensorBoard event files: read back with TensorBoard's own EventAccumulator, they
hold exactly the monitors' history, on the steps of ``keras.callbacks.TensorBoard``."""

import os
import warnings

import keras
import numpy as np
import pytest

from callbacks import (
    ActivationStatsMonitor,
    DeadNeuronMonitor,
    GradientExplosionMonitor,
    GradientFlowMonitor,
    tensorboard_command,
    write_tensorboard,
)

pytest.importorskip("tensorboard")

SECTIONS = {"dead_neurons", "gradient_flow", "activation_stats", "gradient_explosion"}


def data(n=96):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8)).astype("float32"), np.arange(n) % 3


def model():
    m = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu", name="hidden_a"),
            keras.layers.Dense(16, activation="tanh", name="hidden_b"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )
    m.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return m


def monitors(x, y, log_dir=None, **options):
    return [
        DeadNeuronMonitor(x, log_dir=log_dir, **options),
        GradientFlowMonitor(x, y, log_dir=log_dir, **options),
        ActivationStatsMonitor(x, histogram_bins=8, log_dir=log_dir, **options),
        GradientExplosionMonitor(x, y, log_dir=log_dir, **options),
    ]


def fit(m, x, y, callbacks, epochs=2):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=callbacks)


def read(run_dir):
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(run_dir), size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    return acc


def assert_events_equal_history(acc, mons):
    """Every number of every monitor's history and summary, at its step, and nothing else."""
    expected_tags = set()
    for mon in mons:
        section, steps = mon.tensorboard_section, mon.tensorboard_steps()
        assert len(steps) == len(mon.checks["epoch"])
        series = {f"{section}/{k}": v for k, v in mon.summary.items()}
        for layer, values in mon.history.items():
            for key, v in values.items():
                if not key.startswith("histogram_") and key not in mon.tensorboard_skip:
                    series[f"{section}/{layer}/{key}"] = v
            if "histogram_counts" in values:
                tag = f"{section}/{layer}/activations"
                histos = acc.Histograms(tag)
                assert [h.step for h in histos] == steps
                for h, counts, edges in zip(
                    histos, values["histogram_counts"], values["histogram_edges"]
                ):
                    assert list(h.histogram_value.bucket) == counts
                    np.testing.assert_array_equal(
                        np.float64(h.histogram_value.bucket_limit), edges[1:]
                    )
                    assert h.histogram_value.min == edges[0]
        for tag, v in series.items():
            events = acc.Scalars(tag)
            assert [e.step for e in events] == steps, tag
            np.testing.assert_array_equal(
                np.float32([e.value for e in events]), np.float32(v), err_msg=tag
            )
        expected_tags |= set(series)
    assert set(acc.Tags()["scalars"]) == expected_tags


@pytest.mark.parametrize("keras_first", [True, False], ids=["tensorboard-first", "monitors-first"])
def test_events_equal_history_beside_keras_tensorboard_in_any_order(tmp_path, keras_first):
    x, y = data()
    mons = monitors(x, y, log_dir=tmp_path)
    board = keras.callbacks.TensorBoard(str(tmp_path))
    fit(model(), x, y, [board, *mons] if keras_first else [*mons, board])

    acc = read(tmp_path / "diagnostics")
    assert_events_equal_history(acc, mons)
    # One section per monitor; the probe loss from one monitor only.
    assert {tag.split("/")[0] for tag in acc.Tags()["scalars"]} == SECTIONS
    assert [t for t in acc.Tags()["scalars"] if t.endswith("probe_loss")] == [
        "gradient_flow/probe_loss"
    ]
    # The same step axis as Keras' epoch scalars: the end of epoch i is step i, the initial
    # weights the step before.
    assert mons[0].tensorboard_steps() == [-1, 0, 1]
    train = read(tmp_path / "train")
    assert [e.step for e in train.Tensors("epoch_loss")] == [0, 1]
    assert len(os.listdir(tmp_path / "diagnostics")) == 1  # the monitors share one event file


def test_batch_checks_are_on_keras_batch_steps_and_each_fit_gets_a_file(tmp_path):
    x, y = data(128)  # 4 batches of 32 per epoch
    m = model()
    mons = [
        GradientFlowMonitor(x, y, every_n_batches=3, log_dir=tmp_path),
        ActivationStatsMonitor(x, every_n_batches=3, log_dir=tmp_path),
    ]
    board = keras.callbacks.TensorBoard(str(tmp_path), update_freq=1)
    fit(m, x, y, [board, *mons])
    # Checks after 3 and 6 training batches (epoch 2, batch 1), at the steps of Keras'
    # batch_* scalars; the initial weights at 0.
    assert mons[0].checks == {"epoch": [0, 1, 2], "batch": [None, 2, 1]}
    assert mons[0].tensorboard_steps() == [0, 3, 6]
    keras_steps = [e.step for e in read(tmp_path / "train").Tensors("batch_loss")]
    assert {3, 6} <= set(keras_steps)
    assert_events_equal_history(read(tmp_path / "diagnostics"), mons)

    fit(m, x, y, mons, epochs=1)  # a new fit: a new event file, the first one closed
    assert len(os.listdir(tmp_path / "diagnostics")) == 2
    assert mons[0].tensorboard_steps() == [0, 3]


def test_write_tensorboard_after_training(tmp_path):
    x, y = data()
    mons = monitors(x, y)
    fit(model(), x, y, mons)
    assert not any(tmp_path.iterdir())  # no log_dir: nothing written while training
    command = write_tensorboard(mons, tmp_path / "tb")
    assert command == tensorboard_command(tmp_path / "tb") == f"tensorboard --logdir {tmp_path}/tb"
    files = os.listdir(tmp_path / "tb" / "diagnostics")
    assert len(files) == 1 and "tfevents" in files[0]  # no temporary file left
    assert_events_equal_history(read(tmp_path / "tb" / "diagnostics"), mons)


def test_bad_log_dir_fails_before_anything_is_written(tmp_path):
    x, y = data()
    for bad in (5, True, ""):
        with pytest.raises(ValueError, match=f"log_dir must be None or a directory.*{bad!r}"):
            DeadNeuronMonitor(x, log_dir=bad)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        GradientFlowMonitor(x, y, log_dir=tmp_path / "file")
    # A set-up that fails at train begin (unknown layer) leaves no event file behind.
    mon = DeadNeuronMonitor(x, layers=["nope"], log_dir=tmp_path / "tb")
    with pytest.raises(ValueError, match="nope"):
        fit(model(), x, y, [mon])
    assert not (tmp_path / "tb").exists()
    with pytest.raises(TypeError, match="takes kerasnets monitors"):
        write_tensorboard(["not a monitor"], tmp_path)
    with pytest.raises(ValueError, match="got None"):
        write_tensorboard([], None)


def test_missing_tensorboard_package_is_named_at_construction(tmp_path, monkeypatch):
    import callbacks._tensorboard as tb

    real = tb.importlib.util.find_spec
    monkeypatch.setattr(
        tb.importlib.util, "find_spec", lambda n, *a: None if n == "tensorboard" else real(n, *a)
    )
    x, _ = data()
    with pytest.raises(ImportError, match=r"pip install 'kerasnets\[tensorboard\]'"):
        DeadNeuronMonitor(x, log_dir=tmp_path)
    DeadNeuronMonitor(x)  # without log_dir nothing needs it


def test_writing_events_does_not_import_tensorflow(backend, in_backend):
    if backend == "tensorflow":
        pytest.skip("TensorFlow is the backend here")
    code = """
import sys, tempfile, warnings
import numpy as np, keras
from callbacks import ActivationStatsMonitor, DeadNeuronMonitor, GradientFlowMonitor
from callbacks import GradientExplosionMonitor, write_tensorboard
warnings.simplefilter("ignore")
x, y = np.random.rand(64, 4).astype("float32"), np.arange(64) % 2
m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                      keras.layers.Dense(2, activation="softmax")])
m.compile("sgd", "sparse_categorical_crossentropy")
d = tempfile.mkdtemp()
mons = [DeadNeuronMonitor(x, log_dir=d), GradientFlowMonitor(x, y, log_dir=d),
        ActivationStatsMonitor(x, log_dir=d), GradientExplosionMonitor(x, y, log_dir=d)]
m.fit(x, y, epochs=1, verbose=0, callbacks=mons)
write_tensorboard(mons, d + "/again")
print("tensorflow" in sys.modules)
"""
    out = in_backend(backend, code, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.strip().splitlines()[-1] == "False"
