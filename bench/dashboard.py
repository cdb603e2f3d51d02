"""Benchmark 4 — dashboard: time from ``streamlit run app.py`` to the first page rendered in a real
browser (Playwright + /usr/bin/chromium), whether TensorFlow got loaded into the server process,
and the time to draw the Data page's candlestick for 500,000 candles.

    python bench/dashboard.py            # 3 cold starts, 3 Data-page draws
    python bench/dashboard.py --full     # 5 of each

TensorFlow is detected from outside: /proc/<server pid>/maps lists every shared library the
process has loaded; ``libtensorflow`` appears there once anything imports TensorFlow.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Timer, median, save_results, synthetic_candles, table

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ROWS = 500_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tf_loaded(pid: int) -> bool:
    try:
        return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def start_server(home: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {**os.environ, "PRICECAST_HOME": str(home), "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = open(home / "streamlit.log", "a")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - t0 < 90:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url, t0
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError("streamlit did not start: " + (home / "streamlit.log").read_text()[-2000:])


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def cold_start(browser, home: Path) -> dict:
    """One cold start: server launch -> health -> home page's title and step cards visible."""
    proc, url, t0 = start_server(home)
    healthy = time.perf_counter() - t0
    page = browser.new_page()
    try:
        page.goto(url)
        page.get_by_role("heading", name="pricecast").first.wait_for(state="visible", timeout=60_000)
        page.get_by_text("Four steps").first.wait_for(state="visible", timeout=60_000)
        rendered = time.perf_counter() - t0
        time.sleep(0.5)  # let the script run finish (sidebar) before looking at the process
        return {"server_ready_s": healthy, "first_page_s": rendered, "tensorflow_loaded": tf_loaded(proc.pid)}
    finally:
        page.close()
        stop(proc)


def data_page(browser, home: Path, csv: Path, repeats: int) -> dict:
    """The Data page with a 500k-candle CSV: first visit (parse + cache + draw), then reloads (draw)."""
    proc, url, _ = start_server(home)
    target = f"{url}/Data?" + urllib.parse.urlencode({"data": str(csv)})
    chart = '[data-testid="stPlotlyChart"] .js-plotly-plot path.box'  # the candle bodies, once drawn
    times = []
    try:
        for i in range(repeats + 1):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            with Timer() as t:
                page.goto(target)
                page.locator(chart).first.wait_for(state="visible", timeout=120_000)
            times.append(t.seconds)
            if i == 0:
                shot = ROOT / "bench" / "results" / "dashboard_data_500k.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=True)
                title = page.locator('[data-testid="stPlotlyChart"] .gtitle').first.text_content(timeout=5000)
            page.close()
        return {"first_visit_s": times[0], "redraw_s_median": median(times[1:]), "redraw_s_all": times[1:],
                "chart_title": title, "tensorflow_loaded": tf_loaded(proc.pid)}
    finally:
        stop(proc)


def figure_build(candles, repeats: int) -> dict:
    """In-process: ``pricecast.figures.candles_figure`` build time and JSON size for the same series."""
    from pricecast.figures import candles_figure

    times, size = [], 0
    for _ in range(repeats):
        with Timer() as t:
            fig = candles_figure(candles, title="bench")
            size = len(fig.to_json())
        times.append(t.seconds)
    return {"build_and_json_s_median": median(times), "figure_json_mb": size / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    repeats = 5 if args.full else 3
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    candles = synthetic_candles(ROWS)
    csv = tmp / "candles_500k.csv"
    candles.to_csv(csv)
    results: dict = {"rows": ROWS, "repeats": repeats}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            starts = [cold_start(browser, tmp) for _ in range(repeats)]
            results["cold_start"] = starts
            results["data_page"] = data_page(browser, tmp, csv, repeats)
        finally:
            browser.close()
    results["figure"] = figure_build(candles, repeats)
    rows = [
        {"what": "server ready (health ok)", "seconds": median(s["server_ready_s"] for s in starts)},
        {"what": "first page rendered in browser", "seconds": median(s["first_page_s"] for s in starts)},
        {"what": "TensorFlow loaded after home page", "value": str(any(s["tensorflow_loaded"] for s in starts))},
        {"what": f"Data page, {ROWS:,} candles, first visit (parse CSV + draw)", "seconds": results["data_page"]["first_visit_s"]},
        {"what": f"Data page, {ROWS:,} candles, reload (cached data, draw)", "seconds": results["data_page"]["redraw_s_median"]},
        {"what": "candles_figure build + to_json (in process)", "seconds": results["figure"]["build_and_json_s_median"]},
        {"what": "figure JSON sent to the browser (MB)", "value": f"{results['figure']['figure_json_mb']:.2f}"},
        {"what": "TensorFlow loaded after Data page", "value": str(results["data_page"]["tensorflow_loaded"])},
    ]
    print(table(rows, ["what", "seconds", "value"]))
    print(f"chart title: {results['data_page']['chart_title']}")
    path = save_results("dashboard", results)
    print(f"written {path}")


if __name__ == "__main__":
    main()
