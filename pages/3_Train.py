"""Train: start a run in a worker process, watch loss and validation forecasts live, stop or kill it."""
from __future__ import annotations

import os

import numpy as np
import streamlit as st

from pricecast.durations import duration
from pricecast.evaluation.decision import sentence as decision_sentence
from pricecast.jobs.executors import JobError
from pricecast.jobs.job import Job, JobSnapshot, JobState
from pricecast.service.dashboard import registry, tune_for_dashboard
from pricecast.specs import RunSpec
from ui import charts, common, state, text
from ui.common import HELP

POLL_SECONDS = 1.0
CHART_EVERY = "pc_train_chart_every"  # seconds between chart redraws the charts fragment was made with
POLLING = "pc_train_polling"
MLFLOW = "train_mlflow"
TENSORBOARD = "train_tensorboard"


def _start(spec) -> None:
    from pricecast.training.pipeline import prepare

    candles, error = state.load_current()
    if candles is None:
        st.error(error)
        return
    try:
        prep = prepare(spec, candles)  # bad settings fail here, in plain words, before any worker starts
    except ValueError as exc:
        st.error(f"This setup cannot train: {text.plain(exc)} (change it on the Model page)")
        return
    tuned = tune_for_dashboard(spec)
    try:
        job = registry().submit(state.session_id(), "train", {"spec": tuned.to_dict(), **_tracking_choice()},
                                candles=candles,
                                label=spec.data, context=_val_context(prep), executor=state.executor(),
                                owner=state.owner_token())
    except JobError as exc:
        st.error(text.plain(exc))
        return
    state.select_run(None)  # Results follows this new run once it is done
    state.remember_job(job.id)
    st.session_state[POLLING] = job.id
    st.rerun()


def _tracking_choice() -> dict:
    """The tracking switches (drawn by :func:`_tracking`): the worker logs the saved run to MLflow and
    writes TensorBoard logs into the run folder; the server never imports either."""
    return {"mlflow": bool(st.session_state.get(MLFLOW)), "tensorboard": bool(st.session_state.get(TENSORBOARD))}


def _tracking() -> None:
    from pricecast.tracking import ENV_URI, default_uri

    uri = os.environ.get(ENV_URI, "").strip() or default_uri()
    c1, c2 = st.columns(2)
    c1.toggle("Log to MLflow", key=MLFLOW,
              help=f"Log the saved run (setup, losses per epoch, scores beside the baselines, model) to MLflow at "
                   f"{uri} (set {ENV_URI} for another server). A server that is down is a warning; the run is saved.")
    c2.toggle("TensorBoard logs", key=TENSORBOARD,
              help="Write the losses per epoch as TensorBoard logs into the run folder's tensorboard/ "
                   "(tensorboard --logdir RUN_FOLDER).")


def _val_context(prep):
    """Times, actual values and persistence of the validation windows, for the live chart (kept
    beside the job in the server; the worker sends only its forecasts)."""
    if len(prep.windows.val) == 0:
        return None
    part = prep.windows.val
    return prep.windows.output_times("val"), np.asarray(part.y), np.asarray(part.history[:, -1])


def _progress_text(snap: JobSnapshot) -> str:
    if snap.state is JobState.QUEUED:
        return text.queue_text(snap.queue_position)
    t, running = snap.training, snap.state is JobState.RUNNING
    parts = [f"Epoch {min(t.epoch + (1 if running else 0), t.epochs or 1)}/{t.epochs or '?'}"
             if t.epochs else "Loading TensorFlow …"]
    if snap.state is JobState.DONE and t.epochs and 0 < t.epoch < t.epochs:
        parts[0] += " (ended by early stopping: the validation loss stopped improving)"
    if running and t.batches and t.batch:
        parts.append(f"batch {t.batch}/{t.batches}")
    if running and snap.eta is not None:
        parts.append(f"at most {duration(snap.eta)} left" + (" (early stopping may end sooner)"
                                                                       if t.epoch else ""))
    parts.append(f"{duration(snap.elapsed)} so far")
    if t.samples_per_s:
        parts.append(f"{t.samples_per_s:,.0f} examples/s")
    return " · ".join(parts)


def _best_epoch(snap: JobSnapshot) -> int | None:
    """The epoch whose weights the network keeps (lowest validation loss so far)."""
    history = snap.training.history
    if len(history) and history["val_loss"].notna().any():
        return int(history.loc[history["val_loss"].idxmin(), "epoch"])
    return None


