"""kerasnets tour: trains, evaluates, diagnoses and writes a complete run directory on every
backend; the deployment step (TFLite) runs in the slow pass."""

import json

import keras
import numpy as np
import pytest

from kerasnets.cli import main
from kerasnets.tour import run_tour


def test_tour_writes_a_complete_run_directory(tmp_path, capsys):
    out = tmp_path / "tour"
    argv = ["tour", "--out", str(out), "--epochs", "3", "--steps", "train,diagnostics"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "[1/2] training an MLP on digits" in printed and "[2/2] diagnostics" in printed
    assert f"wrote {out}" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "curves.png",
        "dead_neurons.png",
        "diagnostics.json",
        "gradient_flow.png",
        "metrics.json",
        "model.keras",
        "tensorboard",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["tour"]  # no temp dirs left behind
    # the monitors' numbers as TensorBoard events, and the command to open them
    assert list((out / "tensorboard" / "diagnostics").glob("events.out.tfevents.*"))
    assert f"tensorboard --logdir {out}/tensorboard" in printed
    # a portable file: plain Keras loads it without kerasnets' classes
    import subprocess
    import sys

    code = (
        f"import keras; print(type(keras.saving.load_model({str(out / 'model.keras')!r})).__name__)"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "Functional", loaded.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["backend"] == keras.backend.backend()
    assert len(metrics["history"]["loss"]) == 3
    assert metrics["history"]["loss"][-1] < metrics["history"]["loss"][0]
    assert metrics["test_accuracy"] > 0.5  # 10 classes: chance is 0.1
    dead = metrics["diagnostics"]["dead_share_last_epoch"]
    assert len(dead) == 3 and all(0.0 <= v < 0.5 for v in dead.values())
    norms = metrics["diagnostics"]["kernel_grad_norm_last_epoch"]
    assert all(v > 0 for v in norms.values())
    # each watched activation is paired with the dense layer that feeds it, and printed with
    # that layer's gradient norm (the two monitors name different layers)
    pairs = metrics["diagnostics"]["layer_pairs"]
    assert pairs == {f"hidden{i}_act": f"hidden{i}_dense" for i in (1, 2, 3)}
    for dense in pairs.values():
        assert f"{dense} kernel gradient norm {norms[dense]:.3g}" in printed
    # one progress bar for the training step, not Keras' per-epoch bars
    assert "step -" not in printed and "Epoch 1/3" not in printed
    model = keras.saving.load_model(out / "model.keras")
    x = np.zeros((2, 64), "float32")
    assert model.predict(x, verbose=0).shape == (2, 10)
    for png in ("curves.png", "gradient_flow.png", "dead_neurons.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_tour_json_and_force(tmp_path, capsys):
    out = tmp_path / "tour"
    out.mkdir()
    argv = ["tour", "--out", str(out), "--epochs", "1", "--steps", "train", "--force", "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["run_dir"] == str(out) and summary["epochs"] == 1
    assert summary["steps"] == ["train"] and "diagnostics" not in summary
    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "metrics.json", "model.keras"]


@pytest.mark.slow
def test_full_tour_runs_every_step(tmp_path, capsys):
    """The main job end to end: train, diagnostics, TFLite int8, the three experiments."""
    out = tmp_path / "tour"
    assert main(["tour", "--out", str(out), "--epochs", "3"]) == 0
    printed = capsys.readouterr().out
    assert "[3/4] deploy" in printed and "| tflite int8 |" in printed
    assert "[4/4] experiments" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    rows = {row["variant"]: row for row in metrics["deploy"]["rows"]}
    assert rows["tflite int8"]["bytes"] * 2 < rows["tflite float32"]["bytes"]
    assert rows["tflite int8"]["top1_agreement"] > 0.9
    assert (out / "tflite").is_dir() and list((out / "tflite").rglob("*.tflite"))
    assert sorted(metrics["experiments"]) == ["activations", "efficient", "resnet-vs-plain"]
    for info in metrics["experiments"].values():
        report = out / info["report"]
        assert report.is_file() and "![" in report.read_text()  # embeds its figures
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


def test_experiments_step_writes_into_the_run_directory(tmp_path, monkeypatch, capsys):
    """The wiring of the experiments step (the experiments themselves are tested on their own)."""
    from kerasnets import experiments

    calls = []

    def fake_tour_pass(out_dir, seeds, verbose, say):
        calls.append((out_dir.name, seeds))
        (out_dir / "activations").mkdir(parents=True)
        (out_dir / "activations" / "report.md").write_text("# report\n")
        say("    activations: relu in 1.0 s, test accuracy 0.930")
        return {
            "activations": {
                "report": out_dir / "activations" / "report.md",
                "seconds": 1.0,
                "lesson": "test accuracy at depth 10: sigmoid 0.100, relu 0.930",
            }
        }

    monkeypatch.setattr(experiments, "tour_pass", fake_tour_pass)
    out = tmp_path / "t"
    summary = run_tour(out, epochs=1, steps=("train", "experiments"), verbose=1)
    assert calls == [("experiments", 1)]
    report = summary["experiments"]["activations"]["report"]
    assert (out / report).read_text() == "# report\n"
    printed = capsys.readouterr().out
    assert "activations: relu in 1.0 s" in printed and "sigmoid 0.100, relu 0.930" in printed
    # the report path printed is the final one, not the temporary directory's
    assert f"report: {out / 'experiments' / 'activations' / 'report.md'}" in printed
    assert ".tmp" not in printed


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": -1}, "batch_size must be a positive integer"),
        ({"epochs": 2.5}, "epochs must be a positive integer"),
        ({"steps": ("train", "party")}, "unknown tour step.*'party'.*train, diagnostics"),
        ({"steps": ("diagnostics",)}, "include it"),
    ],
)
def test_tour_rejects_bad_arguments_before_work(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_tour(tmp_path / "t", verbose=0, **kwargs)
    assert not (tmp_path / "t").exists()


def test_cli_reports_a_bad_step_in_one_line(tmp_path, capsys):
    assert main(["tour", "--out", str(tmp_path / "t"), "--steps", "train,nap"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown tour step(s) 'nap'" in err
