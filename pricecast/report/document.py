"""A run (or an experiment) as one HTML file someone can open offline, in any browser.

Everything is inside the file: the text, the figures' JSON and plotly.js itself (the finance bundle
from ``static/``, the one the dashboard draws with), so opening it makes no request to any server.
The figures are the dashboard's own (:mod:`pricecast.plots`), thinned for size and drawn with
SVG traces only (the bundle holds scatter, bar and candlestick; WebGL ``scattergl`` is converted).
Every text that comes from a user or a file (data names, warnings, notes) is escaped.

No Keras here: the layer summary is read from the ``config.json`` inside ``model.keras``, so the
dashboard's server can build a report without loading TensorFlow.
"""
from __future__ import annotations

import html
import json
import shlex
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pricecast.backtest.result import BacktestResult
from pricecast.catalogue import cli_fields, format_value
from pricecast.data.datasets import display_name, kind_of, load_data
from pricecast.data.samples import CATALOGUE
from pricecast.errors import PricecastError
from pricecast.evaluation.baselines import LABELS as BASELINE_LABELS
from pricecast.evaluation.metrics import BASELINES, skill, skill_text
from pricecast.plots.backtest import fold_error_figure, horizon_error_figure, interval_figure, residual_figure
from pricecast.plots.figures import (
    LABELS,
    actual_vs_predicted_figure,
    candles_figure,
    forecast_paths_figure,
    loss_figure,
    next_forecast_figure,
)
from pricecast.plots.runs import skill_per_step_figure
from pricecast.presets import PRESETS
from pricecast.spec_io import spec_to_params
from pricecast.specs import RunSpec
from pricecast.training.runs import load_run
from pricecast.training.types import Run

BUNDLE = Path(__file__).resolve().parents[2] / "static" / "plotly-finance.min.js"
# The trace types the finance bundle draws; anything else is converted (scattergl) or refused.
DRAWABLE = frozenset({"scatter", "bar", "candlestick", "ohlc", "histogram", "pie", "funnel", "funnelarea",
                      "indicator", "waterfall"})
DEFAULT_BASE_URL = "http://localhost:8501"
REPORT_POINTS = 1500  # per line: enough for a full-width chart, and keeps a default run's report near 2 MB
PART_TITLES = {"test": "test (never seen in training)", "val": "validation", "train": "training"}


class ReportError(PricecastError):
    """A report cannot be made (no plotly.js to inline, a figure the bundle cannot draw)."""


# ---- words ---------------------------------------------------------------------------------------
def e(text: Any) -> str:
    """Escaped for HTML text and attributes."""
    return html.escape("" if text is None else str(text), quote=True)


def network_report(metrics: Mapping, part: str = "test") -> Mapping | None:
    """The trained network's own scores on ``part`` where the run keeps them apart from the final
    decision (``metrics[part]["network"]``), else None."""
    report = metrics.get(part) or {}
    net = report.get("network")
    if isinstance(net, Mapping):
        return net.get("model", net) if isinstance(net.get("model"), Mapping) else net
    return None


def decision(metrics: Mapping) -> tuple[str, float | None, str]:
    """``(chosen, p_value, note)``: whether the run's forecasts are the network's or persistence's, the
    p-value behind it and the run's own note. Reads ``decision`` (a name, or a mapping with the name,
    its p-value and a note) at the top of the metrics or in the test part where the run has one, else
    the persistence floor."""
    floor = metrics.get("persistence_floor") or {}
    raw = metrics.get("decision", (metrics.get("test") or {}).get("decision"))
    p = None
    note = str(floor.get("note") or "")
    if isinstance(raw, Mapping):
        chosen = str(raw.get("chosen") or raw.get("choice") or raw.get("decision") or raw.get("forecast") or "")
        p = next((raw[k] for k in ("p_value", "p", "gain_p") if raw.get(k) is not None), None)
        note = str(raw.get("note") or note)
    else:
        chosen = str(raw or "")
    if p is None:
        p = next((metrics[k] for k in ("decision_p", "decision_p_value") if metrics.get(k) is not None),
                 floor.get("gain_p"))
    if not chosen:
        chosen = "persistence" if metrics.get("ended_as_persistence") else "network"
    return chosen, (float(p) if isinstance(p, (int, float)) and np.isfinite(p) else None), note


