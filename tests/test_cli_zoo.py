"""``kerasnets models`` and ``kerasnets summary``, run in-process through ``cli.main``."""

import json

import keras

from kerasnets import analysis, cli, models

MLP_ARGS = ["summary", "mlp", "--input-shape", "8,8,1", "--classes", "3"]


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_models_lists_the_zoo_as_text_and_json(capsys):
    status, out, err = run(capsys, "models")
    assert status == 0 and not err
    for name in models.available():
        assert name in out
    status, out, _ = run(capsys, "models", "--json")
    entries = json.loads(out)
    assert [e["name"] for e in entries] == models.available()
    by_name = {e["name"]: e for e in entries}
    assert by_name["resnet50"]["family"] == "resnet"
    assert all(e["description"] and e["family"] for e in entries)
    assert by_name["resnet50"]["description"] == models.describe("resnet50")


def test_summary_json_matches_the_library(capsys):
    status, out, err = run(capsys, *MLP_ARGS, "--json")
    assert status == 0, err
    data = json.loads(out)
    model = models.build("mlp", input_shape=(8, 8, 1), num_classes=3)
    expected = analysis.profile(model)
    assert data["params"] == model.count_params() == expected.params
    assert data["trainable_params"] == expected.trainable_params
    assert data["macs"] == expected.macs > 0
    assert data["input_shape"] == [8, 8, 1]
    assert [row["name"] for row in data["layers"]] == [row["name"] for row in expected.layers]
    assert data["layers"][-1]["output_shape"] == [1, 3]
    assert data["uncounted"] == []


def test_summary_table_with_latency(capsys):
    argv = [*MLP_ARGS, "--batch-size", "4", "--latency", "--latency-batch", "2", "--repeats", "1"]
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    assert "Params:" in out and "MACs per example" in out and "at batch 4" in out
    assert "Latency at batch 1" in out and "Latency at batch 2" in out
    status, out, _ = run(capsys, *MLP_ARGS, "--json", "--latency", "--repeats", "1")
    timings = json.loads(out)["latency"]
    assert [t["batch_size"] for t in timings] == [1, 32]
    assert all(t["median_ms"] > 0 for t in timings)


def test_summary_of_a_keras_file(capsys, tmp_path):
    from kerasnets.io import save_model

    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(2, kernel_initializer="zeros")], name="tiny"
    )
    path = save_model(model, tmp_path / "tiny.keras")
    status, out, err = run(capsys, "summary", str(path), "--json")
    assert status == 0, err
    data = json.loads(out)
    assert data["params"] == 12 and data["macs"] == 10
    status, _, err = run(capsys, "summary", str(tmp_path / "missing.keras"))
    assert status == 2 and "missing.keras" in err


BAD_INPUT = [
    (["summary", "resnet19"], "available: "),
    (["summary", "mlp", "--input-shape", "32,x,3"], "'32,x,3'"),
    (["summary", "mlp", "--input-shape", "32,0,3"], "'32,0,3'"),
    (["summary", "mlp", "--input-shape", ""], "--input-shape"),
    (["summary", "mlp", "--classes", "0"], "--classes must be a positive integer, got '0'"),
    (["summary", "mlp", "--classes", "-3"], "'-3'"),
    (["summary", "mlp", "--classes", "ten"], "'ten'"),
    (["summary", "mlp", "--batch-size", "0"], "--batch-size"),
    (["summary", "mlp", "--latency-batch", "x"], "--latency-batch"),
]


def test_bad_input_is_one_line_and_exit_2(capsys):
    for argv, message in BAD_INPUT:
        status, out, err = run(capsys, *argv)
        assert status == 2, argv
        assert out == "", argv
        assert message in err, (argv, err)
        assert len(err.strip().splitlines()) == 1, err
    _, _, err = run(capsys, "summary", "resnet19")
    assert all(name in err for name in models.available())
