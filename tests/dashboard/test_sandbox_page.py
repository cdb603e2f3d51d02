"""The Data page's signal sandbox and predictability check, through AppTest."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from .charts import figures

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)


def _data_page(params: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(params)
    at.run()
    at.switch_page("pages/1_Data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_sliders_rebuild_the_ref_and_the_page_says_synthetic():
    at = _data_page({"data": "synthetic:pattern?seed=3"})
    assert at.radio(key="data_source").value == "synthetic"
    assert at.slider(key="data_syn_noise").value == 0.05 and at.number_input(key="data_syn_seed").value == 3
    knobs = [*at.slider, *at.number_input, *at.selectbox]
    assert len(knobs) == 9 and all(w.help for w in knobs)
    assert any("Synthetic data" in i.value and "not a market" in i.value for i in at.info)
    assert any("made up by pricecast" in c.value and "not a market" in c.value for c in at.caption)
    candles, acf = figures(at)
    assert "synthetic: not a market" in candles["layout"]["title"]["text"]
    assert any("forecastable" in s.value for s in at.success)
    assert {t["type"] for t in acf["data"]} <= {"bar", "scatter"}  # SVG traces the charts' bundle draws
    before = candles["data"][0]["close"]

    at.slider(key="data_syn_noise").set_value(3.0).run()
    assert at.session_state["pc_spec"].data == "synthetic:pattern?noise=3&seed=3"
    assert not at.exception and not at.error
    assert any("behaves like a random walk" in w.value for w in at.warning)
    assert figures(at)[0]["data"][0]["close"] != before  # the data changed with the slider
    at.selectbox(key="data_syn_timeframe").set_value("1d").run()
    assert at.session_state["pc_spec"].data == "synthetic:pattern?noise=3&timeframe=1d&seed=3"


def test_switching_to_the_sandbox_from_a_bundled_series():
    at = _data_page({})
    at.radio(key="data_source").set_value("synthetic").run()
    assert at.session_state["pc_spec"].data == "synthetic:pattern"
    assert not at.exception and not at.error


def test_a_bad_knob_in_a_link_is_dropped_with_its_reason():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update({"data": "synthetic:pattern?noise=9"})
    at.run()
    assert at.session_state["pc_spec"].data == "sample:AAPL"
    assert any("noise must be a number from 0 to 3" in w.value for w in at.warning)


def test_home_offers_three_stories_with_help():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception and not at.error
    buttons = {b.key: b for b in at.button if b.key and b.key.startswith("story_")}
    assert set(buttons) == {"story_pattern", "story_prices", "story_volume"}
    assert all(b.help and "python -m pricecast train" in b.help for b in buttons.values())


@pytest.mark.slow
def test_a_story_starts_training_its_setup_in_one_click():
    from pricecast.service.dashboard import registry
    from pricecast.stories import STORIES

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.button(key="story_pattern").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    job = registry().latest(at.session_state["pc_session_id"], "train")
    assert job is not None and job.task.payload["spec"]["data"] == STORIES["pattern"].spec.data
    assert at.session_state["pc_spec"].data == "synthetic:pattern"
    job.stop()
    assert job.wait(180)
    at.run()  # a rerun of the Train page starts nothing more: the click was read once
    assert registry().latest(at.session_state["pc_session_id"], "train").id == job.id