def verdict(metrics: Mapping, part: str = "test") -> str:
    """One plain sentence: does the model beat "no change" on data it never saw?"""
    report = metrics.get(part) or {}
    value = report.get("skill")
    chosen, _, _ = decision(metrics)
    if chosen != "network":
        net = network_report(metrics, part)
        tail = ""
        if net and isinstance(net.get("rmse"), (int, float)):
            tail = f" (the trained network alone: skill {skill_text(skill(net['rmse'], report.get('persistence_rmse')))})"
        if chosen == "persistence":
            return ("The network did not beat “no change” on validation, so its forecast is the last value "
                    f"(persistence){tail}.")
        # a target with other naive forecasts (volume, volatility) falls back to the best of them
        return (f"The network did not beat the naive forecast “{BASELINE_LABELS.get(chosen, chosen)}” on "
                f"validation, so its forecast is that one{tail}.")
    if not isinstance(value, (int, float)) or not np.isfinite(value):
        return f"The {PART_TITLES.get(part, part)} part has {skill_text(None)}."
    if value > 0:
        return f"The model beats the naive “no change” forecast by {value:.1%} on data it never saw."
    return f"The model does not beat the naive “no change” forecast on data it never saw (skill {value:+.1%})."


def describe_setup(spec: RunSpec, metrics: Mapping) -> list[str]:
    """The setup in plain words, one sentence each."""
    w, m, t = spec.window, spec.model, spec.train
    sizes = metrics.get("sizes") or {}
    units = ", ".join(str(u) for u in m.units)
    scaling = {"logratio": "as ratios to the last price in each window (log-ratios)",
               "minmax": "between the lowest and highest value of the training part",
               "standard": "by the mean and spread of the training part"}.get(spec.scaling, spec.scaling)
    out = [
        f"The network ({m.arch.upper()}, units {units}) looks at the last {w.n} candles of "
        f"{', '.join(w.features)} and forecasts the next {w.k} values of {w.target}"
        + (f", a new window every {w.stride} candles." if w.stride > 1 else "."),
        f"Inputs are scaled {scaling}; the scaler is fitted on the training part only.",
    ]
    if m.residual:
        out.append("It predicts the change from the last price: untrained, it forecasts “no change”.")
    parts = []
    for name, share in zip(("train", "val", "test"), w.split):
        s = sizes.get(name) or {}
        span = f", {str(s.get('first', ''))[:10]} to {str(s.get('last', ''))[:10]}" if s.get("first") else ""
        parts.append(f"{PART_TITLES[name]} {share:.0%} ({s.get('windows', '?')} forecasts{span})")
    out.append("The history is split by time, oldest first: " + "; ".join(parts) + ".")
    out.append(f"Trained up to {t.epochs} epochs (ran {metrics.get('epochs_run', '?')}, best epoch "
               f"{metrics.get('best_epoch', '?')}), batch {t.batch_size}, {m.optimizer} at learning rate "
               f"{metrics.get('learning_rate') or m.learning_rate:g}, loss {m.loss}, seed {t.seed}"
               + (f", early stopping after {t.patience} epochs without progress." if t.patience else "."))
    return out


def provenance(ref: str) -> str:
    """Where the data comes from, in words."""
    base = ref.split("#", 1)[0]
    try:
        kind = kind_of(base)
    except PricecastError:
        return "unknown source"
    if kind == "sample":
        sample = CATALOGUE.get(base.split(":", 1)[1])
        return (f"bundled with pricecast: {sample.title}" if sample else "bundled with pricecast") + \
            " (sources and licences in pricecast/data/sample_data/PROVENANCE.md)"
    if kind == "csv":
        return f"a CSV file ({display_name(ref)})"
    return f"fetched from {base.split(':', 1)[0]} (exchange or Yahoo), cached on the server"


def cli_command(spec: RunSpec) -> str:
    """The ``pricecast train`` command that sets up the same run: the preset it started from (else the
    default) and every command-line option whose value differs from it."""
    preset = PRESETS.get(spec.preset) or PRESETS["default"]
    words = ["python", "-m", "pricecast", "train", "--preset", preset.name, "--data", spec.data]
    for f in cli_fields():
        value, base = _field_value(spec, f), _field_value(preset.spec, f)
        if value == base:
            continue
        if isinstance(value, bool):
            words.append(f.flag if value else "--no-" + f.flag[2:])
        elif value is not None:
            words += [f.flag, format_value(value)]
    return " ".join(shlex.quote(w) for w in words)