def _figures(job: Job, snap: JobSnapshot, step: int) -> tuple[str, str | None]:
    """The two live figures as JSON, built once per new event for every tab and rerun that shows them."""
    from pricecast.plots.figures import live_val_figure, loss_figure
    from pricecast.prep.targets import target_label

    t = snap.training

    def loss():
        return loss_figure(t.history, t.batch_losses, _best_epoch(snap))

    def val():
        times, actual, persistence = job.context
        pred = t.val_pred[:, step - 1] if t.val_pred is not None else None
        target = ((job.task.payload.get("spec") or {}).get("window") or {}).get("target", "close")
        fig = live_val_figure(times[:, step - 1], actual[:, step - 1], pred, persistence, t.val_pred_epoch, step,
                              target=target)
        best = _best_epoch(snap)
        if snap.finished and best and t.val_pred_epoch and best != t.val_pred_epoch:
            # the live chart shows the epoch it last drew; say which epoch's weights the network kept
            fig.update_layout(title_text=f"Validation {target_label(target)}, {step} step(s) ahead · after epoch "
                                         f"{t.val_pred_epoch} · kept: best epoch {best}")
        return fig

    loss_json = charts.SHARED.json((job.id, snap.version, "loss"), loss)
    val_json = charts.SHARED.json((job.id, snap.version, "val", step), val) if job.context is not None else None
    return loss_json, val_json


def chart_every(snap: JobSnapshot) -> float | None:
    """Seconds between redraws of the live charts. Each redraw costs the server and the browser CPU
    time that the training, on the same cores, would otherwise have: redrawn every second, a
    95-second run took twice as long on two cores. So: every 2 s until the run's length is known,
    then about 20 redraws per run, at most 10 s apart (the status line still moves every second)."""
    if snap.finished:
        return None
    if not snap.training.epoch or snap.eta is None:
        return 2.0
    return min(10.0, max(2.0, (snap.elapsed + snap.eta) / 20))


def _pace(snap: JobSnapshot) -> float | None:
    """:func:`chart_every`, slowed down when many tabs watch live charts (the server's redraw budget
    is shared: :data:`ui.charts.LIVE`)."""
    every = chart_every(snap)
    return None if every is None else charts.LIVE.every(every, state.session_id())


def _job_and_snapshot(job_id: str):
    job = registry().get(state.session_id(), job_id)
    return (job, registry().snapshot(job)) if job is not None else (None, None)


def _status(job_id: str) -> None:
    """State, device and progress: redrawn every second (cheap)."""
    job, snap = _job_and_snapshot(job_id)
    if job is None:
        return
    if snap.finished and st.session_state.get(POLLING) == job_id:
        # The run just ended: rerun the whole page so the buttons, charts and summary update.
        st.session_state.pop(POLLING, None)
        st.rerun()
    every, made_with = _pace(snap), st.session_state.get(CHART_EVERY)
    if every and made_with and not 0.67 < every / made_with < 1.5:
        st.rerun()  # the run's length is known now: the charts fragment gets its new pace
    t = snap.training
    label = "Training" if snap.state is JobState.RUNNING else text.state_words(snap.state).capitalize()
    device = t.device or ("waiting for a free slot" if snap.state is JobState.QUEUED else "starting TensorFlow …")
    params = f" · {t.params:,} parameters" if t.params else ""
    st.markdown(f"**{label}** · device: `{device}`{params}")
    if snap.state is JobState.ERROR:
        st.error(f"Training failed: {snap.error}")
        return
    st.progress(snap.progress, text=_progress_text(snap))


def _charts(job_id: str) -> None:
    """The loss curves and the validation forecasts, redrawn every :func:`chart_every` seconds."""
    job, snap = _job_and_snapshot(job_id)
    if job is None or snap.state is JobState.ERROR:
        return
    k = int(job.context[1].shape[1]) if job.context is not None else 1
    c1, c2 = st.columns(2)
    step = 1
    with c2:
        if job.context is not None and k > 1:
            pick = st.radio if k <= 12 else st.selectbox
            kw = {"horizontal": True} if k <= 12 else {}
            step = pick("Steps ahead shown", list(range(1, k + 1)), key="train_step", **kw,
                        help="Which of the K forecast steps to draw: 1 = the next candle, K = the furthest.")
    if snap.finished:
        charts.LIVE.done(state.session_id())
    else:
        charts.LIVE.watching(state.session_id(), st.session_state.get(CHART_EVERY) or 2.0)
    loss, val = _figures(job, snap, step)
    with c1:
        charts.show_json(loss, key="train_loss")
        residual = (job.task.payload.get("spec") or {}).get("model", {}).get("residual", False)
        st.caption(HELP["loss_curve"] + (" " + HELP["loss_curve_residual"] if residual else ""))
    with c2:
        if val is None:
            st.info("No validation part: give it a share on the Model page to watch forecasts on unseen data.")
        else:
            charts.show_json(val, key="train_val")
            st.caption(HELP["live_val"])
    if snap.finished and snap.result is not None:
        _final(snap)


def _final(snap: JobSnapshot) -> None:
    m = snap.result.metrics
    for warning in getattr(snap.result, "warnings", ()):
        st.warning(text.plain(warning))
    test = m.get("test") or {}
    c = st.columns(4)
    own = test.get("network") or test
    c[0].metric("Best epoch", m.get("best_epoch") or "–", help="The epoch with the lowest validation loss; the "
                "network keeps its weights.")
    c[1].metric("Network test error (RMSE)", common.fmt_num(own.get("rmse")),
                help="Typical size of the network's own forecast error on the test part, in the units of what it "
                     "forecasts (price, volume, ...).")
    c[2].metric("Persistence error", common.fmt_num(test.get("persistence_rmse")),
                help="The same for 'the last value stays' (no change).")
    c[3].metric("Network skill vs persistence", common.fmt_pct(own.get("skill")),
                help="Above 0: the network beats persistence on the test part. Below 0: it is worse than doing "
                     "nothing.")
    st.page_link("pages/4_Results.py", label="See the results", icon=common.ICON["Results"])


