import numpy as np
import pytest

from pricecast.prep.scaling import SCALERS, Scaler
from pricecast.prep.windows import WindowSpec, make_windows

from ..conftest import make_candles

FEATURES = ("open", "close", "volume")


def _fit(kind, frame):
    wset = make_windows(frame, WindowSpec(n=10, k=3, features=FEATURES))
    return wset, Scaler.fit(kind, wset.values, wset.target, FEATURES, "close", wset.train.rows)


@pytest.mark.parametrize("kind", SCALERS)
def test_changing_the_test_part_does_not_change_the_scaler(kind):
    frame = make_candles(400)
    wset, scaler = _fit(kind, frame)
    a, _ = wset.test.rows
    future = frame.copy()
    future.iloc[a:, :4] *= 50.0  # a wild future
    future.iloc[a:, 4] *= 1000.0
    _, scaler_future = _fit(kind, future)
    assert scaler.params == scaler_future.params
    assert scaler.fit_rows == wset.train.rows


def test_minmax_uses_training_rows_only():
    frame = make_candles(400)
    wset, scaler = _fit("minmax", frame)
    a, b = wset.train.rows
    assert scaler.params["t_hi"][0] == frame["close"].iloc[a:b].max()
    assert scaler.params["t_hi"][0] != frame["close"].max() or frame["close"].idxmax() < frame.index[b]


@pytest.mark.parametrize("kind", SCALERS)
def test_inverse_gives_back_prices(kind):
    frame = make_candles(400)
    wset, scaler = _fit(kind, frame)
    part = wset.test
    y = scaler.transform_y(part.y, part.history)
    np.testing.assert_allclose(scaler.inverse_y(y, part.history), part.y, rtol=1e-5)
    x = scaler.transform_x(part.x)
    assert x.dtype == np.float32 and x.shape == part.x.shape


def test_logratio_is_relative_to_the_last_input():
    frame = make_candles(400)
    wset, scaler = _fit("logratio", frame)
    x = scaler.transform_x(wset.train.x[:5])
    np.testing.assert_allclose(x[:, -1, :2], 0.0, atol=1e-7)  # last open/close relative to themselves


def test_roundtrip_dict():
    frame = make_candles(200)
    _, scaler = _fit("standard", frame)
    assert Scaler.from_dict(scaler.to_dict()).params == scaler.params


@pytest.mark.parametrize("kind", SCALERS)
@pytest.mark.parametrize("target, features", [("volume", ("volume", "hour")), ("range", ("range",)),
                                              ("log_return", ("close", "log_return"))])
def test_other_targets_roundtrip_and_keep_the_last_value_consistent(kind, target, features):
    frame = make_candles(400)
    frame.iloc[::17, 4] = 0.0  # zero-volume candles
    wset = make_windows(frame, WindowSpec(n=10, k=3, features=features, target=target))
    scaler = Scaler.fit(kind, wset.values, wset.target, wset.spec.features, target, wset.train.rows)
    part = wset.test
    back = scaler.inverse_y(scaler.transform_y(part.y, part.history), part.history)
    assert np.allclose(back, part.y, rtol=1e-4, atol=1e-6)
    # the target's own input column is scaled exactly as the target: "plus the last value" starts at persistence
    j = wset.spec.features.index(target)
    last_as_target = scaler.transform_y(part.history[:, -1:], part.history)[:, 0]
    assert np.allclose(scaler.transform_x(part.x)[:, -1, j], last_as_target, atol=1e-5)


def test_volume_gets_log1p_fitted_on_training_rows_only():
    frame = make_candles(400)
    frame.iloc[::17, 4] = 0.0
    wset = make_windows(frame, WindowSpec(n=10, k=3, features=("volume",), target="volume"))
    scaler = Scaler.fit("standard", wset.values, wset.target, ("volume",), "volume", wset.train.rows)
    a, b = wset.train.rows
    assert scaler.transform == "log1p"
    assert scaler.params["t_mean"][0] == pytest.approx(np.log1p(frame["volume"].iloc[a:b]).mean())
    future = frame.copy()
    future.iloc[wset.test.rows[0]:, 4] *= 1e6  # a wild future changes nothing fitted
    wf = make_windows(future, wset.spec)
    assert Scaler.fit("standard", wf.values, wf.target, ("volume",), "volume", wf.train.rows).params == scaler.params
    assert Scaler.from_dict(scaler.to_dict()).transform == "log1p"
    assert Scaler.from_dict({k: v for k, v in scaler.to_dict().items() if k != "transform"}).transform == "none"
