"""Train: start a run in the background, watch loss and validation forecasts live, stop it."""
from __future__ import annotations

import numpy as np
import streamlit as st

from pricecast.jobs import JobSnapshot, TrainingJob, registry, tune_for_dashboard
from ui import common, state
from ui.common import HELP

POLL_SECONDS = 1.0
POLLING = "pc_train_polling"


def _start(spec) -> None:
    from pricecast.training import prepare

    candles, error = state.load_current()
    if candles is None:
        st.error(error)
        return
    try:
        prep = prepare(spec, candles)
    except Exception as exc:  # noqa: BLE001 - bad settings: say what to change, before any TensorFlow
        st.error(f"This setup cannot train: {common.plain(exc)} (change it on the Model page)")
        return
    tuned = tune_for_dashboard(spec, len(prep.windows.train))
    try:
        job = registry().start(state.session_id(), tuned, candles=candles, prepared=prep)
    except RuntimeError as exc:
        st.error(common.plain(exc))
        return
    state.select_run(None)  # Results follows this new run once it is done
    st.session_state[POLLING] = job.id
    st.rerun()


def _val_context(job: TrainingJob):
    """Times, actual values and persistence of the validation windows, for the live chart."""
    prep = job.prepared
    if prep is None or len(prep.windows.val) == 0:
        return None
    part = prep.windows.val
    return prep.windows.output_times("val"), np.asarray(part.y), np.asarray(part.history[:, -1])


def _progress_text(snap: JobSnapshot) -> str:
    parts = [f"Epoch {snap.epoch}/{snap.epochs}"]
    if snap.state == "running":
        parts.append(f"about {common.fmt_seconds(snap.eta)} left" if snap.epoch else "starting …")
    parts.append(f"{common.fmt_seconds(snap.elapsed)} so far")
    if snap.samples_per_s:
        parts.append(f"{snap.samples_per_s:,.0f} examples/s")
    return " · ".join(parts)


def _live(job_id: str) -> None:
    from pricecast.figures import live_val_figure, loss_figure

    job = registry().get(state.session_id(), job_id)
    if job is None:
        return
    snap = job.snapshot()
    if snap.finished and st.session_state.get(POLLING) == job_id:
        # The run just ended: rerun the whole page so the buttons and the summary update.
        st.session_state.pop(POLLING, None)
        st.rerun()
    label = {"running": "Training", "done": "Finished", "stopped": "Stopped (best weights kept)",
             "error": "Failed", "pending": "Waiting"}[snap.state]
    device = snap.device or "starting TensorFlow …"
    params = f" · {snap.params:,} parameters" if snap.params else ""
    st.markdown(f"**{label}** · device: `{device}`{params}")
    if snap.state == "error":
        st.error(f"Training failed: {snap.error}")
        return
    st.progress(snap.progress, text=_progress_text(snap))
    c1, c2 = st.columns(2)
    with c1:
        best = None
        if len(snap.history) and snap.history["val_loss"].notna().any():
            best = int(snap.history.loc[snap.history["val_loss"].idxmin(), "epoch"])
        st.plotly_chart(loss_figure(snap.history, snap.batches, best), key="train_loss")
        st.caption(HELP["loss_curve"])
    with c2:
        ctx = _val_context(job)
        if ctx is None:
            st.info("No validation part: give it a share on the Model page to watch forecasts on unseen data.")
        else:
            times, actual, persistence = ctx
            k = actual.shape[1]
            step = 1
            if k > 1:
                pick = st.radio if k <= 12 else st.selectbox
                kw = {"horizontal": True} if k <= 12 else {}
                step = pick("Steps ahead shown", list(range(1, k + 1)), key="train_step", **kw,
                            help="Which of the K forecast steps to draw: 1 = the next candle, K = the furthest.")
            pred = snap.val_pred[:, step - 1] if snap.val_pred is not None else None
            st.plotly_chart(live_val_figure(times[:, step - 1], actual[:, step - 1], pred, persistence,
                                            snap.val_pred_epoch, step), key="train_val")
            st.caption(HELP["live_val"])
    if snap.finished and job.run is not None:
        _final(job)


def _final(job: TrainingJob) -> None:
    m = job.run.metrics
    test = m.get("test") or {}
    skill = test.get("skill")
    c = st.columns(4)
    c[0].metric("Best epoch", m.get("best_epoch") or "–", help="The epoch with the lowest validation loss; its weights are kept.")
    c[1].metric("Test error (RMSE)", common.fmt_num(test.get("rmse")),
                help="Typical size of the model's forecast error on the test part, in price units.")
    c[2].metric("Persistence error", common.fmt_num(test.get("persistence_rmse")),
                help="The same for 'the price stays at its last value'.")
    c[3].metric("Skill vs persistence", common.fmt_pct(skill),
                help="Above 0: the model beats persistence on the test part. Below 0: it is worse than doing nothing.")
    st.page_link("pages/4_Results.py", label="See the results", icon="🎯")


def body() -> None:
    st.title("Train")
    st.caption("Step 3 of 4 — the run keeps going while you look at other pages.")
    spec = state.current_spec()
    jobs = registry()
    sid = state.session_id()
    active = jobs.active(sid)
    shown = active or jobs.latest(sid)
    w, m, t = spec.window, spec.model, spec.train
    st.markdown(f"Setup: **{spec.data}** · N={w.n} → K={w.k} · {m.arch.upper()} {', '.join(map(str, m.units))} · "
                f"up to {t.epochs} epochs, batch {t.batch_size}" + (f" · preset *{spec.preset}*" if spec.preset else ""))
    c1, c2, _ = st.columns([1, 1, 4])
    if c1.button("Train", type="primary", disabled=active is not None, key="train_start",
                 help="Start training this setup. You can leave this page; come back to watch."):
        _start(spec)
    if c2.button("Stop", disabled=active is None, key="train_stop",
                 help="End training after the current batch; the best weights seen so far are kept."):
        active.stop()
        st.toast("Stopping after the current batch …")
    if shown is None:
        st.info("Press **Train** to start. The loss curves and the forecasts on validation data appear here, "
                "updated after every epoch.")
        return
    if shown.spec.to_dict() != tune_for_dashboard(spec).to_dict() and shown.spec.data:
        st.caption(f"Showing the latest run ({shown.spec.data}, N={shown.spec.window.n}, K={shown.spec.window.k}, "
                   f"{shown.spec.model.arch.upper()}).")
    running = not shown.finished
    if running:
        st.session_state[POLLING] = shown.id
    st.fragment(run_every=POLL_SECONDS if running else None)(_live)(shown.id)


common.run_page("Train", "🏋️", body)
