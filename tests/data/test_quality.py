"""The data-quality report, cut-to-clean, the bundled crypto/TSLA series and the flat-price skill message."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from pricecast.cli.common import format_table
from pricecast.cli.main import main
from pricecast.data.datasets import kind_of, load_data
from pricecast.data.quality import clean_ref, cut_to_clean, jump_mask, quality_report, spike_warning, split_ref
from pricecast.data.samples import load_sample
from pricecast.evaluation.metrics import NO_MOVEMENT, evaluate, metrics_table, skill_text
from pricecast.prep.windows import make_windows
from pricecast.presets import PRESETS
from pricecast.training.pipeline import prepare
from tests.conftest import make_candles

TUTORIAL_PRESETS = ("seed-cnn-2-relu", "seed-cnn-2-leaky", "seed-cnn-3-relu", "seed-cnn-3-leaky", "seed-cnn-4-relu",
                    "seed-cnn-4-leaky", "seed-lstm", "seed-gru", "bithumb-eth-lstm", "tsla-lstm")


def _freeze(frame: pd.DataFrame, a: int, b: int) -> pd.DataFrame:
    """Rows a..b-1 become a frozen feed: one price, no volume."""
    out = frame.copy()
    price = out["close"].iloc[a - 1]
    out.iloc[a:b, :4] = price
    out.iloc[a:b, 4] = 0.0
    return out


def test_random_walk_is_clean():
    report = quality_report(make_candles(500))
    assert report.is_clean and report.lines() == []
    assert report.clean.candles == 500


def test_each_defect_kind_is_found_where_it_is():
    frame = make_candles(400)
    frame = _freeze(frame, 100, 140)  # 40 candles frozen
    frame.iloc[200, frame.columns.get_loc("high")] = frame["low"].iloc[200] * 0.99  # high < low
    frame.iloc[210, frame.columns.get_loc("close")] = frame["high"].iloc[210] * 1.01  # close above high
    frame.iloc[250:, :4] *= 3.0  # an unadjusted 3:1 "split" the other way: a jump
    frame.iloc[300:305, :] = frame.iloc[290:295].to_numpy()  # five candles replayed ten candles later
    frame = frame.drop(frame.index[350:360])  # a gap
    report = quality_report(frame)
    counts = report.counts()
    assert counts["gaps"] == 1 and counts["missing_candles"] == 10
    assert [s.to_dict() for s in report.stale] == [
        {"start": frame.index[99].isoformat(), "end": frame.index[139].isoformat(), "candles": 41}]
    assert report.zero_volume == 40
    assert report.bad_ohlc == [frame.index[200], frame.index[210]]
    assert [j["time"] for j in report.jumps] == [frame.index[250].isoformat()]
    assert report.jumps[0]["change"] == pytest.approx(2.0, rel=0.05)
    assert report.duplicates == [{"time": frame.index[i].isoformat(), "same_as": frame.index[i - 10].isoformat()}
                                 for i in range(300, 305)]
    assert not report.is_clean and len(report.lines()) == 6
    # Times in the sentences read as the candles' own (make_candles: hourly): date, hour and minute.
    def at(i: int) -> str:
        return f"{frame.index[i]:%Y-%m-%d %H:%M}"

    text = "\n".join(report.lines())
    assert not report.daily and "T" not in text.replace("Too", "")
    assert f"(longest 41: {at(99)} .. {at(139)})" in text and f"first at {at(200)}" in text
    assert f"first at {at(250)} (+" in text and f"first at {at(300)}" in text
    # the longest stretch free of all of it: up to the frozen feed (the next, 140..199, is shorter)
    assert (report.clean.start, report.clean.end) == (frame.index[0], frame.index[98])
    assert len(cut_to_clean(frame.iloc[99:])) == 60  # from the first moving candle to the impossible one


def test_coincidental_repeats_on_minute_data_are_not_duplicates():
    # Quiet minutes of a tick-sized market repeat an earlier candle exactly by chance, one at a
    # time; only a block replayed under shifted times is a feed error.
    frame = make_candles(2000, freq="1min")
    for i in range(100, 1900, 50):  # 36 lone coincidences, each equal to a candle far back
        frame.iloc[i, :] = frame.iloc[i - 37].to_numpy()
    frame.iloc[1990:1994, :] = frame.iloc[10:14].to_numpy()  # four in a row: still chance
    report = quality_report(frame)
    assert report.duplicates == []
    assert report.clean is not None and report.clean.candles == len(frame)
    frame.iloc[1995:2000, :] = frame.iloc[20:25].to_numpy()  # a block of five: a replay
    assert [d["time"] for d in quality_report(frame).duplicates] == [t.isoformat() for t in frame.index[1995:2000]]


def test_duplicated_times_from_a_csv_are_reported(tmp_path):
    frame = make_candles(50)
    rows = frame.reset_index()
    rows["time"] = rows["time"].dt.strftime("%Y-%m-%d %H:%M")
    text = rows.to_csv(index=False)
    lines = text.splitlines()
    path = tmp_path / "dups.csv"
    path.write_text("\n".join(lines + [lines[11]]) + "\n")  # row 10 repeated at the end
    report = quality_report(load_data(str(path)).candles)
    assert report.duplicates == [{"time": frame.index[10].isoformat(), "same_as": frame.index[10].isoformat()}]


def test_short_flat_runs_are_not_stale():
    frame = _freeze(make_candles(200), 50, 60)  # 10 unchanged candles: a quiet market, not a frozen feed
    assert quality_report(frame).stale == []
    assert len(quality_report(frame, stale_min_candles=5).stale) == 1


def test_cut_to_clean_keeps_the_longest_clean_stretch_and_the_ref_says_so(tmp_path):
    frame = _freeze(make_candles(300), 100, 130)
    cut = cut_to_clean(frame)
    assert cut.index[0] == frame.index[130] and len(cut) == 170
    assert quality_report(cut).is_clean
    path = tmp_path / "frozen.csv"
    frame.reset_index().to_csv(path, index=False)
    ref = clean_ref(str(path))
    assert ref.endswith("#clean") and split_ref(ref) == (str(path), True) and kind_of(ref) == "csv"
    loaded = load_data(ref)
    assert len(loaded.candles) == 170 and "longest clean stretch" in loaded.warnings[0]


def test_data_show_cli_reports_stale_and_cut(tmp_path, capsys):
    path = tmp_path / "frozen.csv"
    _freeze(make_candles(300), 100, 130).reset_index().to_csv(path, index=False)
    assert main(["data", "show", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stale"] == out["quality"]["stale"] and out["stale"][0]["candles"] == 31
    assert main(["data", "show", str(path), "--clean", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 170 and out["stale"] == [] and out["quality"]["clean"] is True


def test_real_bitstamp_file_stale_stretches_and_gaps(shared_data, capsys):
    path = shared_data / "btc_usd_5m_2016_bitstamp.csv"  # out of time order, read all the same
    assert main(["data", "show", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 30610 and out["first"] == "2016-01-01T00:05:00+00:00"
    assert "rows were not in time order: sorted" in out["notes"]
    assert [(g["start"], g["missing"]) for g in out["gap_list"]] == [
        ("2016-03-06T11:35:00+00:00", 2418), ("2016-03-14T21:40:00+00:00", 869)]
    assert {"start": "2016-03-29T14:00:00+00:00", "end": "2016-04-27T16:45:00+00:00", "candles": 8386} in out["stale"]
    assert out["quality"]["counts"]["zero_volume"] > 10000
    assert out["quality"]["longest_clean"]["candles"] == len(load_sample("BTC-USD-5M"))
    assert main(["data", "show", str(path)]) == 0
    text = capsys.readouterr().out
    assert "stale stretch" in text and "2 gap(s)" in text and "--clean" in text


@pytest.mark.parametrize("name,rows,step", [("BTC-USD-5M", 7621, "5min"), ("BTC-USD-1H", 16897, "1h"),
                                            ("TSLA", 3303, None)])
def test_bundled_series_load_and_are_clean(name, rows, step):
    frame = load_sample(name)
    assert len(frame) == rows
    if step:
        assert (np.diff(frame.index.asi8) == pd.Timedelta(step).value).all()
    assert quality_report(frame).is_clean


def test_tutorial_presets_train_on_bundled_data_of_their_kind_offline():
    kinds = {"sample:BTC-USD-5M": "5m", "sample:BTC-USD-1H": "1h", "sample:TSLA": "1d"}
    for name in TUTORIAL_PRESETS:
        preset = PRESETS[name]
        assert preset.spec.data in kinds, name
        assert kind_of(preset.live_data) == "market" and preset.live_data.endswith(":" + kinds[preset.spec.data])
        candles = load_data(preset.spec.data, offline=True).candles
        sizes = make_windows(candles, preset.spec.window).sizes()
        assert min(s["windows"] for s in sizes.values()) >= 4, (name, sizes)


def test_flat_part_says_no_movement_not_nan():
    history = np.full((5, 10), 100.0)
    report = evaluate(np.full((5, 2), 100.0), np.full((5, 2), 101.0), history)
    assert math.isnan(report["skill"]) and report["skill_note"] == NO_MOVEMENT
    assert skill_text(report["skill"]) == NO_MOVEMENT and skill_text(0.1234) == "+12.3%"
    table = format_table(metrics_table(report))
    assert "nan" not in table and "n/a" in table
    from ui.common import fmt_pct

    assert "no price movement" in fmt_pct(float("nan")) and fmt_pct(0.05) == "+5.0%"


def test_training_warns_when_a_part_is_mostly_stale():
    from pricecast.presets import get_preset

    frame = _freeze(make_candles(400), 300, 400)  # the whole test part (last 15%) frozen
    prep = prepare(get_preset("default").spec, candles=frame)
    assert any("test part is 100% stale" in w for w in prep.warnings)
    assert not any("train part" in w for w in prep.warnings)
    assert not [w for w in prepare(get_preset("default").spec, candles=make_candles(400)).warnings if "stale" in w]


def test_cli_train_on_a_flat_test_part_says_so(tmp_path, capsys):
    path = tmp_path / "flat_end.csv"
    _freeze(make_candles(400), 300, 400).reset_index().to_csv(path, index=False)
    code = main(["train", "--data", str(path), "--epochs", "1", "--units", "4", "--runs-dir", str(tmp_path / "runs")])
    captured = capsys.readouterr()
    assert code == 0
    assert "nan" not in captured.out and "no price movement" in captured.out
    assert "test part is 100% stale" in captured.err
    run_dir = next((tmp_path / "runs").iterdir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["quality"]["counts"]["stale"] == 1 and metrics["test"]["skill_note"] == NO_MOVEMENT


def test_many_bad_ticks_cannot_raise_the_jump_bar_above_themselves():
    """Bad ticks on 4% of the moves lift the series' 99th-percentile move to their own size: the
    relative test alone misses them all; a 100x move is a jump whatever the series (and the
    warning on loading counts the same moves)."""
    frame = make_candles(300)
    rows = [40, 80, 120, 160, 200, 240]
    frame.iloc[rows, :4] *= 1000.0  # a misplaced decimal point, in and out again
    report = quality_report(frame)
    flagged = sorted({frame.index[r].isoformat() for r in rows} | {frame.index[r + 1].isoformat() for r in rows})
    assert sorted(j["time"] for j in report.jumps) == flagged
    assert spike_warning(frame, "x.csv").startswith("x.csv: 12 price move(s) of 100x or more")
    assert jump_mask(frame.iloc[35:50])[0].sum() == 2  # too short for a bar of its own: only the 100x moves


def test_a_real_market_move_is_a_jump_to_check_not_a_data_error():
    frame = load_data("sample:AAPL").candles  # 2000-09-29: -52% on a profit warning, a real move
    report = quality_report(frame)
    assert [j["time"][:10] for j in report.jumps] == ["2000-09-29"]
    line = report.lines()[-1]
    assert "large move(s)" in line and "check they are real" in line and "error" not in line
    assert report.daily and "first at 2000-09-29 (-51.9%)" in line  # a daily candle's time is its date
    assert spike_warning(frame, "sample:AAPL") is None


def test_a_lasting_level_shift_of_volume_is_reported_with_its_date_and_training_on_it_warns():
    from pricecast.data.quality import find_level_shifts, level_shift_warnings
    from pricecast.data.samples import load_sample

    candles = load_sample("BTC-USD-1H")
    assert find_level_shifts(candles) == []  # the bundled feed keeps its unit
    shifted = candles.copy()
    at = shifted.index[9000]
    shifted.loc[at:, "volume"] /= 7000.0  # quote currency to base currency, say
    report = quality_report(shifted)
    (shift,) = report.level_shifts
    assert shift["column"] == "volume" and abs(pd.Timestamp(shift["time"]) - at) <= pd.Timedelta(days=2)
    assert shift["factor"] > 100 and shift["after"] < shift["before"]
    assert any("volume changes level at 2018-11-2" in line for line in report.lines())
    assert report.to_dict()["counts"]["level_shifts"] == 1
    assert level_shift_warnings(report, ("close",)) == []
    assert "unit change" in level_shift_warnings(report, ("close", "volume"))[0]


def test_preparing_a_run_on_a_shifted_volume_warns_and_one_on_prices_alone_does_not():
    from pricecast.data.samples import load_sample
    from pricecast.prep.windows import WindowSpec
    from pricecast.specs import RunSpec
    from pricecast.training.pipeline import prepare

    shifted = load_sample("BTC-USD-1H").iloc[:6000].copy()
    shifted.iloc[3000:, 4] *= 5000.0
    volume = RunSpec(window=WindowSpec(n=24, k=3, features=("volume", "hour"), target="volume"), scaling="standard")
    assert any("unit change" in w for w in prepare(volume, shifted).warnings)
    prices = RunSpec(window=WindowSpec(n=24, k=3, features=("close",)), scaling="logratio")
    assert not any("unit change" in w for w in prepare(prices, shifted).warnings)
