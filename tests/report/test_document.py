"""The HTML report: one file, offline, escaped, with the scores against persistence."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pricecast.cli.main import main
from pricecast.report.document import BUNDLE, cli_command, decision, run_report, verdict
from pricecast.specs import RunSpec
from tests.report.conftest import HOSTILE

CHROMIUM = Path("/usr/bin/chromium")


class _Collect(HTMLParser):
    """Every tag with its attributes, and whether the parser saw unbalanced sections."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def check_offline_html(text: str) -> _Collect:
    parser = _Collect()
    parser.feed(text)
    parser.close()
    names = [t for t, _ in parser.tags]
    assert names[:2] == ["html", "head"] and "body" in names
    for tag, attrs in parser.tags:
        if tag in ("script", "img", "iframe"):
            assert not attrs.get("src"), f"{tag} loads {attrs.get('src')}"
        if tag == "link":
            assert attrs.get("rel") != "stylesheet", attrs
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?://", text, re.I)
    assert "@import" not in text and "url(http" not in text
    return parser


def test_report_of_a_run_is_one_offline_file_with_the_scores_and_escaped_text(fake_run):
    folder, candles = fake_run
    text = run_report(folder, candles=candles)
    check_offline_html(text)
    assert "sample:AAPL" in text and "persistence" in text
    assert BUNDLE.read_text()[:200] in text  # plotly.js inlined
    # the skill figures, as the metrics hold them
    import json

    metrics = json.loads((folder / "metrics.json").read_text())
    assert f"{metrics['test']['skill']:+.1%}" in text
    assert f"{metrics['val']['skill']:+.1%}" in text
    # user text is escaped: the hostile warning never becomes markup
    assert HOSTILE not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "Results?run=20260101-000000-fake-run" in text
    assert "python -m pricecast train --preset default --data sample:AAPL" in text
    assert "<td>forecast</td>" in text  # the layer table from model.keras, read without Keras
    assert len(text.encode()) < 3_000_000


def test_a_long_intraday_series_is_thinned_to_stay_small(tmp_path):
    from tests.conftest import make_candles
    from tests.report.conftest import write_fake_run

    candles = make_candles(40_000, freq="5min")
    folder = write_fake_run(tmp_path / "long-run", candles)
    assert len(run_report(folder, candles=candles).encode()) < 3_000_000


def test_the_network_own_scores_and_the_decision_are_read_when_present_and_optional_when_not(fake_run):
    folder, candles = fake_run
    import json

    metrics = json.loads((folder / "metrics.json").read_text())
    assert decision(metrics)[0] == "network" and decision(metrics)[1] == pytest.approx(0.01)
    metrics["decision"] = {"chosen": "persistence", "p_value": 0.4}
    metrics["test"]["network"] = dict(metrics["test"]["model"], rmse=metrics["test"]["persistence_rmse"] * 1.1)
    metrics["test"]["best_naive"] = "drift"
    metrics["test"]["skill_vs_best_naive"] = -0.05
    (folder / "metrics.json").write_text(json.dumps(metrics))
    assert decision(metrics)[:2] == ("persistence", 0.4)
    assert "(the trained network alone: skill -10.0%)" in verdict(metrics)
    # a volume run falls back to the best of its own naive forecasts, named as such
    seasonal = verdict({**metrics, "decision": {"choice": "seasonal_day", "p_value": 0.3}})
    assert "“same time yesterday”" in seasonal and "no change" not in seasonal
    text = run_report(folder, candles=candles)
    assert "network&#x27;s own" in text and "-10.0%" in text and "best naive forecast" in text


def test_a_hostile_data_name_is_escaped_in_text_and_inside_the_charts(tmp_path):
    from tests.conftest import make_candles
    from tests.report.conftest import write_fake_run

    name = "evil<img src=x onerror=alert(1)></script>.csv"
    candles = make_candles(400)
    folder = write_fake_run(tmp_path / "run", candles, data=str(tmp_path / name.replace("/", "")))
    text = run_report(folder, candles=candles)
    check_offline_html(text)
    assert "<img" not in text and "evil&lt;img" in text
    assert text.count("</script>") == text.count("<script")  # the figures' JSON cannot close its element


