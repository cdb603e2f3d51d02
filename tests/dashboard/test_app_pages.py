"""Every dashboard page through Streamlit's AppTest: no exception, the expected widgets, a tiny
training that yields a loss curve and a results chart, the setup in the URL, no TensorFlow on open."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from .charts import figures

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["pages/1_Data.py", "pages/2_Model.py", "pages/3_Train.py", "pages/4_Results.py", "pages/5_Runs.py"]
TINY = {"data": "sample:IBM", "n": "10", "k": "2", "epochs": "1", "units": "4", "patience": "0", "since": "2011-01-01"}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    return tmp_path


def _app(params: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if params:
        at.query_params.update(params)
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _labels(widgets) -> set[str]:
    return {w.label for w in widgets}


def _plots(at: AppTest) -> list[dict]:
    return figures(at)


def test_home_and_every_page_render_with_help_texts():
    at = _app()
    _ok(at)
    expected = {
        "pages/1_Data.py": {"Source", "Series"},
        "pages/2_Model.py": {"Preset", "N — past candles in", "K — future candles out", "Input features", "Scaling",
                             "Architecture", "Units per layer", "Dropout", "Learning rate", "Batch size", "Epochs",
                             "Early stopping patience", "L1 penalty", "L2 penalty", "Optimizer"},
        "pages/3_Train.py": set(),
        "pages/4_Results.py": set(),
        "pages/5_Runs.py": set(),
    }
    for page in PAGES:
        at.switch_page(page).run()
        _ok(at)
        widgets = [*at.selectbox, *at.number_input, *at.text_input, *at.multiselect, *at.slider, *at.checkbox,
                   *at.radio, *at.toggle, *at.button]
        assert expected[page] <= _labels(widgets), page
        assert all(w.help for w in widgets), [(page, w.label) for w in widgets if not w.help]
    at.switch_page("pages/1_Data.py").run()
    assert len(_plots(at)) == 2  # the candlestick chart and the predictability ACF, offline on the bundled series
    assert {"Train", "Stop"} <= _labels(at.switch_page("pages/3_Train.py").run().button)


@pytest.mark.slow
def test_the_server_process_never_imports_tensorflow_even_while_training(home):
    """Open every page, train through the Train page, show the model summary, open the results
    and forecast again: all TensorFlow work happens in worker processes."""
    script = (
        "import sys, json, time\n"
        "from streamlit.testing.v1 import AppTest\n"
        "from pricecast.service.dashboard import registry\n"
        "at = AppTest.from_file('app.py', default_timeout=60)\n"
        f"at.query_params.update({TINY!r})\n"
        "at.run()\n"
        "for page in ('1_Data', '2_Model', '3_Train'):\n"
        "    at.switch_page(f'pages/{page}.py').run()\n"
        "at.button(key='train_start').click().run()\n"
        "job = registry().latest(at.session_state['pc_session_id'], 'train')\n"
        "state = job.wait(180) and job.snapshot().state\n"
        "at.run()\n"
        "at.switch_page('pages/2_Model.py').run()\n"
        "[b for b in at.button if b.label == 'Show model summary'][0].click().run(timeout=180)\n"
        "summary = [c.value for c in at.code]\n"
        "at.switch_page('pages/4_Results.py').run()\n"
        "at.session_state['res_tab'] = 'Next 2'\n"
        "at.run()\n"
        "at.button(key='res_reforecast').click().run(timeout=180)\n"
        "at.switch_page('pages/5_Runs.py').run()\n"
        "print(json.dumps({'errors': [e.value for e in at.exception] + [e.value for e in at.error], 'state': state,\n"
        "                  'summary': bool(summary and 'Total params' in summary[0]),\n"
        "                  'modules': [m for m in ('tensorflow', 'keras') if m in sys.modules]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PRICECAST_HOME": str(home)})
    assert out.stdout.strip(), out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"errors": [], "state": "done", "summary": True, "modules": []}


def test_pages_on_cached_exchange_candles_do_not_import_ccxt(home):
    # Importing ccxt takes 1-3 s: pages reading cached candles must not pay it. The exchange list on the
    # Data page is built once per ccxt version (here by a first process) and read from the cache folder.
    env = {**os.environ, "PRICECAST_HOME": str(home)}
    subprocess.run([sys.executable, "-c", "from pricecast.data.market import list_exchanges; list_exchanges()"], cwd=ROOT,
                   env=env, check=True, timeout=120)
    script = (
        "import sys, json\n"
        "from pricecast.data.market.cache import cache_file, write_cache\n"
        "from pricecast.data.market.refs import parse_market_ref\n"
        "from pricecast.paths import cache_dir\n"
        "from tests.conftest import make_candles\n"
        "write_cache(cache_file(parse_market_ref('binance:BTC/USDT:1h'), cache_dir()), make_candles(900))\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('app.py', default_timeout=60)\n"
        "at.query_params['data'] = 'binance:BTC/USDT:1h'\n"
        "at.run()\n"
        "at.switch_page('pages/1_Data.py').run()\n"
        "metrics = [m.value for m in at.metric]\n"
        "at.switch_page('pages/2_Model.py').run()\n"
        "print(json.dumps({'errors': [e.value for e in at.exception] + [e.value for e in at.error], "
        "'candles': metrics[:1], 'ready': [s.value[:15] for s in at.success], "
        "'ccxt': 'ccxt' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"errors": [], "candles": ["900"], "ready": ["Ready to train:"], "ccxt": False}, result


@pytest.mark.slow
def test_train_one_epoch_then_results_and_runs(home):
    from pricecast.service.dashboard import registry

    at = _app(TINY)
    at.switch_page("pages/3_Train.py").run()
    _ok(at)
    at.button(key="train_start").click().run()
    _ok(at)
    job = registry().latest(at.session_state["pc_session_id"], "train")
    spec = job.task.payload["spec"]
    assert job is not None and spec["window"]["n"] == 10 and spec["train"]["live_val_predictions"]
    assert job.wait(180) and job.snapshot().state == "done", job.snapshot().error
    assert "job" not in at.query_params  # a shared address must not reach the job (a reload uses a cookie)
    assert job.owner == at.session_state["pc_owner"]
    at.run()
    _ok(at)
    titles = [p["layout"]["title"]["text"] for p in _plots(at)]
    assert any(t.startswith("Loss per epoch") for t in titles)
    assert any(t.startswith("Validation price,") and "after epoch 1" in t for t in titles)
    assert "Network skill vs persistence" in {m.label for m in at.metric}
    run = job.snapshot().result
    decision = run.metrics["decision"]

    def said() -> list[str]:  # the decision in one plain sentence (markdown, not a caption), with its p
        plain = [m.value.replace("\\", "") for m in at.markdown]  # the page escapes markdown characters
        return [v for v in plain if v.startswith("Using ") and "validation" in v]
    assert len(said()) == 1 and ("p = " in said()[0] or decision["p_value"] is None), [m.value for m in at.markdown]
    best = run.metrics["best_epoch"]
    assert best >= 1 and str(best) in {str(m.value) for m in at.metric if m.label == "Best epoch"}
    assert any("Flat curves" in c.value for c in at.caption)  # residual output: flat curves are expected

    at.switch_page("pages/4_Results.py").run()
    _ok(at)

    def titles() -> list[str]:
        return [p["layout"]["title"]["text"] for p in _plots(at)]

    # Lazy tabs: only the open tab's charts are built and sent.
    assert len(titles()) == 1 and titles()[0].startswith("Actual vs predicted")
    for tab, expected in (("Forecast paths", "step forecasts from"), ("Next 2", "Next 2 step"), ("Metrics", None)):
        at.session_state["res_tab"] = tab
        at.run()
        _ok(at)
        assert expected is None or any(expected in t for t in titles()), (tab, titles())
    assert len(at.dataframe) >= 1  # the metrics table
    table = at.dataframe[0].value
    assert "None" not in table["direction"].astype(str).tolist() and "n/a" in table["direction"].tolist()
    assert str(best) in {str(m.value) for m in at.metric if m.label == "Best epoch"}  # as on Train
    assert len(said()) == 1

    at.switch_page("pages/5_Runs.py").run()
    _ok(at)
    assert len(_plots(at)) == 1 and len(at.dataframe) == 1
    assert at.dataframe[0].value["this tab"].tolist() == [True]
    assert {b.label for b in at.get("download_button")} >= {"Model (.keras)", "Loss history (.csv)",
                                                             "Predictions (.csv)", "Windows (.h5)"}
    # Delete needs the confirmation box first.
    assert at.button(key="runs_del").disabled
    at.checkbox[0].check().run()
    at.button(key="runs_del").click().run()
    _ok(at)
    assert not any(p.is_dir() and not p.name.startswith(".") for p in (home / "runs").iterdir())


def test_setup_lives_in_the_url_and_model_widgets_follow_it():
    at = _app({"n": "12", "k": "3", "arch": "lstm", "units": "16,8"})
    at.switch_page("pages/2_Model.py").run()
    _ok(at)
    n = next(w for w in at.number_input if w.label.startswith("N "))
    assert n.value == 12 and at.text_input[0].value == "16, 8"
    n.set_value(20).run()
    _ok(at)
    assert at.query_params["n"] == ["20"] or at.query_params["n"] == "20"
    assert at.session_state["pc_spec"].window.n == 20 and at.session_state["pc_spec"].model.units == (16, 8)


def test_shape_errors_are_shown_with_the_fix_before_training():
    at = _app({"arch": "cnn", "units": "8,1", "kernel_sizes": "20,16", "strides": "3,4", "cnn_head": "conv",
               "n": "100", "k": "16", "residual": "0"})
    at.switch_page("pages/2_Model.py").run()
    assert not at.exception
    assert any("cannot train yet" in e.value and "switch the output head" in e.value for e in at.error)


def test_applying_a_seed_preset_can_keep_the_chosen_data():
    at = _app({"data": "sample:MSFT"})
    at.switch_page("pages/2_Model.py").run()
    at.selectbox(key="model_preset").set_value("seed-cnn-2-relu").run()
    at.radio(key="model_preset_data_seed-cnn-2-relu").set_value("keep").run()
    at.button[0].click().run()
    assert not at.exception
    spec = at.session_state["pc_spec"]
    assert spec.data == "sample:MSFT" and spec.preset == "seed-cnn-2-relu" and spec.window.n == 256
    # The tutorial's 5-minute setup on daily data leaves 4 validation examples: refused, with the counts and the fix.
    refused = [e.value.replace("\\", "") for e in at.error]
    assert len(refused) == 1 and "Not ready to train" in refused[0]
    assert "Examples: training 147, validation 4, test 4" in refused[0] and "5-minute" in refused[0]
    assert not at.success


def test_model_page_says_how_many_examples_each_part_gets():
    at = _app({"data": "sample:IBM", "n": "30", "k": "5", "since": "2011-06-01"})
    at.switch_page("pages/2_Model.py").run()
    _ok(at)
    ready = at.success[0].value
    assert "Ready to train" in ready and "training **" in ready and "validation **" in ready and "test **" in ready
    assert any("Only" in w.value and "training examples" in w.value for w in at.warning)  # ~420: few, not refused


def test_a_preset_edited_away_is_custom_in_the_url_and_the_file_name():
    from pricecast.presets import setup_file_name

    at = _app()
    at.switch_page("pages/2_Model.py").run()
    assert at.session_state["pc_spec"].preset == "default"
    at.text_input(key="m_units_0").set_value("32, 16").run()
    _ok(at)
    assert at.session_state["pc_spec"].preset == "custom (from default)"
    assert at.query_params["preset"] in (["custom (from default)"], "custom (from default)")
    assert any("custom (from default)" in c.value for c in at.caption)
    assert at.selectbox(key="model_preset").value == "default"  # the preset it came from stays selected
    assert setup_file_name(at.session_state["pc_spec"]) == "custom-from-default-setup.yaml"
    at.text_input(key="m_units_0").set_value("32").run()  # edits undone: the preset's name again
    assert at.session_state["pc_spec"].preset == "default"


def test_a_link_to_an_edited_preset_opens_as_custom():
    at = _app({"preset": "default", "units": "64"})
    assert at.session_state["pc_spec"].preset == "custom (from default)"


def test_seed_preset_says_and_uses_its_bundled_data_by_default():
    at = _app({"data": "sample:MSFT"})
    at.switch_page("pages/2_Model.py").run()
    at.selectbox(key="model_preset").set_value("seed-lstm").run()
    assert any("Bitcoin/USD 5-minute" in c.value and "poloniex:BTC/USDT:5m" in c.value for c in at.caption)
    at.button[0].click().run()
    _ok(at)
    assert at.session_state["pc_spec"].data == "sample:BTC-USD-5M"
    at.radio(key="model_preset_data_seed-lstm").set_value("live").run()
    at.button[0].click().run()
    assert at.session_state["pc_spec"].data == "poloniex:BTC/USDT:5m"
    assert any("press Load" in i.value for i in at.info)


@pytest.mark.parametrize("name", ["tcn-btc-hourly", "lecture-lstm"])
def test_a_preset_made_for_its_data_trains_on_it_unless_the_user_keeps_theirs(name):
    # "... 2 days -> 6 hours" once kept daily AAPL by default and trained on it with N=48 "hours".
    from pricecast.presets import get_preset

    at = _app({"data": "sample:MSFT"})
    at.switch_page("pages/2_Model.py").run()
    at.selectbox(key="model_preset").set_value(name).run()
    assert at.radio(key=f"model_preset_data_{name}").value == "own"
    at.radio(key=f"model_preset_data_{name}").set_value("keep").run()  # on purpose
    at.button[0].click().run()
    assert at.session_state["pc_spec"].data == "sample:MSFT"
    at = _app({"data": "sample:MSFT"})
    at.switch_page("pages/2_Model.py").run()
    at.selectbox(key="model_preset").set_value(name).run()
    at.button[0].click().run()
    _ok(at)
    assert at.session_state["pc_spec"].data == get_preset(name).spec.data


def test_a_tutorial_preset_says_its_warning_is_about_the_tutorials_own_setup():
    at = _app()
    at.switch_page("pages/2_Model.py").run()
    at.selectbox(key="model_preset").set_value("seed-lstm").run()
    at.button[0].click().run()
    _ok(at)
    warning = next(w.value.replace("\\", "") for w in at.warning if "training examples" in w.value)
    assert "tutorial's own setup, kept as it was (tutorial 000" in warning and "N=256, K=16" in warning
    assert "sliding windows" in warning and "longer stretch of these candles (now 7,621 over 26 days)" in warning
    assert "instead of daily" not in warning  # the data is 5-minute already


def test_the_default_preset_keeps_the_users_data():
    at = _app({"data": "sample:MSFT", "preset": "seed-lstm"})
    at.switch_page("pages/2_Model.py").run()
    at.selectbox(key="model_preset").set_value("default").run()
    at.button[0].click().run()
    _ok(at)
    assert at.session_state["pc_spec"].data == "sample:MSFT" and at.session_state["pc_spec"].preset == "default"


def test_bad_link_value_is_dropped_with_a_message():
    at = _app({"n": "lots", "k": "3"})
    assert not at.exception
    assert any("n=lots" in w.value.replace("\\", "") for w in at.warning)
    spec = at.session_state["pc_spec"]
    assert spec.window.n == 30 and spec.window.k == 3  # the default for the bad value, the rest of the link kept


def test_unreachable_market_gives_a_plain_message(monkeypatch):
    monkeypatch.setenv("PRICECAST_BASE_URL_YAHOO", "http://127.0.0.1:9")
    monkeypatch.setenv("PRICECAST_HTTP_RETRIES", "1")
    monkeypatch.setenv("PRICECAST_HTTP_TIMEOUT", "2")
    monkeypatch.setenv("PRICECAST_HTTP_BACKOFF", "0")
    at = _app()
    at.switch_page("pages/1_Data.py").run()
    at.radio(key="data_source").set_value("yahoo").run()
    _ok(at)
    next(b for b in at.button if b.label == "Load").click().run()
    assert not at.exception
    assert at.error and all("Traceback" not in e.value for e in at.error)
    assert at.session_state["pc_spec"].data == "sample:AAPL"  # the working data stays in use


@pytest.mark.slow
def test_yaml_setup_upload_and_model_summary():
    from pricecast.presets import get_preset
    from pricecast.spec_io import spec_to_yaml

    at = _app()
    at.switch_page("pages/2_Model.py").run()
    lecture = get_preset("lecture-lstm").spec
    at.file_uploader(key="model_yaml").set_value(("setup.yaml", spec_to_yaml(lecture).encode(), "application/x-yaml")).run()
    _ok(at)
    assert at.session_state["pc_spec"] == lecture
    assert next(w for w in at.number_input if w.label.startswith("N ")).value == 7  # widgets rebuilt from the file
    at.file_uploader(key="model_yaml").set_value(("bad.yaml", b"model: {unitz: [3]}", "application/x-yaml")).run()
    assert not at.exception and any("unknown setting" in e.value for e in at.error)
    assert at.session_state["pc_spec"] == lecture
    next(b for b in at.button if b.label == "Show model summary").click().run()
    _ok(at)
    assert any("lstm" in c.value.lower() for c in at.code)


def test_csv_upload_becomes_the_data(home):
    at = _app()
    at.switch_page("pages/1_Data.py").run()
    at.radio(key="data_source").set_value("csv").run()
    rows = "\n".join(f"2024-01-{d:02d},{100 + d},{101 + d},{99 + d},{100.5 + d},{1000 * d}" for d in range(1, 31))
    at.file_uploader(key="data_upload").set_value(("coin.csv", f"time,open,high,low,close,volume\n{rows}\n".encode(), "text/csv")).run()
    _ok(at)
    data = at.session_state["pc_spec"].data
    assert Path(data).parent.parent == home / "uploads" and Path(data).name == "coin.csv"  # uploads/<hash>/coin.csv
    assert at.metric[0].value == "30" and len(_plots(at)) == 1

    def in_use() -> list[str]:
        return [c.value.replace("\\", "") for c in at.caption if c.value.startswith("In use")]

    assert in_use() == ["In use: coin.csv"]
    # A second upload: "In use" names it at once, as the figures do (it once still named the first file).
    rows2 = "\n".join(f"2024-02-{d:02d},{200 + d},{201 + d},{199 + d},{200.5 + d},{1000 * d}" for d in range(1, 21))
    at.file_uploader(key="data_upload").set_value(("coin2.csv", f"time,open,high,low,close,volume\n{rows2}\n".encode(),
                                                   "text/csv")).run()
    _ok(at)
    assert in_use() == ["In use: coin2.csv"] and at.metric[0].value == "20"
    assert Path(at.session_state["pc_spec"].data).name == "coin2.csv"
    data = at.session_state["pc_spec"].data
    at.switch_page("pages/2_Model.py").run()
    keep = at.radio(key="model_preset_data_default").options[0].replace("\\", "")
    assert "coin2.csv" in keep and "uploads" not in keep and str(home) not in keep  # no server path shown
    at.switch_page("pages/1_Data.py").run()
    at.file_uploader(key="data_upload").set_value(("junk.csv", b"a,b\n1,2\n", "text/csv")).run()
    assert not at.exception and any("junk.csv could not be read" in e.value.replace("\\", "") for e in at.error)
    assert at.session_state["pc_spec"].data == data


def test_speed_options_on_the_model_page_reach_the_setup():
    at = _app({"batch_size": "128"})
    at.switch_page("pages/2_Model.py").run()
    next(c for c in at.checkbox if c.label == "Scale the learning rate with the batch").check().run()
    next(c for c in at.checkbox if c.label == "XLA compilation").check().run()
    _ok(at)
    train = at.session_state["pc_spec"].train
    assert train.batch_size == 128 and train.base_batch_size == 32 and train.jit_compile is True


def test_the_fallback_to_no_change_is_a_visible_switch_on_the_model_page():
    at = _app()
    at.switch_page("pages/2_Model.py").run()
    _ok(at)
    switch = next(t for t in at.toggle if t.label.startswith("Fall back to 'no change'"))
    assert switch.value is True and any(c.value.startswith("Why: ") for c in at.caption)
    switch.set_value(False).run()
    _ok(at)
    assert at.session_state["pc_spec"].train.persistence_floor is False


def test_data_page_reports_quality_and_cuts_to_the_clean_stretch(tmp_path):
    from tests.conftest import make_candles

    frame = make_candles(300)
    frame.iloc[100:140, :4] = frame["close"].iloc[99]  # a frozen feed
    frame.iloc[100:140, 4] = 0.0
    path = tmp_path / "frozen.csv"
    frame.reset_index().to_csv(path, index=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["pc_uploads"] = (str(path),)  # a link may name this session's uploads only
    at.query_params.update({"data": str(path)})
    at.run()
    at.switch_page("pages/1_Data.py").run()
    _ok(at)
    assert any("1 stale stretch(es), 41 candles" in w.value for w in at.warning)
    assert {m.label: m.value for m in at.metric}["Stale stretches"] == "1"
    at.session_state["data_quality_open"] = True
    at.run()
    stale = at.dataframe[-1].value  # intraday: date and minute, UTC like the rest of the page
    assert list(stale.columns) == ["First frozen candle", "Last frozen candle", "Candles"]
    first = str(frame.index[99])[:16]
    assert stale.iloc[0, 0] == first and "T" not in stale.iloc[0, 1] and "+00:00" not in stale.iloc[0, 1]
    at.toggle(key=f"data_clean_{path}").set_value(True).run()
    _ok(at)
    assert at.session_state["pc_spec"].data == f"{path}#clean"
    assert {m.label: m.value for m in at.metric}["Candles"] == "160"
    assert any("No gaps, duplicates" in s.value for s in at.success)
    at.toggle(key=f"data_clean_{path}").set_value(False).run()
    assert at.session_state["pc_spec"].data == str(path)


def test_data_page_where_tables_show_readable_times():
    """Issue 15 item 7: no raw ISO timestamps in the "where" tables (gaps, and every quality kind)."""
    at = _app()  # bundled AAPL, daily: 1 gap, 1 jump (the -52% day of 2000-09-29)
    at.switch_page("pages/1_Data.py").run()
    at.session_state["data_gaps_open"] = True
    at.session_state["data_quality_open"] = True
    at.run()
    _ok(at)
    tables = [t.value for t in at.dataframe]
    assert [list(t.columns) for t in tables] == [
        ["Last candle before", "First candle after", "Missing candles"]] * 2 + [["Time", "Close change"]]
    assert tables[1].iloc[0].tolist() == ["2001-09-10", "2001-09-17", 4]
    assert tables[2].iloc[0].tolist() == ["2000-09-29", "-51.9%"]
    assert [t.label for t in at.toggle if "clean" in t.label] == [
        "Use only the longest clean stretch (2001-09-17 … 2013-03-01, 2,884 candles)"]


def test_data_page_keeps_a_clean_bundled_series_selected():
    at = _app({"data": "sample:BTC-USD-5M#clean"})
    at.switch_page("pages/1_Data.py").run()
    _ok(at)
    assert at.session_state["pc_spec"].data == "sample:BTC-USD-5M#clean"


def test_model_page_offers_derived_features_and_time_of_day_only_on_intraday_data():
    at = _app({"data": "sample:BTC-USD-1H", "features": "close,log_return,hour"})
    at.switch_page("pages/2_Model.py").run()
    _ok(at)
    chosen = next(m for m in at.multiselect if m.label == "Input features")
    assert chosen.value == ["close", "log_return", "hour"] and "vol_20" in chosen.options
    assert at.session_state["pc_spec"].window.features == ("close", "log_return", "hour_sin", "hour_cos")
    chosen.select("vol_20").run()
    _ok(at)
    assert at.session_state["pc_spec"].window.features[-1] == "vol_20"
    assert any("vol_20" in c.value and "standard deviation" in c.value for c in at.caption)

    daily = _app({"data": "sample:AAPL", "features": "close,weekday"})
    daily.switch_page("pages/2_Model.py").run()
    _ok(daily)
    chosen = next(m for m in daily.multiselect if m.label == "Input features")
    assert "hour" not in chosen.options and chosen.value == ["close", "weekday"]
    assert any("not offered: these candles are daily" in c.value for c in daily.caption)


def test_new_architectures_on_the_model_page_explained_with_their_own_options():
    from pricecast.models.checks import count_params
    from pricecast.models.registry import ARCHS

    at = _app({"data": "sample:IBM", "n": "32", "k": "4", "arch": "transformer", "units": "8,8", "patch_len": "4",
               "heads": "2", "since": "2011-01-01"})
    at.switch_page("pages/2_Model.py").run()
    _ok(at)
    assert any(ARCHS["transformer"].help in c.value for c in at.caption)
    assert {"Patch length (0 = N // 8)", "Attention heads"} <= _labels(at.number_input)
    spec = at.session_state["pc_spec"]
    assert f"{count_params(spec.model, 32, 4, 1):,} parameters" in at.success[0].value
    at.selectbox(key=next(w.key for w in at.selectbox if w.label == "Architecture")).set_value("dlinear").run()
    _ok(at)
    assert at.session_state["pc_spec"].model.arch == "dlinear"
    assert "Trend window (0 = 25 or N)" in _labels(at.number_input)
    assert any(ARCHS["dlinear"].help in c.value for c in at.caption)


def _saved_run(home: Path, name: str = "20260101-000000-default-IBM-abcdef") -> Path:
    """A run folder as save_run writes it, without training one (the Runs page reads files only)."""
    from pricecast.specs import RunSpec

    folder = home / "runs" / name
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text(json.dumps(RunSpec(data="sample:IBM").to_dict()))
    (folder / "metrics.json").write_text(json.dumps({"test": {"rmse": 1.0, "persistence_rmse": 1.1, "skill": 0.09}}))
    (folder / "history.csv").write_text("epoch,loss,val_loss\n1,0.5,0.6\n2,0.4,0.5\n")
    (folder / "predictions.csv").write_text("origin_time,time\n")
    (folder / "model.keras").write_bytes(b"not opened here")
    return folder


@pytest.mark.parametrize("read_only", [False, True])
def test_read_only_runs_hides_download_and_delete_of_others_runs(home, monkeypatch, read_only):
    # On a LAN server every run is listed to everyone; read-only keeps others' runs to looking at.
    if read_only:
        monkeypatch.setenv("PRICECAST_READ_ONLY_RUNS", "1")
    _saved_run(home)
    at = _app()
    at.switch_page("pages/5_Runs.py").run()
    _ok(at)
    assert at.dataframe[0].value["this tab"].tolist() == [False]  # trained elsewhere
    downloads = {b.label for b in at.get("download_button")}
    delete = [b for b in at.button if b.key == "runs_del"]
    if read_only:
        assert downloads == set() and delete == []
        assert any("Read-only" in i.value and "PRICECAST_READ_ONLY_RUNS" in i.value for i in at.info)
    else:
        assert "Model (.keras)" in downloads and len(delete) == 1


def test_target_presets_explain_themselves_and_the_forecast_picker_names_the_target():
    at = _app({"data": "sample:BTC-USD-1H", "preset": "btc-hourly-volume", "target": "volume",
               "features": "volume,range,hour,weekday", "scaling": "standard", "n": "48", "k": "6"})
    at.switch_page("pages/2_Model.py").run()
    _ok(at)
    assert any("Trading volume rises and falls" in i.value for i in at.info)
    forecast = next(s for s in at.selectbox if s.label == "Forecast")
    assert forecast.value == "volume" and "range (volatility)" in forecast.options
    forecast.set_value("range").run()
    _ok(at)
    assert at.session_state["pc_spec"].window.target == "range"


@pytest.mark.slow
def test_a_run_folder_from_before_the_decision_still_opens_on_results_and_runs(home):
    """Older folders: no ``decision``, no ``network`` column, their floor's note in ``persistence_floor``."""
    import pandas as pd

    from pricecast.models.spec import ModelSpec
    from pricecast.prep.windows import WindowSpec
    from pricecast.specs import RunSpec, TrainSpec
    from pricecast.training.pipeline import train

    spec = RunSpec(data="sample:IBM", window=WindowSpec(n=10, k=2), model=ModelSpec(arch="mlp", units=(4,)),
                   train=TrainSpec(epochs=1, patience=0))
    folder = train(spec, runs_root=home / "runs").run_dir
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics.pop("decision")
    for part in ("train", "val", "test"):
        for key in ("network", "decision", "decision_p"):
            metrics[part].pop(key)
    metrics.update(best_epoch=0, ended_as_persistence=True,
                   persistence_floor={"applies": True, "val_loss": 1.0, "gain_p": None, "ended_as_persistence": True,
                                      "note": "No epoch beat persistence on validation: the model ends as persistence."})
    (folder / "metrics.json").write_text(json.dumps(metrics))
    for name in ("predictions.csv", "forecast.csv"):
        pd.read_csv(folder / name).drop(columns="network").to_csv(folder / name, index=False)
    at = _app({"run": folder.name})  # this run, whatever else the process's job registry holds
    at.switch_page("pages/4_Results.py").run()
    _ok(at)
    assert any("ends as persistence" in m.value.replace("\\", "") for m in at.markdown), [m.value for m in at.markdown]
    for tab in ("Forecast paths", "Metrics", "Next 2"):
        at.session_state["res_tab"] = tab
        at.run()
        _ok(at)
        if tab == "Metrics":
            assert at.dataframe[0].value.index[0] == "model"  # its model row, as it was used
    at.switch_page("pages/5_Runs.py").run()
    _ok(at)
    assert at.dataframe[0].value["decision"].tolist() == ["persistence"]


def test_an_upload_with_unknown_columns_is_mapped_on_the_page(home):
    at = _app()
    at.switch_page("pages/1_Data.py").run()
    at.radio(key="data_source").set_value("csv").run()
    rows = "\n".join(f"{d:02d}.01.2024;{100 + d},5" for d in range(1, 31))
    at.file_uploader(key="data_upload").set_value(("depot.csv", f"Tag;Kurs\n{rows}\n".encode(), "text/csv")).run()
    assert not at.exception and any("--columns" in e.value.replace("\\", "") for e in at.error)
    assert list(at.dataframe[-1].value.columns) == ["Tag", "Kurs"]  # the file's first rows, to choose from
    at.selectbox(key="data_column_time").set_value("Tag")
    at.selectbox(key="data_column_close").set_value("Kurs")
    next(b for b in at.button if b.label == "Read with these columns").click().run()
    _ok(at)
    data = at.session_state["pc_spec"].data
    assert Path(data.split("#")[0]).parent.parent == home / "uploads"
    assert data.endswith("depot.csv#columns=time=Tag,close=Kurs")
    assert at.metric[0].value == "30"
