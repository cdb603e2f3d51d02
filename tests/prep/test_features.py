"""Derived inputs (pricecast.prep.features): values, no look-ahead, and their way through specs,
windows, scaling, the look-ahead checks and a training."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pricecast.catalogue import FIELDS, SpecError, with_overrides
from pricecast.evaluation.leakage import check_prepared
from pricecast.models.spec import ModelSpec
from pricecast.prep import features
from pricecast.prep.features import DERIVED, Feature, FeatureError, collapse, expand
from pricecast.prep.windows import WindowError, WindowSpec, latest_window, make_windows
from pricecast.specs import RunSpec, TrainSpec
from pricecast.training.pipeline import prepare

from ..conftest import make_candles

ALL = tuple(DERIVED)


def _hand_frame() -> pd.DataFrame:
    index = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 06:00", "2024-01-01 12:00", "2024-01-03 18:00"],
                             tz="UTC", name="time")
    return pd.DataFrame({"open": [10.0, 10.0, 11.0, 12.1], "high": [10.5, 11.0, 12.0, 12.5],
                         "low": [9.5, 9.8, 10.8, 11.0], "close": [10.0, 11.0, 12.1, 12.1],
                         "volume": [0.0, 3.0, 1.0, 0.0]}, index=index)


def test_each_feature_against_hand_computed_values():
    c = _hand_frame()
    col = {name: features.column(c, name) for name in ALL}
    r1, r2 = math.log(11 / 10), math.log(12.1 / 11)
    np.testing.assert_allclose(col["log_return"], [0.0, r1, r2, 0.0])
    np.testing.assert_allclose(col["range"], [1.0 / 10, 1.2 / 11, 1.2 / 12.1, 1.5 / 12.1])
    np.testing.assert_allclose(col["volume_change"], [0.0, math.log(4), math.log(2) - math.log(4), -math.log(2)])
    # population std of the trailing returns: those there are at the start, then the last 5 / 20
    np.testing.assert_allclose(col["vol_5"], [0.0, np.std([0, r1]), np.std([0, r1, r2]), np.std([0, r1, r2, 0])])
    np.testing.assert_allclose(col["vol_20"], col["vol_5"])
    # 06:00 is a quarter of the day, 18:00 three quarters; 2024-01-01 is a Monday, 01-03 a Wednesday
    np.testing.assert_allclose(col["hour_sin"], [0.0, 1.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(col["hour_cos"], [1.0, 0.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(col["dow_sin"], [0.0, 0.0, 0.0, math.sin(2 * math.pi * 2 / 7)], atol=1e-12)
    np.testing.assert_allclose(col["dow_cos"], [1.0, 1.0, 1.0, math.cos(2 * math.pi * 2 / 7)], atol=1e-12)
    assert all(np.isfinite(v).all() for v in col.values())  # zero volume, first rows: all defined


def test_vol_uses_only_its_trailing_window():
    c = make_candles(60)
    returns = features.column(c, "log_return")
    assert features.column(c, "vol_20")[40] == pytest.approx(np.std(returns[21:41]), rel=1e-9)
    assert features.column(c, "vol_5")[40] == pytest.approx(np.std(returns[36:41]), rel=1e-9)


@pytest.mark.parametrize("name", ALL)
def test_computing_on_the_rows_up_to_t_gives_the_same_values_up_to_t(name):
    c = make_candles(200, freq="1h")
    whole = features.column(c, name)
    for t in (1, 2, 3, 7, 19, 20, 21, 100, 199):
        np.testing.assert_allclose(features.column(c.iloc[:t], name), whole[:t], rtol=1e-12, atol=1e-15,
                                   err_msg=f"{name} at t={t}")


def test_names_parse_through_the_catalogue_and_pairs_expand():
    spec = with_overrides(RunSpec(), {"features": FIELDS["features"].parse("close,log_return,range,vol_20,hour")})
    assert spec.window.features == ("close", "log_return", "range", "vol_20", "hour_sin", "hour_cos")
    assert WindowSpec.from_dict(spec.window.to_dict()) == spec.window  # run folders, links, YAML
    assert expand(("weekday",)) == ("dow_sin", "dow_cos") and collapse(spec.window.features)[-1] == "hour"
    with pytest.raises(SpecError, match="features: 'vol_7' is not one of"):
        FIELDS["features"].parse("close,vol_7")
    with pytest.raises(SpecError, match="target"):
        FIELDS["target"].parse("vol_20")  # targets are the registry's (pricecast.prep.targets), not any input
    with pytest.raises(WindowError, match="each input feature may be chosen once"):
        WindowSpec(features=("close", "hour", "hour_sin")).check()


def test_time_of_day_is_refused_on_daily_data():
    with pytest.raises(FeatureError, match="needs intraday candles"):
        make_windows(make_candles(200, freq="1D"), WindowSpec(n=10, k=2, features=("close", "hour")))
    wset = make_windows(make_candles(200, freq="1D"), WindowSpec(n=10, k=2, features=("close", "weekday")))
    assert wset.values.shape[1] == 3


SPEC = RunSpec(data="unused", window=WindowSpec(n=10, k=2, features=("close", "log_return", "range", "volume_change",
                                                                      "vol_20", "hour", "weekday")),
               scaling="logratio", model=ModelSpec(arch="mlp", units=(8,)),
               train=TrainSpec(epochs=1, batch_size=32, patience=0, seed=1))


@pytest.mark.parametrize("scaling", ["logratio", "minmax", "standard"])
def test_windows_hold_the_features_and_the_scaler_sees_the_training_rows_only(scaling):
    c = make_candles(400, freq="1h")
    prep = prepare(SPEC.replace(scaling=scaling), c)
    cols = prep.windows.spec.features
    for j, name in enumerate(cols):
        np.testing.assert_array_equal(prep.windows.values[:, j], features.column(c, name))
    x = prep.scaler.transform_x(np.asarray(prep.windows.train.x))
    assert np.isfinite(x).all()
    if scaling == "logratio":  # derived columns standardised on the training rows, prices by their last value
        j = cols.index("log_return")
        a, b = prep.windows.train.rows
        assert prep.scaler.params["mean"][j] == pytest.approx(prep.windows.values[a:b, j].mean())
    found = {f.code: f for f in check_prepared(prep, include_ok=True)}
    assert found["features"].level == "ok" and found["scaler"].level == "ok"
    np.testing.assert_array_equal(latest_window(c, prep.windows.spec)[0], prep.windows.values[-10:])


def _centred_mean(c: pd.DataFrame) -> np.ndarray:
    return c["close"].rolling(5, center=True, min_periods=1).mean().to_numpy()


def _next_return(c: pd.DataFrame) -> np.ndarray:
    close = c["close"].to_numpy()
    out = np.zeros(len(close))
    out[:-1] = np.log(close[1:] / close[:-1])
    return out


@pytest.mark.parametrize("leaky", [_centred_mean, _next_return])
def test_a_planted_leaking_feature_is_caught(monkeypatch, leaky):
    monkeypatch.setitem(DERIVED, "log_return", Feature("log_return", "planted leak", leaky, ("close",)))
    prep = prepare(SPEC, make_candles(400, freq="1h"))
    found = [f for f in check_prepared(prep) if f.code == "feature_lookahead"]
    assert [f.details["feature"] for f in found] == ["log_return"]
    assert "reads the future" in found[0].message
    assert found[0].details["row"] >= prep.windows.train.rows[1] - 3  # where the cut hides the future


@pytest.mark.slow
def test_training_with_derived_features(tmp_path):
    from pricecast.training.pipeline import train

    run = train(SPEC, candles=make_candles(400, freq="1h"), runs_root=tmp_path)
    assert run.metrics["epochs_run"] == 1 and math.isfinite(run.metrics["test"]["rmse"])
    assert {f["code"] for f in run.metrics["lookahead"]} >= {"features", "scaler", "windows"}
    assert run.forecast["predicted"].notna().all()
    assert run.spec.window.features == SPEC.window.features
