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
