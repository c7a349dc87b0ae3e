"""The lecture's claims table: verdicts computed from the measurements, the analytic rows on
every backend, the training rows once (slow), and ``kerasnets claims``."""

import dataclasses
import json
import math

import pytest

from kerasnets import claims
from kerasnets.cli import main

# What this toolkit measures for the analytic rows (the same on every backend).
EXPECTED = {
    "shallow_params": (795_010, "differs"),
    "deep_params": (99_710, "differs"),
    "sigmoid_max_derivative": (0.25, "reproduced"),
    "sigmoid_10_layers": (0.25**10, "reproduced"),
    "relu_derivative_positive": (1.0, "reproduced"),
    "relu_binary_gradient": (2, "reproduced"),
    "leaky_relu_alpha": (0.01, "reproduced"),
    "selu_lambda": (1.0507, "reproduced"),
    "selu_alpha": (1.6733, "reproduced"),
    "tanh_max_derivative": (1.0, "differs"),
    "residual_gradient_one": (1.0, "reproduced"),
    "densenet_growth": (12, "reproduced"),
    "bottleneck_vs_conv3x3": (1 - 4_456_448 / 37_748_736, "differs"),
    "bottleneck_vs_basic": (1 - 4_456_448 / 75_497_472, "differs"),
    "depthwise_ops": (37_748_736 / 4_341_760, "reproduced"),
    "conv_params_formula": (1.0, "reproduced"),
    "separable_params_formula": (1.0, "reproduced"),
    "inception_paths": (4, "reproduced"),
    "efficient_cnn_params": (412_362, "reproduced"),
}
# Built ImageNet-size models (seconds each): measured once, on TensorFlow.
HEAVY = {"resnet152_depth", "densenet_fewer_params"}


def test_the_table_has_at_least_25_claims_with_valid_fields():
    assert len(claims.CLAIMS) >= 25
    assert len(set(claims.ids())) == len(claims.CLAIMS)
    for c in claims.CLAIMS:
        assert c.kind in claims.KINDS and c.compare in claims.COMPARES
        assert c.scale in claims.SCALES and c.slide and c.claim and c.how
        claims._check_verdict_args(c.value, c.compare, c.tolerance, c.scale)


@pytest.mark.parametrize(
    "value, measured, compare, tolerance, scale, expected",
    [
        (1.0, 1.05, "approx", 0.1, "rel", "reproduced"),
        (1.0, 1.15, "approx", 0.1, "rel", "differs"),
        (0.7, 0.74, "approx", 0.05, "abs", "reproduced"),
        (0.7, 0.88, "approx", 0.05, "abs", "differs"),
        (1e-6, 5e-6, "approx", 1.0, "log10", "reproduced"),
        (1e-6, 5e-5, "approx", 1.0, "log10", "differs"),
        (1e6, 795_010, "at_least", 0.0, "rel", "differs"),
        (1e6, 1_000_001, "at_least", 0.0, "rel", "reproduced"),
        (0.01, 0.0194, "at_most", 0.0, "abs", "differs"),
        (0.0, -0.1, "below", 0.0, "abs", "reproduced"),
        (0.0, 0.0, "below", 0.0, "abs", "differs"),
        (0.0, 0.01, "above", 0.0, "abs", "reproduced"),
        ((8, 9), 8.69, "between", 0.0, "abs", "reproduced"),
        ((5, 10), 10.05, "between", 0.0, "abs", "differs"),
        (0.25, math.nan, "approx", 0.1, "rel", "differs"),
    ],
)
def test_verdict_is_computed_from_value_and_tolerance(
    value, measured, compare, tolerance, scale, expected
):
    assert claims.verdict(value, measured, compare, tolerance, scale)["verdict"] == expected


def test_verdict_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown compare 'near'"):
        claims.verdict(1.0, 1.0, compare="near")
    with pytest.raises(ValueError, match="unknown scale"):
        claims.verdict(1.0, 1.0, scale="pct")
    with pytest.raises(ValueError, match="value=\\(low, high\\)"):
        claims.verdict(5.0, 1.0, compare="between")
    with pytest.raises(ValueError, match="tolerance"):
        claims.verdict(1.0, 1.0, tolerance=-1)


