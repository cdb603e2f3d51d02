"""Results: actual vs predicted with the baselines, K-step forecast paths, metrics, the next K, backtest."""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import streamlit as st

from pricecast.durations import duration
from pricecast.evaluation.baselines import LABELS
from pricecast.evaluation.decision import decision_of
from pricecast.evaluation.decision import sentence as decision_sentence
from pricecast.paths import runs_dir
from pricecast.prep.targets import get_target, target_label
from pricecast.training.runs import list_runs, load_run
from ui import charts, common, links, state, text

PART_NAMES = {"test": "Test (never seen)", "val": "Validation", "train": "Training"}


@st.cache_resource(max_entries=16, show_spinner=False)
def _run(run_dir: str, mtime: float):
    return load_run(run_dir)


def _label(row: dict, session: set[str]) -> str:
    mark = "● " if row["run_dir"] in session else ""
    skill = row.get("skill")
    skill_text = f" · skill {skill:+.1%}" if isinstance(skill, (int, float)) and skill == skill else ""
    return f"{mark}{row['run']}{skill_text}"


def _choose() -> str | None:
    rows = list_runs()
    current = state.selected_run_dir()
    # An experiment's trial lives in its experiment folder, not among the saved runs: offer it too.
    if current and current not in {r["run_dir"] for r in rows} and (Path(current) / "metrics.json").exists():
        rows.insert(0, {"run": "experiment trial: " + Path(current).name, "run_dir": current})
    if not rows:
        st.info("No runs yet. Train a model first.")
        st.page_link("pages/3_Train.py", label="Go to Train", icon=common.ICON["Train"])
        return None
    session = set(state.session_run_dirs())
    dirs = [r["run_dir"] for r in rows]
    by_dir = {r["run_dir"]: r for r in rows}
    index = dirs.index(current) if current in dirs else 0
    chosen = st.selectbox("Run", dirs, index=index, format_func=lambda d: _label(by_dir[d], session),
                          help="Which trained model to look at (● = trained in this browser tab). Newest first.",
                          key="results_run")
    if chosen != current:
        state.select_run(chosen)
    return chosen


def _actual_vs_predicted(run) -> None:
    from pricecast.plots.figures import actual_vs_predicted_figure

    k = run.spec.window.k
    available = [p for p in ("test", "val", "train") if (run.predictions["part"] == p).any()]
    c1, c2, c3 = st.columns([2, 1, 2])
    parts = c1.multiselect("Parts", available, default=available[:1], format_func=PART_NAMES.get, key="res_parts",
                           help="Which part of the history to show. The test part is the honest score: the model never saw it.")
    step = c2.selectbox("Steps ahead", list(range(1, k + 1)), key="res_step",
                        help="Show the forecast made this many candles ahead (1 = the next candle).")
    test = run.metrics.get("test") or {}
    offered = test.get("baselines") or ["persistence", "drift", "moving_average"]
    best = test.get("best_naive", "persistence")
    baselines = c3.multiselect("Baselines", offered, default=list(dict.fromkeys(["persistence", best])),
                               format_func=lambda b: LABELS.get(b, b) + (" · best on validation" if b == best else ""),
                               key="res_baselines",
                               help="Naive forecasts to compare with: persistence = the last value stays; drift = the "
                                    "window's trend goes on; moving average = the mean of the last values (a day of "
                                    "them on intraday volume or volatility); same time yesterday / last week; EWMA. "
                                    "The best one on the validation part is the yardstick beside persistence.")
    if not parts:
        st.info("Pick at least one part.")
        return
    decision = decision_of(run.metrics)
    charts.show(actual_vs_predicted_figure(run.predictions, parts, step, baselines, run.metrics.get("sizes"),
                                           network_label=_network_label(run), used=decision and decision.choice,
                                           target=run.spec.window.target),
                key="res_avp")


