"""Benchmark 4 — dashboard: time from ``streamlit run app.py`` to the first page rendered in a real
browser (Playwright + /usr/bin/chromium), whether TensorFlow got loaded into the server process,
the time to draw the Data page's candlestick for 500,000 candles, and each page's first open.

    python bench/dashboard.py            # 3 cold starts, 3 Data-page draws, 3 opens of every page
    python bench/dashboard.py --full     # 5 of each
    python bench/dashboard.py --pages    # only the page opens
    python bench/dashboard.py --via-home # only the pages opened from the home page's menu

Page opens: for every page, a fresh server (so the page pays its own imports, as for the first
visitor) and a new browser tab that opens the page's address directly; timed from ``goto`` until
the page's title is shown and Streamlit's "running" indicator is gone (the script run finished).
Then a second new tab on the same server: the same page for a new session once modules are imported.
The home folder holds one finished 1-epoch run, so Results and Runs have something to show.

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
EXCHANGE_REF = "binance:BTC/USDT:5m"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tf_loaded(pid: int) -> bool:
    try:
        return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def start_server(home: Path, root: Path = ROOT) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {**os.environ, "PRICECAST_HOME": str(home), "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = open(home / "streamlit.log", "a")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
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
    chart = '.js-plotly-plot path.box'  # the candle bodies, once drawn
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
                title = page.locator('.js-plotly-plot .gtitle').first.text_content(timeout=5000)
            page.close()
        return {"first_visit_s": times[0], "redraw_s_median": median(times[1:]), "redraw_s_all": times[1:],
                "chart_title": title, "tensorflow_loaded": tf_loaded(proc.pid)}
    finally:
        stop(proc)


PAGE_TITLES = {"": "pricecast", "Data": "Data", "Data, exchange": "Data", "Model": "Model", "Train": "Train",
               "Results": "Results", "Runs": "Runs", "Experiments": "Experiments"}
PAGE_PATHS = {"Data, exchange": "Data?" + urllib.parse.urlencode({"data": EXCHANGE_REF})}


# A drawn Plotly chart: ui/charts.py's (and, with --against an older checkout, st.plotly_chart's).
CHART = '.js-plotly-plot .main-svg'
# What a user waits for on each page: its chart drawn, or its key message.
READY = {"": "text=Four steps", "Data": CHART, "Data, exchange": CHART, "Model": "text=Ready to train",
         "Train": "text=Current setup", "Results": CHART, "Runs": CHART, "Experiments": CHART}


def _settled(page, path: str, timeout: float = 120_000) -> None:
    """The page's title, then what the user waits for there (READY), then the sidebar's "Current
    setup" (drawn after the page body) and no "running" indicator: the script run is through."""
    page.get_by_role("heading", name=PAGE_TITLES[path], exact=True).first.wait_for(state="visible", timeout=timeout)
    page.locator(READY[path]).first.wait_for(state="visible", timeout=timeout)
    page.get_by_text("Current setup").first.wait_for(state="visible", timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def seed_home(home: Path) -> None:
    """What a user has after a first session: a finished run (Results, Runs), a finished tiny experiment
    (Experiments), and 20,000 cached 5-minute exchange candles (the "Data, exchange" page); the Data page
    has listed the exchanges once (pricecast keeps that list per ccxt version)."""
    env = {**os.environ, "PRICECAST_HOME": str(home), "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-m", "pricecast", "train", "--data", "sample:AAPL", "--epochs", "1"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "pricecast", "experiment", "run", "--vary", "units=4,8", "--repeats", "2",
                    "--epochs", "1", "--since", "2011-01-01", "--workers", "1", "--name", "bench", "--quiet"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    script = ("from pricecast.data.market.cache import cache_file, write_cache\n"
              "from pricecast.data.market.refs import parse_market_ref\n"
              "from pricecast.paths import cache_dir\n"
              "from bench._common import synthetic_candles\n"
              f"write_cache(cache_file(parse_market_ref({EXCHANGE_REF!r}), cache_dir()), synthetic_candles(20_000))\n"
              "from pricecast.data.market import list_exchanges\n"
              "list_exchanges()\n")
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True)


def page_opens(browser, home: Path, repeats: int, roots: dict[str, Path] | None = None) -> dict:
    """Seconds to each page's first open on a fresh server in a fresh browser context (nothing
    cached: the worst case, a first visit), then in a new tab of that context (a new Streamlit session
    with the browser's cached scripts, e.g. Plotly's, as for anyone who has visited before)."""
    roots = roots or {"": ROOT}
    out: dict = {}
    for _ in range(repeats):
        for path, (label, root) in ((p, r) for p in PAGE_TITLES for r in roots.items()):
            proc, url, _ = start_server(home, root)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            try:
                times = []
                for _ in range(2):
                    page = context.new_page()
                    with Timer() as t:
                        page.goto(f"{url}/{PAGE_PATHS.get(path, path)}")
                        _settled(page, path)
                    times.append(t.seconds)
                    page.close()
                entry = out.setdefault(f"{path or 'Home'}{label}", {"first_s": [], "second_s": [], "tensorflow_loaded": False})
                entry["first_s"].append(times[0])
                entry["second_s"].append(times[1])
                entry["tensorflow_loaded"] |= tf_loaded(proc.pid)
            finally:
                context.close()
                stop(proc)
    return out


NAV_WAIT_S = 2.0  # a user reading the home page before choosing a page in the menu


def page_navigations(browser, home: Path, repeats: int, roots: dict[str, Path] | None = None) -> dict:
    """Seconds from a click in the sidebar menu to the page settled, for the way most visits go: a
    fresh server and a fresh browser context open the home page, the user reads it for
    :data:`NAV_WAIT_S`, then picks the page (Streamlit switches pages inside the same browser page,
    so what the browser loaded on the home page stays loaded)."""
    roots = roots or {"": ROOT}
    out: dict = {}
    targets = [p for p in PAGE_TITLES if p and p not in PAGE_PATHS]
    for _ in range(repeats):
        for path, (label, root) in ((p, r) for p in targets for r in roots.items()):
            proc, url, _ = start_server(home, root)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            try:
                page = context.new_page()
                with Timer() as t_home:
                    page.goto(url)
                    _settled(page, "")
                time.sleep(NAV_WAIT_S)
                with Timer() as t:
                    page.get_by_test_id("stSidebar").get_by_role("link", name=PAGE_TITLES[path]).first.click()
                    _settled(page, path)
                entry = out.setdefault(f"{path}{label}", {"home_s": [], "click_s": []})
                entry["home_s"].append(t_home.seconds)
                entry["click_s"].append(t.seconds)
            finally:
                context.close()
                stop(proc)
    return out


def page_rows(pages: dict) -> list[dict]:
    def home(name: str) -> float:  # the Home row of the same checkout
        suffix = name[name.index(" ["):] if " [" in name else ""
        return median(pages["Home" + suffix]["first_s"])

    return [{"page": name, "first open s": median(p["first_s"]), "x Home": f"{median(p['first_s']) / home(name):.2f}",
             "new tab s": median(p["second_s"]), "TensorFlow": str(p["tensorflow_loaded"])}
            for name, p in pages.items()]


def figure_build(candles, repeats: int) -> dict:
    """In-process: ``pricecast.plots.figures.candles_figure`` build time and JSON size for the same series."""
    from pricecast.plots.figures import candles_figure

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
    ap.add_argument("--pages", action="store_true", help="only time each page's first open")
    ap.add_argument("--via-home", action="store_true", help="only time each page opened from the home page's "
                    "menu (a click after reading the home page) instead of by its address")
    ap.add_argument("--against", type=Path, help="with --pages or --via-home: also open every page from the "
                    "checkout in this folder (e.g. an older commit), interleaved with this one, page by page")
    ap.add_argument("--repeats", type=int, help="opens per page (default: 5 with --full, 2 with --pages or "
                    "--via-home, else 3)")
    args = ap.parse_args()
    repeats = args.repeats or (5 if args.full else (2 if args.pages or args.via_home else 3))
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    seed_home(tmp)
    if args.via_home:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                roots = {" [this]": ROOT, " [other]": args.against.resolve()} if args.against else None
                navs = page_navigations(browser, tmp, repeats, roots)
            finally:
                browser.close()
        rows = [{"page": name, "home s": median(n["home_s"]), "click to settled s": median(n["click_s"])}
                for name, n in navs.items()]
        print(table(rows, ["page", "home s", "click to settled s"]))
        print(f"written {save_results('dashboard_navigation', {'repeats': repeats, 'wait_s': NAV_WAIT_S, 'pages': navs})}")
        return
    if args.pages:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                roots = {" [this]": ROOT, " [other]": args.against.resolve()} if args.against else None
                pages = page_opens(browser, tmp, repeats, roots)
            finally:
                browser.close()
        print(table(page_rows(pages), ["page", "first open s", "x Home", "new tab s", "TensorFlow"]))
        print(f"written {save_results('dashboard_pages', {'repeats': repeats, 'pages': pages})}")
        return
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
            results["pages"] = page_opens(browser, tmp, repeats)
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
    print(table(page_rows(results["pages"]), ["page", "first open s", "x Home", "new tab s", "TensorFlow"]))
    path = save_results("dashboard", results)
    print(f"written {path}")


if __name__ == "__main__":
    main()
