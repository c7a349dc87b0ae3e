"""kerasnets.io: atomic files and run directories."""

import json
import os
import signal
import subprocess
import sys

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


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_an_unwritable_output_is_named_by_the_users_path_before_any_work(tmp_path):
    with pytest.raises(PermissionError, match=r"directory '/proc/kn-run': directory '/proc'"):
        io.check_output_dir("/proc/kn-run")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"'.*file' is not a directory"):
        io.check_writable(tmp_path / "file" / "run")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        io.check_output_dir(tmp_path / "file", force=True)
    with pytest.raises(OSError) as err:
        io.write_json("/proc/kn.json", {})
    assert "'/proc/kn.json'" in str(err.value) and ".tmp-" not in str(err.value)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_stale_temp_names_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead, live = _dead_pid(), os.getpid()
    for pid in (dead, live):
        (tmp_path / f".run.tmp-{pid}-abc").mkdir()
        (tmp_path / f".m.json.tmp-{pid}-xyz.json").write_text("{")
    (tmp_path / f".run.old-{dead}").mkdir()
    with io.run_directory(tmp_path / "run") as tmp:
        io.write_json(tmp / "a.json", {})
    io.write_json(tmp_path / "m.json", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".m.json.tmp-{live}-xyz.json",
        f".run.tmp-{live}-abc",
        "m.json",
        "run",
    ]


def test_sigkill_debris_is_cleaned_by_the_next_run(tmp_path):
    """A process SIGKILLed inside run_directory and atomic_path leaves hidden temp names; the
    next run for the same outputs removes them."""
    code = (
        "import sys, time\n"
        "from kerasnets import io\n"
        "with io.run_directory(sys.argv[1] + '/run') as tmp:\n"
        "    with io.atomic_path(sys.argv[1] + '/m.json') as part:\n"
        "        part.write_text('{')\n"
        "        print('ready', flush=True)\n"
        "        time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert [n.split("-")[0] for n in left] == [".m.json.tmp", ".run.tmp"], left
    with io.run_directory(tmp_path / "run") as tmp:
        io.write_text(tmp / "a.txt", "a")
    io.write_json(tmp_path / "m.json", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "run"]