def _paths(run) -> None:
    from pricecast.plots.figures import forecast_paths_figure, pick_origins

    preds = run.predictions
    available = [p for p in ("test", "val", "train") if (preds["part"] == p).any()]
    c1, c2 = st.columns([1, 3])
    part = c1.selectbox("Part", available, format_func=PART_NAMES.get, key="res_paths_part",
                        help="Where to take the forecast origins from.")
    origins_all = pd.DatetimeIndex(sorted(pd.to_datetime(preds.loc[preds["part"] == part, "origin_time"]).unique()))
    count = c1.slider("How many", 1, 12, 6, key="res_paths_count",
                      help="How many forecast starting points to draw, spread evenly over the part.")
    default = pick_origins(origins_all, count)
    daily = len(origins_all) > 0 and bool((origins_all == origins_all.normalize()).all())
    labels = {t: t.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M") for t in origins_all}
    chosen = c2.multiselect("Forecast origins", list(origins_all), default=default, format_func=labels.get,
                            key=f"res_paths_origins_{part}_{count}",
                            help="The last known candle of each forecast; the red path is the model's K steps from there.")
    charts.show(forecast_paths_figure(preds, part, chosen or default, network_label=_network_label(run)),
                key="res_paths")


def _metrics(run) -> None:
    from pricecast.plots.runs import metrics_frame, skill_per_step_figure

    m = run.metrics
    part = st.radio("Part", [p for p in ("test", "val", "train") if p in m], format_func=PART_NAMES.get,
                    horizontal=True, key="res_metrics_part", help="Which part the numbers are computed on.")
    report = m[part]
    unit = get_target(run.spec.window.target).unit
    frame = metrics_frame(report)
    st.dataframe(
        frame, column_config={
            "rmse": st.column_config.NumberColumn("RMSE", help=f"Root mean squared error, in {unit} (lower is better).", format="%.4g"),
            "mae": st.column_config.NumberColumn("MAE", help=f"Mean absolute error, in {unit}.", format="%.4g"),
            "mape_%": st.column_config.NumberColumn("MAPE %", help="Mean absolute error as a % of the actual value; "
                                                    "empty (n/a) where an actual value is 0, e.g. an hour without trades.",
                                                    format="%.3f"),
            "direction": st.column_config.TextColumn(
                "Direction hit rate", help="How often the forecast moved the right way (up/down); n/a for a forecast "
                                           "that never moves, such as persistence."),
            "used": st.column_config.TextColumn(
                "Used", help="The forecast this run uses (Next K, predict): the network's, or the naive one it "
                             "fell back to because the network did not beat it on validation."),
            "skill_vs_persistence": st.column_config.NumberColumn(
                "Skill vs persistence", help="1 − RMSE / persistence RMSE: above 0 beats 'no change'.", format="percent"),
        })
    skill = (report.get("network") or report).get("skill")
    if skill is not None and skill == skill:
        verdict = "beats" if skill > 0 else "does not beat"
        why = f" {report['range_note']}" if skill <= 0 and report.get("range_note") else ""  # the cause, when known
        (st.success if skill > 0 else st.warning)(
            f"On the {PART_NAMES[part].lower()} part the network forecasting {target_label(run.spec.window.target)} "
            f"**{verdict}** persistence (skill {skill:+.1%}, {report['windows']:,} forecasts).{text.md(why)}"
            + (f" Against the best naive forecast chosen on validation, {LABELS.get(report['best_naive'])}: "
               f"{common.fmt_pct((report.get('network') or report).get('skill_vs_best_naive'))}."
               if report.get("best_naive", "persistence") != "persistence" else ""))
    elif report.get("persistence_rmse") == 0:
        from pricecast.evaluation.metrics import NO_MOVEMENT

        st.info(f"The {PART_NAMES[part].lower()} part has {NO_MOVEMENT}.")
    if run.spec.window.k > 1:
        charts.show(skill_per_step_figure(report.get("network") or report), key="res_skill_steps")
    c = st.columns(4)
    c[0].metric("Epochs run", m.get("epochs_run", "–"))
    c[1].metric("Best epoch", m.get("best_epoch") or "–", help="The epoch with the lowest validation loss: the "
                "network's weights are that epoch's.")
    c[2].metric("Parameters", f"{m.get('params', 0):,}")
    c[3].metric("Training time", duration(m.get("train_seconds")))
    st.caption(f"Device: {text.md(m.get('device', '?'))}" + (" · stopped by the user" if m.get("stopped_by_user") else ""))


def _network_label(run) -> str | None:
    decision = decision_of(run.metrics)
    return decision.network_label() if decision is not None else None


def _next(run) -> None:
    from pricecast.plots.figures import next_forecast_figure

    candles = None
    try:
        candles = state.candles_of(run.spec.data)
    except (ValueError, OSError) as exc:
        st.warning(f"The run's data cannot be loaded now ({text.plain(exc)}); showing the forecast saved with the run.")
    forecast = run.forecast
    if candles is not None and st.button("Forecast again from the latest candles", key="res_reforecast",
                                         help="Use this model on the newest candles available now "
                                              "(in a worker process that loads TensorFlow)."):
        forecast = common.quick_job("forecast", {"run_dir": str(run.run_dir)}, candles=candles, what="Forecasting")
    if forecast is None or not len(forecast):
        st.info("This run has no saved forecast.")
        return
    charts.show(next_forecast_figure(candles, forecast, run.spec.window.target, network_label=_network_label(run)),
                key="res_next")
    st.dataframe(forecast, hide_index=True, column_config={
        "time": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm", help="When each forecast step falls."),
        "step": st.column_config.NumberColumn("Step", help="How many candles ahead."),
        "predicted": st.column_config.NumberColumn("Forecast used", format="%.6g",
                                                   help="The forecast this run uses: the network's, or the naive "
                                                        "baseline it fell back to where the network did not beat it "
                                                        "on validation."),
        "network": st.column_config.NumberColumn("Network", format="%.6g", help="The network's own forecast."),
        "persistence": st.column_config.NumberColumn("Persistence", format="%.6g", help="'The last value stays' (no change)."),
    })
    st.caption("A forecast, not a promise: compare the test part's skill before trusting it.")


def _backtest(run) -> None:
    from ui import backtest_panel

    candles = None
    try:
        candles = state.candles_of(run.spec.data)
    except (ValueError, OSError) as exc:
        st.error(f"The run's data cannot be loaded: {text.plain(exc)}")
        return
    backtest_panel.render(run.spec, candles, run)


URL_RUN = "pc_url_run"  # the ?run= value already applied in this session


def _run_from_url() -> None:
    """``?run=<run id>`` opens that run of this server's runs folder (once per value, so choosing
    another run afterwards sticks); an id this server does not have gets a note."""
    wanted = str(st.query_params.get("run") or "")
    if not wanted:
        return
    folder = runs_dir() / wanted
    if Path(wanted).name != wanted or wanted.startswith(".") or not (folder / "metrics.json").exists():
        st.info(f"This link names a run this server does not have ({text.md(wanted[:80])}): it may have been "
                "deleted, or the link comes from another computer. Pick a run below.")
        return
    if st.session_state.get(URL_RUN) != wanted:
        st.session_state[URL_RUN] = wanted
        state.select_run(str(folder))
        st.session_state["results_run"] = str(folder)


def _keep_in_url(run_dir: str) -> None:
    """The address always names the run shown (a saved run's id), so it can be copied and shared."""
    if Path(run_dir).parent.resolve() != runs_dir().resolve():
        return  # an experiment's trial: not reachable by id
    name = Path(run_dir).name
    if st.query_params.get("run") != name:
        st.session_state[URL_RUN] = name
        st.query_params["run"] = name


def _share(run) -> None:
    """Download the report (one HTML file that opens offline) and open the presentation view."""
    from pricecast.report.document import run_report

    name, base = Path(run.run_dir).name, links.base_url()
    c1, c2, _ = st.columns([1, 1, 3])
    c1.download_button("Download report", data=lambda: run_report(str(run.run_dir), base_url=base),
                       file_name=f"{name}-report.html", mime="text/html", key="res_report", icon=":material/description:",
                       help="One HTML file with the setup, the data, the scores against every baseline, the charts "
                            "and how to reproduce it. It opens offline in any browser: send it to anyone.")
    if c2.button("Presentation view", key="res_present", icon=":material/slideshow:",
                 help="The verdict, the chart and the key numbers, large, without menus: for a projector."):
        st.query_params["view"] = "present"
        st.rerun()


def _present() -> None:
    """``?view=present``: the verdict in one large sentence, actual vs predicted full width, the key
    numbers; no widgets, no sidebar."""
    from pricecast.plots.figures import actual_vs_predicted_figure
    from pricecast.report.document import verdict

    st.html("<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl'],"
            "[data-testid='stHeader']{display:none}</style>")
    run_dir = state.selected_run_dir() or next((r["run_dir"] for r in list_runs()), None)
    if run_dir is None:
        st.info("No runs yet. Train a model first.")
        return
    run = _run(run_dir, Path(run_dir, "metrics.json").stat().st_mtime)
    s, test = run.spec, run.metrics.get("test") or {}
    st.markdown(f"<p style='font-size:2.6rem;font-weight:700;line-height:1.2;margin:0.2em 0'>"
                f"{html.escape(verdict(run.metrics))}</p>", unsafe_allow_html=True)
    st.markdown(f"<p style='font-size:1.3rem;color:#555'>{html.escape(common.data_label(s.data))} · the last "
                f"{s.window.n} candles → the next {s.window.k} · {html.escape(s.model.arch.upper())} network</p>",
                unsafe_allow_html=True)
    fig = actual_vs_predicted_figure(run.predictions, ("test",), 1, ("persistence",), height=620,
                                     title="Actual vs predicted on data the model never saw (one step ahead)")
    fig.update_layout(font=dict(size=18), title_font_size=24, legend_font_size=18)
    charts.show(fig, key="present_avp")
    model = test.get("model") or {}
    cols = st.columns(4)
    skill = test.get("skill")
    cols[0].metric("Skill vs “no change”", f"{skill:+.1%}" if isinstance(skill, (int, float)) else "–")
    cols[1].metric("Model error (RMSE)", f"{test['rmse']:.4g}" if isinstance(test.get("rmse"), (int, float)) else "–")
    cols[2].metric("“No change” error", f"{test['persistence_rmse']:.4g}"
                   if isinstance(test.get("persistence_rmse"), (int, float)) else "–")
    direction = model.get("direction")
    cols[3].metric("Direction right", f"{direction:.0%}" if isinstance(direction, (int, float)) else "–")
    st.page_link("pages/4_Results.py", label="Back to the full results", icon=":material/undo:",
                 query_params={"run": Path(run_dir).name})


def body() -> None:
    if st.query_params.get("view") == "present":
        _run_from_url()
        _present()
        return
    st.title("Results")
    st.caption("Step 4 of 4 — how the trained model does on data it never saw, beside the naive baselines.")
    _run_from_url()
    run_dir = _choose()
    if run_dir is None:
        return
    _keep_in_url(run_dir)
    try:
        run = _run(run_dir, Path(run_dir, "metrics.json").stat().st_mtime)
    except (ValueError, KeyError, OSError) as exc:  # a damaged or older run folder
        st.error(f"This run cannot be opened: {text.plain(exc)}")
        return
    s = run.spec
    st.markdown(f"**{text.md(common.data_label(s.data))}** · {text.md(s.headline())} · scaling {text.md(s.scaling)}"
                + (f" · preset *{text.md(s.preset)}*" if s.preset else ""))
    if said := decision_sentence(run.metrics):
        st.markdown(text.md(said))
    _share(run)
    for warning in run.metrics.get("warnings") or []:
        st.warning(text.md(warning))
    # Lazy tabs: only the open one runs and is drawn (each holds charts; the last two load the data).
    names = ["Actual vs predicted", "Forecast paths", "Metrics", f"Next {s.window.k}", "Walk-forward backtest"]
    views = [_actual_vs_predicted, _paths, _metrics, _next, _backtest]
    for tab, view in zip(st.tabs(names, key="res_tab", on_change="rerun"), views):
        if tab.open:
            with tab:
                common.guard(lambda view=view: view(run))


common.run_page("Results", common.ICON["Results"], body)
