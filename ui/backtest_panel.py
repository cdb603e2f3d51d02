"""The "Walk-forward backtest" tab of the Results page: ``render(spec, candles, run=None)``.

The backtest is a job in a worker process (:mod:`pricecast.jobs`), so the page stays live and the
server never loads TensorFlow: a fragment polls its progress every second and shows fold, epoch
and ETA, with a Stop button.
Results — error by fold and by horizon, interval bands with their measured coverage, residual
diagnostics and the look-ahead checks — are drawn from :mod:`pricecast.plots.backtest`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from pricecast.backtest.result import BacktestResult
from pricecast.backtest.spec import BACKTEST_FIELDS, BacktestSpec
from pricecast.backtest.store import data_key, spec_hash
from pricecast.durations import duration
from pricecast.jobs.executors import JobError
from pricecast.jobs.job import Job, JobSnapshot, JobState
from pricecast.service.dashboard import registry
from pricecast.specs import RunSpec
from ui import charts, state, text
from ui.inputs import widget

if TYPE_CHECKING:
    from pricecast.training.types import Run

LEVEL_CHOICES = (50, 80, 90, 95)


def start_job(spec: RunSpec, bt: BacktestSpec, candles: pd.DataFrame, key: str, shuffled: bool = False) -> Job:
    """The backtest as a job in a worker process (``key``: the settings it was started with)."""
    return registry().submit(state.session_id(), "backtest", {"spec": spec.to_dict(), "bt": bt, "shuffled": shuffled},
                             candles=candles, label=spec.data, context=key, executor=state.executor())


def _settings(spec: RunSpec, candles: pd.DataFrame) -> tuple[BacktestSpec, bool]:
    rows = len(candles)
    f = BACKTEST_FIELDS
    c1, c2, c3, c4 = st.columns(4)
    folds = widget(f["folds"], f["folds"].default, "bt_folds", c1)
    k = int(spec.window.k)
    fold_size = widget(f["fold_size"], max(k, min(120, rows // 10)), "bt_fold_size", c2, min_value=k,
                       max_value=max(rows, k))
    kind = widget(f["window"], f["window"].default, "bt_window", c3, horizontal=True)
    retrain = widget(f["retrain_every"], f["retrain_every"].default, "bt_retrain", c4)
    d1, d2, d3, d4 = st.columns(4)
    # a backtest trains once per fold: fewer epochs than the setup's by default
    epochs = widget(f["epochs"], min(spec.train.epochs, 15), "bt_epochs", d1, min_value=1)
    method = widget(f["method"], f["method"].default, "bt_method", d2, horizontal=True)
    levels = d3.multiselect(f["levels"].label, LEVEL_CHOICES, default=[80, 95], key="bt_levels",
                            help=f["levels"].page_help())
    train_size = 0
    if kind == "rolling":
        train_size = widget(f["train_size"], 0, "bt_train_size", d4, max_value=rows)
    e1, e2, e3, e4 = st.columns(4)
    mc = widget(f["mc_samples"], f["mc_samples"].default, "bt_mc", e1)
    val_share = widget(f["val_share"], f["val_share"].default, "bt_val_share", e2)
    e3.write("")  # line the checkboxes up with the number boxes
    relative = widget(f["relative"], f["relative"].default, "bt_relative", e3)
    e4.write("")
    shuffled = e4.checkbox("Shuffled-time control (trains twice more)", key="bt_shuffled",
                           help="Also train the model on time-shuffled targets; it must do worse than the real order. "
                                "Costs two extra trainings.")
    bt = BacktestSpec(folds=folds, fold_size=fold_size, window=kind, train_size=train_size, val_share=val_share,
                      retrain_every=retrain, method=method, levels=tuple(v / 100 for v in sorted(levels)) or (0.8,),
                      relative=relative, mc_samples=mc, epochs=epochs)
    return bt, bool(shuffled)


def _progress_view(snap: JobSnapshot) -> None:
    if snap.state is JobState.QUEUED:
        line = text.queue_text(snap.queue_position)
    else:
        line = snap.text or "Starting (loading the model library takes a few seconds)"
    if snap.eta is not None and snap.state is JobState.RUNNING:
        line += f" — about {duration(snap.eta)} left"
    st.progress(snap.progress, text=line)
    for fe in snap.folds[-3:]:
        st.caption(f"Fold {fe.fold}: RMSE {fe.rmse:.4g} vs persistence {fe.persistence_rmse:.4g} "
                   f"(skill {fe.skill:+.1%})")


def render(spec: RunSpec, candles: pd.DataFrame, run: Run | None = None) -> None:
    """The whole panel: settings, Run/Stop with live progress, and the results of the last backtest."""
    st.markdown("Train on the past, test on the next period, slide forward, repeat — so one lucky or unlucky "
                "test period can't decide the verdict.")
    if candles is None or len(candles) == 0:
        st.error("Load data first (Data page): the backtest needs candles.")
        return
    try:
        bt, shuffled = _settings(spec, candles)
        bt.check()
    except ValueError as exc:
        st.error(str(exc))
        return
    key = spec_hash({"spec": spec.to_dict(), "bt": bt.to_dict(), "shuffled": shuffled,
                     "data": data_key(spec, candles)})
    job = registry().latest(state.session_id(), "backtest")
    running = job is not None and not job.finished
    b1, b2, _ = st.columns([1, 1, 4])
    if b1.button("Run backtest", key="bt_run", type="primary", disabled=running,
                 help="Start the walk-forward backtest in the background. Folds already computed with the same "
                      "setup come from the cache instantly."):
        try:
            job = start_job(spec, bt, candles, key, shuffled)
        except JobError as exc:
            st.error(text.plain(exc))
            return
        running = True
    if running and b2.button("Stop", key="bt_stop", help="Stop after the current training batch; finished folds are kept."):
        job.stop()

    if running:
        _live(job.id)
        return
    if job is None:
        st.info("Choose the settings and press **Run backtest**.")
        return
    snap = registry().snapshot(job)
    if snap.state is JobState.ERROR:
        st.error(snap.error)
        return
    if snap.result is None:
        return
    if job.context != key:
        st.caption("These results are for the previous settings; press Run backtest to update them.")
    _results(snap.result.result, snap.result.shuffled, run)


def _live(job_id: str) -> None:
    @st.fragment(run_every=1.0)
    def poll() -> None:
        job = registry().get(state.session_id(), job_id)
        if job is None:
            return
        if job.finished:
            st.rerun()  # finished: redraw the whole panel with the results
        _progress_view(registry().snapshot(job))

    poll()


def _results(result: BacktestResult, shuffled, run=None) -> None:
    from pricecast.plots import backtest as ef

    if result.stopped:
        st.warning(f"Stopped: {len(result.folds)} of {result.bt.folds} folds finished; results cover those.")
    for note in result.notes:
        st.info(note)
    if not result.folds:
        return
    o = result.overall
    st.markdown(
        f"**Overall** across {len(result.folds)} folds ({o['windows']} test windows): RMSE **{o['rmse']:.4g}** vs "
        f"persistence {o['persistence_rmse']:.4g} — skill **{o['skill']:+.1%}**; MASE {o['model']['mase']:.3g} vs "
        f"{o['persistence']['mase']:.3g}. {result.models_trained} model(s) trained, {result.models_loaded} reused from "
        f"the cache, {result.folds_cached} fold(s) from the cache; {result.seconds:.1f} s.")
    _report_button(result, run)
    tabs = st.tabs(["Folds", "By horizon", "Intervals", "Residuals", "Look-ahead checks"])
    with tabs[0]:
        metric = st.radio("Error measure", ("rmse", "mae", "mape", "mase"), horizontal=True, key="bt_fold_metric",
                          help="RMSE and MAE are in price units; MAPE in percent; MASE divides by the naive one-step "
                               "error inside each training window (below 1 = better than that naive error).")
        charts.show(ef.fold_error_figure(result, metric), key="bt_fig_folds")
        st.dataframe(pd.DataFrame(result.fold_rows()), hide_index=True)
    with tabs[1]:
        hmetric = st.radio("Error measure", ("rmse", "mae", "mase"), horizontal=True, key="bt_h_metric",
                           help="Error at each step ahead, all folds together. Errors normally grow with the step.")
        charts.show(ef.horizon_error_figure(result, hmetric), key="bt_fig_horizon")
        h = result.by_horizon
        st.dataframe(pd.DataFrame({"step": h["step"], "model RMSE": h["model_rmse"],
                                   "persistence RMSE": h["persistence_rmse"], "skill": h["skill"]}),
                     hide_index=True)
    with tabs[2]:
        _intervals(result, ef)
    with tabs[3]:
        charts.show(ef.residual_figure(result), key="bt_fig_resid")
        st.write(result.diagnostics.get("text", ""))
    with tabs[4]:
        _checks(result, shuffled, run)


def _report_button(result: BacktestResult, run=None) -> None:
    """The run's report with this backtest in it (its folds, the intervals with measured coverage)."""
    if run is None:
        return
    from pricecast.report.document import run_report
    from ui import links

    base = links.base_url()
    st.download_button("Download report with this backtest", key="bt_report", icon=":material/description:",
                       data=lambda: run_report(str(run.run_dir), base_url=base, backtest=result),
                       file_name=f"{run.run_dir.name}-backtest-report.html", mime="text/html",
                       help="The run's report (one HTML file that opens offline) with this walk-forward backtest: "
                            "scores per fold and by step, the intervals and their measured coverage, residuals.")


