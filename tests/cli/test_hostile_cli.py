"""Issue 12, items 6-10, 12 and 14: the command line and library used carelessly or with hostile input.

One test (or parametrized case) per item, named after it. Network cases run against the local
fake server (tests/fakes), with faults injected per path.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pricecast.cli.main import main

from ..conftest import make_candles
from ..fakes.server import Fault

TRAIN_TINY = ["train", "--data", "sample:MSFT", "--n", "10", "--k", "2", "--arch", "mlp", "--units", "4",
              "--epochs", "2", "--patience", "0"]


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _csv(path: Path, rows: int = 200, freq: str = "1D"):
    frame = make_candles(rows, freq=freq)
    frame.to_csv(path, index_label="time")
    return frame


def _run_folders(root: Path) -> list[Path]:
    return sorted(root.iterdir()) if root.exists() else []


# ---- 6: NaN / inf loss ------------------------------------------------------------------------
def test_item6_nan_loss_stops_says_what_to_change_and_saves_nothing(capsys, tmp_path):
    code, out, err = _cli(capsys, *TRAIN_TINY, "--optimizer", "sgd", "--learning-rate", "1e30",
                          "--runs-dir", str(tmp_path / "runs"))
    assert code == 2
    assert "loss became NaN or infinite at epoch 1" in err
    assert "Lower the learning rate" in err and "Nothing was saved" in err
    assert "epoch 2/2" not in err  # stopped at the first bad batch, not trained on
    assert _run_folders(tmp_path / "runs") == []  # nothing saved, no hidden partial either


def test_item6_results_metrics_of_a_run_with_missing_numbers():
    from pricecast.plots.runs import metrics_frame

    nan = {"rmse": None, "mae": None, "mape": None, "direction": None}
    report = {"windows": 10, "model": nan, "persistence": {"rmse": 1.0, "mae": 1.0, "mape": 1.0, "direction": 0.5},
              "drift": dict(nan), "moving_average": dict(nan), "rmse": None, "persistence_rmse": 1.0, "skill": None}
    frame = metrics_frame(report)  # raised "unsupported operand type(s) for /: 'NoneType' and 'float'"
    assert frame["skill_vs_persistence"].drop("persistence (last value)").isna().all()


# ---- 7: disk errors ---------------------------------------------------------------------------
def test_item7_disk_full_while_storing_keeps_the_old_cache(capsys, tmp_path, monkeypatch):
    _csv(tmp_path / "a.csv")
    assert _cli(capsys, "data", "import", str(tmp_path / "a.csv"), "--store", "mine", "--timeframe", "1d")[0] == 0
    cache = next((Path(os.environ["PRICECAST_HOME"]) / "cache" / "csv").glob("*.parquet"))
    before = cache.read_bytes()

    def full(frame, path):
        Path(path).write_bytes(b"PAR1 half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("pricecast.data.market.cache._write_parquet", full)
    _csv(tmp_path / "b.csv", rows=50)
    code, _, err = _cli(capsys, "data", "import", str(tmp_path / "b.csv"), "--store", "mine", "--timeframe", "1d")
    assert code == 2 and "No space left on device" in err and "previous copy is unchanged" in err
    assert "Traceback" not in err
    assert cache.read_bytes() == before
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]  # no temporary file left


def test_item7_a_folder_where_the_cache_file_goes(capsys, tmp_path):
    _csv(tmp_path / "a.csv")
    assert _cli(capsys, "data", "import", str(tmp_path / "a.csv"), "--store", "mine", "--timeframe", "1d")[0] == 0
    cache = next((Path(os.environ["PRICECAST_HOME"]) / "cache" / "csv").glob("*.parquet"))
    cache.unlink()
    cache.mkdir()
    (cache / "keep.txt").write_text("mine")
    code, _, err = _cli(capsys, "data", "import", str(tmp_path / "a.csv"), "--store", "mine", "--timeframe", "1d")
    assert code == 2 and "could not write the candle cache" in err
    code, _, err = _cli(capsys, "data", "show", "csv:mine:1d")
    assert code == 2 and "is a folder" in err
    assert (cache / "keep.txt").read_text() == "mine"


def test_item7_disk_full_at_save_says_so_and_leaves_no_partial_folder(capsys, tmp_path, monkeypatch):
    import keras

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "model.keras")

    monkeypatch.setattr(keras.Model, "save", full)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))  # where the run is tried next
    code, _, err = _cli(capsys, *TRAIN_TINY, "--epochs", "1", "--runs-dir", str(tmp_path / "runs"))
    assert code == 2
    assert "could not be saved (No space left on device" in err and "it was not kept" in err
    assert _run_folders(tmp_path / "runs") == []  # the hidden .partial folder is gone too
    assert _run_folders(tmp_path / "tmp" / "pricecast-unsaved-runs") == []


# ---- 8: Ctrl-C --------------------------------------------------------------------------------
@pytest.mark.slow  # trains a Keras model
def test_item8_ctrl_c_during_training_is_stop_and_saves_the_run(tmp_path):
    runs = tmp_path / "runs"
    argv = [sys.executable, "-m", "pricecast", *TRAIN_TINY, "--epochs", "2000", "--runs-dir", str(runs), "--json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("epoch 1/"):
            proc.send_signal(signal.SIGINT)
            break
    out, rest = proc.communicate(timeout=120)
    err = "".join(lines) + rest
    assert proc.returncode == 130, err
    assert "interrupted; the run was saved" in err and "Traceback" not in err
    saved = json.loads(out)
    assert 1 <= saved["epochs_run"] < 2000
    assert [p.name for p in _run_folders(runs)] == [Path(saved["run_dir"]).name]


def test_item8_interrupted_paged_fetch_keeps_the_pages_fetched(fake):
    from pricecast.data.market import load_market
    from pricecast.data.market.cache import cache_file, read_cache
    from pricecast.data.market.refs import parse_market_ref
    from pricecast.paths import cache_dir

    def progress(message: str) -> None:
        if "page 2," in message:
            raise KeyboardInterrupt  # Ctrl-C lands while the third page is due

    with pytest.raises(KeyboardInterrupt):
        load_market("binance:BTC/USDT:1m", "2024-01-01", "2024-01-03", progress=progress)
    kept = read_cache(cache_file(parse_market_ref("binance:BTC/USDT:1m"), cache_dir())).frame
    assert kept is not None and len(kept) == 2000  # two pages of 1000


# ---- 9: names that escape their folders -------------------------------------------------------
def test_item9_experiment_delete_refuses_names_outside(capsys, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "experiment.json").write_text("{}")
    root = tmp_path / "a" / "b"
    code, _, err = _cli(capsys, "experiment", "delete", "../../victim", "--root", str(root))
    assert code == 2 and "not an experiment name" in err
    assert (victim / "experiment.json").exists()


def test_item9_import_timeframe_cannot_write_outside_the_cache(capsys, tmp_path):
    _csv(tmp_path / "a.csv")
    code, _, err = _cli(capsys, "data", "import", str(tmp_path / "a.csv"), "--store", "X",
                        "--timeframe", "/../../../../x/pwn")
    assert code == 2 and "--timeframe" in err
    code, _, err = _cli(capsys, "data", "import", str(tmp_path / "a.csv"), "--store", "../../up")
    assert code == 2 and "--store" in err
    home = Path(os.environ["PRICECAST_HOME"])
    assert not list(tmp_path.rglob("*pwn*")) and not list(home.parent.rglob("*pwn*"))


def test_item9_runs_delete_refuses_folders_outside_the_runs_dir(capsys, tmp_path):
    outside = tmp_path / "important"
    outside.mkdir()
    (outside / "spec.json").write_text("{}")
    runs = tmp_path / "runs"
    runs.mkdir()
    for target in (str(outside), str(runs / ".." / "important")):
        code, _, err = _cli(capsys, "runs", "--runs-dir", str(runs), "--delete", target)
        assert code == 2 and "refusing to delete" in err
    assert (outside / "spec.json").exists()


# ---- 10: stored CSV data can be read back -----------------------------------------------------
def test_item10_import_store_gives_a_ref_that_loads(capsys, tmp_path):
    frame = _csv(tmp_path / "a.csv", rows=120)
    code, _, err = _cli(capsys, "data", "import", str(tmp_path / "a.csv"), "--store", "mydata")
    assert code == 0
    assert "stored as csv:MYDATA:1d; train on it with: pricecast train --data csv:MYDATA:1d" in err
    from pricecast.data.datasets import load_data

    loaded = load_data("csv:mydata:1d")
    assert len(loaded.candles) == 120
    assert loaded.candles["close"].to_numpy() == pytest.approx(frame["close"].to_numpy())
    code, out, err = _cli(capsys, "data", "show", "csv:MYDATA:1d")
    assert code == 0, err
    code, _, err = _cli(capsys, "data", "show", "csv:other:1d")
    assert code == 2 and "nothing stored as csv:OTHER:1d" in err


# ---- 12: network messages ---------------------------------------------------------------------
PORTAL = "<!DOCTYPE html><html><head><title>Hotel Wi-Fi</title></head><body>" + "Please log in. " * 40 + "</body></html>"
FAULTS = {
    "429": (Fault(429, {"Retry-After": "0"}, "Too Many Requests"), "limiting requests (HTTP 429"),
    "500": (Fault(500, {"Content-Type": "text/html"}, PORTAL), "had a server error (HTTP 500)"),
    "503": (Fault(503, {"Content-Type": "text/html"}, PORTAL), "is temporarily unavailable (HTTP 503)"),
    "html-200": (Fault(200, {"Content-Type": "text/html"}, PORTAL), "answered with a web page, not data"),
    "bad-json": (Fault(200, {}, '[[1704067200000,"42000.1","42100'), "not valid JSON"),
}


@pytest.mark.parametrize("source,prefix,ref,since,first_until,until", [
    ("binance", "/api/v3/klines", "binance:ETH/USDT:1h", "2024-01-01", "2024-01-10", "2024-01-15"),
    # inside the recorded Yahoo chart (TSLA 2010-2023), which the fake replays
    ("yahoo", "/v8/finance/chart", "yahoo:TSLA:1d", "2023-01-03", "2023-01-10", "2023-01-20"),
])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_item12_each_failure_has_its_own_short_message_and_uses_the_cache(fake, fault, source, prefix, ref, since,
                                                                          first_until, until):
    from pricecast.data.market import MarketDataError, load_market

    answer, words = FAULTS[fault]
    fake.state.inject(prefix, answer, times=5)
    with pytest.raises(MarketDataError) as nothing_cached:
        load_market(ref, since, first_until)
    fake.state.faults.clear()
    cached = load_market(ref, since, first_until)
    fake.state.inject(prefix, answer, times=5)
    data = load_market(ref, since, until)
    assert data.candles.equals(cached.candles) and data.from_cache
    [warning] = data.warnings
    for message in (str(nothing_cached.value), warning):
        assert f"{source} " in message and words in message, message
        assert "no network" not in message and "http://" not in message and "<" not in message, message
        assert len(message) < 160, message
    assert "nothing cached" in str(nothing_cached.value)
    assert f"using {len(cached.candles)} cached candles" in warning


def test_item12_no_offline_warning_right_after_a_download(fake):
    from pricecast.data.market import load_market

    fresh = load_market("binance:ETH/USDT:1h", "2024-01-01")
    assert fresh.fetched_rows > 0 and fresh.warnings == []
    again = load_market("binance:ETH/USDT:1h", offline=True)  # how the pages read it back
    assert again.warnings == []


# ---- 14: minor ones ---------------------------------------------------------------------------
@pytest.mark.parametrize("option,value", [("--epochs", "0"), ("--batch-size", "0"), ("--split", "a,b"),
                                          ("--units", "x")])
def test_item14_bad_training_options_are_refused_naming_the_option(capsys, tmp_path, option, value):
    code, _, err = _cli(capsys, *TRAIN_TINY, option, value, "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and f"argument {option}:" in err
    assert _run_folders(tmp_path / "runs") == []


def test_item14_zero_epochs_refused_by_the_library_too():
    from pricecast.specs import RunSpec, TrainSpec
    from pricecast.training.pipeline import prepare

    with pytest.raises(ValueError, match="epochs must be 1 or more"):
        prepare(RunSpec(train=TrainSpec(epochs=0)))


@pytest.mark.slow  # trains a Keras model
def test_item14_truncated_model_file_is_reported_as_damaged(capsys, tmp_path):
    code, out, err = _cli(capsys, *TRAIN_TINY, "--epochs", "1", "--runs-dir", str(tmp_path), "--json")
    assert code == 0, err
    run_dir = Path(json.loads(out)["run_dir"])
    model = run_dir / "model.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    code, _, err = _cli(capsys, "predict", str(run_dir))
    assert code == 2 and "is damaged" in err and "not found" not in err.lower()


def test_item14_presets_into_a_closed_pipe_has_no_traceback():
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already exited
    try:
        proc = subprocess.run([sys.executable, "-m", "pricecast", "presets"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
    assert proc.returncode == 0


def test_item14_price_spike_is_warned_about(tmp_path):
    from pricecast.data.datasets import load_data

    frame = make_candles(200, freq="1D")
    frame.iloc[100, :4] *= 1e10
    frame.to_csv(tmp_path / "spike.csv", index_label="time")
    loaded = load_data(str(tmp_path / "spike.csv"))
    assert any("2 price move(s) of 100x or more" in w and "probably a data error" in w for w in loaded.warnings)
    assert load_data("sample:AAPL").warnings == []


def test_item14_unreadable_cache_is_backed_up_before_rebuilding(tmp_path):
    from pricecast.data.market.cache import read_cache

    path = tmp_path / "csv" / "X_1d.parquet"
    path.parent.mkdir()
    path.write_bytes(b"not parquet, but maybe someone's only copy")
    problem = read_cache(path).problem
    assert "is damaged" in problem and "set aside as X_1d.parquet.unreadable" in problem
    assert (path.parent / "X_1d.parquet.unreadable").read_bytes() == b"not parquet, but maybe someone's only copy"


def test_item14_stale_partial_runs_and_old_uploads_are_cleaned(tmp_path, monkeypatch):
    from pricecast.data import uploads
    from pricecast.paths import experiments_dir, home, runs_dir
    from pricecast.training.runs import remove_stale_partials

    month_ago = time.time() - 40 * 86400
    root = runs_dir()
    stale, live = root / ".20240101-x.partial", root / ".20991231-y.partial"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "spec.json").write_text("{}")
    os.utime(stale, (month_ago, month_ago))
    assert remove_stale_partials(root) == [stale]
    assert live.exists()

    folder = home() / "uploads"
    folder.mkdir()
    old, used, trial_used, new = (folder / f"{n}.csv" for n in ("old", "used", "trial_used", "new"))
    for f in (old, used, trial_used, new):
        f.write_text("time,open,high,low,close,volume\n")
    for f in (old, used, trial_used):
        os.utime(f, (month_ago, month_ago))
    run = root / "20240101-run"
    trial = experiments_dir() / "exp" / "trials" / "20240101-trial"
    for folder, data in ((run, used), (trial, trial_used)):
        folder.mkdir(parents=True)
        (folder / "spec.json").write_text(json.dumps({"data": str(data)}))
    monkeypatch.setattr(uploads, "_tidied", False)
    kept = uploads.store_upload(b"time,close\n", "mine.csv")  # storing an upload tidies, once per process
    assert not old.exists() and used.exists() and trial_used.exists() and new.exists() and kept.exists()
    old.write_text("again")
    os.utime(old, (month_ago, month_ago))
    uploads.store_upload(b"time,close\n1,2\n", "other.csv")
    assert old.exists()


def test_item10_the_data_page_shows_a_stored_csv(capsys, tmp_path):
    from streamlit.testing.v1 import AppTest

    _csv(tmp_path / "a.csv", rows=120)
    assert _cli(capsys, "data", "import", str(tmp_path / "a.csv"), "--store", "mydata")[0] == 0
    root = Path(__file__).resolve().parents[2]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=60)
    at.query_params.update({"data": "csv:MYDATA:1d"})
    at.run()
    at.switch_page("pages/1_Data.py").run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert at.radio(key="data_source").value == "csv"
    assert any(m.value == "120" for m in at.metric)


@pytest.mark.parametrize("argv, said", [
    (["data", "show", "sample:AAPL", "--since", "garbage"], "since: 'garbage' is not a date"),
    (["experiment", "run", "--spec", "{bad}"], "is not valid JSON"),
    (["experiment", "run", "--spec", "[1]"], "must hold a JSON object"),
    (["experiment", "run", "--spec", '{"base": 3}'], "does not describe an experiment"),
])
def test_bad_dates_and_experiment_files_are_one_line_messages(tmp_path, capsys, argv, said):
    """The CLI catches pricecast's own errors only (anything else is a bug and shows as one), so bad input
    that other libraries reject (a date pandas cannot parse, a broken JSON file) must become one first."""
    from pricecast.cli.main import main

    if argv[-2] == "--spec":
        spec = tmp_path / "exp.json"
        spec.write_text(argv[-1])
        argv = [*argv[:-1], str(spec)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
