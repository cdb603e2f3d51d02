"""The Results page's "Walk-forward backtest" panel, driven headless with Streamlit's AppTest."""
from __future__ import annotations

import time

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402


def panel_script(rows: int, home: str) -> None:
    import os

    os.environ["PRICECAST_HOME"] = home
    from pricecast.models import ModelSpec
    from pricecast.specs import RunSpec, TrainSpec
    from pricecast.windows import WindowSpec
    from tests.conftest import make_candles
    from ui.backtest_panel import render

    spec = RunSpec(data="unused", window=WindowSpec(n=10, k=3, features=("close",)), scaling="minmax",
                   model=ModelSpec(arch="mlp", units=(8,), dropout=0.2, residual=True),
                   train=TrainSpec(epochs=1, batch_size=64, patience=0, seed=1))
    render(spec, make_candles(rows, freq="1D"))


def _settle(at: AppTest, timeout: float = 120) -> AppTest:
    """Rerun the script until the background backtest has finished (the fragment would poll in a browser)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run(timeout=30)
        job = at.session_state["pricecast_backtest_job"] if "pricecast_backtest_job" in at.session_state else None
        if job is not None and not job.running:
            at.run(timeout=30)
            return at
        time.sleep(0.5)
    raise AssertionError("backtest did not finish")


def test_panel_runs_a_backtest_and_shows_folds_coverage_and_checks(pricecast_home, monkeypatch):
    # The panel's job is the UI: a no-change stand-in model keeps this test free of Keras (real
    # training is covered in test_backtest.py). AppTest runs the script in this process, so the patch holds.
    import pricecast.backtest as backtest

    from .test_backtest import _fake_fit

    monkeypatch.setattr(backtest, "fit_model", _fake_fit)
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
    assert len(at.get("plotly_chart")) >= 4
    assert [s.value for s in at.success]  # look-ahead checks that passed are listed
    assert any("Scalers refitted" in s.value for s in at.success)


def test_panel_shows_bad_settings_as_a_message(pricecast_home):
    at = AppTest.from_function(panel_script, args=(60, str(pricecast_home)), default_timeout=30)
    at.run()
    at.button(key="bt_run").click()
    at = _settle(at)
    assert not at.exception
    assert at.error and "folds" in at.error[0].value


def test_panel_shows_progress_and_stops(pricecast_home, monkeypatch):
    import threading

    import pricecast.backtest as backtest

    from .test_backtest import _fake_fit

    def slow_fit(spec, train_part, val_part, scaler, epochs, stop=None, on_epoch=None):
        if on_epoch:
            on_epoch(1, {"loss": 0.1, "val_loss": 0.1})
        (stop or threading.Event()).wait(20)  # "training" until Stop is pressed
        model, info = _fake_fit(spec, train_part, val_part, scaler, epochs)
        return model, {**info, "stopped": bool(stop and stop.is_set())}

    monkeypatch.setattr(backtest, "fit_model", slow_fit)
    at = AppTest.from_function(panel_script, args=(400, str(pricecast_home)), default_timeout=30)
    at.run()
    at.button(key="bt_run").click().run()
    for _ in range(40):
        job = at.session_state["pricecast_backtest_job"]
        if job.last.get("type") == "epoch":
            break
        time.sleep(0.1)
    at.run()
    bars = at.get("progress")
    assert bars and "Fold 1/4: training epoch 1" in bars[0].proto.text
    at.button(key="bt_stop").click()
    at = _settle(at)
    assert not at.exception
    assert any(w.value.startswith("Stopped: 0 of 4 folds") for w in at.warning)
    job = at.session_state["pricecast_backtest_job"]
    assert job.result is not None and job.result.stopped and not job.result.folds