def test_cli_command_lists_what_differs_from_the_preset():
    spec = RunSpec()
    line = cli_command(spec.replace(data="my file.csv"))
    assert line.startswith("python -m pricecast train --preset default --data 'my file.csv'")


def test_report_command_writes_the_file(fake_run, tmp_path, capsys, monkeypatch):
    folder, _ = fake_run
    out = tmp_path / "r.html"
    assert main(["report", str(folder), "--out", str(out)]) == 0
    assert out.stat().st_size > 1_000_000 and "wrote" in capsys.readouterr().err
    assert main(["report"]) == 2  # neither a run nor an experiment
    runs = tmp_path / "home-runs"
    runs.mkdir()
    folder.rename(runs / folder.name)
    monkeypatch.setenv("PRICECAST_RUNS_DIR", str(runs))
    assert main(["report", folder.name, "--out", str(out)]) == 0  # a run by its id


def render_offline(path: Path, screenshot: Path) -> tuple[int, int, list[str]]:
    """Open ``path`` in Chromium with every request but file:// refused; (charts, charts drawn, refused URLs)."""
    from playwright.sync_api import sync_playwright

    refused: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1200, "height": 900})

        def route(r):
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                refused.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.as_uri())
        page.wait_for_function("document.querySelectorAll('.chart[data-drawn]').length === "
                               "document.querySelectorAll('.chart').length", timeout=30_000)
        charts = page.locator(".chart").count()
        # drawn: an SVG with at least one trace in it (a failed chart holds its error text instead)
        drawn = page.evaluate("Array.from(document.querySelectorAll('.chart')).filter("
                              "c => c.querySelector('.main-svg g.trace')).length")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert not errors, errors
    return charts, drawn, refused


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")
def test_every_chart_draws_in_a_browser_without_network(fake_run, tmp_path):
    folder, candles = fake_run
    page = tmp_path / "report.html"
    page.write_text(run_report(folder, candles=candles))
    charts, drawn, refused = render_offline(page, tmp_path / "report.png")
    assert charts >= 6 and drawn == charts
    assert refused == []


@pytest.mark.slow
def test_report_of_a_default_run(default_run, tmp_path):
    import json

    text = run_report(default_run)
    check_offline_html(text)
    metrics = json.loads((default_run / "metrics.json").read_text())
    assert "sample:AAPL" in text and "persistence" in text and f"{metrics['test']['skill']:+.1%}" in text
    assert len(text.encode()) < 3_000_000
    if CHROMIUM.exists():
        page = tmp_path / "report.html"
        page.write_text(text)
        charts, drawn, refused = render_offline(page, tmp_path / "default.png")
        assert charts >= 6 and drawn == charts and refused == []


@pytest.mark.slow
def test_report_with_a_backtest_has_the_intervals_and_their_coverage(default_run):
    from pricecast.backtest.spec import BacktestSpec
    from pricecast.backtest.walkforward import run_backtest
    from pricecast.training.runs import load_run

    result = run_backtest(load_run(default_run).spec, BacktestSpec(folds=2, fold_size=60, epochs=1))
    text = run_report(default_run, backtest=result)
    check_offline_html(text)
    assert "Walk-forward backtest" in text and "measured coverage" in text and "Residuals" in text
    assert "This run has no prediction intervals" not in text


def make_fake_experiment(name: str) -> None:
    """An experiment folder with finished trial records (no training: tests/experiments/conftest.py)."""
    from pricecast.experiments.storage import prepare_folder, save_record
    from tests.experiments.conftest import tiny, trial_records

    spec = tiny(name)
    folder = prepare_folder(spec)
    for record in trial_records({v.id: [2.4, 2.6] for v in spec.variations}):
        save_record(folder, record)


def test_report_of_an_experiment():
    from pricecast.report.document import experiment_report

    make_fake_experiment("tiny")
    text = experiment_report("tiny")
    check_offline_html(text)
    assert "units=4" in text and "Persistence (no change)" in text and text.count('class="chart"') == 3
