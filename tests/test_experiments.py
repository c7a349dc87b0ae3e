"""The hands-on experiments end to end in fast mode, resume after a kill, and bad input."""

import json
import re

import numpy as np
import pytest

from kerasnets.cli import main
from kerasnets.experiments import ResumeMismatchError, available, run_experiment

FAST = dict(fast=True, verbose=0)


class _Killed(Exception):
    pass


def _assert_complete(run_dir, seeds, variants):
    """Every file is whole: no temporaries, every JSON parses, the report's figures exist."""
    assert not [p for p in run_dir.rglob(".*")], "a temporary file was left behind"
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["seeds"] == list(range(seeds)) and config["variants"] == variants
    for seed in range(seeds):
        per_seed = json.loads((run_dir / f"seed-{seed}" / "results.json").read_text())
        assert sorted(per_seed["variants"]) == sorted(variants)
    report = (run_dir / "report.md").read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert figures and all((run_dir / f).stat().st_size > 1000 for f in figures)
    return report


def test_registry():
    assert available() == ["activations", "resnet-vs-plain", "efficient"]


def test_activations_resume_after_kill_equals_uninterrupted_run(tmp_path):
    variants = ["relu"]
    opts = dict(seeds=2, epochs=2, variants=variants, **FAST)
    out = tmp_path / "killed"

    def kill_after_first_seed(seed, variant, result):
        if seed == 0 and variant == variants[-1]:
            raise _Killed

    with pytest.raises(_Killed):
        run_experiment("activations", out=out, on_unit_done=kill_after_first_seed, **opts)
    assert sorted(p.name for p in (out / "seed-0").iterdir()) == ["relu.json"]
    assert not (out / "seed-1").exists() and not (out / "report.md").exists()

    with pytest.raises(ResumeMismatchError, match="seeds"):
        run_experiment("activations", out=out, resume=True, **dict(opts, seeds=3))

    resumed = run_experiment("activations", out=out, resume=True, **opts)
    assert (resumed["computed_units"], resumed["resumed_units"]) == (1, 1)
    _assert_complete(out, 2, variants)

    full = run_experiment("activations", out=tmp_path / "full", **opts)
    report = _assert_complete(tmp_path / "full", 2, variants)
    assert "Recommendations" in report and "lecture's guide" in report
    for seed in range(2):
        a = json.loads((out / f"seed-{seed}" / "results.json").read_text())["variants"]
        b = json.loads((tmp_path / "full" / f"seed-{seed}" / "results.json").read_text())
        for v in variants:
            np.testing.assert_allclose(
                a[v]["history"]["loss"], b["variants"][v]["history"]["loss"], rtol=1e-4
            )
    relu = full["summary"]["relu"]
    assert relu["test_accuracy"]["n"] == 2 and len(relu["grad_init"]["mean"]) == 11


def test_resnet_vs_plain_fast(tmp_path):
    # One variant keeps this cheap on every backend; tutorial 03 runs the plain/residual pair.
    run = run_experiment(
        "resnet-vs-plain", seeds=1, variants=["resnet-18"], out=tmp_path / "r", **FAST
    )
    report = _assert_complete(tmp_path / "r", 1, ["resnet-18"])
    assert "gradient_flow.png" in report and "Why skip connections help" in report
    res = run["summary"]["resnet-18"]
    # the table's train loss is the curves' last value (training mode), said so in the header
    assert res["final_train_loss"]["mean"] == res["history"]["loss"]["mean"][-1]
    assert "train loss, last epoch (training mode, as in the curves)" in report
    assert "train loss, inference mode" in report
    layers = json.loads((tmp_path / "r" / "seed-0" / "resnet-18.json").read_text())["layers"]
    assert len(layers) == len(res["grad_init"]["mean"]) == 21  # 17 convs, 3 projections, dense
    assert any("proj" in name for name in layers)
    assert 0.0 <= res["test_accuracy"]["mean"] <= 1.0


