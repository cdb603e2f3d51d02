"""Real browser: `streamlit run app.py` on 127.0.0.1, Debian's chromium driven by Playwright.

Picks a bundled series, trains a tiny model, waits for the loss curve and the actual-vs-predicted
chart, and saves screenshots to test-output/screenshots/ (look at them). Skips cleanly without
/usr/bin/chromium or playwright.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here trains a Keras model

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-output" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
CHART = ".pc-chart .main-svg"  # a chart drawn by ui/charts.py


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    home = tmp_path_factory.mktemp("pricecast-home")
    port = _free_port()
    env = {**os.environ, "PRICECAST_HOME": str(home), "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = open(home / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail("streamlit did not start: " + (home / "streamlit.log").read_text()[-2000:])
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _settle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished running the script (no 'running' status widget)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def _no_errors(page, where: str) -> None:
    errors = page.locator(ERRORS)
    texts = [errors.nth(i).inner_text() for i in range(errors.count())]
    assert not texts, f"error on the {where} page: {texts}"


def _go(page, name: str) -> None:
    """Open a page from the sidebar, clicking again if a click was dropped during a re-render."""
    link = page.locator('[data-testid="stSidebar"] a').filter(has_text=re.compile(rf"(^|[^\w\s])\s*{name}\s*$"))
    for _ in range(3):
        link.first.click()
        try:
            page.wait_for_url(re.compile(rf"/{name}(\?|$)"), timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - try the click again
            continue
    _settle(page)


def _choose(page, selectbox, option) -> None:
    """Open a selectbox and pick an option; a click that lands while the page re-renders can be
    dropped, so open it again until the option shows."""
    _settle(page)
    for _ in range(4):
        selectbox.locator('[role="combobox"], input').first.click()
        try:
            page.get_by_role("option", name=option).first.wait_for(timeout=5_000)
        except Exception:  # noqa: BLE001 - the list did not open: try again
            page.keyboard.press("Escape")
            _settle(page)
            continue
        page.get_by_role("option", name=option).first.click()
        return
    raise AssertionError(f"could not choose {option.pattern} in the selectbox")


def test_train_in_browser(server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1700})
        asked = []  # every script the browser fetched: the charts' Plotly is loaded once for all pages
        page.on("request", lambda request: asked.append(request.url) if request.resource_type == "script" else None)
        try:
            # A tiny setup through the link (the URL holds the setup), then the UI for the rest.
            page.goto(f"{server}/?n=10&k=2&epochs=2&units=8&preset=default&since=2010-01-01", wait_until="networkidle")
            page.get_by_text("Four steps").wait_for(timeout=30_000)
            _settle(page)
            page.screenshot(path=str(SHOTS / "0_home.png"), full_page=True)
            _no_errors(page, "home")

            _go(page, "Data")
            _choose(page, page.locator('[data-testid="stSelectbox"]').first, re.compile("^MSFT"))
            _settle(page)
            page.locator(CHART).first.wait_for(timeout=30_000)
            page.get_by_text("sample:MSFT").first.wait_for(timeout=10_000)
            page.screenshot(path=str(SHOTS / "1_data.png"), full_page=True)
            _no_errors(page, "Data")

            _go(page, "Model")
            page.get_by_text("Ready to train").wait_for(timeout=30_000)
            _settle(page)
            page.get_by_label("Epochs").first.wait_for(timeout=30_000)  # the inputs, not their placeholders
            page.wait_for_timeout(500)
            page.screenshot(path=str(SHOTS / "2_model.png"), full_page=True)
            _no_errors(page, "Model")

            _go(page, "Train")
            page.get_by_text("Press Train to start").wait_for(timeout=30_000)
            # The setup follows the user from page to page in the URL, so the link reproduces it.
            assert "n=10" in page.url and "k=2" in page.url and "since=2010-01-01" in page.url, page.url
            _press_train(page)
            page.get_by_text(re.compile(r"^Finished")).first.wait_for(timeout=180_000)
            _settle(page, 60_000)
            page.locator(CHART).nth(1).wait_for(timeout=30_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(SHOTS / "3_train.png"), full_page=True)
            _no_errors(page, "Train")
            assert page.get_by_text(re.compile(r"^Validation, \d+ step")).count() >= 1
            assert page.get_by_text("Loss per epoch").count() >= 1

            _go(page, "Results")
            page.get_by_text("Actual vs predicted, 1 step").first.wait_for(timeout=30_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(SHOTS / "4_results.png"), full_page=True)
            _no_errors(page, "Results")
            for i, tab in enumerate(["Forecast paths", "Metrics", "Next 2"]):
                page.get_by_role("tab", name=tab).click()
                page.wait_for_timeout(800)
                page.screenshot(path=str(SHOTS / f"4{'abc'[i]}_results_{tab.split()[0].lower()}.png"), full_page=True)
                _no_errors(page, f"Results/{tab}")

            _go(page, "Runs")
            page.locator(CHART).first.wait_for(timeout=30_000)
            page.get_by_role("button", name="Windows (.h5)").first.wait_for(timeout=30_000)
            _settle(page)
            page.screenshot(path=str(SHOTS / "5_runs.png"), full_page=True)
            _no_errors(page, "Runs")
            plotly = [url for url in asked if "plotly" in url.lower()]
            assert [url.rsplit("/", 1)[-1] for url in plotly] == ["plotly-finance.min.js"], plotly
        except Exception:
            page.screenshot(path=str(SHOTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _press_train(page) -> None:
    _settle(page)
    started = page.get_by_text(re.compile(r"^(Training|Queued|Finished)"))
    for _ in range(3):  # a click that lands while the page is still re-rendering can be dropped
        page.get_by_role("button", name="Train", exact=True).click()
        try:
            started.first.wait_for(timeout=15_000)
            return
        except Exception:  # noqa: BLE001 - try the click again
            continue
    raise AssertionError("the Train button did not start a run")


def test_two_tabs_train_stacked_models_at_once_and_a_reload_finds_its_run(server):
    """Trainings run in worker processes: two browser sessions train side by side (stacked
    recurrent layers, which once failed after the first training in a server process), a third
    sees neither, a tab trains a second stacked model in a row, and a reloaded tab finds its
    running job again and can stop it."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    setups = {"a": "arch=lstm&units=8,8", "b": "arch=gru&units=8,8"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pages = {name: browser.new_context(viewport={"width": 1400, "height": 1500}).new_page() for name in "abc"}
        try:
            for name, setup in setups.items():
                pages[name].goto(f"{server}/Train?n=10&k=2&epochs=2&patience=0&since=2011-01-01&{setup}",
                                 wait_until="networkidle")
                pages[name].get_by_text("Press Train to start").wait_for(timeout=60_000)
            for name in setups:
                _press_train(pages[name])
            for name in setups:
                pages[name].get_by_text(re.compile(r"^Finished")).first.wait_for(timeout=240_000)
                pages[name].get_by_text("Skill vs persistence").first.wait_for(timeout=60_000)
                _settle(pages[name], 60_000)
                pages[name].screenshot(path=str(SHOTS / f"6_two_tabs_{name}.png"), full_page=True)
                _no_errors(pages[name], f"Train ({name})")

            c = pages["c"]
            c.goto(f"{server}/Train", wait_until="networkidle")
            c.get_by_text("Press Train to start").wait_for(timeout=60_000)
            _settle(c)
            assert c.get_by_text(re.compile(r"^(Training|Finished)")).count() == 0
            c.screenshot(path=str(SHOTS / "6_third_tab.png"), full_page=True)

            a = pages["a"]
            _press_train(a)  # a second stacked model in the same tab
            # The first run's "Finished" is on the page already: wait for the sidebar's second one.
            a.get_by_text("Training finished").nth(1).wait_for(timeout=240_000)
            a.get_by_text(re.compile(r"^Finished")).first.wait_for(timeout=240_000)
            _no_errors(a, "Train (second stacked run)")

            # A long run, then a reload: the browser's owner cookie (never the URL) brings the tab back to it.
            a.goto(f"{server}/Train?n=10&k=2&epochs=400&patience=0&batch_size=8&since=2011-01-01&{setups['a']}",
                   wait_until="networkidle")
            a.get_by_text("Press Train to start").wait_for(timeout=60_000)
            _press_train(a)
            a.get_by_text(re.compile(r"^Epoch \d+/400")).first.wait_for(timeout=120_000)
            assert "job=" not in a.url, a.url
            a.reload(wait_until="networkidle")
            a.get_by_text(re.compile(r"^Training")).first.wait_for(timeout=60_000)
            _settle(a)
            assert a.get_by_role("button", name="Train", exact=True).is_disabled()
            a.screenshot(path=str(SHOTS / "7_reloaded_tab.png"), full_page=True)
            a.get_by_role("button", name="Stop", exact=True).click()
            a.get_by_text(re.compile(r"^Stopped \(best weights kept\)")).first.wait_for(timeout=120_000)
            _no_errors(a, "Train (after reload and stop)")
        except Exception:
            for name, page in pages.items():
                page.screenshot(path=str(SHOTS / f"failure_two_tabs_{name}.png"), full_page=True)
            raise
        finally:
            browser.close()
