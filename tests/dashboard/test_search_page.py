"""The Experiments page's Search mode (an Optuna study as a ``tune`` dashboard job) and the Train page's
tracking switches (MLflow, TensorBoard: done in the worker)."""
from __future__ import annotations

import threading
from pathlib import Path

import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from pricecast import events
from pricecast.jobs.task import Task
from pricecast.presets import get_preset
from pricecast.tuning import TuneSpec, search_space
from tests.conftest import make_candles
from ui import charts

ROOT = Path(__file__).resolve().parents[2]
TINY = {"data": "sample:IBM", "n": "10", "k": "2", "epochs": "1", "units": "4", "patience": "0", "since": "2011-01-01"}

pytest.importorskip("optuna")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    return tmp_path


def _app(params: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(params)
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_the_tune_job_kind_reports_each_trial_and_returns_drawable_figures():
    from pricecast.catalogue import with_overrides
    from pricecast.service.tasks import RUNNER

    base = with_overrides(get_preset("default").spec, {"epochs": 1, "n": 10, "k": 2, "units": (4,), "patience": 0})
    spec = TuneSpec(base=base, space=tuple(search_space(["units", "learning_rate"], base)), trials=2)
    seen: list = []
    result = RUNNER.run(Task("tune", {"tune": spec}, make_candles(300)), seen.append, threading.Event())
    progress = [e for e in seen if isinstance(e, events.Progress)]
    assert [e.fraction for e in progress] == [0.5, 1.0] and progress[0].text.startswith("1 of 2 trials · trial 0:")
    assert result["trials"]["ran"] == 2 and result["best"]["value"] > 0
    assert result["test"]["persistence_rmse"] > 0  # the best trial's test score, beside persistence
    for name in ("history", "importances"):
        charts.figure_json(pio.from_json(result["figures"][name]))  # only trace types the browser bundle holds


def test_search_mode_runs_a_study_then_offers_its_best_setup():
    from pricecast.service.dashboard import registry

    at = _app(TINY)
    at.switch_page("pages/6_Experiments.py").run()
    _ok(at)
    at.radio(key="exp_mode").set_value("search").run()
    _ok(at)
    at.multiselect(key="exp_search_fields").set_value(["units"]).run()
    at.number_input(key="exp_search_trials").set_value(2).run()
    at.number_input(key="exp_search_epochs").set_value(1).run()
    _ok(at)
    assert any("units" in c.value and "scale" in c.value for c in at.caption), [c.value for c in at.caption]
    at.button(key="exp_search_run").click().run()
    _ok(at)
    job = registry().latest(at.session_state["pc_session_id"], "tune")
    assert job is not None and job.task.payload["tune"].trials == 2
    assert job.wait(300) and job.snapshot().state == "done", job.snapshot().error
    at.run()
    _ok(at)
    assert "Search results" in [h.value for h in at.subheader]
    assert any(m.value.startswith("**Best trial:") for m in at.markdown)
    assert any("beside persistence" in m.value for m in at.markdown)
    best = job.snapshot().result["best"]["params"]["units"]
    at.button(key="exp_search_use").click().run()
    _ok(at)
    assert at.session_state["pc_spec"].model.units == (best,)


def test_search_mode_without_optuna_says_how_to_install(monkeypatch):
    from ui import search

    monkeypatch.setattr(search, "optuna_installed", lambda: False)
    at = _app(TINY)
    at.switch_page("pages/6_Experiments.py").run()
    at.radio(key="exp_mode").set_value("search").run()
    _ok(at)
    assert any("requirements-ml.txt" in i.value for i in at.info)


def test_train_switches_log_to_tensorboard_and_warn_when_mlflow_is_down(monkeypatch):
    from pricecast.service.dashboard import registry

    monkeypatch.setenv("PRICECAST_MLFLOW_URI", "http://127.0.0.1:9")  # nothing listens there
    at = _app(TINY)
    at.switch_page("pages/3_Train.py").run()
    at.toggle(key="train_mlflow").set_value(True).run()
    at.toggle(key="train_tensorboard").set_value(True).run()
    _ok(at)
    at.button(key="train_start").click().run()
    job = registry().latest(at.session_state["pc_session_id"], "train")
    assert job.task.payload["mlflow"] is True and job.task.payload["tensorboard"] is True
    assert job.wait(180) and job.snapshot().state == "done", job.snapshot().error
    result = job.snapshot().result
    assert (Path(result.run_dir) / "tensorboard").is_dir()
    assert (Path(result.run_dir) / "metrics.json").exists()  # a down server loses no run
    at.run()
    assert any("cannot be reached" in w.value for w in at.warning), [w.value for w in at.warning]


def test_train_switch_logs_the_saved_run_to_a_local_mlflow_store(monkeypatch, home):
    pytest.importorskip("mlflow")
    from pricecast.service.dashboard import registry

    uri = f"sqlite:///{home / 'mlflow.db'}"
    monkeypatch.setenv("PRICECAST_MLFLOW_URI", uri)
    at = _app(TINY)
    at.switch_page("pages/3_Train.py").run()
    at.toggle(key="train_mlflow").set_value(True).run()
    at.button(key="train_start").click().run()
    job = registry().latest(at.session_state["pc_session_id"], "train")
    assert job.task.payload == {**job.task.payload, "mlflow": True, "tensorboard": False}
    assert job.wait(180) and job.snapshot().state == "done", job.snapshot().error
    assert job.snapshot().result.warnings == ()

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("pricecast").experiment_id])
    assert len(runs) == 1 and "test_persistence_rmse" in runs[0].data.metrics


@pytest.mark.slow
def test_search_results_in_a_browser(tmp_path):
    """The Search mode in Chromium: 3 trials of 1 epoch, then the best trial and Optuna's two charts
    drawn, no error box (screenshot in test-output/screenshots/search-results.png)."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.dashboard.streamlit_server import dashboard

    query = "&".join(f"{k}={v}" for k, v in TINY.items())
    shots = ROOT / "test-output" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with dashboard(tmp_path) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1300, "height": 2600})
        page.goto(f"{url}/Experiments?{query}")
        page.get_by_text("Search: the best settings").click()
        trials = page.get_by_role("spinbutton", name="Trials")
        trials.fill("3")
        trials.press("Enter")
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="Start search").click()
        page.get_by_text("Search results").wait_for(timeout=300_000)
        page.locator(".pc-chart .main-svg").nth(1).wait_for(timeout=30_000)  # history and importances
        page.screenshot(path=str(shots / "search-results.png"), full_page=True)
        errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
        assert errors.count() == 0, [errors.nth(i).inner_text() for i in range(errors.count())]
        assert page.get_by_role("button", name="Use this setup").is_visible()
        browser.close()
