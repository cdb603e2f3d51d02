"""MLflow and TensorBoard tracking, against a real local MLflow store (an SQLite file), not a mock."""
from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from pricecast.cli.main import main
from pricecast.tracking import ENV_URI, MlflowTracker, default_uri, final_scores, tracking_uri


def test_tracking_is_off_by_default_and_turned_on_by_the_flag_or_the_variable(monkeypatch, pricecast_home):
    monkeypatch.delenv(ENV_URI, raising=False)
    assert tracking_uri() is None
    assert tracking_uri("") == default_uri() == f"sqlite:///{pricecast_home / 'mlflow.db'}"
    assert tracking_uri("http://mlflow:5000") == "http://mlflow:5000"
    monkeypatch.setenv(ENV_URI, "sqlite:////x/m.db")
    assert tracking_uri() == "sqlite:////x/m.db" and tracking_uri("") == "sqlite:////x/m.db"
    monkeypatch.setenv(ENV_URI, "1")
    assert tracking_uri() == default_uri()
    monkeypatch.setenv(ENV_URI, "off")
    assert tracking_uri() is None


def test_final_scores_keep_the_baselines_beside_the_model():
    part = {"model": {"rmse": 1.0, "mae": 0.5, "mape": 2.0, "direction": 0.5},
            "persistence": {"rmse": 1.2, "mae": 0.6, "mape": 2.5, "direction": float("nan")},
            "drift": {"rmse": 1.3}, "skill": 1 - 1 / 1.2}
    scores = final_scores({"test": part, "best_epoch": 3, "ended_as_persistence": False, "params": 10})
    assert scores["test_rmse"] == 1.0 and scores["test_persistence_rmse"] == 1.2 and scores["test_drift_rmse"] == 1.3
    assert "test_persistence_direction" not in scores  # NaN left out
    assert scores["best_epoch"] == 3 and scores["ended_as_persistence"] == 0.0 and scores["model_params"] == 10


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_train_logs_to_a_local_mlflow_store_and_tensorboard(tmp_path, monkeypatch, capsys):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv(ENV_URI, uri)
    assert main(["train", "--data", "sample:AAPL", "--n", "10", "--k", "2", "--epochs", "2", "--units", "4",
                 "--no-persistence-floor", "--tensorboard", "--mlflow-wait", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    run_dir = Path(out["run_dir"])

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("pricecast")
    assert experiment.artifact_location == (tmp_path / "mlartifacts").resolve().as_uri()  # beside the database
    (logged,) = client.search_runs([experiment.experiment_id])
    data = logged.data
    assert data.params["units"] == "4" and data.params["n"] == "10" and data.params["data"] == "sample:AAPL"
    assert data.tags["pricecast.run_dir"] == str(run_dir) and logged.info.status == "FINISHED"
    assert data.metrics["test_rmse"] == pytest.approx(out["test"]["rmse"])
    assert data.metrics["test_persistence_rmse"] == pytest.approx(out["test"]["persistence_rmse"])
    assert {"test_drift_rmse", "test_moving_average_rmse", "val_skill", "best_epoch"} <= set(data.metrics)
    assert [m.step for m in client.get_metric_history(logged.info.run_id, "val_loss")] == [1, 2]
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id, "run")}
    assert {"run/model.keras", "run/metrics.json", "run/tensorboard"} <= artifacts

    # TensorBoard: Keras's layout (train/, validation/, epoch_loss) inside the run folder
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for name in ("train", "validation"):
        events = EventAccumulator(str(run_dir / "tensorboard" / name))
        events.Reload()
        assert [e.step for e in events.Tensors("epoch_loss")] == [1, 2]


