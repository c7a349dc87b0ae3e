"""``kerasnets compare-backends`` (kerasnets.compare), run from this test's backend as the parent.

Every backend starts in its own process (seconds each), so there is one full run per parent
backend, with all three backends as children, shared by the assertions below: a tiny ResNet
from a ``.keras`` file when TensorFlow is the parent, the zoo's MLP by name otherwise. The
deployment checks (LiteRT export from each backend, ``.keras`` portability) start extra
TensorFlow processes and run once, on TF (slow).
"""

import contextlib
import io
import json

import pytest

from kerasnets import compare, models
from kerasnets.cli import main
from kerasnets.io import save_model

ALL = ("tensorflow", "jax", "torch")


def _cli(capsys, *argv):
    try:
        status = main(["compare-backends", *argv])
    except SystemExit as exit:  # argparse's own errors (one line, exit 2: kerasnets.cli._Parser)
        status = exit.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# One full run per parent backend (each starts all three children): the small ResNet from a
# .keras file (TF parent), or the zoo's MLP by name; each run checks its model on all three.
MODEL_FOR_PARENT = {"tensorflow": "resnet", "jax": "mlp", "torch": "mlp"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``kerasnets compare-backends`` in this process, with --out and --json; (result, out)."""
    import keras

    tmp = tmp_path_factory.mktemp("compare")
    if MODEL_FOR_PARENT[keras.backend.backend()] == "resnet":
        keras.utils.set_random_seed(0)  # module-scoped: the per-test seed is not set yet
        model = models.build("resnet18", input_shape=(12, 12, 3), num_classes=3, width=4)
        argv = [str(save_model(model, tmp / "tiny_resnet.keras"))]
    else:
        argv = ["mlp", "--input-shape", "16", "--classes", "4"]
    out = tmp / "out"
    argv += ["--steps", "2", "--repeats", "2", "--threads", "1", "--no-deploy"]
    buffer = io.StringIO()  # capsys is function-scoped: capture by hand
    with contextlib.redirect_stdout(buffer):
        status = main(["compare-backends", *argv, "--out", str(out), "--json"])
    assert status == 0
    return json.loads(buffer.getvalue()), out


def test_every_backend_agrees_within_1e_4(run):
    result, _ = run
    assert list(result["backends"]) == list(ALL)
    assert result["reference"] == "tensorflow"
    for backend in ALL:
        row = result["backends"][backend]
        assert row["status"] == "ok", row
        assert row["forward"]["max_abs_diff"] < compare.TOLERANCE
        if row["forward"]["saturated"] == 0:
            assert row["forward"]["loss_abs_diff"] < compare.TOLERANCE
        assert row["gradients"]["max_rel_diff"] < compare.TOLERANCE
        assert row["training"]["final_loss_abs_diff"] < compare.TOLERANCE
        assert row["training"]["weights_max_abs_diff"] < compare.TOLERANCE
        assert len(row["training"]["losses"]) == result["steps"] + 1
    # Training moved the weights: the parity after S steps is not that of an unchanged model.
    tf_losses = result["backends"]["tensorflow"]["training"]["losses"]
    assert tf_losses[-1] < tf_losses[0]
    # Every trainable layer has its gradient difference.
    assert len(result["backends"]["jax"]["gradients"]["layers"]) >= 4


def test_the_same_seed_gives_different_initial_weights(run):
    result, _ = run
    for backend in ("jax", "torch"):
        init = result["backends"][backend]["init"]
        assert init["max_abs_diff"] > 1e-3, "each backend draws from its own generator"
        assert init["first_values"] != result["backends"]["tensorflow"]["init"]["first_values"]
    assert result["backends"]["tensorflow"]["init"]["max_abs_diff"] == 0.0
    assert len({result["backends"][b]["init"]["size"] for b in ALL}) == 1


def test_speed_memory_and_threads_are_measured(run):
    result, _ = run
    assert result["threads"] == 1
    for backend in ALL:
        row = result["backends"][backend]
        t = row["time"]
        for key in ("first_inference_s", "inference_s", "first_train_step_s", "train_step_s"):
            assert t[key] > 0, (backend, key)
        assert t["cpus"] == 1 and t["os_threads"] >= 1  # --threads 1 pinned the worker
        m = row["memory"]
        assert m["peak_rss_mb"] >= m["peak_rss_before_train_mb"] > 10
        assert "ru_maxrss" in m["how"]
        assert "deploy" not in row
    assert result["portability"] == {}


def test_out_directory_has_report_results_and_figure(run):
    result, out = run
    assert sorted(p.name for p in out.iterdir()) == [
        "compare_backends.png",
        "report.md",
        "results.json",
    ]
    saved = json.loads((out / "results.json").read_text())
    assert saved["backends"]["torch"]["forward"] == result["backends"]["torch"]["forward"]
    report = (out / "report.md").read_text()
    assert "| backend | fwd max abs diff |" in report
    worst = result["backends"]["jax"]["gradients"]["max_rel_diff"]
    assert f"{worst:.1e}" in report
    assert "Before the weights are shared" in report
    assert "each worker pinned to 1 CPU(s)" in report
    assert "The backends compute the same function" in report
    # Samples whose true class has a probability below epsilon: the inference-mode loss differs
    # (Keras clips on JAX and PyTorch, not on TensorFlow), and the report says why.
    saturated = {result["backends"][b]["forward"]["saturated"] for b in ALL}
    assert len(saturated) == 1
    if saturated != {0}:
        assert result["backends"]["jax"]["forward"]["loss_abs_diff"] > compare.TOLERANCE
        assert "Keras clips probabilities" in report
    else:
        assert "Keras clips probabilities" not in report
    assert (out / "compare_backends.png").stat().st_size > 10_000


def test_table_has_one_row_per_backend(run):
    result, _ = run
    text = compare.table(result)
    lines = text.splitlines()
    assert len(lines) == 2 + 3
    assert lines[2].startswith("| tensorflow | reference |")
    assert lines[3].startswith("| jax | ") and "reference" not in lines[3]
    assert lines[4].startswith("| torch | ")


def test_a_backend_that_is_not_installed_gets_a_row(monkeypatch, tmp_path):
    monkeypatch.setattr(compare, "installed", lambda backend: backend != "torch")
    started = []
    monkeypatch.setattr(compare, "_run_worker", lambda *a, **k: started.append(a))
    result = compare.compare_backends(
        "mlp", input_shape=(4,), num_classes=2, backends=("torch",), out=tmp_path / "o"
    )
    assert started == []
    assert result["backends"]["torch"] == {
        "status": "not installed",
        "error": "the torch package is not installed",
    }
    assert result["reference"] is None
    assert "| torch | not installed" in compare.table(result)
    assert "No backend ran" in (tmp_path / "o" / "report.md").read_text()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["resnet19"], "unknown model 'resnet19'"),
        (["resnet18", "--input-shape", "2,2,3"], "input_shape"),
        (["mlp", "--input-shape", "a,b"], "--input-shape must be"),
        (["mlp", "--steps", "0"], "--steps: expected a positive integer, got '0'"),
        (["mlp", "--backends", "tensorflow,mxnet"], "unknown backend 'mxnet'"),
        (["mlp", "--backends", "jax,jax"], "names a backend twice"),
        (["missing.keras"], "no such model file"),
        (["x.keras", "--input-shape", "4"], "apply to zoo names, not to .keras files"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_process(argv, message, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(compare, "_run_worker", lambda *a, **k: started.append(a))
    status, _, err = _cli(capsys, *argv)
    assert status == 2
    assert err.count("\n") == 1 and message in err, err
    assert started == []


def test_an_existing_out_directory_is_refused_before_any_process(tmp_path, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(compare, "_run_worker", lambda *a, **k: started.append(a))
    (tmp_path / "out").mkdir()
    status, _, err = _cli(capsys, "mlp", "--out", str(tmp_path / "out"))
    assert status == 2 and "already exists" in err and started == []


@pytest.mark.slow
def test_deployment_and_portability(tmp_path):
    """LiteRT export natively and through kerasnets, and .keras files across all backends."""
    result = compare.compare_backends(
        "mlp", input_shape=(8,), num_classes=3, steps=1, repeats=1, out=tmp_path / "o"
    )
    rows = result["backends"]
    assert rows["tensorflow"]["deploy"]["litert_native"]["ok"] is True
    assert rows["jax"]["deploy"]["litert_native"]["ok"] is False
    assert "TensorFlow or PyTorch" in rows["jax"]["deploy"]["litert_native"]["error"]
    for backend in ALL:
        lite = rows[backend]["deploy"]["kerasnets_tflite"]
        assert lite["ok"] is True and lite["max_abs_diff"] < compare.TOLERANCE, lite
    pairs = {f"{a}->{b}" for a in ALL for b in ALL if a != b}
    assert set(result["portability"]) == pairs
    for value in result["portability"].values():
        assert value["max_abs_diff"] < compare.TOLERANCE
    for backend in ALL:  # the zoo's MLP from the TensorFlow parent: parity as well
        assert compare._parity(rows[backend]) < compare.TOLERANCE
    report = (tmp_path / "o" / "report.md").read_text()
    assert "`.keras` saved on torch loads on jax" in report
    assert "| yes | yes | jax, torch |" in compare.table(result)


def test_tutorial_06_exercise_1_jax_compiles_its_first_train_step(run):
    """Reference solution of tutorial 06's exercise 1: JAX's first train step includes tracing
    and XLA compilation of the whole step, so it is slower than its later (steady) steps."""
    result, _ = run
    t = result["backends"]["jax"]["time"]
    assert t["first_train_step_s"] > t["train_step_s"]
