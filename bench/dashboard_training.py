"""Benchmark 7 — training from the dashboard against the command line.

Chromium (Playwright) opens the Train page of a running ``streamlit run app.py`` with a setup in
the URL, presses Train and waits for "Finished"; the same setup runs as
``python -m pricecast train ... --json`` in a fresh process. Modes are interleaved repeat by
repeat, and the ratios are of medians from the same run.

- ``default``: the default preset on ``sample:AAPL`` (a run of a few seconds);
- ``long``: the same model for ``--long-epochs`` epochs with early stopping off (a minute or more);
- ``two sessions``: two browser sessions press Train together; each one's time against one alone;
- the server's RSS before and after, and whether TensorFlow was ever loaded into it.

Dashboard time = the click on Train until "Finished" shows (what the user waits). CLI time = the
process's whole wall time (Python start, TensorFlow import, training, saving).

    python bench/dashboard_training.py            # 3 repeats
    python bench/dashboard_training.py --repeats 5 --long-epochs 300
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, median, save_results, table
from dashboard import ARGS, CHROMIUM, start_server, stop, tf_loaded


def preset_query(**train) -> str:
    """The default preset on sample:AAPL as a link (the very setup `train --preset default` runs),
    with training options laid over it."""
    import urllib.parse
    from dataclasses import replace

    from pricecast.presets import get_preset
    from pricecast.spec_io import spec_to_params

    spec = get_preset("default").spec
    spec = spec.replace(data="sample:AAPL", train=replace(spec.train, **train))
    return urllib.parse.urlencode(spec_to_params(spec))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cli_run(home: Path, extra: list[str]) -> dict:
    env = {**os.environ, "PRICECAST_HOME": str(home), "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pricecast", "train", "--preset", "default", "--data", "sample:AAPL",
                          *extra, "--json"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    metrics = json.loads(out.stdout)
    return {"wall_s": wall, "train_s": metrics.get("train_seconds") or metrics.get("metrics", {}).get("train_seconds")}


def open_train(browser, url: str, query: str):
    page = browser.new_context(viewport={"width": 1300, "height": 1100}).new_page()
    page.goto(f"{url}/Train?{query}", wait_until="networkidle")
    page.get_by_text("Press Train to start").wait_for(timeout=120_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    return page


def press(page) -> float:
    t0 = time.perf_counter()
    started = page.get_by_text(re.compile(r"^(Training|Queued|Finished)"))
    for _ in range(3):
        page.get_by_role("button", name="Train", exact=True).click()
        try:
            started.first.wait_for(timeout=15_000)
            break
        except Exception:  # noqa: BLE001 - a click dropped while the page re-rendered
            continue
    return t0


def finish(page, t0: float, timeout_s: float = 900) -> float:
    page.get_by_text(re.compile(r"^Finished")).first.wait_for(timeout=timeout_s * 1000)
    took = time.perf_counter() - t0
    page.context.close()
    return took


def dashboard_run(browser, url: str, query: str) -> float:
    page = open_train(browser, url, query)
    page.wait_for_timeout(1000)  # a person reads the page before pressing Train
    return finish(page, press(page))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--long-epochs", type=int, default=300)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="bench-dash-train-"))
    base_q = preset_query()
    long_q = preset_query(epochs=args.long_epochs, patience=0)
    long_cli = ["--epochs", str(args.long_epochs), "--patience", "0"]
    res: dict = {"repeats": args.repeats, "long_epochs": args.long_epochs,
                 "cli_default": [], "dash_default": [], "cli_long": [], "dash_long": [], "two_sessions": []}
    proc, url, _ = start_server(home)
    try:
        rss_before = rss_mb(proc.pid)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                dashboard_run(browser, url, base_q)  # warm-up: the first page visit, the first worker
                for r in range(args.repeats):
                    print(f"repeat {r + 1}/{args.repeats}", flush=True)
                    res["cli_default"].append(cli_run(home, []))
                    res["dash_default"].append(dashboard_run(browser, url, base_q))
                    pages = [open_train(browser, url, base_q) for _ in range(2)]
                    starts = [press(p) for p in pages]
                    res["two_sessions"].append([finish(p, t0) for p, t0 in zip(pages, starts)])
                    res["cli_long"].append(cli_run(home, long_cli))
                    res["dash_long"].append(dashboard_run(browser, url, long_q))
            finally:
                browser.close()
        res["server_rss_mb"] = {"before": rss_before, "after": rss_mb(proc.pid)}
        res["server_tensorflow_loaded"] = tf_loaded(proc.pid)
    finally:
        stop(proc)

    cli_d = median(r["wall_s"] for r in res["cli_default"])
    cli_l = median(r["wall_s"] for r in res["cli_long"])
    dash_d, dash_l = median(res["dash_default"]), median(res["dash_long"])
    two = median(max(pair) for pair in res["two_sessions"])
    res["summary"] = {"cli_default_s": cli_d, "dash_default_s": dash_d, "ratio_default": dash_d / cli_d,
                      "cli_long_s": cli_l, "dash_long_s": dash_l, "ratio_long": dash_l / cli_l,
                      "two_sessions_slowest_s": two, "ratio_two_sessions": two / dash_d}
    s = res["summary"]
    rows = [
        {"what": "default preset, CLI process wall", "seconds": cli_d},
        {"what": "default preset, dashboard Train -> Finished", "seconds": dash_d, "ratio": s["ratio_default"]},
        {"what": f"{args.long_epochs} epochs, CLI process wall", "seconds": cli_l},
        {"what": f"{args.long_epochs} epochs, dashboard Train -> Finished", "seconds": dash_l, "ratio": s["ratio_long"]},
        {"what": "two sessions at once, the slower one (vs one alone)", "seconds": two, "ratio": s["ratio_two_sessions"]},
        {"what": "server RSS before / after (MB)",
         "value": f"{res['server_rss_mb']['before']:.0f} / {res['server_rss_mb']['after']:.0f}"},
        {"what": "TensorFlow loaded in the server process", "value": str(res["server_tensorflow_loaded"])},
    ]
    print(table(rows, ["what", "seconds", "ratio", "value"]))
    print(f"written {save_results('dashboard_training', res)}")


if __name__ == "__main__":
    main()