def _where() -> None:
    """Where jobs run: this computer's worker processes or a Ray cluster, and how busy it is."""
    import importlib.util
    import os

    jobs = registry()
    with st.expander(f"Where training runs · {jobs.running_count()} of {jobs.capacity} slot(s) busy"):
        has_ray = importlib.util.find_spec("ray") is not None
        choice = st.radio("Run trainings and backtests on", ["local", "ray"], horizontal=True,
                          index=["local", "ray"].index(state.executor()), key="train_executor",
                          format_func={"local": "This computer (a worker process)",
                                       "ray": "Ray cluster" + ("" if has_ray else " (not installed)")}.get,
                          help="This computer: each job is a separate process next to the dashboard. Ray: each job "
                               "is a task on the cluster at RAY_ADDRESS (or a Ray started on this computer); "
                               "install it with pip install -r requirements-ray.txt.")
        if choice == "ray" and not has_ray:
            st.warning("Ray is not installed here: `pip install -r requirements-ray.txt`, then reload.")
            choice = "local"
        state.set_executor(choice)
        address = os.environ.get("RAY_ADDRESS") or "none set: a local Ray instance is started"
        st.caption(f"At most {jobs.capacity} job(s) run at once on this server (PRICECAST_MAX_JOBS); more wait "
                   f"in a queue. Ray address: {text.md(address)}.")


def _shown_job() -> Job | None:
    """This tab's running job, else its latest one (also after a reload: the id is in the URL)."""
    jobs, sid = registry(), state.session_id()
    active = jobs.active(sid, "train")
    if active is not None:
        return active
    wanted = st.session_state.get(state.JOB)
    return (jobs.get(sid, wanted) if wanted else None) or jobs.latest(sid, "train")


def body() -> None:
    st.title("Train")
    st.caption("Step 3 of 4 — training runs in its own process: it keeps going while you look at other pages, "
               "and a reloaded tab finds it again.")
    state.keep_owner_cookie()  # so that this browser, reloaded, can take its training back
    spec = state.current_spec()
    jobs = registry()
    jobs.prewarm()  # a worker loads TensorFlow now, so pressing Train starts at once
    shown = _shown_job()
    active = shown if shown is not None and not shown.finished else None
    st.markdown(f"Setup: **{text.md(common.data_label(spec.data))}** · {text.md(spec.headline())} "
                f"· up to {spec.train.epochs} epochs, batch {spec.train.batch_size}"
                + (f" · preset *{text.md(spec.preset)}*" if spec.preset else ""))
    c1, c2, c3, _ = st.columns([1, 1, 1, 3])
    requested = state.training_requested()  # a one-click story on Home
    if requested and active is not None:
        st.info("Another training of this tab is still running: press **Train** for the new setup once it ends "
                "(or Stop it).")
    if c1.button("Train", type="primary", disabled=active is not None, key="train_start",
                 help="Start training this setup. You can leave this page; come back to watch.") \
            or (requested and active is None):
        _start(spec)
    if c2.button("Stop", disabled=active is None, key="train_stop",
                 help="End training after the current batch; the best weights seen so far are kept."):
        active.stop()
        st.toast("Stopping after the current batch …")
    if active is not None:
        if c3.button("Kill", disabled=not jobs.snapshot(active).stop_requested, key="train_kill",
                     help="After Stop: end the training process at once, for a run that does not react. "
                          "Nothing of the run is kept."):
            active.kill()
            st.toast("Ending the training process …")
    _tracking()
    _where()
    if shown is None:  # none yet, or forgotten by the registry: its id goes from the session too
        state.remember_job(None)
        st.session_state.pop(POLLING, None)
        st.info("Press **Train** to start. The loss curves and the forecasts on validation data appear here, "
                "updated after every epoch.")
        return
    done = registry().snapshot(shown)
    if done.finished and done.result is not None and (said := decision_sentence(done.result.metrics)):
        st.markdown(text.md(said))
    if shown.task.payload.get("spec") != tune_for_dashboard(spec).to_dict():
        latest = RunSpec.from_dict(shown.task.payload.get("spec") or {})
        st.caption(f"Showing the latest run ({text.md(common.data_label(shown.label))} · {text.md(latest.headline())}).")
    running = not shown.finished
    if running:
        st.session_state[POLLING] = shown.id
    every = _pace(registry().snapshot(shown))
    st.session_state[CHART_EVERY] = every
    st.fragment(run_every=POLL_SECONDS if running else None)(_status)(shown.id)
    st.fragment(run_every=every)(_charts)(shown.id)


common.run_page("Train", common.ICON["Train"], body)
