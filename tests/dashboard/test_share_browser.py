"""Sharing a result in a real browser: ?run=<run id> opens Results on that run, ?view=present hides the
menus and widgets, the report downloads and draws its charts with the network refused. The run folder
is written without Keras (tests/report/conftest.py); screenshots go to test-output/screenshots/."""
from __future__ import annotations

import re

import pytest

from tests.conftest import make_candles
from tests.dashboard.streamlit_server import dashboard
from tests.dashboard.test_browser import ARGS, CHROMIUM, ERRORS, SHOTS, _settle
from tests.report.conftest import write_fake_run
from tests.report.test_document import render_offline

pytestmark = pytest.mark.slow  # a Streamlit server and a browser
RUN_ID = "20260101-000000-default-sample-AAPL-abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    home = tmp_path_factory.mktemp("pricecast-home")
    write_fake_run(home / "runs" / "20250101-000000-older-run", make_candles(500, seed=2))
    write_fake_run(home / "runs" / RUN_ID, make_candles(600))
    with dashboard(home) as url:
        yield url


def test_run_link_presentation_view_and_report_download(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(f"{server}/Results?run={RUN_ID}")
        _settle(page, 60_000)
        page.get_by_role("button", name="Download report").wait_for(timeout=30_000)
        assert not page.locator(ERRORS).count()
        expect(page.get_by_role("combobox", name="Run")).to_have_value(re.compile(RUN_ID), timeout=30_000)
        page.screenshot(path=str(SHOTS / "results-run-link.png"))
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="Download report").click()
        report = tmp_path / "report.html"
        info.value.save_as(report)

        page.get_by_role("button", name="Presentation view").click()
        page.wait_for_url(lambda url: "view=present" in url, timeout=30_000)
        _settle(page, 60_000)
        page.locator(".pc-chart .main-svg").first.wait_for(timeout=30_000)
        expect(page.locator('[data-testid="stSelectbox"]')).to_have_count(0, timeout=30_000)  # stale ones go
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        assert page.get_by_text("“no change” forecast").count() >= 1
        page.screenshot(path=str(SHOTS / "results-present.png"))

        page.goto(f"{server}/Results?run=no-such-run")
        _settle(page, 60_000)
        page.get_by_text("does not have").wait_for(timeout=30_000)
        assert not page.locator(ERRORS).count()
        browser.close()
    charts, drawn, refused = render_offline(report, SHOTS / "report-offline.png")
    assert charts >= 6 and drawn == charts and refused == []
