"""Real browser, many people at once: four sessions press Train together on one server; all four
finish (two job slots: the others wait in the queue, showing their place), and a fifth person's
page still opens meanwhile. No timing assertions (bench/dashboard_load.py measures)."""
from __future__ import annotations

import re

import pytest

from tests.dashboard.test_browser import ARGS, CHROMIUM, SHOTS, _no_errors, _press_train, _settle, server  # noqa: F401

pytestmark = pytest.mark.slow

SETUP = "n=10&k=2&epochs=2&units=8&patience=0&since=2011-01-01"


def test_four_sessions_train_at_once_and_a_fifth_page_opens(server):  # noqa: F811 - the fixture
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pages = [browser.new_context(viewport={"width": 1300, "height": 1100}).new_page() for _ in range(4)]
        try:
            for page in pages:
                page.goto(f"{server}/Train?{SETUP}", wait_until="networkidle")
                page.get_by_text("Press Train to start").wait_for(timeout=120_000)
            for page in pages:
                _press_train(page)
            fifth = browser.new_context().new_page()
            fifth.goto(f"{server}/Data", wait_until="domcontentloaded")
            fifth.get_by_role("heading", name="Data").first.wait_for(timeout=300_000)
            fifth.context.close()
            for i, page in enumerate(pages):
                page.get_by_text(re.compile(r"^Finished")).first.wait_for(timeout=600_000)
                _settle(page, 120_000)
                _no_errors(page, f"Train (session {i + 1} of 4)")
            pages[-1].screenshot(path=str(SHOTS / "8_four_sessions_last.png"), full_page=True)
        except Exception:
            for i, page in enumerate(pages):
                page.screenshot(path=str(SHOTS / f"failure_four_sessions_{i}.png"), full_page=True)
            raise
        finally:
            browser.close()
