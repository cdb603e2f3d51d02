"""``pricecast tune``: the search space read from the catalogue, pruning through the Stop event, a
study in SQLite under PRICECAST_HOME that resumes, and the JSON scripts rely on."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from pricecast.cli.main import main
from pricecast.optional import MissingPackageError
from pricecast.presets import get_preset
from pricecast.specs import RunSpec
from pricecast.tuning import TuneSpec, TuningError, best_setup, parse_ranges, search_space, val_ratio

BASE = get_preset("default").spec


def test_default_ranges_come_from_the_catalogue():
    space = {d.name: d for d in search_space(["units", "dropout", "learning_rate", "arch", "batch_norm"], BASE)}
    units = space["units"]
    base_units = BASE.model.units[0]
    assert (units.kind, units.low, units.high, units.log) == ("int", base_units / 8, base_units * 8, True)
    assert units.layers == len(BASE.model.units)
    assert (space["dropout"].low, space["dropout"].high, space["dropout"].log) == (0.0, 0.9, False)  # a share: limits
    lr = space["learning_rate"]
    assert lr.log and lr.low == pytest.approx(BASE.model.learning_rate / 8) and lr.high == pytest.approx(
        BASE.model.learning_rate * 8)
    assert "lstm" in space["arch"].choices and space["batch_norm"].choices == (False, True)


def test_ranges_narrow_and_are_checked():
    space = search_space(["units", "arch", "l2"], BASE, parse_ranges(["units=8:64", "arch=gru|lstm", "l2=1e-6:1e-2"]))
    assert [(d.low, d.high) for d in space if d.kind != "choice"] == [(8, 64), (1e-6, 1e-2)]
    assert space[1].choices == ("gru", "lstm") and space[2].log
    with pytest.raises(TuningError, match="cannot be searched: it is the trial budget"):
        search_space(["epochs"], BASE)
    with pytest.raises(TuningError, match="LOW must be below HIGH"):
        search_space(["units"], BASE, {"units": "64:8"})
    with pytest.raises(TuningError, match="which --fields does not search"):
        search_space(["units"], BASE, {"dropout": "0:0.5"})
    with pytest.raises(TuningError, match="dropout=0:2: must be 0 or more and below 1"):
        search_space(["dropout"], BASE, {"dropout": "0:2"})
    with pytest.raises(Exception, match="not a setting"):
        search_space(["nope"], BASE)
    spec = TuneSpec(base=BASE, space=tuple(space))
    assert best_setup(spec, {"units": 16, "arch": "lstm"}).model.units == (16,) * len(BASE.model.units)


def test_pruning_is_off_where_the_loss_changes_meaning():
    spec = TuneSpec(base=BASE, space=tuple(search_space(["units", "loss"], BASE)))
    on, why = spec.pruning()
    assert not on and "loss" in why
    assert TuneSpec(base=BASE, space=tuple(search_space(["units"], BASE))).pruning()[0]
    # the default study name is a function of the setup and the space, so the same command resumes
    assert spec.study_name() == TuneSpec(base=BASE, space=spec.space).study_name()
    assert spec.study_name() != TuneSpec(base=BASE, space=spec.space, data_range=("2010-01-01", None)).study_name()


def test_the_objective_is_validation_rmse_over_persistence():
    metrics = {"val": {"rmse": 0.9, "persistence_rmse": 1.0}, "test": {"rmse": 100.0, "persistence_rmse": 1.0}}
    assert val_ratio(metrics) == pytest.approx(0.9)
    assert math.isnan(val_ratio({"val": {"rmse": 1.0, "persistence_rmse": 0.0}}))


def test_missing_optuna_is_a_plain_message(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    assert main(["tune", "--data", "sample:AAPL", "--trials", "1", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "needs the optional 'optuna' package" in err and "requirements-ml.txt" in err
    with pytest.raises(MissingPackageError):
        from pricecast.optional import import_optional

        import_optional("optuna", "x")


class _PruneNow:
    """A stand-in for an Optuna trial whose pruner prunes at the first report."""

    number = 0
    params: dict = {}

    def __init__(self) -> None:
        self.reports: list[tuple[float, int]] = []
        self.attrs: dict = {}

    def suggest_int(self, name, low, high, log=False):
        return low

    def report(self, value, step):
        self.reports.append((value, step))

    def should_prune(self):
        return True

    def set_user_attr(self, key, value):
        self.attrs[key] = value


@pytest.mark.slow
def test_a_pruned_trial_stops_training_and_leaves_no_run(tmp_path):
    import optuna

    from pricecast.data.datasets import load_data
    from pricecast.tuning import _objective

    base = BASE.replace(data="sample:AAPL")
    base = base.replace(train=base.train.__class__(**{**base.train.to_dict(), "epochs": 3}))
    spec = TuneSpec(base=base, space=tuple(search_space(["units"], base, {"units": "4:8"})))
    objective = _objective(spec, load_data("sample:AAPL").candles, tmp_path, None, None)
    trial = _PruneNow()
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):
        objective(trial)
    assert [step for _, step in trial.reports] == [1]  # stopped after the first epoch, not three
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".")]  # the pruned run was removed


@pytest.mark.slow
def test_tune_json_resumes_and_scores_the_best_once(capsys, pricecast_home: Path):
    args = ["tune", "--data", "sample:AAPL", "--fields", "units,learning_rate", "--range", "units=4:8",
            "--n", "10", "--epochs", "1", "--json"]
    uri = f"sqlite:///{pricecast_home / 'mlflow.db'}"
    assert main([*args, "--trials", "2", "--mlflow", uri]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["trials"]["ran"] == 2 and out["trials"]["pruned"] + out["trials"]["complete"] == 2
    assert out["storage"] == f"sqlite:///{pricecast_home / 'tuning' / 'studies.db'}"
    best = out["best"]
    assert set(best["params"]) == {"units", "learning_rate"} and 4 <= best["params"]["units"] <= 8
    assert best["value"] > 0 and Path(best["run_dir"]).is_dir()
    metrics = json.loads((Path(best["run_dir"]) / "metrics.json").read_text())
    assert best["value"] == pytest.approx(metrics["val"]["rmse"] / metrics["val"]["persistence_rmse"])
    assert out["test"]["persistence_rmse"] == pytest.approx(metrics["test"]["persistence_rmse"])

    # every finished trial was logged to MLflow, tagged with the study
    import mlflow

    client = mlflow.MlflowClient(uri)
    logged = client.search_runs([client.get_experiment_by_name("pricecast").experiment_id])
    assert len(logged) == out["trials"]["complete"] and {r.data.tags["study"] for r in logged} == {out["study"]}

    # the same command with a larger budget resumes the study: one more trial, not three
    assert main([*args, "--trials", "3", "--plots", str(pricecast_home / "figures")]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["plots"][0] == str(pricecast_home / "figures" / "history.html")  # Optuna's own figures
    assert again["study"] == out["study"] and again["trials"]["ran"] == 3
    assert again["notes"] == ["resumed: 2 trial(s) were already finished"]


def test_an_unusable_setup_fails_before_any_trial(capsys):
    assert main(["tune", "--data", "sample:AAPL", "--fields", "epochs", "--trials", "1"]) == 2
    assert "epochs cannot be searched" in capsys.readouterr().err
    assert main(["tune", "--data", "sample:AAPL", "--range", "units=x:y", "--trials", "1"]) == 2
    assert "LOW and HIGH must be numbers" in capsys.readouterr().err


def test_runspec_default_is_searchable():
    assert search_space(["units"], RunSpec())


@pytest.mark.slow
def test_ray_workers_share_one_study(capsys, pricecast_home: Path):
    pytest.importorskip("ray")
    assert main(["tune", "--data", "sample:AAPL", "--fields", "units", "--range", "units=4:8", "--n", "10",
                 "--epochs", "1", "--trials", "3", "--executor", "ray", "--workers", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # two workers, one budget: the study holds the 3 trials asked for, in the home's SQLite storage
    assert out["trials"]["ran"] == 3 and out["storage"].endswith("/tuning/studies.db")
    assert Path(out["best"]["run_dir"]).parent == pricecast_home / "tuning" / out["study"] / "runs"
