"""Neural architecture search (kerasnets.nas, ``kerasnets nas``): the space and its JSON, the
builder, the samplers, the Pareto/hypervolume arithmetic, a whole fast search through the CLI
with its report, refused runs that leave the study unchanged, and kill-and-resume on SQLite."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import keras
import numpy as np
import optuna
import pytest

from kerasnets import analysis, io, models, nas
from kerasnets.cli import main
from kerasnets.nas import report as rep
from kerasnets.nas.space import Architecture, Layer, SearchSpace, architecture_from_params

optuna.logging.set_verbosity(optuna.logging.WARNING)

TINY = SearchSpace(
    layer_types=("conv3x3", "separable", "residual"),
    min_layers=1,
    max_layers=2,
    channels=(4, 8),
    max_downsamples=1,
)
FAST = ["--fast", "--subset", "120", "--space", TINY.to_json(), "--quiet"]


# --- the space -------------------------------------------------------------------------
def test_default_space_is_the_lectures():
    space = SearchSpace()
    assert space.layer_types == ("conv3x3", "conv5x5", "separable", "residual")
    assert (space.min_layers, space.max_layers) == (5, 15)
    assert space.channels == (32, 64, 128, 256)


def test_space_json_round_trip_and_narrowing():
    assert SearchSpace.from_json(TINY.to_json()) == TINY
    narrow = SearchSpace.from_json('{"channels": [32, 64], "layer_types": ["separable"]}')
    assert narrow.channels == (32, 64) and narrow.max_layers == 15
    wide = SearchSpace(layer_types=tuple(nas.LAYER_TYPES))
    assert SearchSpace.from_dict(json.loads(wide.to_json())) == wide


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"chanels": [32]}', "unknown search-space field(s) 'chanels'; known: layer_types"),
        ('{"channels": []}', "channels is an empty choice"),
        ('{"layer_types": []}', "layer_types is an empty choice"),
        ('{"layer_types": ["conv7x7"]}', "unknown layer type 'conv7x7'"),
        ('{"min_layers": 4, "max_layers": 3}', "max_layers must be an integer >= 4"),
        ("{not json", "not valid JSON"),
    ],
)
def test_space_rejects_bad_specs(text, fragment):
    with pytest.raises(ValueError) as err:
        SearchSpace.from_json(text)
    assert fragment in str(err.value)


def test_sampled_architectures_are_in_the_space_and_rebuild_from_params():
    space = SearchSpace(min_layers=2, max_layers=6, max_downsamples=2)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    depths = set()
    for _ in range(25):
        trial = study.ask()
        arch = space.sample(trial)
        assert space.contains(arch)
        assert architecture_from_params(trial.params) == arch
        depths.add(arch.depth)
        study.tell(trial, 0.0)
    assert len(depths) > 2


# --- the builder -----------------------------------------------------------------------
def test_every_layer_type_builds_counts_and_round_trips(tmp_path, rng):
    arch = Architecture(
        (
            Layer("conv3x3", 8),
            Layer("conv5x5", 16, True),
            Layer("separable", 16),
            Layer("residual", 16),
            Layer("residual", 32),
            Layer("bottleneck", 32),
            Layer("inception", 32, True),
        )
    )
    model = nas.build(arch, input_shape=(8, 8, 1), num_classes=10)
    assert tuple(model.output.shape) == (None, 10)
    profile = analysis.profile(model)
    assert profile.uncounted == []
    counted = analysis.count_macs(model)
    # the samplers' analytic estimate is a tight lower bound of the counted MACs
    assert 0.9 * counted <= nas.builder.estimate_macs(arch, (8, 8, 1), 10) <= counted
    x = rng.random((2, 8, 8, 1)).astype("float32")
    path = io.save_model(model, tmp_path / "m.keras", portable=True)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_builder_refuses_too_much_downsampling():
    arch = Architecture(tuple(Layer("conv3x3", 4, True) for _ in range(4)))
    with pytest.raises(ValueError, match="too small for 4 downsampling layers"):
        nas.build(arch, input_shape=(8, 8, 1))


# --- samplers --------------------------------------------------------------------------
def _toy(trial):
    a = trial.suggest_categorical("a", ["x", "y", "z"])
    n = trial.suggest_int("n", 0, 9)
    return float(n) + (a == "z")


def test_evolution_children_differ_from_their_parent_in_one_parameter():
    sampler = nas.RegularizedEvolutionSampler(population_size=4, sample_size=2, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_toy, n_trials=30)
    trials = study.trials
    assert all("evolution:parent" not in t.system_attrs for t in trials[:4])
    children = trials[4:]
    for child in children:
        parent = trials[child.system_attrs["evolution:parent"]]
        assert parent.number < child.number
        changed = [k for k in child.params if child.params[k] != parent.params[k]]
        assert len(changed) == 1, (parent.params, child.params)
    assert study.best_value >= 9.0


def test_pruned_trials_join_the_population_with_their_last_reported_value():
    """A pruned trial is a population member (fitness: its last reported value); a study whose
    first trials are all pruned still gets parents, and the best of them is chosen."""
    sampler = nas.RegularizedEvolutionSampler(population_size=3, sample_size=3, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for value in (0.2, 0.9, 0.5):
        trial = study.ask()
        _toy(trial)
        trial.report(value, 0)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    child = study.ask()
    _toy(child)
    assert study.trials[child.number].system_attrs["evolution:parent"] == 1


def test_equal_values_go_to_the_parent_with_fewer_macs():
    sampler = nas.RegularizedEvolutionSampler(population_size=3, sample_size=3, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for macs in (5000, 1000, 3000):
        trial = study.ask()
        _toy(trial)
        trial.set_user_attr("macs", macs)
        study.tell(trial, 0.98)
    child = study.ask()
    assert study.trials[child.number].system_attrs["evolution:parent"] == 1


def test_drafted_architectures_never_repeat_a_trial():
    """With a space, a draft equal to an earlier trial is drawn again (a small space and many
    trials make repeats likely: 40 trials out of 2 depths x 2 types x 2 widths per layer)."""
    space = SearchSpace(
        min_layers=1, max_layers=2, layer_types=("conv3x3", "separable"), channels=(8, 16)
    )
    for strategy in ("evolution", "random"):
        sampler = nas.make_sampler(
            strategy, seed=0, population_size=4, space=space, feasible=lambda arch: True
        )
        study = optuna.create_study(direction="maximize", sampler=sampler)
        seen = []
        for i in range(20):
            trial = study.ask()
            arch = space.sample(trial)
            seen.append(json.dumps(arch.to_dict(), sort_keys=True))
            study.tell(trial, arch.depth / 10 + i / 1000)
        assert len(set(seen)) == len(seen), strategy


def test_evolution_is_reproducible_and_refuses_two_objectives():
    runs = []
    for _ in range(2):
        study = optuna.create_study(
            direction="maximize", sampler=nas.make_sampler("evolution", seed=3, population_size=3)
        )
        study.optimize(_toy, n_trials=12)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]
    with pytest.raises(ValueError, match="strategy 'evolution' is single-objective"):
        nas.study.make_config("evolution", objectives="accuracy,macs")
    with pytest.raises(ValueError, match="unknown strategy 'tpe'; allowed: random, evolution"):
        nas.make_sampler("tpe")


def test_constrained_search_drafts_only_architectures_under_max_macs():
    from kerasnets.nas.builder import estimate_macs
    from kerasnets.nas.study import _sampler, make_config

    for strategy in ("random", "evolution"):
        config = make_config(strategy, trials=12)  # the lecture's space, baseline_cnn's MACs / 2
        baseline = models.build("baseline_cnn", input_shape=(8, 8, 1))
        assert config["max_macs"] == analysis.count_macs(baseline) // 2
        study = optuna.create_study(direction="maximize", sampler=_sampler(config, seed=0))
        space = SearchSpace.from_dict(config["space"])
        for i in range(12):
            trial = study.ask()
            arch = space.sample(trial)
            assert estimate_macs(arch, (8, 8, 1), 10) <= config["max_macs"]
            study.tell(trial, arch.depth / 20 + i / 1000)
        parents = [t.system_attrs.get("evolution:parent") for t in study.trials]
        assert (parents[-1] is not None) == (strategy == "evolution")


# --- Pareto and hypervolume ------------------------------------------------------------
def test_pareto_front_hypervolume_and_domination():
    pts = [(0.9, 1e3), (0.95, 1e4), (0.85, 1e4), (0.95, 1e5), (0.97, 1e5)]
    assert rep.pareto_front(pts) == [0, 1, 4]
    # staircase in (accuracy, log10 cost) up to 1e6: 0.9·3 + 0.95·2... minus overlaps
    expected = 0.97 * (6 - 5) + 0.95 * (5 - 4) + 0.9 * (4 - 3)
    assert rep.hypervolume(pts, ref_cost=1e6) == pytest.approx(expected)
    assert rep.hypervolume([], ref_cost=1e6) == 0.0
    assert rep.dominates((0.96, 1e3), (0.95, 1e4))
    assert rep.dominates((0.95, 5e3), (0.95, 1e4))
    assert not rep.dominates((0.95, 6e3), (0.95, 1e4))
    assert not rep.dominates((0.99, 2e4), (0.95, 1e4))


# --- a whole search through the CLI ----------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("nas") / "run"
    status = main(["nas", "--strategy", "nsga2", "--trials", "3", *FAST, "--out", str(out)])
    assert status == 0
    return out


def test_search_writes_report_figures_best_keras_and_int8_tflite(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["cost"]["trials_finished"] == 3
    assert summary["config"]["objectives"] == ["accuracy", "macs"]
    assert set(summary["baselines"]) == {"baseline_cnn", "efficient_cnn", "mobilenet_style"}
    assert summary["pareto_front"] and len(summary["top5"]) <= 3
    accs = [r["accuracy"] for r in summary["top5"]]
    assert accs == sorted(accs, reverse=True)
    for name in ("pareto.png", "progress.png", "patterns.png", "report.md", "best.keras"):
        assert (run_dir / name).stat().st_size > 0, name
    report = (run_dir / "report.md").read_text()
    assert "## Top 5 architectures" in report and "baseline_cnn" in report
    model = io.load_model(run_dir / "best.keras")
    assert model.count_params() == summary["best"]["params"]
    tflite = run_dir / "best_int8.tflite"
    assert tflite.stat().st_size == summary["export"]["tflite_bytes"] > 0
    assert not list(run_dir.glob(".*"))  # no temporaries left behind


def test_report_from_the_database_equals_the_runs(run_dir, tmp_path, capsys):
    assert main(["nas", "report", "--out", str(run_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["cost"]["trials_finished"] == 3
    again = json.loads((run_dir / "summary.json").read_text())
    url = f"sqlite:///{(run_dir / 'study.db').resolve()}"
    assert main(["nas", "report", "--storage", url, "--out", str(tmp_path / "r")]) == 0
    elsewhere = json.loads((tmp_path / "r" / "summary.json").read_text())
    skip = {"figures", "report", "export", "out"}
    assert {k: v for k, v in elsewhere.items() if k not in skip} == {
        k: v for k, v in again.items() if k not in skip
    }


def _study_state(run_dir):
    storage = optuna.storages.RDBStorage(f"sqlite:///{run_dir / 'study.db'}")
    study = optuna.load_study(study_name="nas", storage=storage)
    return [(t.number, t.state, t.params) for t in study.trials], study.user_attrs


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--strategy", "random"], ["study 'nas' exists with another configuration", "strategy"]),
        (["--strategy", "nsga2", "--space", '{"channels": [4]}'], ["another configuration"]),
        (["--strategy", "nsga2", "--objectives", "accuracy,params"], ["objectives: stored"]),
    ],
)
def test_a_mismatching_run_is_refused_and_leaves_the_study_unchanged(
    run_dir, args, fragments, capsys
):
    before = _study_state(run_dir)
    url = f"sqlite:///{(run_dir / 'study.db').resolve()}"
    base = ["--trials", "3", "--fast", "--subset", "120", "--space", TINY.to_json()]
    merged = base + args if "--space" not in args else base[:-2] + args
    status = main(["nas", *merged, "--storage", url, "--study", "nas", "--out", str(run_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    for fragment in fragments:
        assert fragment in err[0]
    assert _study_state(run_dir) == before


@pytest.mark.parametrize(
    "args, fragment",
    [
        (
            ["--storage", "no-scheme-here", "--study", "s"],
            "unparsable storage URL 'no-scheme-here'",
        ),
        (["--storage", "sqlite:////nonexistent/dir/x.db", "--study", "s"], "cannot reach storage"),
        (["--space", '{"depth": 3}'], "unknown search-space field(s) 'depth'"),
        (["--space", '{"channels": []}'], "channels is an empty choice"),
        (["--objectives", "accuracy,latency"], "unknown objective 'latency'"),
        (["--resume"], "--resume needs --out"),
    ],
)
def test_bad_input_is_one_line_before_any_work(args, fragment, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["nas", "--strategy", "random", "--fast", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err
    assert not (tmp_path / "runs").exists()


def test_an_existing_run_directory_is_not_overwritten(run_dir, capsys):
    assert main(["nas", "--strategy", "nsga2", "--trials", "3", *FAST, "--out", str(run_dir)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_worker_needs_an_existing_study(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["nas", "worker", "--storage", url, "--study", "nope"]) == 2
    assert "no study 'nope'" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_a_trial_whose_worker_died_before_its_first_heartbeat_goes_stale(tmp_path, monkeypatch):
    """Optuna only fails running trials that have a heartbeat; the worker loop gives a silent
    one a beat once it is a grace period old, so it is failed and re-queued one period later."""
    from kerasnets.nas import study as study_mod

    storage = study_mod.open_storage(f"sqlite:///{tmp_path / 's.db'}", grace_period=1)
    study = optuna.create_study(study_name="s", storage=storage)
    silent = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})  # never beats
    assert silent.number == 0
    beaten = set()
    study_mod._beat_for_silent_trials(study, beaten)  # younger than the grace period: no beat
    assert beaten == set()
    optuna.storages.fail_stale_trials(study)
    assert study.trials[0].state.name == "RUNNING"  # Optuna alone never fails it

    time.sleep(2.2)
    optuna.storages.fail_stale_trials(study)
    assert study.trials[0].state.name == "RUNNING"
    study_mod._beat_for_silent_trials(study, beaten)
    study_mod._beat_for_silent_trials(study, beaten)  # once per trial, not on every poll
    assert beaten == {silent._trial_id}
    time.sleep(2.2)
    optuna.storages.fail_stale_trials(study)
    assert study.trials[0].state.name == "FAIL"
    retry = study.trials[1]
    assert retry.state.name == "WAITING" and retry.system_attrs["failed_trial"] == 0
    assert retry.params == study.trials[0].params


# --- kill and resume on SQLite --------------------------------------------------------
@pytest.mark.slow
def test_killed_search_resumes_keeping_finished_trials_and_retrying_the_killed_one(
    tmp_path, backend
):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "kerasnets",
        "nas",
        "--strategy",
        "random",
        "--trials",
        "6",
        "--fast",
        "--subset",
        "120",
        "--space",
        TINY.to_json(),
        "--epochs",
        "3",
        "--no-baselines",
        "--no-export",
        "--out",
        str(out),
    ]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 600
    db = out / "study.db"
    try:
        while killed is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            # Read the file directly: an Optuna storage here would create tables concurrently.
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                    rows = con.execute("SELECT number, state FROM trials").fetchall()
            except sqlite3.Error:
                continue
            done = [n for n, state in rows if state in ("COMPLETE", "PRUNED")]
            running = [n for n, state in rows if state == "RUNNING"]
            if len(done) >= 2 and running:
                os.kill(proc.pid, signal.SIGKILL)
                killed = running[0]
    finally:
        if proc.poll() is None and killed is None:
            proc.kill()
        stdout, stderr = proc.communicate(timeout=60)
    assert killed is not None, f"not killed mid-trial (exit {proc.returncode}): {stderr[-2000:]}"
    assert stdout.count(" complete ") >= 2  # one progress line per finished trial
    study = optuna.load_study(study_name="nas", storage=f"sqlite:///{db}")
    before = {t.number: t.params for t in study.trials if t.state.is_finished()}

    resumed = subprocess.run(
        [*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"re-queued interrupted trial(s) [{killed}]" in resumed.stdout
    study = optuna.load_study(study_name="nas", storage=f"sqlite:///{out / 'study.db'}")
    states = {t.number: t.state for t in study.trials}
    assert states[killed] == optuna.trial.TrialState.FAIL
    finished = [t for t in study.trials if t.state.is_finished() and t.state.name != "FAIL"]
    assert len(finished) == 6
    for number, params in before.items():
        assert study.trials[number].params == params
    retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retry) == 1 and retry[0].state == optuna.trial.TrialState.COMPLETE
    # the parameters drawn before the kill are kept (a kill mid-sampling leaves fewer)
    assert study.trials[killed].params.items() <= retry[0].params.items()


def test_zero_cost_proxies_score_an_untrained_network(rng):
    from kerasnets.nas import proxies

    model = nas.build(Architecture((Layer("conv3x3", 4), Layer("separable", 8, True))), (8, 8, 1))
    x = rng.random((8, 8, 8, 1)).astype("float32")
    y = np.arange(8, dtype="int32")
    assert np.isfinite(proxies.score(model, "naswot", x))
    assert proxies.score(model, "grad_norm", x, y) > 0
    assert proxies.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown proxy 'synflow'; allowed: naswot, grad_norm"):
        proxies.score(model, "synflow", x)
