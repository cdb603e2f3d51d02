"""Sharing a result: ?run=<run id> opens Results on it, ?view=present is the projector view, the
report downloads from Results, the Runs page shows a link to copy. A saved run folder is written
without Keras (tests/report/conftest.py), so these stay fast."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import make_candles
from tests.report.conftest import write_fake_run

from .charts import figures

ROOT = Path(__file__).resolve().parents[2]
RUN_ID = "20260101-000000-default-sample-AAPL-abcdef"


@pytest.fixture
def run_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    write_fake_run(tmp_path / "runs" / "20250101-000000-older-run", make_candles(500, seed=2))
    return write_fake_run(tmp_path / "runs" / RUN_ID, make_candles(600))


def _results(params: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update(params)
    at.run()
    return at.switch_page("pages/4_Results.py").run()


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_a_run_link_opens_results_on_that_run(run_dir):
    at = _results({"run": RUN_ID})
    _ok(at)
    assert at.session_state["results_run"] == str(run_dir)  # not the newest (the default choice)
    assert "Download report" in {b.label for b in at.get("download_button")}
    assert "Presentation view" in {b.label for b in at.button}
    assert at.query_params["run"] in (RUN_ID, [RUN_ID])
    assert not any("Left out of the link" in w.value for w in at.warning)  # run= is not a setting


def test_an_unknown_run_id_gets_a_note_and_the_page_still_renders(run_dir):
    at = _results({"run": "no-such-run"})
    _ok(at)
    assert any("does not have" in i.value for i in at.info)
    assert len(figures(at)) == 1  # the newest run's chart, as without a link
    at = _results({"run": "../../etc"})
    _ok(at)
    assert any("does not have" in i.value for i in at.info)


def test_the_presentation_view_has_the_verdict_the_chart_and_the_numbers_and_no_widgets(run_dir):
    at = _results({"run": RUN_ID, "view": "present"})
    _ok(at)
    assert not at.selectbox and not at.button and not at.multiselect and not at.radio
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert titles == ["Actual vs predicted on data the model never saw (one step ahead)"]
    assert any("“no change” forecast" in m.value for m in at.markdown)
    assert {"Skill vs “no change”", "Model error (RMSE)", "“No change” error"} <= {m.label for m in at.metric}


def test_the_presentation_button_switches_the_view(run_dir):
    at = _results({"run": RUN_ID})
    at.button(key="res_present").click().run()
    _ok(at)
    assert at.query_params["view"] in ("present", ["present"])
    assert not at.selectbox


def test_runs_page_shows_the_link_to_copy(run_dir):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/5_Runs.py").run()
    _ok(at)
    assert any(f"/Results?run={RUN_ID}" in c.value for c in at.code)


def test_experiments_page_offers_the_report(run_dir):
    from tests.report.test_document import make_fake_experiment

    make_fake_experiment("tiny")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/6_Experiments.py").run()
    _ok(at)
    assert "Download report" in {b.label for b in at.get("download_button")}


@pytest.mark.slow
def test_runs_page_makes_the_training_script_in_a_worker(tmp_path, monkeypatch):
    """A real (tiny) run: the script is written in a worker process (Keras), then offered with its data."""
    from pricecast.models.spec import ModelSpec
    from pricecast.prep.windows import WindowSpec
    from pricecast.specs import RunSpec, TrainSpec
    from pricecast.training.pipeline import train

    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    spec = RunSpec(data="sample:IBM", window=WindowSpec(n=10, k=2), model=ModelSpec(arch="gru", units=(4,)),
                   train=TrainSpec(epochs=1, patience=0))
    train(spec)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/5_Runs.py").run()
    at.button(key="runs_script").click().run()
    _ok(at)
    labels = {b.label for b in at.get("download_button")}
    assert {"Script (.py)", "Its data (.csv)"} <= labels
    assert "layers.GRU(" in at.session_state["pc_runs_script"][1]
