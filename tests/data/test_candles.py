import numpy as np
import pandas as pd
import pytest

from pricecast.data.candles import CandleError, find_gaps, summarize, validate_candles
from pricecast.data.samples import CATALOGUE, load_sample

from ..conftest import make_candles


def test_valid_frame_is_canonical():
    raw = make_candles(50)
    raw.index = raw.index.tz_localize(None)  # naive times are taken as UTC
    raw.columns = [c.upper() for c in raw.columns]
    out = validate_candles(raw)
    assert list(out.columns) == ["open", "high", "low", "close", "volume"]
    assert str(out.index.tz) == "UTC" and out.index.name == "time"
    assert all(out.dtypes == np.float64)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda f: f.drop(columns=["close"]), "missing column(s) close"),
        (lambda f: f.assign(open=f["open"].astype(object).where(f.index != f.index[3], "abc")),
         "column 'open' has 1 missing or non-numeric"),
        (lambda f: f.assign(low=f["low"].where(f.index != f.index[5], -1.0)), "prices must be positive"),
        (lambda f: f.assign(volume=f["volume"].where(f.index != f.index[5], -1.0)), "volume must be zero or more"),
        (lambda f: pd.concat([f.iloc[:10], f.iloc[9:10], f.iloc[10:]]), "duplicated time"),
        (lambda f: f.iloc[::-1], "times are not in order"),
    ],
)
def test_bad_frames_get_specific_messages(mutate, message):
    with pytest.raises(CandleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_candles(mutate(make_candles(30)), "test")


def test_gaps_are_reported_not_filled():
    frame = make_candles(100)
    holed = frame.drop(frame.index[40:45])
    gaps = find_gaps(holed)
    assert len(gaps) == 1 and gaps[0].missing == 5
    assert len(validate_candles(holed)) == 95  # nothing filled in


def test_bundled_series_are_real_and_business_daily():
    assert {"AAPL", "MSFT", "IBM", "GOOG"} <= set(CATALOGUE)
    aapl = load_sample("aapl")
    assert len(aapl) == 3270
    assert aapl.index[0] == pd.Timestamp("2000-03-01", tz="UTC")
    # weekends are not gaps; the 2001-09-11 market closure is
    gaps = find_gaps(aapl)
    assert [g.start.date().isoformat() for g in gaps] == ["2001-09-10"]
    assert summarize(aapl)["rows"] == 3270


def test_unknown_sample_names_the_choices():
    with pytest.raises(CandleError, match="AAPL, MSFT, IBM, GOOG, BTC-USD-5M, BTC-USD-1H, TSLA"):
        load_sample("NFLX")


def test_no_timeframe_switch_in_the_bundled_series():
    from pricecast.data.candles import timeframe_switch
    from pricecast.data.samples import CATALOGUE, load_sample

    assert {name: timeframe_switch(load_sample(name).index) for name in CATALOGUE} == dict.fromkeys(CATALOGUE)
