"""One Ctrl-C stops a command: exit 130, one line, and nothing half-written left behind."""

import os
import signal
import subprocess
import sys
import time

import pytest


def _interrupt_after_start(argv, cwd, ready):
    """Start ``kerasnets argv``, wait until ``ready()`` is true, send one SIGINT, return it."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kerasnets", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, f"finished before it could be interrupted: {proc.stderr.read()}"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("one Ctrl-C did not stop the command within 60 s")
    return proc.returncode, out, err


@pytest.mark.slow
def test_one_ctrl_c_stops_the_tour_and_leaves_nothing(tmp_path):
    started = time.time()

    def training_started():  # start-up takes a few seconds; 5,000 epochs take minutes
        return time.time() - started > 8

    code, _, err = _interrupt_after_start(
        ["tour", "--steps", "train", "--epochs", "5000", "--out", "tour"],
        tmp_path,
        training_started,
    )
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 130, err
    assert lines == ["kerasnets tour: interrupted"], err
    assert list(tmp_path.iterdir()) == [], "an interrupted tour left files behind"


@pytest.mark.slow
def test_one_ctrl_c_stops_an_experiment(tmp_path):
    out_dir = tmp_path / "act"

    def running():
        return out_dir.exists()

    code, _, err = _interrupt_after_start(
        ["run", "activations", "--fast", "--seeds", "3", "--quiet", "--out", str(out_dir)],
        tmp_path,
        running,
    )
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 130, err
    assert lines[-1] == "kerasnets run: interrupted", err
    assert sum("interrupted" in line for line in lines) == 1