def test_a_deliberately_wrong_slide_value_differs():
    right = claims.get("sigmoid_max_derivative")
    wrong = dataclasses.replace(right, value=0.5, slide_says="0.5")
    assert claims.evaluate(right)["verdict"] == "reproduced"
    row = claims.evaluate(wrong)
    assert row["verdict"] == "differs"
    assert row["measured"] == pytest.approx(0.25)
    assert row["difference"] == "-0.25"
    assert row["why"] == ""  # no reason was written for this claim; none is invented


def test_why_is_shown_only_when_the_verdict_differs():
    tanh = claims.get("tanh_max_derivative")
    assert "slide is wrong" in claims.evaluate(tanh)["why"]
    fixed = dataclasses.replace(tanh, value=1.0)
    row = claims.evaluate(fixed)
    assert row["verdict"] == "reproduced" and row["why"] == ""


def test_analytic_rows_on_this_backend():
    ids = [c.id for c in claims.CLAIMS if c.kind == "analytic" and c.id not in HEAVY]
    rows = {r["id"]: r for r in claims.measure(ids)}
    assert set(rows) == set(ids)
    for row in rows.values():
        assert math.isfinite(row["measured"]) and row["verdict"] in ("reproduced", "differs")
    for claim_id, (value, verdict) in EXPECTED.items():
        assert rows[claim_id]["measured"] == pytest.approx(value, rel=1e-3), claim_id
        assert rows[claim_id]["verdict"] == verdict, claim_id
    # Statistical rows at init: seeded, so their verdicts are stable.
    assert 0.4 <= rows["relu_sparsity_init"]["measured"] <= 0.6
    assert abs(rows["selu_mean"]["measured"]) < 0.1
    assert abs(rows["selu_variance"]["measured"] - 1) < 0.2
    assert rows["swish_nonmonotonic"]["measured"] < 0


@pytest.mark.slow
def test_heavy_analytic_rows():
    rows = {r["id"]: r for r in claims.measure(sorted(HEAVY))}
    assert rows["resnet152_depth"]["measured"] == 152
    assert rows["densenet_fewer_params"]["measured"] == pytest.approx(8_062_504 / 25_636_712)
    assert all(r["verdict"] == "reproduced" for r in rows.values())


@pytest.mark.slow
def test_training_rows(tmp_path):
    rows = claims.measure([c.id for c in claims.CLAIMS if c.kind == "training"])
    by_id = {r["id"]: r for r in rows}
    assert 3.0 < by_id["int8_size"]["measured"] < 4.0
    assert by_id["compression_ratio"]["measured"] > 5
    assert by_id["compression_accuracy_loss"]["measured"] < 0.05
    assert by_id["int8_speed"]["measured"] > 0
    for row in rows:
        assert row["verdict"] in ("reproduced", "differs") and row["detail"]


def test_unknown_claim_id_is_named():
    with pytest.raises(ValueError, match="unknown claim id 'sigmoid'; available: shallow_params"):
        claims.measure(["sigmoid"])


def test_cli_unknown_id_is_a_one_line_error_before_any_work(tmp_path, capsys):
    assert main(["claims", "--only", "nope", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown claim id 'nope'" in err[0]
    assert not (tmp_path / "r").exists()


def test_cli_writes_report_and_json(tmp_path, capsys):
    out = tmp_path / "report"
    ids = ["tanh_max_derivative", "sigmoid_max_derivative"]
    assert main(["claims", "--only", *ids, "--out", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in data["claims"]] == ids
    assert [r["verdict"] for r in data["claims"]] == ["differs", "reproduced"]
    saved = json.loads((out / "claims.json").read_text())
    assert saved["claims"] == data["claims"]
    report = (out / "report.md").read_text()
    assert "| tanh_max_derivative | slide 19 |" in report and "1 reproduced, 1 differ" in report
    # an existing directory is refused without --force, before measuring
    assert main(["claims", "--only", "gelu_formula", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_cli_table_and_list(capsys):
    assert main(["claims", "--only", "relu_binary_gradient"]) == 0
    out = capsys.readouterr().out
    assert "| relu_binary_gradient | slide 19 |" in out and "1 of 1 reproduced, 0 differ" in out
    assert main(["claims", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == claims.ids()