@pytest.mark.slow
def test_a_tracking_server_that_is_down_is_a_warning_never_a_lost_run(tmp_path, capsys):
    uri = f"http://127.0.0.1:{_closed_port()}"
    assert main(["train", "--data", "sample:AAPL", "--n", "10", "--k", "2", "--epochs", "1", "--units", "4",
                 "--mlflow", uri, "--mlflow-wait", "--runs-dir", str(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    run_dir = Path(json.loads(captured.out)["run_dir"])
    assert (run_dir / "model.keras").exists()
    assert f"warning: MLflow at {uri} cannot be reached" in captured.err and "not logged" in captured.err


def test_a_store_that_refuses_is_a_warning(tmp_path):
    class _Run:  # log_run reads only these before it fails
        run_dir = tmp_path
        spec = None

    warnings: list[str] = []
    # a database path inside a file cannot be created: MLflow raises, the tracker warns
    (tmp_path / "file").write_text("x")
    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'file' / 'mlflow.db'}", warn=warnings.append)
    assert tracker.log_run(_Run()) is None
    assert len(warnings) == 1 and "could not log to MLflow" in warnings[0] and str(tmp_path) in warnings[0]


def test_mlflow_flag_without_mlflow_stops_before_training(monkeypatch, capsys):
    import pricecast.cli.tracking as cli_tracking

    monkeypatch.setattr(cli_tracking, "mlflow_installed", lambda: False)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    assert main(["train", "--data", "sample:AAPL", "--epochs", "1", "--mlflow"]) == 2
    assert "needs the optional 'mlflow' package" in capsys.readouterr().err


@pytest.mark.slow
def test_backtest_logs_pooled_and_per_fold_scores(tmp_path, capsys):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["backtest", "--data", "sample:AAPL", "--n", "10", "--k", "2", "--folds", "2", "--fold-size", "60",
                 "--epochs", "1", "--units", "4", "--retrain-every", "0", "--no-cache", "--mlflow", uri, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    client = mlflow.MlflowClient(uri)
    (logged,) = client.search_runs([client.get_experiment_by_name("pricecast").experiment_id])
    assert logged.data.tags["pricecast.kind"] == "backtest" and logged.data.params["units"] == "4"
    assert logged.data.metrics["test_rmse"] == pytest.approx(out["overall"]["model"]["rmse"])
    assert logged.data.metrics["test_persistence_rmse"] == pytest.approx(out["overall"]["persistence"]["rmse"])
    assert [m.step for m in client.get_metric_history(logged.info.run_id, "fold_rmse")] == [1, 2]


@pytest.mark.slow
def test_by_default_a_background_process_logs_the_saved_run(tmp_path, capsys):
    import time

    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["train", "--data", "sample:AAPL", "--n", "10", "--k", "2", "--epochs", "1", "--units", "4",
                 "--mlflow", uri, "--json"]) == 0
    run_dir = json.loads(capsys.readouterr().out)["run_dir"]
    # the command has returned; the background process logs the run (a bound on the wait, not a timing check)
    runs: list = []
    for _ in range(300):
        # opening the store while the other process still creates its tables would race it: wait for the artifacts
        if list((tmp_path / "mlartifacts").glob("*/artifacts/run/spec.json")):
            client = mlflow.MlflowClient(uri)
            experiment = client.get_experiment_by_name("pricecast")
            runs = [r for r in client.search_runs([experiment.experiment_id]) if r.info.status == "FINISHED"] \
                if experiment else []
            if runs:
                break
        time.sleep(1)
    assert [r.data.tags["pricecast.run_dir"] for r in runs] == [run_dir]


@pytest.mark.slow
def test_experiment_trials_are_logged_once(tmp_path, capsys):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["experiment", "run", "--vary", "units=4,6", "--repeats", "1", "--epochs", "1", "--n", "10", "--k", "2",
            "--data", "sample:AAPL", "--name", "tiny", "--root", str(tmp_path / "exp"), "--workers", "1",
            "--mlflow", uri, "--json"]
    assert main(args) == 0
    assert main(args) == 0  # a rerun finds every trial done: nothing new to log
    capsys.readouterr()
    client = mlflow.MlflowClient(uri)
    logged = client.search_runs([client.get_experiment_by_name("pricecast").experiment_id])
    assert sorted(r.data.params["units"] for r in logged) == ["4", "6"]
    assert {(r.data.tags["pricecast.kind"], r.data.tags["experiment"]) for r in logged} == {("experiment-trial", "tiny")}
