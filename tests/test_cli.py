"""The kerasnets command: help, backend selection, info, and every error path of the foundation
(one line on stderr, exit status 2, no traceback)."""

import json
import os
import subprocess
import sys

import keras
import pytest

from kerasnets.cli import main


def run_cli(*args, backend=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if backend:
        env["KERAS_BACKEND"] = backend
    return subprocess.run(
        [sys.executable, "-m", "kerasnets", *args], capture_output=True, text=True, env=env
    )


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("info", "tour"):
        assert command in out


@pytest.mark.parametrize("command", ["info", "tour"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: kerasnets" in capsys.readouterr().out


def test_unknown_subcommand_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'frobnicate'" in err


def test_bad_option_values_are_one_line_errors(capsys):
    for argv, fragment in [
        (["tour", "--epochs", "0"], "expected a positive integer, got '0'"),
        (["tour", "--epochs", "many"], "expected a positive integer, got 'many'"),
        (["--backend", "mxnet", "info"], "invalid choice: 'mxnet'"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fragment in err, err


def test_info_json_reports_versions_backend_and_device(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["backend"] == keras.backend.backend()
    assert info["keras"] == keras.__version__
    assert info["device"]
    assert set(info["installed"]) >= {"tensorflow", "jax", "torch"}


def test_info_text(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"active backend: {keras.backend.backend()}" in out


def test_backend_flag_selects_the_backend_before_keras_is_imported(other_backends):
    target = other_backends[0]
    proc = run_cli("--backend", target, "info", "--json", backend=keras.backend.backend())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["backend"] == target


def test_unsupported_keras_backend_variable_is_a_one_line_error():
    proc = run_cli("info", backend="numpy")
    assert_one_line_error(proc, "KERAS_BACKEND='numpy' is not supported")


def test_existing_tour_directory_is_refused_without_force(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("keep")
    proc = run_cli("tour", "--out", str(out), backend=keras.backend.backend())
    assert_one_line_error(proc, "already exists; pass --force")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_commands_run_with_tensorflow_retracing_warnings_off(monkeypatch, capsys):
    """Commands train many models in turn (one tf.function each): TensorFlow's "triggered
    tf.function retracing" hint is expected there and kept off the terminal while a command
    runs, and the logger's level is restored afterwards."""
    import logging

    from kerasnets import claims

    logger = logging.getLogger("tensorflow")
    before = logger.level
    seen = []

    def measure(ids, training=True):
        seen.append(logger.level)
        return []

    monkeypatch.setattr(claims, "measure", measure)
    monkeypatch.setattr(claims, "table", lambda rows, detail=False: "")
    assert main(["claims", "--only", "tanh_max_derivative"]) == 0
    assert seen == [logging.ERROR]
    assert logger.level == before