def test_efficient_fast_with_tflite_int8(tmp_path):
    run = run_experiment("efficient", seeds=1, variants=["efficient"], out=tmp_path / "e", **FAST)
    report = _assert_complete(tmp_path / "e", 1, ["efficient"])
    assert "accuracy_efficiency.png" in report and "## Ablation" in report
    forms = run["summary"]["efficient"]["forms"]
    assert forms["int8"]["bytes"]["mean"] < forms["float32"]["bytes"]["mean"] / 2
    assert 0.0 <= forms["int8"]["accuracy"]["mean"] <= 1.0
    assert forms["float32"]["top1_agreement"]["mean"] == 1.0  # float32 LiteRT = Keras
    models_dir = tmp_path / "e" / "models" / "seed-0"
    for name in ("efficient.keras", "efficient-float32.tflite", "efficient-int8.tflite"):
        assert (models_dir / name).is_file()
    final = json.loads((tmp_path / "e" / "final.json").read_text())
    assert set(final["latency_ms"]["efficient"]) == {"keras", "float32", "int8"}
    assert all(v > 0 for v in final["latency_ms"]["efficient"].values())


def _efficient_inputs(efficient_accuracy, keras_ms):
    agg = _agg
    seed0, summary = {}, {}
    for v, params, macs, acc in (
        ("baseline", 400_000, 10_000_000, 0.99),
        ("efficient", 60_000, 2_000_000, efficient_accuracy),
    ):
        seed0[v] = {"params": params, "macs": macs}
        forms = {f: {"accuracy": agg(acc), "bytes": agg(1000.0)} for f in ("keras", "float32")}
        forms["int8"] = {"accuracy": agg(acc - 0.001), "bytes": agg(300.0)}
        summary[v] = {"forms": forms}
    latency = {
        "baseline": {"keras": 1.0, "float32": 0.10, "int8": 0.05},
        "efficient": {"keras": keras_ms, "float32": 0.04, "int8": 0.03},
    }
    return ["baseline", "efficient"], summary, seed0, latency


