"""The Results page's "Walk-forward backtest" panel, driven headless with Streamlit's AppTest."""
from __future__ import annotations

import time

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from .charts import figures

pytestmark = pytest.mark.slow  # (nearly) every test here trains a Keras model


def panel_script(rows: int, home: str, features: tuple[str, ...] = ("close",)) -> None:
    import os

    os.environ["PRICECAST_HOME"] = home
    from pricecast.models.spec import ModelSpec
    from pricecast.prep.windows import WindowSpec
    from pricecast.specs import RunSpec, TrainSpec
    from tests.conftest import make_candles
    from ui.backtest_panel import render

    spec = RunSpec(data="unused", window=WindowSpec(n=10, k=3, features=features), scaling="minmax",
                   model=ModelSpec(arch="mlp", units=(8,), dropout=0.2, residual=True),
                   train=TrainSpec(epochs=1, batch_size=64, patience=0, seed=1))
    render(spec, make_candles(rows, freq="1D"))


def _job(at: AppTest):
    from pricecast.service.dashboard import registry

    return registry().latest(at.session_state["pc_session_id"], "backtest")


def _settle(at: AppTest, timeout: float = 240) -> AppTest:
    """Rerun the script until the backtest job has finished (the fragment would poll in a browser)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run(timeout=30)
        job = _job(at) if "pc_session_id" in at.session_state else None
        if job is None or job.finished:
            at.run(timeout=30)
            return at
        time.sleep(0.5)
    raise AssertionError("backtest did not finish")


def test_panel_runs_a_backtest_and_shows_folds_coverage_and_checks(pricecast_home):
    # Real (tiny) trainings in a worker process: the page's server process never loads Keras.
    at = AppTest.from_function(panel_script, args=(400, str(pricecast_home)), default_timeout=30)
    at.run()
    assert not at.exception
    assert any("Run backtest" in b.label for b in at.button)
    assert all(w.help for w in [*at.number_input, *at.radio, *at.multiselect, *at.checkbox])
    at.button(key="bt_run").click()
    at = _settle(at)
    assert not at.exception and not at.error
    text = " ".join(m.value for m in at.markdown)
    assert "Overall" in text and "persistence" in text
    assert "80% conformal band covered" in text and "95% conformal band covered" in text
    assert len(figures(at)) >= 4
    assert [s.value for s in at.success]  # look-ahead checks that passed are listed
    assert any("Scalers refitted" in s.value for s in at.success)


def test_panel_runs_a_backtest_of_a_run_with_derived_inputs(pricecast_home):
    # The page once keyed the data by the raw input names: KeyError "['log_return'] not in index".
    features = ("close", "log_return", "range")
    at = AppTest.from_function(panel_script, args=(300, str(pricecast_home), features), default_timeout=30)
    at.run()
    assert not at.exception and not at.error
    at.number_input(key="bt_folds").set_value(2)
    at.button(key="bt_run").click()
    at = _settle(at)
    assert not at.exception and not at.error
    assert "Overall" in " ".join(m.value for m in at.markdown)
    assert not [c.value for c in at.caption if "previous settings" in c.value]  # the same key as at the start


def test_panel_shows_bad_settings_as_a_message(pricecast_home):
    at = AppTest.from_function(panel_script, args=(60, str(pricecast_home)), default_timeout=30)
    at.run()
    at.button(key="bt_run").click()
    at = _settle(at)
    assert not at.exception
    assert at.error and "folds" in at.error[0].value


def test_panel_shows_progress_and_stops(pricecast_home):
    at = AppTest.from_function(panel_script, args=(400, str(pricecast_home)), default_timeout=30)
    at.run()
    at.number_input(key="bt_epochs").set_value(500)
    at.button(key="bt_run").click().run()
    deadline = time.monotonic() + 120
    while "training epoch" not in _job(at).snapshot().text:
        assert time.monotonic() < deadline, "no epoch reported"
        time.sleep(0.2)
    at.run()
    bars = at.get("progress")
    assert bars and "Fold 1/4: training epoch" in bars[0].proto.text
    at.button(key="bt_stop").click()
    at = _settle(at)
    assert not at.exception
    assert any(w.value.startswith("Stopped: 0 of 4 folds") for w in at.warning)
    result = _job(at).snapshot().result.result
    assert result.stopped and not result.folds
