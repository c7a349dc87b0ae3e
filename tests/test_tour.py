"""kerasnets tour: trains, evaluates and writes a complete run directory on every backend."""

import json

import keras
import numpy as np
import pytest

from kerasnets.cli import main
from kerasnets.tour import run_tour


def test_tour_writes_a_complete_run_directory(tmp_path, capsys):
    out = tmp_path / "tour"
    assert main(["tour", "--out", str(out), "--epochs", "3"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "metrics.json", "model.keras"]
    assert [p.name for p in tmp_path.iterdir()] == ["tour"]  # no temp dirs left behind
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["backend"] == keras.backend.backend()
    assert len(metrics["history"]["loss"]) == 3
    assert metrics["history"]["loss"][-1] < metrics["history"]["loss"][0]
    assert metrics["test_accuracy"] > 0.5  # 10 classes: chance is 0.1
    model = keras.saving.load_model(out / "model.keras")
    x = np.zeros((2, 64), "float32")
    assert model.predict(x, verbose=0).shape == (2, 10)
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_tour_json_and_force(tmp_path, capsys):
    out = tmp_path / "tour"
    out.mkdir()
    assert main(["tour", "--out", str(out), "--epochs", "1", "--force", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["run_dir"] == str(out) and summary["epochs"] == 1
    assert (out / "model.keras").exists()


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"batch_size": -1}, {"epochs": 2.5}])
def test_tour_rejects_bad_arguments_before_work(tmp_path, kwargs):
    with pytest.raises(ValueError, match="must be a positive integer"):
        run_tour(tmp_path / "t", verbose=0, **kwargs)
    assert not (tmp_path / "t").exists()