def _field_value(spec: RunSpec, f: Any) -> Any:
    section = getattr(spec, f.section) if f.section else spec
    value = getattr(section, f.name)
    return list(value) if isinstance(value, tuple) else value


def setup_link(spec: RunSpec, base_url: str = DEFAULT_BASE_URL) -> str:
    """The dashboard link that opens the same setup (the Model page; Train reproduces it)."""
    return f"{base_url.rstrip('/')}/Model?{urlencode(spec_to_params(spec))}"


def run_link(run_dir: Path | str, base_url: str = DEFAULT_BASE_URL) -> str:
    """The dashboard link that opens this run's results on the server that holds it."""
    return f"{base_url.rstrip('/')}/Results?run={quote(Path(run_dir).name)}"


# ---- figures -------------------------------------------------------------------------------------
def drawable(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` the finance bundle can draw: ``scattergl`` becomes ``scatter`` (same data, SVG)."""
    out = go.Figure(fig)
    data = []
    for trace in out.data:
        if trace.type == "scattergl":
            props = trace.to_plotly_json()
            props.pop("type", None)
            data.append(go.Scatter(**props))
        else:
            data.append(trace)
    out = go.Figure(data=data, layout=out.layout)
    missing = sorted({t.type for t in out.data} - DRAWABLE)
    if missing:
        raise ReportError(f"{', '.join(missing)} traces cannot be drawn offline by the report's plotly.js bundle")
    # A fixed height (Plotly's default where the figure has none): the page's divs have no height to fill.
    out.update_layout(template="plotly_white", autosize=True, height=out.layout.height or 450)
    return out


def plotly_js() -> str:
    """The finance bundle's text (1.3 MB), to be inlined."""
    if not BUNDLE.exists():
        raise ReportError(f"plotly.js for the report is missing ({BUNDLE}); run from a pricecast checkout")
    return BUNDLE.read_text(encoding="utf-8")


@dataclass
class Section:
    """One part of a report: a heading, HTML made here (escaped already) and figures below it."""

    title: str
    body: str = ""
    figures: tuple[go.Figure, ...] = ()


def _script_json(value: str) -> str:
    # Inside <script> only "</" can end the element early; "<" as \u003c keeps JSON valid and inert.
    return value.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render(title: str, subtitle: str, sections: Iterable[Section], headline: str = "") -> str:
    """The HTML document: styles, the sections, each figure as JSON and the inlined plotly.js."""
    parts, figures = [], []
    for sec in sections:
        parts.append(f'<section><h2>{e(sec.title)}</h2>{sec.body}')
        for fig in sec.figures:
            figures.append(drawable(fig).to_json())
            parts.append(f'<div class="chart" id="chart-{len(figures) - 1}"></div>')
        parts.append("</section>")
    data = "[" + ",".join(figures) + "]"
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{_CSS}</style>
</head><body><main>
<header><h1>{e(title)}</h1><p class="sub">{e(subtitle)}</p>{_headline(headline)}</header>
{''.join(parts)}
<footer>Made by pricecast on {made}. Charts: plotly.js (MIT licence), included in this file; zoom, hover
and the camera icon (download as PNG) work offline.</footer>
</main>
<script type="application/json" id="figures">{_script_json(data)}</script>
<script>{plotly_js()}</script>
<script>{_DRAW_JS}</script>
</body></html>
"""


def _headline(text: str) -> str:
    if not text:
        return ""
    return f'<p class="verdict{" long" if len(text) > 160 else ""}">{e(text)}</p>'


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;margin:0;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:24px;background:#fff}
h1{font-size:1.7em;margin:.2em 0}h2{font-size:1.25em;border-bottom:1px solid #e5e7eb;padding-bottom:4px;margin-top:1.8em}
.sub{color:#6b7280;margin:0}.scroll{overflow-x:auto}.verdict.long{font-size:1.05em;font-weight:500}
.verdict{font-size:1.35em;font-weight:600;margin:.8em 0;padding:12px 16px;background:#f3f4f6;border-left:5px solid #d62728}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f9fafb}
tr.best td{font-weight:600}.chart{width:100%;min-height:200px;margin:8px 0}
.ok{color:#15803d}.warning{color:#b45309}.info{color:#1d4ed8}pre,code{background:#f3f4f6;font-size:.88em}
pre{padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
footer{color:#6b7280;font-size:.85em;margin-top:2em;border-top:1px solid #e5e7eb;padding-top:8px}
ul.checks li{margin:3px 0}
"""

# Each figure is drawn once the bundle has run; a failure shows its message in place of the chart.
_DRAW_JS = """
(function(){
  var figs = JSON.parse(document.getElementById('figures').textContent);
  figs.forEach(function(fig, i){
    var el = document.getElementById('chart-' + i);
    try {
      Plotly.newPlot(el, fig.data, fig.layout, {displaylogo:false, responsive:true});
      el.setAttribute('data-drawn', '1');
    } catch (err) { el.textContent = 'This chart could not be drawn: ' + err; }
  });
})();
"""


# ---- tables --------------------------------------------------------------------------------------
def _num(value: Any, fmt: str = ".4g") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) and np.isfinite(value) else "–"


def _pct(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and np.isfinite(value) else "–"


def table(headers: list[str], rows: list[list[str]], best: int | None = None) -> str:
    """An HTML table of already-escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(f'<tr{" class=best" if i == best else ""}>' + "".join(f"<td>{c}</td>" for c in row) + "</tr>"
                   for i, row in enumerate(rows))
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def scores_table(report: Mapping) -> str:
    """Model (and, where kept apart, the network's own), each baseline: RMSE, MAE, MAPE, direction, skill."""
    ref = report.get("persistence_rmse")
    rows: list[tuple[str, Mapping]] = [("forecast (the decision)" if report.get("network") else "model",
                                        report.get("model") or {})]
    net = report.get("network")
    if isinstance(net, Mapping):
        rows.append(("network's own", net.get("model", net) if isinstance(net.get("model"), Mapping) else net))
    rows += [(LABELS.get(name, name), report.get(name) or {}) for name in BASELINES if report.get(name)]
    cells = [[e(label), _num(m.get("rmse")), _num(m.get("mae")), _num(m.get("mape"), ".3f"), _pct(m.get("direction")),
              e(skill_text(skill(m.get("rmse"), ref), short=True))] for label, m in rows]
    return table(["forecaster", "RMSE", "MAE", "MAPE %", "direction hit rate", "skill vs persistence"], cells)


# ---- the run report ------------------------------------------------------------------------------
def run_sections(run: Run, candles: pd.DataFrame | None, data_note: str = "",
                 base_url: str = DEFAULT_BASE_URL, backtest: BacktestResult | None = None) -> list[Section]:
    """Every section of a run's report, in reading order (with ``backtest``: its folds and intervals)."""
    m, s = run.metrics, run.spec
    out = [Section("Setup", "<ul>" + "".join(f"<li>{e(x)}</li>" for x in describe_setup(s, m)) + "</ul>")]
    out.append(_data_section(run, candles, data_note))
    out.append(_scores_section(run))
    out += _chart_sections(run)
    out += backtest_sections(backtest) if backtest is not None else [_intervals_section(m)]
    out.append(_checks_section(m))
    out.append(_layers_section(run.run_dir, m.get("params")))
    out.append(_next_section(run, candles))
    out.append(_reproduce_section(run, base_url))
    return out


def _data_section(run: Run, candles: pd.DataFrame | None, note: str) -> Section:
    s, m = run.spec, run.metrics
    d = m.get("data") or {}
    q = m.get("quality") or {}
    counts = q.get("counts") or {}
    rows = [["name", e(display_name(s.data))], ["source", e(provenance(s.data))],
            ["candles", e(f"{d.get('rows', '?'):,}" if isinstance(d.get("rows"), int) else d.get("rows", "?"))],
            ["from", e(str(d.get("first", ""))[:19])], ["to", e(str(d.get("last", ""))[:19])]]
    body = table(["data", ""], rows)
    if counts:
        labels = {"gaps": "gaps", "missing_candles": "missing candles", "duplicates": "duplicated candles",
                  "zero_volume": "zero-volume candles", "stale": "stale stretches (price frozen)",
                  "stale_candles": "candles in stale stretches",
                  "bad_ohlc": "impossible candles", "jumps": "jumps far beyond usual moves"}
        qrows = [[e(labels.get(k, k)), e(v)] for k, v in counts.items()]
        longest = q.get("longest_clean") or {}
        if longest:
            qrows.append([e("longest clean stretch"),
                          e(f"{str(longest.get('start', ''))[:10]} to {str(longest.get('end', ''))[:10]} "
                            f"({longest.get('candles', '?')} candles)")])
        body += "<h3>Data quality</h3>" + table(["check", "found"], qrows)
        if q.get("clean"):
            body += "<p>The run used only the longest clean stretch.</p>"
    if note:
        body += f"<p class=warning>{e(note)}</p>"
    figures = (candles_figure(candles, f"{display_name(s.data)}: the candles the run used", height=420),) \
        if candles is not None and len(candles) else ()
    return Section("Data", body, figures)


def _scores_section(run: Run) -> Section:
    m = run.metrics
    chosen, p, note = decision(m)
    said = {"persistence": "persistence (“no change”): the network's gain on validation was not convincing",
            "network": "the trained network"}.get(chosen, chosen)
    body = f"<p><b>Decision:</b> {e(said)}" + (f" (paired test p = {p:.2g})" if p is not None else "") + ".</p>"
    if note:
        body += f"<p>{e(note)}</p>"
    test = m.get("test") or {}
    best_naive = test.get("best_naive")
    if best_naive:
        name = best_naive if isinstance(best_naive, str) else (best_naive.get("name") if isinstance(best_naive, Mapping) else "")
        body += (f"<p>The best naive forecast (chosen on validation): {e(LABELS.get(name, name))}; skill against it: "
                 f"{e(skill_text(test.get('skill_vs_best_naive')))}.</p>")
    for part in ("test", "val"):
        if m.get(part):
            body += f"<h3>{e(PART_TITLES[part].capitalize())} part, {m[part].get('windows', '?')} forecasts</h3>"
            body += scores_table(m[part])
    body += ("<p>RMSE and MAE are in price units over every forecast step; skill = 1 − RMSE / persistence's RMSE "
             "(above 0 beats “no change”).</p>")
    figures = (skill_per_step_figure(test),) if run.spec.window.k > 1 and test.get("skill_per_step") else ()
    warnings = m.get("warnings") or []
    if warnings:
        body += "<h3>Warnings</h3><ul>" + "".join(f"<li class=warning>{e(w)}</li>" for w in warnings) + "</ul>"
    return Section("The decision and the scores", body, figures)


def _chart_sections(run: Run) -> list[Section]:
    preds = run.predictions
    out = []
    if len(preds):
        avp = actual_vs_predicted_figure(preds, ("test",), 1, ("persistence",), run.metrics.get("sizes"),
                                         max_points=REPORT_POINTS)
        paths = forecast_paths_figure(preds, "test", count=6)
        out.append(Section("Actual vs predicted",
                           "<p>The test part, one step ahead: the model (red) beside persistence (grey, dotted) "
                           "and the actual price (dark).</p>", (avp,)))
        out.append(Section("Forecast paths", "<p>The model's K-step forecasts from six points of the test part, "
                                             "each zoomed to where it starts.</p>", (paths,)))
    if len(run.history):
        out.append(Section("Loss curves", "<p>The loss per epoch on the training and validation parts "
                                          "(scaled units); the green line marks the epoch that was kept.</p>",
                           (loss_figure(run.history, best_epoch=run.metrics.get("best_epoch")),)))
    return out


def _intervals_section(m: Mapping) -> Section:
    intervals = m.get("intervals") or (m.get("test") or {}).get("intervals")
    if not intervals:
        return Section("Prediction intervals", "<p>This run has no prediction intervals. A walk-forward backtest "
                                               "(<code>pricecast backtest</code>) measures them with their coverage.</p>")
    rows = []
    for item in intervals if isinstance(intervals, list) else [intervals]:
        if isinstance(item, Mapping):
            rows.append([e(item.get("method", "")), _pct(item.get("level")), _pct(item.get("coverage")),
                         _num(item.get("width"))])
    return Section("Prediction intervals", table(["method", "aimed coverage", "measured coverage", "mean width"], rows))


def backtest_sections(result: BacktestResult) -> list[Section]:
    """A walk-forward backtest of the run's setup: scores per fold and by horizon step, the prediction
    intervals with their measured coverage, residual diagnostics."""
    o, bt = result.overall, result.bt
    if not result.folds:
        return [Section("Walk-forward backtest", "<p>The backtest finished no fold.</p>")]
    body = (f"<p>The same setup retrained over {len(result.folds)} test folds of {bt.fold_size} candles at the end of "
            f"the series ({e(bt.window)} training window, retrained every {e(bt.retrain_every or 'never')} fold(s)). "
            f"Over all {o['windows']} test windows: RMSE {_num(o['rmse'])} against persistence "
            f"{_num(o['persistence_rmse'])}, skill {e(skill_text(o['skill']))}.</p>")
    rows = [[e(r.get("fold")), e(str(r.get("test_from", ""))[:16]), e(str(r.get("test_to", ""))[:16]),
             e(r.get("windows")), _num(r.get("rmse")), _num(r.get("persistence_rmse")),
             e(skill_text(r.get("skill"), short=True))] for r in result.fold_rows()]
    body += table(["fold", "from", "to", "forecasts", "RMSE", "persistence RMSE", "skill"], rows)
    body += "".join(f"<p class=warning>{e(note)}</p>" for note in result.notes)
    sections = [Section("Walk-forward backtest", body, (fold_error_figure(result), horizon_error_figure(result)))]
    lines, figures = [], []
    for method, by_level in result.intervals.items():
        for level, c in by_level.items():
            lines.append([e(method), _pct(level), _pct(c.get("coverage")), _num(c.get("mean_width"))])
        figures.append(interval_figure(result, method))
    if lines:
        sections.append(Section("Prediction intervals",
                                "<p>Bands fitted on each fold's validation part; coverage measured on its test part "
                                "(a band that aims at 80% should hold about 80% of the actual prices).</p>"
                                + table(["method", "aimed coverage", "measured coverage", "mean width"], lines),
                                tuple(figures)))
    sections.append(Section("Residuals", f"<p>{e(result.diagnostics.get('text', ''))}</p>", (residual_figure(result),)))
    return sections


def _checks_section(m: Mapping) -> Section:
    items = m.get("lookahead") or []
    if not items:
        return Section("Look-ahead checks", "<p>This run holds no look-ahead checks (an older run).</p>")
    lis = "".join(f'<li class="{e(c.get("level", ""))}"><b>{e(c.get("level", ""))}</b>: {e(c.get("message", ""))}</li>'
                  for c in items)
    return Section("Look-ahead checks", f"<ul class=checks>{lis}</ul>")


def layer_rows(run_dir: Path) -> list[dict]:
    """The network's layers read from ``model.keras``'s config (no Keras): name, type, the main setting."""
    try:
        with zipfile.ZipFile(Path(run_dir) / "model.keras") as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    rows = []
    for layer in (config.get("config") or {}).get("layers", []):
        cfg = layer.get("config") or {}
        main = {k: cfg[k] for k in ("units", "filters", "kernel_size", "rate", "activation", "num_heads", "pool_size",
                                    "dilation_rate", "batch_shape", "n", "cropping", "dims") if k in cfg}
        rows.append({"name": cfg.get("name", layer.get("name", "")), "type": layer.get("class_name", ""),
                     "settings": ", ".join(f"{k}={v}" for k, v in main.items())})
    return rows


def _layers_section(run_dir: Path, params: Any = None) -> Section:
    rows = layer_rows(run_dir)
    if not rows:
        return Section("The network's layers", "<p>The model file could not be read.</p>")
    size = f"<p>{params:,} weights (parameters) in all.</p>" if isinstance(params, int) else ""
    return Section("The network's layers", size + table(["layer", "type", "settings"],
                                                        [[e(r["name"]), e(r["type"]), e(r["settings"])] for r in rows]))


def _next_section(run: Run, candles: pd.DataFrame | None) -> Section:
    f = run.forecast
    if f is None or not len(f):
        return Section(f"The next {run.spec.window.k}", "<p>This run has no saved forecast.</p>")
    rows = [[e(pd.Timestamp(r["time"]).strftime("%Y-%m-%d %H:%M")), e(int(r["step"])), _num(r["predicted"], ".6g"),
             _num(r["persistence"], ".6g")] for _, r in f.iterrows()]
    body = ("<p>From the latest candles of the run's data. A forecast, not a promise: the test part's skill "
            "says how far to trust it.</p>" + table(["time (UTC)", "step", "model", "persistence"], rows))
    return Section(f"The next {len(f)} steps", body, (next_forecast_figure(candles, f, run.spec.window.target),))


def _reproduce_section(run: Run, base_url: str) -> Section:
    body = (f"<p>Open the same setup in the dashboard (then Train): <a href=\"{e(setup_link(run.spec, base_url))}\">"
            f"{e(setup_link(run.spec, base_url))}</a></p>"
            f"<p>This run's results on the server that trained it: <a href=\"{e(run_link(run.run_dir, base_url))}\">"
            f"{e(run_link(run.run_dir, base_url))}</a></p>"
            f"<p>From the command line:</p><pre>{e(cli_command(run.spec))}</pre>"
            f"<p>A standalone script (numpy, pandas and keras only): <code>python -m pricecast export "
            f"{e(shlex.quote(str(run.run_dir)))} --script train_again.py</code></p>"
            f"<p>Run folder: <code>{e(Path(run.run_dir).name)}</code>; device {e(run.metrics.get('device', '?'))}.</p>")
    return Section("How to reproduce it", body)


def run_candles(run: Run) -> tuple[pd.DataFrame | None, str]:
    """The run's data as it trained on it, or None with the reason (a file gone, no network)."""
    try:
        return load_data(run.spec.data, offline=True).candles, ""
    except (PricecastError, OSError, ValueError) as exc:
        return None, f"The run's data could not be loaded now ({exc}); the candle charts are left out."


def run_report(run_dir: Path | str, base_url: str = DEFAULT_BASE_URL, candles: pd.DataFrame | None = None,
               backtest: BacktestResult | None = None) -> str:
    """The whole report of one saved run, as HTML text (with a walk-forward ``backtest`` of its setup)."""
    run = load_run(run_dir)
    note = ""
    if candles is None:
        candles, note = run_candles(run)
    s = run.spec
    title = f"Forecasting {display_name(s.data)}: {s.model.arch.upper()}, {s.window.n} → {s.window.k} steps"
    subtitle = f"Run {Path(run.run_dir).name}" + (f" · preset {s.preset}" if s.preset else "")
    return render(title, subtitle, run_sections(run, candles, note, base_url, backtest), verdict(run.metrics))


def write_report(html_text: str, out: Path | str) -> Path:
    path = Path(out)
    path.write_text(html_text, encoding="utf-8")
    return path


# ---- an experiment -------------------------------------------------------------------------------
def experiment_report(name: str, root: Path | str | None = None) -> str:
    """An experiment's comparison table (every setting against persistence) and its plots, as HTML text."""
    from pricecast.experiments.stats import comparison_table
    from pricecast.experiments.storage import load_experiment
    from pricecast.plots.experiments import loss_curves_figure, spread_figure

    exp = load_experiment(name, root)
    summary = exp.summary()
    frame = comparison_table(summary)
    order = list(summary["label"]) if "label" in summary else None
    cells = [[e(_num(v) if isinstance(v, float) else ("" if v is None else v)) for v in row]
             for row in frame.itertuples(index=False)]
    body = f"<p>{exp.done} of {exp.total} trials done; data {e(display_name(exp.spec.base.data))}.</p>" + \
        table([e(c) for c in frame.columns], cells)
    figures = (spread_figure(exp.frame(), "test_rmse", order), spread_figure(exp.frame(), "ratio", order)) \
        if len(exp.records) else ()
    sections = [Section("Settings compared", body, figures)]
    if len(exp.records):
        sections.append(Section("Loss curves", "", (loss_curves_figure(exp.records, "val_loss", order),)))
    return render(f"Experiment {exp.dir.name}", f"{len(summary)} settings × {exp.spec.repeats} repeats", sections,
                  exp.note())
