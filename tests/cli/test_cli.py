import json
import subprocess
import sys

import pytest

from pricecast.cli.main import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pricecast", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_train_json_reports_model_and_baselines(tmp_path):
    proc = run_cli("train", "--data", "sample:MSFT", "--n", "10", "--k", "2", "--epochs", "1", "--units", "8",
                   "--runs-dir", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"run_dir", "device", "epochs_run", "test"} <= set(out)
    assert out["epochs_run"] == 1
    test = out["test"]
    assert test["rmse"] > 0 and test["persistence_rmse"] > 0
    assert test["skill"] == pytest.approx(1 - test["rmse"] / test["persistence_rmse"])
    # the decision's numbers beside the network's own, for validation and test
    assert set(out["decision"]) == {"choice", "baseline", "p_value", "p_needed", "note"}
    for part in (out["val"], test):
        assert part["decision"] == out["decision"]["choice"] in ("network", "persistence")
        assert part["decision_p"] == out["decision"]["p_value"]
        assert {"rmse", "mae", "mape", "direction", "skill"} <= set(part["network"])
    assert "epoch 1/1" in proc.stderr  # progress goes to stderr, stdout stays pure JSON

    listing = run_cli("runs", "--runs-dir", str(tmp_path), "--json")
    assert json.loads(listing.stdout)["runs"][0]["run_dir"] == out["run_dir"]
    pred = run_cli("predict", out["run_dir"], "--data", "sample:IBM", "--json")
    assert pred.returncode == 0, pred.stderr
    assert len(json.loads(pred.stdout)["forecast"]) == 2


def test_speed_options_reach_the_train_spec():
    from pricecast.cli.common import spec_from_args
    from pricecast.cli.main import build_parser

    args = build_parser().parse_args(["train", "--batch-size", "256", "--base-batch-size", "64", "--jit-compile",
                                      "--mixed-precision", "--pipeline", "prefetch"])
    tr = spec_from_args(args).train
    assert (tr.batch_size, tr.base_batch_size, tr.jit_compile, tr.mixed_precision, tr.pipeline) == (
        256, 64, True, True, "prefetch")
    assert spec_from_args(build_parser().parse_args(["train"])).train.jit_compile is None


def test_bad_input_is_one_line_and_exit_2(capsys):
    assert main(["train", "--data", "sample:NOPE"]) == 2
    assert "unknown bundled series 'NOPE'" in capsys.readouterr().err
    assert main(["train", "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert main(["train", "--n", "100000"]) == 2
    assert "longer than the training part" in capsys.readouterr().err
    assert main(["train", "--data", "/no/such/file.csv"]) == 2
    assert "not found" in capsys.readouterr().err


def test_data_and_presets_listings(capsys):
    assert main(["data", "list", "--json"]) == 0
    assert [s["ref"] for s in json.loads(capsys.readouterr().out)["samples"]][0] == "sample:AAPL"
    assert main(["data", "show", "sample:GOOG", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 2148
    assert main(["presets", "--json"]) == 0
    names = [p["name"] for p in json.loads(capsys.readouterr().out)["presets"]]
    assert {"default", "seed-cnn-2-relu", "seed-lstm", "seed-gru", "tsla-lstm", "lecture-lstm", "bithumb-eth-lstm"} <= set(names)


def test_train_refuses_too_few_examples_and_prints_the_counts(capsys):
    # Seed presets (5-minute tutorial setups) on daily data get 4 validation windows: exit 2, before TensorFlow.
    assert main(["train", "--preset", "seed-lstm", "--data", "sample:AAPL"]) == 2
    err = capsys.readouterr().err
    assert "Examples: training 147, validation 4, test 4" in err and "sliding windows" in err


@pytest.mark.slow  # trains a Keras model
def test_train_prints_how_many_examples_each_part_gets(tmp_path):
    proc = run_cli("train", "--data", "sample:IBM", "--n", "10", "--k", "2", "--epochs", "1", "--units", "4",
                   "--runs-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "Examples: training 2,2" in proc.stderr  # IBM daily 2000-2013, 70%: ~2,280 windows
    assert "custom-from-default" in proc.stdout  # edited away from the preset: the run folder says so


def test_an_edited_preset_is_custom_on_the_command_line():
    from pricecast.cli.common import spec_from_args
    from pricecast.cli.main import build_parser

    assert spec_from_args(build_parser().parse_args(["train"])).preset == "default"
    assert spec_from_args(build_parser().parse_args(["train", "--data", "sample:IBM"])).preset == "default"
    assert spec_from_args(build_parser().parse_args(["train", "--units", "64"])).preset == "custom (from default)"
