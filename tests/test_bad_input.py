"""The bad-input catalogue: every command and the main library entry points, given bad input,
answer with one line that names the bad value, before any work, and write nothing.

CLI cases run ``kerasnets.cli.main`` in this process (the backend is already chosen) and check
the exit status (2), that stderr is a single line naming the bad value, that stdout is empty,
and that the working directory is exactly as it was. API cases check the exception type and
message. One backend is enough: argument checks run before any backend work.
"""

import os
from pathlib import Path

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="argument checks are backend-independent: run once"
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A directory with a valid model, broken model files and bad data files."""
    from kerasnets import io, models

    d = tmp_path_factory.mktemp("bad-input")
    model = models.build("mlp", input_shape=(64,), depth=1, width=8)
    io.save_model(model, d / "m.keras")
    (d / "empty.keras").write_bytes(b"")
    (d / "trunc.keras").write_bytes((d / "m.keras").read_bytes()[:300])
    (d / "text.keras").write_text("not a model")
    (d / "garbage.tflite").write_bytes(b"\x00" * 64)
    np.save(d / "empty.npy", np.zeros((0, 64), "float32"))
    nan = np.random.rand(20, 64).astype("float32")
    nan[3, 5] = np.nan
    np.save(d / "nan.npy", nan)
    (d / "existing").mkdir()
    (d / "exists.keras").write_bytes((d / "m.keras").read_bytes())
    return d


def _snapshot(root: Path):
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
    )


# (command line, text (or texts) the one-line message must contain)
CLI_CASES = [
    # global
    ("--backend theano info", "theano"),
    ("nosuchcommand", "nosuchcommand"),
    # tour
    ("tour --epochs 0 --out t", "'0'"),
    ("tour --epochs many --out t", "'many'"),
    ("tour --steps train,bogus --out t", "bogus"),
    ("tour --out existing", "existing"),
    ("tour --out /proc/t", "/proc/t"),
    ("tour --seed x1 --out t", "'x1'"),
    # models / summary
    ("models --bogus", "--bogus"),
    ("summary resnet19", "resnet19"),
    ("summary resnet18 --input-shape 4,4,3", "(4, 4, 3)"),
    ("summary resnet18 --input-shape a,b", "'a,b'"),
    ("summary mlp --classes 0", "'0'"),
    ("summary mlp --batch-size -1", "'-1'"),
    ("summary mlp --repeats x", "'x'"),
    ("summary mlp --width 3", "--width"),
    ("summary empty.keras", "empty"),
    ("summary missing.keras", "missing.keras"),
    ("summary trunc.keras", "trunc.keras"),
    ("summary text.keras", "text.keras"),
    ("summary m.keras --classes 3", "--classes"),
    # compress
    ("compress m.keras --prune 1.5 --out o.keras", "'1.5'"),
    ("compress m.keras --prune -0.1 --out o.keras", "'-0.1'"),
    ("compress m.keras --cluster 1 --out o.keras", "'1'"),
    ("compress m.keras --rank 0 --out o.keras", "'0'"),
    ("compress m.keras --energy 2 --out o.keras", "'2'"),
    ("compress m.keras --rank 2 --energy 0.5 --out o.keras", "--energy"),
    ("compress m.keras --out o.keras", "nothing to do"),
    ("compress m.keras --prune 0.5 --out o.txt", "o.txt"),
    ("compress m.keras --prune 0.5 --out /proc/o.keras", "/proc/o.keras"),
    ("compress m.keras --prune 0.5 --out exists.keras", "exists.keras"),
    ("compress m.keras --prune 0.5 --data nope --out o.keras", "nope"),
    ("compress m.keras --prune 0.5 --epochs -1 --out o.keras", "'-1'"),
    ("compress m.keras --prune 0.5 --structure 5:4 --out o.keras", "5:4"),
    ("compress empty.keras --prune 0.5 --out o.keras", "empty.keras"),
    ("compress trunc.keras --prune 0.5 --out o.keras", "trunc.keras"),
    ("compress missing.keras --prune 0.5 --out o.keras", "missing.keras"),
    # export / evaluate-tflite
    ("export m.keras --quantize int4 --out e", "int4"),
    ("export m.keras --runs 0 --out e", ("--runs", "0")),
    ("export m.keras --epochs 0 --prune 0.5 --out e", ("--epochs", "0")),
    ("export m.keras --prune 1.0 --out e", "'1.0'"),
    ("export m.keras --cluster 1 --out e", "'1'"),
    ("export m.keras --calibration nope --out e", "nope"),
    ("export m.keras --calibration empty.npy --out e", "empty.npy"),
    ("export m.keras --calibration nan.npy --out e", "nan.npy"),
    ("export m.keras --out existing", "existing"),
    ("export m.keras --out /proc/e", "/proc/e"),
    ("export missing.keras --out e", "missing.keras"),
    ("export trunc.keras --out e", "trunc.keras"),
    ("evaluate-tflite missing.tflite", "missing.tflite"),
    ("evaluate-tflite garbage.tflite", "garbage.tflite"),
    ("evaluate-tflite m.keras", "m.keras"),
    ("evaluate-tflite garbage.tflite --runs 0", ("--runs", "0")),
    # run
    ("run nope", "nope"),
    ("run activations --seeds 0", ("seeds", "0")),
    ("run activations --epochs 0", ("epochs", "0")),
    ("run activations --dataset nope", "nope"),
    ("run activations --variants relu,bogus", "bogus"),
    ("run activations --resume", "--out"),
    ("run activations --out existing", "existing"),
    # claims / doctor
    ("claims --only nope_claim", "nope_claim"),
    ("claims --out /proc/c", "/proc/c"),
    ("doctor missing.keras", "missing.keras"),
    ("doctor empty.keras", "empty.keras"),
    ("doctor m.keras --data nope", "nope"),
    # compare-backends
    ("compare-backends resnet19", "resnet19"),
    ("compare-backends mlp --steps 0", ("--steps", "0")),
    ("compare-backends mlp --backends jax,theano", "theano"),
    ("compare-backends resnet18 --input-shape 2,2,3", "(2, 2, 3)"),
    ("compare-backends trunc.keras", "trunc.keras"),
    # nas
    ("nas --trials 0 --out n", ("--trials", "0")),
    ("nas --strategy annealing --out n", "annealing"),
    ("nas --storage nosuch://x --out n", "nosuch://x"),
    ('nas --space {"depth":[5,15],"bogus":1} --out n', "bogus"),
    ("nas --dataset nope --out n", "nope"),
    ("nas --out existing", "existing"),
]


@pytest.mark.parametrize("line,needle", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_one_line_and_writes_nothing(line, needle, workdir, capsys, monkeypatch):
    from kerasnets.cli import main

    monkeypatch.chdir(workdir)
    before = _snapshot(workdir)
    try:
        status = main(line.split())
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    out, err = capsys.readouterr()
    assert status == 2, f"exit {status}; stderr: {err}"
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    for part in (needle,) if isinstance(needle, str) else needle:
        assert part in lines[0], f"{part!r} not named in: {lines[0]}"
    assert "Traceback" not in err
    assert out == ""
    assert _snapshot(workdir) == before, "a refused command changed the directory"


def test_dataset_not_available_offline_is_one_line(workdir, capsys, monkeypatch):
    """``compress --data cifar10`` without the file in the cache: one line naming the file."""
    import keras

    from kerasnets.cli import main

    def offline():
        raise OSError("URL fetch failure on https://example.invalid -- no network")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    monkeypatch.setenv("KERAS_HOME", str(workdir / "keras-home"))
    monkeypatch.chdir(workdir)
    before = _snapshot(workdir)
    status = main("compress m.keras --prune 0.5 --data cifar10 --out o.keras".split())
    out, err = capsys.readouterr()
    lines = [x for x in err.splitlines() if x.strip()]
    assert status == 2 and len(lines) == 1, err
    assert "cifar10" in lines[0] and "place it at" in lines[0]
    assert _snapshot(workdir) == before


def test_debug_shows_the_traceback(workdir, monkeypatch):
    from kerasnets.cli import main

    monkeypatch.chdir(workdir)
    with pytest.raises(ValueError, match="empty"):
        main(["--debug", "summary", "empty.keras"])


def _api_cases(workdir):
    from callbacks import DeadNeuronMonitor
    from kerasnets import compression, data, io, models
    from kerasnets.backend import loss_and_gradients

    model = io.load_model(workdir / "m.keras")
    x = np.zeros((5, 64), "float32")
    schedule = compression.ConstantSparsity(0.5)
    return [
        (lambda: compression.prune_low_magnitude("m.keras", schedule), TypeError, "'m.keras'"),
        (lambda: compression.prune_low_magnitude(x, schedule), TypeError, "shape (5, 64)"),
        (lambda: compression.Distiller(model, "student"), TypeError, "'student'"),
        (lambda: compression.compress(x, prune=0.5), TypeError, "ndarray"),
        (lambda: compression.strip_pruning("m.keras"), TypeError, "'m.keras'"),
        (lambda: loss_and_gradients(model, x, np.zeros(4)), ValueError, "4"),
        (lambda: loss_and_gradients("m.keras", x, np.zeros(5)), TypeError, "'m.keras'"),
        (lambda: io.load_model(workdir / "empty.keras"), ValueError, "empty"),
        (lambda: io.load_model(workdir / "text.keras"), ValueError, "not a zip"),
        (lambda: io.load_model(workdir / "nope.keras"), FileNotFoundError, "nope.keras"),
        (lambda: io.load_model(model), TypeError, "MLP"),
        (lambda: models.MLP((64,), 10, depht=2), TypeError, "'depht'"),
        (lambda: models.build("mlp", widht=3), ValueError, "widht"),
        (lambda: models.build("mlp", dtype="floaty"), ValueError, "'floaty'"),
        (lambda: models.to_functional("m.keras"), TypeError, "str"),
        (lambda: data.load("nope"), ValueError, "'nope'"),
        (lambda: data.load("digits", subset=0), ValueError, "0"),
        (lambda: DeadNeuronMonitor(x, probe_size=0), ValueError, "0"),
    ]


def test_api_bad_input_raises_a_clear_error(workdir):
    cases = _api_cases(workdir)
    assert len(CLI_CASES) + len(cases) >= 40
    for i, (call, error, needle) in enumerate(cases):
        with pytest.raises(error) as info:
            call()
        message = str(info.value)
        assert "\n" not in message.strip(), f"case {i}: several lines: {message}"
        assert needle in message, f"case {i}: {needle!r} not in {message!r}"


def test_no_temp_files_left_in_workdir(workdir):
    leftovers = [p.name for p in Path(workdir).iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers
    assert not any(name.startswith(".kn-probe-") for name in os.listdir(workdir))
