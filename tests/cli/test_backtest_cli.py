"""``python -m pricecast backtest`` prints one JSON object and progress on stderr."""
from __future__ import annotations

import json

import pytest

from pricecast.cli.main import main


@pytest.mark.slow  # trains a Keras model
def test_backtest_cli_json(capsys):
    code = main(["backtest", "--data", "sample:AAPL", "--preset", "default", "--n", "10", "--k", "2", "--folds", "2",
                 "--fold-size", "30", "--retrain-every", "0", "--window", "rolling", "--train-size", "400",
                 "--epochs", "1", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert len(data["folds"]) == 2 and data["models_trained"] == 1
    fold = data["folds"][0]
    assert {"rmse", "persistence_rmse", "skill", "mase", "metrics", "coverage"} <= set(fold)
    assert set(fold["metrics"]) == {"model", "persistence", "drift", "moving_average"}
    assert data["intervals"]["conformal"]["80"]["text"].startswith("80%")
    assert len(data["by_horizon"]["model_rmse"]) == 2
    assert {f["code"] for f in data["findings"]} >= {"scaler", "windows"}
    assert "fold 2/2" in err


def test_backtest_cli_bad_setting_exits_2(capsys):
    code = main(["backtest", "--folds", "100", "--fold-size", "120"])
    assert code == 2 and "fewer or shorter folds" in capsys.readouterr().err