def test_efficient_text_follows_the_measurements():
    from kerasnets.experiments.efficient import ablation_table, checks, recommendation

    config = {"seeds": [0]}
    good = _efficient_inputs(0.98, keras_ms=1.5)
    text = checks(*good)
    assert "met: efficient has 0.150× the baseline's parameters" in text
    assert "met: efficient's float accuracy is -1.0 points" in text
    assert "met: efficient int8 in LiteRT takes 0.030 ms vs the baseline's 0.050 ms" in text
    assert "*slower* than the baseline in Keras (1.50 vs 1.00 ms" in text
    assert "not met" not in text
    rec = recommendation(*good, config)
    assert "Deploy **efficient as int8 `.tflite`**" in rec
    assert "in its faster file format (0.030 vs 0.040 ms)" in rec
    assert "take its float32 file instead: 1,000 bytes (3.33× the int8 file's)" in rec
    slow_int8 = _efficient_inputs(0.98, keras_ms=1.5)
    slow_int8[3]["efficient"]["int8"] = 0.05  # int8 slower than float32: float32 is chosen
    rec = recommendation(*slow_int8, config)
    assert "Deploy **efficient as float32 `.tflite`**" in rec
    assert "take its int8 file instead: 300 bytes (0.30× the float32 file's)" in rec
    table = ablation_table(*good)
    assert "| efficient int8 | + int8 (post-training) | 60,000 (0.15×)" in table

    bad = _efficient_inputs(0.90, keras_ms=0.5)
    text = checks(*bad)
    assert "**not met**: efficient's float accuracy is -9.0 points" in text
    assert "takes 0.50× the baseline's" in text and "slower" not in text
    assert "Deploy **baseline as int8" in recommendation(*bad, config)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="nope"), "unknown experiment 'nope'; available: activations"),
        (dict(dataset="imagenet"), "unknown dataset 'imagenet'"),
        (dict(seeds=0), "seeds must be a positive integer"),
        (dict(epochs=0), "epochs must be a positive integer"),
        (dict(variants=["relu", "softsign"]), "unknown variant(s) 'softsign'"),
        (dict(resume=True, out=None), "resume needs the run directory"),
    ],
)
def test_bad_input_fails_before_any_work(tmp_path, monkeypatch, kwargs, message):
    monkeypatch.chdir(tmp_path)
    kwargs = {"name": "activations", "out": tmp_path / "run", **kwargs}
    with pytest.raises(ValueError) as err:
        run_experiment(verbose=0, fast=True, **kwargs)
    assert message in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_cli_exit_codes(tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        main(
            [
                "run",
                "activations",
                "--fast",
                "--seeds",
                "1",
                "--variants",
                "sigmoid,relu",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["run_dir"] == str(out) and printed["summary"]["relu"]["test_accuracy"]["n"] == 1
    # the sigmoid stack's gradient vanishes towards the input; ReLU's does not
    ratio = {v: printed["summary"][v]["grad_ratio_init"]["mean"] for v in ("sigmoid", "relu")}
    assert ratio["sigmoid"] < 1e-3 < ratio["relu"], ratio
    bad = [
        ["run", "nope"],
        ["run", "activations", "--dataset", "imagenet"],
        ["run", "activations", "--seeds", "0"],
        ["run", "activations", "--epochs", "0"],
        ["run", "activations", "--fast", "--out", str(out)],  # exists, no --resume
        [
            "run",
            "activations",
            "--fast",
            "--seeds",
            "2",
            "--variants",
            "relu",
            "--out",
            str(out),
            "--resume",
        ],  # different config
        ["run", "activations", "--resume", "--out", str(tmp_path / "missing")],
    ]
    errors = []
    for argv in bad:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("kerasnets run: error:") and len(err.strip().splitlines()) == 1
        errors.append(err)
    assert "already exists" in errors[4] and "--resume" in errors[4]
    assert "different configuration" in errors[5] and "seeds" in errors[5]
    assert "does not exist" in errors[6]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli"]


def _agg(mean, std=0.0, n=3):
    return {"mean": mean, "std": std, "n": n}


def _activation_summary(selu_accuracy, selu_std=0.01, selu_act_mean=0.02):
    """A summary as the activations experiment aggregates it: ReLU at 0.95, SELU as given."""
    summary = {}
    for v, acc, std in (
        ("sigmoid", 0.10, 0.0),
        ("relu", 0.95, 0.01),
        ("selu", selu_accuracy, selu_std),
    ):
        stats = {
            "mean": {"mean": [selu_act_mean if v == "selu" else 0.5] * 3, "std": [0.0] * 3},
            "std": {"mean": [1.0 if v == "selu" else 0.3] * 3, "std": [0.0] * 3},
        }
        summary[v] = {
            "test_accuracy": _agg(acc, std),
            "chance_accuracy": _agg(0.1),
            "learning_rate": _agg(0.01),
            "grad_ratio_init": _agg(1e-7 if v == "sigmoid" else 0.8),
            "epochs_to_target": _agg(None if acc < 0.9 else 5.0),
            "dead_end_total": _agg(0.2),
            "act_init": stats,
            "act_end": stats,
        }
    return summary


def test_activations_text_says_when_selu_failed():
    from kerasnets.experiments.activations import conclusions

    variants = ["sigmoid", "relu", "selu"]
    tuning = {"selu": {"learning_rate": 0.01, "lr_grid": [0.01, 0.1], "val_accuracy": [0.1, 0.1]}}
    failed = conclusions(variants, _activation_summary(0.1, 0.0, selu_act_mean=2.3), tuning, 3)
    selu = next(line for line in failed.splitlines() if line.startswith("- SELU"))
    assert "failed to train" in selu and "0.850 below the best, relu" in selu
    assert "not near the zero mean and unit variance" in selu and "[2.30, 2.30]" in selu
    assert "it trains" not in failed and "selu (0.100)" in failed  # listed at chance

    worked = conclusions(variants, _activation_summary(0.94), tuning, 3)
    selu = next(line for line in worked.splitlines() if line.startswith("- SELU"))
    assert "within 0.010 of the best (relu): used as its paper says, it trains" in selu
    assert "near the zero mean" in selu and "not near" not in selu
    assert "failed" not in worked

    unstable = conclusions(variants, _activation_summary(0.7, 0.3), tuning, 3)
    assert "0.250 below the best (relu): it did not train as well here" in unstable
    assert "Unstable across seeds (std > 0.05): selu (± 0.300)" in unstable
    tied = conclusions(variants, _activation_summary(0.95), tuning, 3)
    assert "tied for the best with relu: used as its paper says" in tied
    best = conclusions(variants, _activation_summary(0.96), tuning, 3)
    assert ", the best here: used as its paper says, it trains" in best
    # sigmoid's vanishing gradient and the ReLU family's lead are stated with their numbers
    assert "1e-07× the last layer's (vanishing" in worked
    assert "ReLU family: test accuracy 0.950–0.950, 0.850 above sigmoid" in worked


def test_recommendations_name_the_fastest_and_those_within_half_an_epoch():
    from kerasnets.experiments.activations import recommendations

    summary = _activation_summary(0.94)
    summary["selu"]["epochs_to_target"] = _agg(4.6)
    rows = {
        line.split(" | ")[0].strip("| "): line
        for line in recommendations(["sigmoid", "relu", "selu"], summary).splitlines()[2:]
    }
    assert "within half an epoch of the fastest" not in rows["selu"]
    assert "fastest to the target" in rows["selu"]
    assert "within half an epoch of the fastest to the target" in rows["relu"]  # 5.0 vs 4.6
    assert "never reached the target" in rows["sigmoid"]


def test_resnet_findings_follow_the_measurements():
    from kerasnets.experiments.resnet_vs_plain import findings

    def unit(loss, grads):
        return {
            "final_train_loss": _agg(loss),
            "test_accuracy": _agg(0.9),
            "grad_ratio_init": _agg(grads[0] / grads[-1]),
            "grad_ratio_end": _agg(1.0),
            "grad_init": {"mean": grads, "std": [0.0] * len(grads)},
        }

    summary = {
        "plain-18": unit(0.05, [1.0, 0.1, 0.01]),
        "plain-34": unit(0.50, [10.0, 0.1, 0.001]),
        "resnet-34": unit(0.01, [0.1, 0.05, 0.01]),
    }
    text = findings(list(summary), summary)
    assert "0.5 vs 0.05 for the shallower one — degradation shows" in text
    assert "training loss (last epoch, training mode) 0.01 with skips vs 0.5 without" in text
    assert "the ResNet trains further" in text
    assert "plain-34: at initialization the gradient grows towards the input" in text
    assert "spans 1.0 decades vs 4.0 for the plain network — flatter with skips" in text
    summary["plain-34"] = unit(0.04, [0.1, 0.05, 0.01])
    summary["resnet-34"] = unit(0.04, [10.0, 0.1, 0.001])
    text = findings(list(summary), summary)
    assert "no degradation in this run" in text and "not flatter with skips" in text


def test_project3_cnn_options(tmp_path):
    """The ablation's models: separable baseline, efficient CNN strides and head; bad options."""
    from kerasnets import analysis, io, models

    shape = dict(input_shape=(16, 16, 1), num_classes=10, stem="cifar")
    base = models.build("baseline_cnn", width=32, **shape)
    sep = models.build("baseline_cnn", width=32, conv="separable", **shape)
    eff = models.build("efficient_cnn", width=12, strides=[1, 2, 2], **shape)
    flat = models.build("efficient_cnn", width=8, strides=(1, 2, 2), head="flatten", **shape)
    assert any(layer.name == "stage1_sep2_dw_conv" for layer in sep.layers)
    assert sep.count_params() < base.count_params() / 2
    # the project's targets: at most 1/4 of the baseline's parameters and MACs, under 100K
    assert eff.count_params() <= base.count_params() / 4 and eff.count_params() < 100_000
    assert analysis.count_macs(eff) <= analysis.count_macs(base) / 4
    assert flat.get_layer("head_flatten").output.shape[-1] == 16 * 4 * 4  # head_channels 16
    io.save_model(eff, tmp_path / "eff.keras")
    again = io.load_model(tmp_path / "eff.keras")
    assert again.get_config()["strides"] == [1, 2, 2]
    x = np.random.default_rng(0).random((2, 16, 16, 1), dtype="float32")
    np.testing.assert_allclose(again.predict(x, verbose=0), eff.predict(x, verbose=0), atol=1e-5)
    for name, options, message in (
        ("baseline_cnn", {"conv": "dilated"}, "unknown conv 'dilated'; choose from standard"),
        ("efficient_cnn", {"strides": (1, 3, 2)}, "strides must be three of 1 or 2"),
        ("efficient_cnn", {"head": "max"}, "unknown head 'max'; choose from gap, flatten"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            models.build(name, **options)