def _intervals(result: BacktestResult, ef) -> None:
    for by_level in result.intervals.values():
        for c in by_level.values():
            st.markdown(f"- {c['text']} (mean width {c['mean_width']:.4g})")
    if "mc_dropout" in result.intervals:
        st.caption("MC-dropout bands show only the model's own uncertainty, not the market's, so they are usually "
                   "far too narrow — the coverage above measures by how much.")
    methods = list(result.intervals)
    c1, c2, c3 = st.columns(3)
    method = c1.selectbox("Band", methods, key="bt_band_method",
                          format_func=lambda m: {"conformal": "Conformal (validation errors)",
                                                 "mc_dropout": "MC dropout"}.get(m, m),
                          help="Conformal: the size of past validation errors laid around each forecast. "
                               "MC dropout: spread of the model's forecasts with dropout left on.")
    level = c2.selectbox("Level", list(result.bt.levels), key="bt_band_level", format_func=lambda v: f"{v:.0%}",
                         help="The share of real prices the band is meant to contain.")
    k = result.spec.window.k
    step = c3.slider("Steps ahead", 1, k, 1, key="bt_band_step", help="Which forecast step to draw.") if k > 1 else 1
    charts.show(ef.interval_figure(result, method, level, step), key="bt_fig_band")


def _checks(result: BacktestResult, shuffled, run: Run | None = None) -> None:
    findings = list(result.findings)
    if shuffled is not None:
        findings.append(shuffled)
    if run is not None:
        from pricecast.evaluation.leakage import check_run

        try:
            for f in check_run(run, include_ok=True):
                findings.append(replace(f, message=f"Selected run: {f.message}"))
        except (KeyError, ValueError) as exc:  # a run from an older version may lack columns
            st.caption(f"Could not check the selected run ({text.plain(exc)}).")
    for f in findings:
        {"ok": st.success, "info": st.info}.get(f.level, st.warning)(f.message)
