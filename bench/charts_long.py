"""A long series' chart in Chromium: SVG lines (thinned) with the dashboard's bundle vs WebGL lines.

    python bench/charts_long.py [--points 40000] [--repeats 7]

The figure is the Results page's "Actual vs predicted" over training + validation + test of a long
hourly series (model, persistence, actual: three lines of ``--points`` points each), built by
``figures.actual_vs_predicted_figure`` and sent through ``ui.charts.figure_json`` as the page does.
Variants: SVG ``scatter`` thinned to 5,000 / 2,000 points per line with ``static/plotly-finance.min.js``
(what the dashboard loads), and the same traces as WebGL ``scattergl`` with the full plotly.js that
ships with the Python ``plotly`` package (the only bundle at hand that holds scattergl).

Per repeat, in a fresh browser page: the bundle's evaluation (``<script>`` added → ``window.Plotly``),
``Plotly.newPlot`` until the next animation frame (first draw), and ``Plotly.react`` with new y values
(what the Train page's live chart does every second). Medians printed and written to
bench/results/charts_long.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import RESULTS, machine  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

TIMING_JS = """async ([data, layout, data2]) => {
  const div = document.createElement('div');
  div.style.width = '1200px';
  document.body.appendChild(div);
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  let t = performance.now();
  await Plotly.newPlot(div, data, layout, {responsive: true});
  await frame();
  const first = performance.now() - t;
  t = performance.now();
  await Plotly.react(div, data2, layout);
  await frame();
  const update = performance.now() - t;
  return {first, update, svgPaths: div.querySelectorAll('path.js-line').length,
          canvases: div.querySelectorAll('canvas').length};
}"""


def _figure(points: int, max_points: int, shift: float = 0.0) -> dict:
    from pricecast.plots import figures
    from ui.charts import figure_json

    rng = np.random.default_rng(0)
    time_ = pd.date_range("2022-01-01", periods=points, freq="h", tz="UTC")
    actual = 20_000 + rng.normal(0, 60, points).cumsum()
    rows = pd.DataFrame({"time": time_, "origin_time": time_ - pd.Timedelta("1h"), "step": 1, "actual": actual,
                         "predicted": actual + rng.normal(0, 80, points) + shift,
                         "persistence": np.r_[actual[0], actual[:-1]],
                         "part": np.where(np.arange(points) < 0.7 * points, "train",
                                          np.where(np.arange(points) < 0.85 * points, "val", "test"))})
    sizes = {p: {"first": str(rows.loc[rows.part == p, "time"].min())} for p in ("train", "val", "test")}
    fig = figures.actual_vs_predicted_figure(rows, ("train", "val", "test"), sizes=sizes, max_points=max_points)
    return json.loads(figure_json(fig))


def _as_webgl(fig: dict) -> dict:
    return {**fig, "data": [{**t, "type": "scattergl"} for t in fig["data"]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=40_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--gpu", action="store_true", help="let Chromium use a GPU (default: --disable-gpu, software WebGL)")
    args = ap.parse_args()

    import plotly
    from playwright.sync_api import sync_playwright

    finance = ROOT / "static" / "plotly-finance.min.js"
    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    variants = {}
    for max_points in (5000, 2000):
        svg = _figure(args.points, max_points), _figure(args.points, max_points, shift=50.0)
        variants[f"svg, {max_points} points/line, finance bundle"] = (finance, *svg)
        variants[f"webgl, {max_points} points/line, full bundle"] = (full, *(_as_webgl(f) for f in svg))
    unthinned = _figure(args.points, args.points), _figure(args.points, args.points, shift=50.0)
    variants[f"webgl, all {args.points} points/line, full bundle"] = (full, *(_as_webgl(f) for f in unthinned))

    samples: dict[str, dict[str, list[float]]] = {name: {"eval": [], "first": [], "update": []} for name in variants}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS + ([] if args.gpu else ["--disable-gpu"]))
        for _ in range(args.repeats):
            for name, (bundle, fig, fig2) in variants.items():  # interleaved: each repeat sees the same load
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                page.set_content("<html><body></body></html>")
                t = time.perf_counter()
                page.add_script_tag(path=str(bundle))
                page.wait_for_function("() => window.Plotly !== undefined")
                samples[name]["eval"].append((time.perf_counter() - t) * 1000)
                out = page.evaluate(TIMING_JS, [fig["data"], fig["layout"], fig2["data"]])
                samples[name]["first"].append(out["first"])
                samples[name]["update"].append(out["update"])
                assert out["svgPaths"] or out["canvases"], f"{name}: nothing drawn"
                page.close()
        browser.close()

    table = {name: {k: round(statistics.median(v), 1) for k, v in s.items()} for name, s in samples.items()}
    for name, s in variants.items():
        table[name]["json_kb"] = round(len(json.dumps(s[1])) / 1024)
        table[name]["bundle_kb"] = round(Path(s[0]).stat().st_size / 1024)
    print(f"{args.points} points per line, 3 lines, medians of {args.repeats} (ms)")
    print(f"{'variant':<48} {'bundle eval':>11} {'first draw':>10} {'update':>8} {'JSON kB':>8}")
    for name, row in table.items():
        print(f"{name:<48} {row['eval']:>11.0f} {row['first']:>10.0f} {row['update']:>8.0f} {row['json_kb']:>8}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "charts_long.json").write_text(json.dumps({"machine": machine(), "points": args.points,
                                                          "repeats": args.repeats, "medians_ms": table}, indent=1))


if __name__ == "__main__":
    main()
