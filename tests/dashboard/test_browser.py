"""Real browser: `streamlit run app.py` on 127.0.0.1, Debian's chromium driven by Playwright.

Picks a bundled series, trains a tiny model, waits for the loss curve and the actual-vs-predicted
chart, and saves screenshots to test-output/screenshots/ (look at them). Skips cleanly without
/usr/bin/chromium or playwright.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.dashboard.streamlit_server import dashboard

pytestmark = pytest.mark.slow  # every test here trains a Keras model

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-output" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
CHART = ".pc-chart .main-svg"  # a chart drawn by ui/charts.py


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with dashboard(tmp_path_factory.mktemp("pricecast-home")) as url:
        yield url


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
    # The link's text is its Material icon's name (a ligature of the icon font), then the page's title.
    link = page.locator('[data-testid="stSidebar"] a').filter(has_text=re.compile(rf"{name}\s*$"))
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
            assert page.get_by_text(re.compile(r"^Validation price, \d+ step")).count() >= 1
            assert page.get_by_text("Loss per epoch").count() >= 1

            _go(page, "Results")
            page.get_by_text("Actual vs predicted price, 1 step").first.wait_for(timeout=30_000)
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
            sidebar = a.locator('[data-testid="stSidebar"]')
            first = sidebar.get_by_text(re.compile("Training finished")).first.inner_text()
            _press_train(a)  # a second stacked model in the same tab
            # The sidebar names the latest finished training by its run: wait until it names another one.
            deadline = time.time() + 240
            while first in sidebar.get_by_text(re.compile("Training finished")).all_inner_texts():
                assert time.time() < deadline, "the second run did not finish"
                a.wait_for_timeout(1000)
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


def _apply_preset(page, title: re.Pattern, name: str, shot: str) -> None:
    """Choose a preset on the Model page and apply it with the data choice left as it comes."""
    _go(page, "Model")
    page.get_by_text("Ready to train").wait_for(timeout=30_000)
    _choose(page, page.locator('[data-testid="stSelectbox"]').first, title)
    _settle(page)
    page.screenshot(path=str(SHOTS / f"{shot}_chosen.png"), full_page=True)
    for _ in range(3):  # a click that lands while the page is still re-rendering can be dropped
        page.get_by_role("button", name="Apply preset").click()
        try:
            page.wait_for_url(re.compile(rf"[?&]preset={re.escape(name)}(&|$)"), timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - try the click again
            _settle(page)
    else:
        raise AssertionError(f"the preset {name} was not applied: {page.url}")
    _settle(page)
    page.get_by_label("Epochs").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / f"{shot}_applied.png"), full_page=True)
    _no_errors(page, f"Model ({shot})")


def _set_epochs(page, epochs: int) -> None:
    box = page.get_by_role("spinbutton", name="Epochs").first
    box.fill(str(epochs))
    box.press("Enter")
    _settle(page)
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('epochs') === '{epochs}'", timeout=15_000)


def _train_here(page, shot: str, run_name: str) -> None:
    """Train the setup from the Train page (which may still show this tab's previous run) and wait until
    the sidebar says that the run whose folder name holds ``run_name`` finished."""
    _go(page, "Train")
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=30_000)
    _settle(page)
    for _ in range(3):  # a click that lands while the page is still re-rendering can be dropped
        page.get_by_role("button", name="Train", exact=True).click()
        try:
            page.get_by_text(re.compile(r"^(Training|Queued) ·")).first.wait_for(timeout=15_000)
            break
        except Exception:  # noqa: BLE001 - started and finished already, or try the click again
            if page.get_by_text(re.compile(rf"Training finished: .*{re.escape(run_name)}")).count():
                break
    page.locator('[data-testid="stSidebar"]').get_by_text(
        re.compile(rf"Training finished: .*{re.escape(run_name)}")).first.wait_for(timeout=300_000)
    _settle(page, 60_000)
    page.locator(CHART).nth(1).wait_for(timeout=30_000)  # the loss and the validation chart, drawn
    page.get_by_text("Skill vs persistence").first.wait_for(timeout=60_000)
    _settle(page, 60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / f"{shot}_train.png"), full_page=True)
    _no_errors(page, f"Train ({shot})")


def _every_results_tab(page, shot: str) -> list[str]:
    """Open each Results tab, screenshot it, assert no error box; returns the tabs' names."""
    _go(page, "Results")
    page.locator(CHART).first.wait_for(timeout=60_000)
    tabs = page.get_by_role("tab")
    names = [tabs.nth(i).inner_text().strip() for i in range(tabs.count())]
    for i, name in enumerate(names):
        tabs.nth(i).click()
        _settle(page, 60_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(SHOTS / f"{shot}_results_{i}_{re.sub(r'[^a-z0-9]+', '_', name.lower())}.png"),
                        full_page=True)
        _no_errors(page, f"Results/{name} ({shot})")
    return names


def test_hourly_preset_then_a_tutorial_preset_in_browser(server):
    """Issue 25 as a user meets it: an hourly-BTC preset applied from the Model page trains on hourly BTC
    (its own data by default) and every chart of its 33,000-candle series draws (WebGL lines once failed
    there); every Results tab, the walk-forward backtest run included, shows no error. Then the
    lecture LSTM (min-max scaling, no 'predict the change') on AAPL: no 'flat curves are normal'
    caption, the Results verdict says why it misses, and the sidebar names the last finished run once.
    Screenshots: test-output/screenshots/h*.png."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        try:
            page.goto(f"{server}/", wait_until="networkidle")
            page.get_by_text("Four steps").wait_for(timeout=30_000)
            _settle(page)

            _apply_preset(page, re.compile("^DLinear"), "dlinear-btc-hourly", "h1_model_dlinear")
            assert "data=sample%3ABTC-USD-1H" in page.url or "data=sample:BTC-USD-1H" in page.url, page.url
            _set_epochs(page, 2)
            _train_here(page, "h2_dlinear", "dlinear-btc-hourly")
            assert page.get_by_text(re.compile("Flat curves from the first epoch")).count() == 1  # residual on

            names = _every_results_tab(page, "h3_dlinear")
            assert names[:4] == ["Actual vs predicted", "Forecast paths", "Metrics", "Next 6"], names
            page.get_by_role("tab", name="Walk-forward backtest").click()
            _settle(page)
            folds = page.get_by_role("spinbutton", name="Test folds").first
            folds.fill("2")
            folds.press("Enter")
            _settle(page)
            page.get_by_role("button", name="Run backtest").click()
            page.get_by_text(re.compile("^Overall")).first.wait_for(timeout=300_000)
            _settle(page, 60_000)
            page.wait_for_timeout(2500)
            page.screenshot(path=str(SHOTS / "h4_dlinear_backtest.png"), full_page=True)
            _no_errors(page, "Results/Walk-forward backtest")

            _apply_preset(page, re.compile("^Lecture LSTM"), "lecture-lstm", "h5_model_lecture")
            assert "data=" not in page.url or "AAPL" in page.url, page.url  # its own data: bundled AAPL
            _set_epochs(page, 2)
            _train_here(page, "h6_lecture", "lecture-lstm")
            assert page.get_by_text(re.compile("Flat curves from the first epoch")).count() == 0  # residual off
            sidebar = page.locator('[data-testid="stSidebar"]')
            finished = sidebar.get_by_text(re.compile("Training finished"))
            assert finished.count() == 1 and "lecture-lstm" in finished.first.inner_text(), finished.all_inner_texts()

            _go(page, "Results")
            page.get_by_role("tab", name="Metrics").click()
            _settle(page)
            page.get_by_text(re.compile("outside the training range")).first.wait_for(timeout=30_000)
            page.wait_for_timeout(800)
            page.screenshot(path=str(SHOTS / "h7_lecture_metrics.png"), full_page=True)
            _no_errors(page, "Results/Metrics (lecture)")

            _apply_preset(page, re.compile("^Seed LSTM"), "seed-lstm", "h8_model_seed_lstm")
            warning = page.get_by_text(re.compile("tutorial's own setup, kept as it was")).first
            warning.wait_for(timeout=30_000)
            assert page.get_by_text(re.compile("instead of daily")).count() == 0
            _settle(page)
            warning.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            page.screenshot(path=str(SHOTS / "h9_model_seed_lstm_warning.png"))
        except Exception:
            page.screenshot(path=str(SHOTS / "failure_hourly.png"), full_page=True)
            raise
        finally:
            browser.close()


def test_a_second_upload_is_in_use_at_once_and_no_server_path_is_shown(server, tmp_path):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    files = []
    for name, days, base in (("first.csv", 30, 100), ("second.csv", 20, 200)):
        rows = "\n".join(f"2024-01-{d:02d},{base + d},{base + 1 + d},{base - 1 + d},{base + 0.5 + d},{1000 * d}"
                         for d in range(1, days + 1))
        path = tmp_path / name
        path.write_text(f"time,open,high,low,close,volume\n{rows}\n")
        files.append(path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        try:
            page.goto(f"{server}/Data", wait_until="networkidle")
            page.get_by_text("Upload a CSV file").click()
            _settle(page)
            for path in files:
                page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
                page.get_by_text(f"In use: {path.name}").wait_for(timeout=30_000)
                _settle(page)
                page.locator(CHART).first.wait_for(timeout=30_000)
            page.wait_for_timeout(800)
            page.screenshot(path=str(SHOTS / "u1_data_second_upload.png"), full_page=True)
            _no_errors(page, "Data (second upload)")
            assert page.get_by_text("In use: first.csv").count() == 0

            _go(page, "Model")
            page.get_by_text("Keep my data (second.csv)").wait_for(timeout=30_000)
            page.get_by_label("Epochs").first.wait_for(timeout=30_000)
            _settle(page)
            assert page.get_by_text(re.compile("uploads/")).count() == 0
            page.screenshot(path=str(SHOTS / "u2_model_keep_upload.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(SHOTS / "failure_upload.png"), full_page=True)
            raise
        finally:
            browser.close()


def test_sandbox_slider_changes_the_data(server):
    """The Data page's signal sandbox in a real browser: the noise slider rebuilds the data and the
    predictability verdict turns from 'forecastable' to 'random walk' (screenshots before and after)."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 2600})
        try:
            page.goto(f"{server}/Data?data=synthetic:pattern", wait_until="networkidle")
            page.get_by_text("is forecastable").first.wait_for(timeout=60_000)
            page.locator(CHART).nth(1).wait_for(timeout=30_000)  # the candles and the ACF
            _settle(page)
            page.screenshot(path=str(SHOTS / "sandbox_default.png"), full_page=True)
            _no_errors(page, "Data (sandbox)")
            page.get_by_role("slider").first.focus()
            page.keyboard.press("End")  # the highest noise
            page.get_by_text("behaves like a random walk").first.wait_for(timeout=60_000)
            _settle(page)
            page.get_by_text("synthetic:pattern?noise=3 (synthetic: not a market)").first.wait_for(timeout=30_000)
            page.screenshot(path=str(SHOTS / "sandbox_noise_3.png"), full_page=True)
            _no_errors(page, "Data (sandbox, noise 3)")
        finally:
            browser.close()
