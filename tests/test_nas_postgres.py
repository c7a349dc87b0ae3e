"""Many workers on one Optuna study in a real PostgreSQL server (started by the fixture).

The server runs as the unprivileged ``postgres`` user (it refuses root) in a temporary directory,
on a free port of 127.0.0.1, and is stopped afterwards. Without the PostgreSQL 15 binaries the
tests are skipped (``.ci/run`` installs Debian's ``postgresql`` package).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

from kerasnets.nas.space import SearchSpace
from kerasnets.nas.study import check_storage_url

PG_BIN = Path("/usr/lib/postgresql/15/bin")
TINY = SearchSpace(
    layer_types=("conv3x3", "separable"),
    min_layers=1,
    max_layers=2,
    channels=(4, 8),
    max_downsamples=1,
)
pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15 binaries not found in {PG_BIN} (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="kerasnets-pg-"))
    as_user = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = root / "data"
    subprocess.run(
        [*as_user, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [
            *as_user,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        # check_storage_url picks the installed driver (psycopg2 or psycopg) for this process.
        yield check_storage_url(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(
            [*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(root, ignore_errors=True)


def _cmd(*args):
    return [sys.executable, "-m", "kerasnets", "nas", *args]


def _search_args(url, study, trials, *extra):
    return [
        "--strategy",
        "random",
        "--trials",
        str(trials),
        "--fast",
        "--subset",
        "120",
        "--space",
        TINY.to_json(),
        "--no-baselines",
        "--no-export",
        "--storage",
        url,
        "--study",
        study,
        *extra,
    ]


def _env(backend):
    return dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")


def _tables(url):
    """Create Optuna's tables before any worker starts (concurrent creation can collide)."""
    optuna.storages.RDBStorage(url)


def _wait_for_study(url, name, proc, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            names = [s.study_name for s in optuna.get_all_study_summaries(url)]
        except Exception:
            names = []
        if name in names:
            return
        time.sleep(0.2)
    detail = ""
    if proc.poll() is not None:
        err = proc.communicate()[1] if proc.stderr is not None else None
        log = Path(getattr(proc, "err_path", ""))
        detail = (err or (log.read_text() if log.is_file() else ""))[-3000:]
    raise AssertionError(f"study {name!r} did not appear (exit {proc.poll()}): {detail}")


def _finished(study):
    return [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]


def test_two_workers_finish_exactly_the_budget_and_the_report_reads_back(
    postgres_url, tmp_path, backend
):
    env = _env(backend)
    _tables(postgres_url)
    first = subprocess.Popen(
        _cmd(*_search_args(postgres_url, "two", 5), "--out", str(tmp_path / "a"), "--json"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_study(postgres_url, "two", first)
    second = subprocess.run(
        _cmd("worker", "--storage", postgres_url, "--study", "two", "--json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    study = optuna.load_study(study_name="two", storage=postgres_url)
    finished = _finished(study)
    assert len(finished) == 5
    others = [t for t in study.trials if t not in finished]
    assert all(t.user_attrs.get("over_budget") for t in others)  # only lost races, marked
    assert len({t.number for t in study.trials}) == len(study.trials)
    ran_second = json.loads(second.stdout)["trials_run"]
    summary = json.loads(out)
    assert summary["cost"]["trials_finished"] == 5

    report = subprocess.run(
        _cmd("report", "--storage", postgres_url, "--study", "two", "--out", str(tmp_path / "r")),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    seen = json.loads((tmp_path / "a" / "summary.json").read_text())
    read_back = json.loads((tmp_path / "r" / "summary.json").read_text())
    skip = {"figures", "report", "out"}
    assert {k: v for k, v in read_back.items() if k not in skip} == {
        k: v for k, v in seen.items() if k not in skip
    }
    assert "postgres@127.0.0.1" in read_back["storage"]
    print(f"second worker ran {ran_second} of 5 trials")


def _kill_mid_trial(postgres_url, tmp_path, env, args, attempt):
    """Start a search, SIGKILL it while one of its trials runs; return that trial's number.

    The trial is read back after the process is dead: one that was running when the signal
    was sent may have finished just before it arrived, and the next one be the one cut off.
    None if the process died between two trials.
    """
    victim = subprocess.Popen(
        _cmd(*args, "--out", str(tmp_path / f"a{attempt}")),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "victim.err").open("w"),  # read if it fails before the kill
    )
    victim.err_path = tmp_path / "victim.err"
    _wait_for_study(postgres_url, "kill", victim)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and victim.poll() is None:
        study = optuna.load_study(study_name="kill", storage=postgres_url)
        if len(_finished(study)) >= 1 and any(t.state.name == "RUNNING" for t in study.trials):
            os.kill(victim.pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL, "the worker finished before it could be killed"
    study = optuna.load_study(study_name="kill", storage=postgres_url)
    running = [t.number for t in study.trials if t.state.name == "RUNNING"]
    assert len(running) <= 1, running
    return running[0] if running else None


def test_a_worker_killed_mid_trial_leaves_the_study_consistent(postgres_url, tmp_path, backend):
    env = _env(backend)
    _tables(postgres_url)
    args = _search_args(postgres_url, "kill", 6, "--epochs", "3", "--grace-period", "4")
    killed = None
    for attempt in range(3):  # a kill that lands between two trials is tried again
        killed = _kill_mid_trial(postgres_url, tmp_path, env, args, attempt)
        if killed is not None:
            break
    assert killed is not None, "three kills in a row landed between trials"

    worker = subprocess.run(
        _cmd("worker", "--storage", postgres_url, "--study", "kill", "--grace-period", "4"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    study = optuna.load_study(study_name="kill", storage=postgres_url)
    assert study.trials[killed].state.name == "FAIL"
    assert len(_finished(study)) == 6
    retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE"
    # the parameters drawn before the kill are kept (a kill mid-sampling leaves fewer)
    assert study.trials[killed].params.items() <= retry[0].params.items()
