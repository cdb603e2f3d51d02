"""The Runs page compares two picked runs: what differs, scores, the paired-test sentence, the overlay
of their networks' forecasts, a loss-curve warning, and "Repeat both 3x" submitting an experiment job."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pricecast.catalogue import with_overrides
from pricecast.service.dashboard import registry
from tests.dashboard.streamlit_server import dashboard
from tests.dashboard.test_browser import ARGS, CHART, CHROMIUM, SHOTS, _no_errors, _settle
from tests.test_compare import DEFAULT, saved_run

ROOT = Path(__file__).resolve().parents[2]



def test_runs_page_compares_two_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICECAST_HOME", str(tmp_path))
    submitted = []  # the page's part ends at the submission: the job is taken, not trained
    monkeypatch.setattr(registry(), "submit", lambda session, kind, payload, label="": submitted.append(
        (kind, payload, label)))
    monkeypatch.chdir(ROOT)
    saved_run(tmp_path / "runs", "20260101-000000-a", with_overrides(DEFAULT, {"n": 60}), noise=1.0, seed=1)
    saved_run(tmp_path / "runs", "20260101-000100-b", DEFAULT, noise=1.0, seed=2, fell_back=True)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/5_Runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert sorted(table["label"]) == ["GRU", "GRU · N=60"]  # labelled by what differs from the preset
    said = [m.value.replace("\\", "") for m in at.markdown]
    assert any(s.startswith("**N=30 vs N=60: ") and "within noise" in s and "shared test forecasts" in s for s in said), said
    differs = at.dataframe[1].value
    assert list(differs.index) == ["n"] and sorted(differs.iloc[0]) == ["30", "60"]
    scores = at.dataframe[2].value
    assert list(scores["decision"]) == ["persistence", "network"] and list(scores["used_skill"])[0] == 0.0
    assert any("differ in N" in w.value.replace("\\", "") for w in at.warning)  # loss curves of other windows: said
    repeat = at.button(key="runs_repeat")
    assert repeat.label == "Repeat both 3x" and not repeat.disabled
    repeat.click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    started = [s.value for s in at.success]
    assert started and "6 trainings" in started[0] and at.session_state["exp_selected"].startswith("whatif-")
    ((kind, payload, label),) = submitted
    assert kind == "experiment" and payload["executor"] == "local" and label == payload["exp"].name
    exp = json.loads(next((tmp_path / "experiments").glob("whatif-*/experiment.json")).read_text())
    assert exp["repeats"] == 3 and [v["overrides"] for v in exp["variations"]] == [{"n": 30}, {"n": 60}]


@pytest.mark.slow
def test_runs_comparison_in_a_real_browser(tmp_path):
    """Chromium: two picked runs show the sentence, the tables and the overlay with no error box; the
    screenshot (test-output/screenshots/runs-compare.png) is to look at."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    saved_run(tmp_path / "runs", "20260101-000000-a", with_overrides(DEFAULT, {"n": 60}), noise=1.0, seed=1)
    saved_run(tmp_path / "runs", "20260101-000100-b", DEFAULT, noise=1.0, seed=2, fell_back=True)
    with dashboard(tmp_path) as url:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 2400})
            page.goto(f"{url}/Runs", wait_until="networkidle")
            _settle(page)
            page.locator(CHART).first.wait_for(timeout=30_000)
            _no_errors(page, "Runs")
            text = page.inner_text("body")
            assert "N=30 vs N=60:" in text and "within noise" in text and "Repeat both 3x" in text
            assert "differ in N" in text  # the loss curves of other windows say so
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "runs-compare.png"), full_page=True)
            browser.close()
