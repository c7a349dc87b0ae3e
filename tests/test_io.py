"""kerasnets.io: atomic files and run directories."""

import json

import keras
import numpy as np
import pytest

from kerasnets import io


def test_write_json_handles_numpy_and_leaves_no_temp_files(tmp_path):
    path = io.write_json(tmp_path / "m.json", {"a": np.float32(0.5), "b": np.arange(3)})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_a_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "m.json"
    io.write_json(target, {"v": 1})
    with pytest.raises(TypeError, match="cannot write object"):
        io.write_json(target, {"v": object()})
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_run_directory_is_all_or_nothing(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"):
        with io.run_directory(out) as tmp:
            io.write_text(tmp / "a.txt", "a")
            raise RuntimeError("boom")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with io.run_directory(out) as tmp:
        io.write_text(tmp / "a.txt", "a")
    assert (out / "a.txt").read_text() == "a"


def test_run_directory_refuses_to_overwrite_unless_forced(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(io.RunDirectoryExistsError, match="already exists; pass --force"):
        with io.run_directory(out):
            pytest.fail("the block must not run")
    with io.run_directory(out, force=True) as tmp:
        io.write_text(tmp / "new.txt", "new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_save_model_and_figure_atomically(tmp_path):
    import matplotlib.pyplot as plt

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = io.save_model(model, tmp_path / "m.keras")
    loaded = keras.saving.load_model(path)
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    io.save_figure(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "m.keras"]
